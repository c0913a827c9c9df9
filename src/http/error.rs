//! The one error type of every HTTP surface — beacons, pages, the stats API — and
//! the status each maps to. A client acts on the status; the short reason tells a
//! person what to fix. Reasons never carry request data back (no echo of a header
//! or a body), so an error page cannot be turned into a reflection.

use std::borrow::Cow;

use http::{header, HeaderValue, Response, StatusCode};

use super::response::{self, Body};

/// Why a request was not answered as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// `400`: a parameter or the body is wrong; the reason names it.
    #[error("{0}")]
    BadRequest(Cow<'static, str>),
    /// `401`: no valid key for the site.
    #[error("a valid API key for this site is required (Authorization: Bearer KEY)")]
    Unauthorized,
    /// `401`: `/metrics` (or `/ready`'s detail) without the configured token.
    #[error("a valid metrics token is required (Authorization: Bearer TOKEN)")]
    OperatorToken,
    /// `401`: a share link that is not (or no longer) valid for the site.
    #[error("{0}")]
    ShareLink(&'static str),
    /// `403`: refused whatever the credentials (e.g. a cross-site form).
    #[error("{0}")]
    Forbidden(Cow<'static, str>),
    /// `404`.
    #[error("{0}")]
    NotFound(Cow<'static, str>),
    /// `405` with `Allow`: the methods the path answers (`"GET, HEAD"`).
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// `408`: the body did not arrive within the read timeout.
    #[error("body not received in time")]
    Timeout,
    /// `413`.
    #[error("{0}")]
    TooLarge(&'static str),
    /// `415`.
    #[error("{0}")]
    UnsupportedMediaType(&'static str),
    /// `429` with `Retry-After`.
    #[error("{reason}")]
    TooManyRequests {
        /// Short reason.
        reason: &'static str,
        /// Seconds.
        retry_after: u32,
    },
    /// `503`, with `Retry-After` when veil knows when to come back.
    #[error("{reason}")]
    Unavailable {
        /// Short reason.
        reason: Cow<'static, str>,
        /// Seconds.
        retry_after: Option<u32>,
    },
    /// `500` (logged where it happens; the client gets a generic reason).
    #[error("{0}")]
    Internal(Cow<'static, str>),
}

impl HttpError {
    /// A bad request parameter, named.
    pub fn param(name: &str, why: impl std::fmt::Display) -> HttpError {
        HttpError::BadRequest(format!("parameter `{name}`: {why}").into())
    }

    /// `503` without a known retry time.
    pub fn unavailable(reason: impl Into<Cow<'static, str>>) -> HttpError {
        HttpError::Unavailable {
            reason: reason.into(),
            retry_after: None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::BadRequest(_) => StatusCode::BAD_REQUEST,
            HttpError::Unauthorized | HttpError::OperatorToken | HttpError::ShareLink(_) => {
                StatusCode::UNAUTHORIZED
            }
            HttpError::Forbidden(_) => StatusCode::FORBIDDEN,
            HttpError::NotFound(_) => StatusCode::NOT_FOUND,
            HttpError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::Timeout => StatusCode::REQUEST_TIMEOUT,
            HttpError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            HttpError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn retry_after(&self) -> Option<u32> {
        match self {
            HttpError::TooManyRequests { retry_after, .. } => Some(*retry_after),
            HttpError::Unavailable { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// `{"error": reason}` with the status (APIs and beacon endpoints).
    pub fn to_json(&self) -> Response<Body> {
        self.with_headers(response::error(self.status(), &self.to_string()))
    }

    /// The reason as plain text (pages a person reads).
    pub fn to_text(&self) -> Response<Body> {
        let mut r = response::text(
            self.status(),
            "text/plain; charset=utf-8",
            format!("{self}\n"),
        );
        r = self.with_headers(r);
        r
    }

    fn with_headers(&self, mut r: Response<Body>) -> Response<Body> {
        let challenge = match self {
            HttpError::Unauthorized => Some("Bearer realm=\"veil\""),
            HttpError::OperatorToken => Some("Bearer realm=\"veil-metrics\""),
            HttpError::ShareLink(_) => Some("Share realm=\"veil\""),
            _ => None,
        };
        if let Some(c) = challenge {
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
        }
        if let HttpError::MethodNotAllowed(allow) = self {
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        if let Some(secs) = self.retry_after() {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_reasons_and_retry_after() {
        let e = HttpError::TooManyRequests {
            reason: "rate limit exceeded",
            retry_after: 1,
        };
        let r = e.to_json();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = HttpError::param("from", "not a date").to_text();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(HttpError::Timeout.status(), StatusCode::REQUEST_TIMEOUT);
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let e = HttpError::MethodNotAllowed("GET, HEAD, OPTIONS");
        for r in [e.to_json(), e.to_text()] {
            assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(r.headers()[header::ALLOW], "GET, HEAD, OPTIONS");
        }
        assert!(HttpError::NotFound("x".into())
            .to_json()
            .headers()
            .get(header::ALLOW)
            .is_none());
    }
}
