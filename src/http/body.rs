//! The one body reader of every `POST`: a size limit (declared `Content-Length`
//! refused before reading) and a read timeout (`server.body_read_timeout_ms`), so
//! a client trickling a body byte by byte cannot hold a connection slot. Routes
//! that do not read a body never wait for one: hyper closes the connection
//! after their answer instead of reading the rest.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap};
use http_body_util::{BodyExt, Limited};

use super::{header_str, HttpError};

/// Reads at most `max` bytes of `body` within `timeout`: `413` beyond the size,
/// `408` when too slow, `400` when the stream breaks.
pub async fn read<B>(
    body: B,
    headers: &HeaderMap,
    max: usize,
    timeout: Duration,
) -> Result<Bytes, HttpError>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    const TOO_LARGE: HttpError = HttpError::TooLarge("body too large");
    let declared = header_str(headers, header::CONTENT_LENGTH).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(TOO_LARGE);
    }
    let Ok(collected) = tokio::time::timeout(timeout, Limited::new(body, max).collect()).await
    else {
        return Err(HttpError::Timeout);
    };
    match collected {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(TOO_LARGE),
        Err(_) => Err(HttpError::BadRequest("body could not be read".into())),
    }
}
