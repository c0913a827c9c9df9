//! What a failed stats query tells the client: ClickHouse errors mapped onto the
//! shared [`HttpError`] (503 when ClickHouse is away or over its limits, 500
//! otherwise, with the cause logged here and a generic reason returned).

use crate::http::HttpError;
use crate::sink::error_code::{exception_code, OVER_LIMITS};

impl From<clickhouse::error::Error> for HttpError {
    fn from(e: clickhouse::error::Error) -> Self {
        use clickhouse::error::Error as E;
        match &e {
            E::Network(_) | E::TimedOut => {
                tracing::warn!(error = %e, "stats query: ClickHouse unreachable");
                HttpError::unavailable("ClickHouse is unavailable; try again shortly")
            }
            _ if exception_code(&e).is_some_and(|c| OVER_LIMITS.contains(&c)) => {
                tracing::warn!(error = %e, "stats query: ClickHouse refused or timed out");
                HttpError::unavailable(
                    "the query exceeded ClickHouse's limits (max_execution_time); try a shorter range",
                )
            }
            _ if e.to_string().contains("Cannot load time zone") => HttpError::Internal(
                "ClickHouse does not know the site's time zone: fix the `timezone` key of this site"
                    .into(),
            ),
            _ => {
                tracing::error!(error = %e, "stats query failed");
                HttpError::Internal("the statistics query failed".into())
            }
        }
    }
}
