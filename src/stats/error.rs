//! Errors of the stats API, each with the HTTP status a client should act on.

use http::StatusCode;

/// Why a stats request was not answered; rendered as `{"error": "…"}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A parameter is missing or invalid; the message names it.
    #[error("{0}")]
    BadParam(String),
    /// No valid key for the site (and its dashboard is not public).
    #[error("a valid API key for this site is required (Authorization: Bearer KEY)")]
    Unauthorized,
    /// The site is not configured, or a group is not shown.
    #[error("{0}")]
    NotFound(String),
    /// Method other than GET (or OPTIONS for CORS).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// ClickHouse could not be reached or did not answer in time.
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (logged; the client gets a generic reason).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParam(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A bad parameter, named.
    pub fn param(name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::BadParam(format!("parameter `{name}`: {why}"))
    }
}

impl From<clickhouse::error::Error> for ApiError {
    fn from(e: clickhouse::error::Error) -> Self {
        use clickhouse::error::Error as E;
        match &e {
            E::Network(_) | E::TimedOut => {
                tracing::warn!(error = %e, "stats query: ClickHouse unreachable");
                ApiError::Unavailable("ClickHouse is unavailable; try again shortly".into())
            }
            _ => match crate::sink::exception_code(&e) {
                // TIMEOUT_EXCEEDED, TOO_SLOW, memory limit, too many simultaneous queries.
                Some(159 | 160 | 241 | 202) => {
                    tracing::warn!(error = %e, "stats query: ClickHouse refused or timed out");
                    ApiError::Unavailable(
                        "the query exceeded ClickHouse's limits (max_execution_time); try a shorter range".into(),
                    )
                }
                _ if e.to_string().contains("Cannot load time zone") => ApiError::Internal(
                    "ClickHouse does not know the site's time zone: fix the `timezone` key of this site".into(),
                ),
                _ => {
                    tracing::error!(error = %e, "stats query failed");
                    ApiError::Internal("the statistics query failed".into())
                }
            },
        }
    }
}
