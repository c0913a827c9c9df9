//! The answers veil gives: the pixel, `202`, and short error reasons.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;

/// A 1×1 transparent GIF: the smallest valid answer to an `<img>`.
pub const GIF: [u8; 43] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// Response body type of every route.
pub type Body = Full<Bytes>;

/// The pixel: never cached, so every view reaches veil.
pub fn gif() -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(&GIF)));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, no-cache, must-revalidate, max-age=0"),
    );
    h.insert(header::EXPIRES, HeaderValue::from_static("0"));
    r
}

/// An empty answer with a status.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = status;
    r
}

/// `{"error": reason}` with a status.
pub fn error(status: StatusCode, reason: &str) -> Response<Body> {
    let body = serde_json::json!({ "error": reason }).to_string();
    json_body(status, body)
}

/// A JSON body with a status.
pub fn json_body(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// Plain text with a status.
pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// Headers every HTML page veil serves carries: its content security policy,
/// no MIME sniffing, and no referrer leaking the page's URL.
pub fn harden_page(r: &mut Response<Body>, csp: &'static str) {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// What every answer carries, added at the one exit of the router
/// (`server::routes::handle`): `X-Content-Type-Options: nosniff`, so no answer —
/// an error reason, a CSV export, the tracker — is ever run as something its
/// `Content-Type` does not say.
pub fn finish(mut r: Response<Body>) -> Response<Body> {
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

/// Adds the CORS headers beacons from any page need (`sendBeacon`, `fetch`).
/// Which sites may report is decided by the site's hostnames, not by CORS.
pub fn with_cors(mut r: Response<Body>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_finished_answer_forbids_sniffing() {
        let r = super::finish(super::gif());
        assert_eq!(r.headers()[http::header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    }

    #[test]
    fn the_gif_is_43_bytes_and_well_formed() {
        assert_eq!(super::GIF.len(), 43);
        assert_eq!(&super::GIF[..6], b"GIF89a");
        assert_eq!(super::GIF[42], 0x3b);
    }
}
