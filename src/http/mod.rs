//! The small HTTP vocabulary every surface shares: answers ([`response`]), the one
//! error type that maps to statuses ([`Error`]), the one body reader with a size
//! limit and a read timeout ([`body`]), query strings and percent-decoding
//! ([`query`]), HTML escaping ([`escape`]) and header access ([`header_str`]).
//!
//! It knows nothing of beacons, statistics or pages, so the beacon routes, the
//! pages and the stats API can all use it without importing each other.

pub mod body;
pub mod error;
pub mod escape;
pub mod query;
pub mod response;

pub use error::HttpError;
pub use response::Body;

use http::HeaderMap;

/// A header's value as text; `None` when absent or not visible ASCII.
pub fn header_str(h: &HeaderMap, name: impl http::header::AsHeaderName) -> Option<&str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The media type of `Content-Type`, without parameters (`""` when absent).
pub fn media_type(h: &HeaderMap) -> &str {
    header_str(h, http::header::CONTENT_TYPE)
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
}
