//! Who may read veil's operational detail: `/metrics` in full and the detail of
//! `/ready` (ClickHouse and spool state).
//!
//! Those numbers tell a stranger when veil is degraded, how much it receives and
//! whether its spool fills — nothing about visitors, but enough to time an attack.
//! So they go to the operator only:
//!
//! - with `server.metrics_token` set: to requests with `Authorization: Bearer
//!   TOKEN` (compared as blake3 hashes, in constant time), from anywhere;
//! - without a token: to direct connections from loopback that carry no
//!   forwarding header (`X-Forwarded-For`, `Forwarded`, `X-Real-IP`) — a scraper
//!   or health check on the same host. A request a reverse proxy on the same host
//!   relays from the internet also arrives from loopback, but with the proxy's
//!   forwarding header, and is refused.
//!
//! `/health` and the status of `/ready` stay public: a load balancer needs them.

use std::net::IpAddr;

use http::{header, HeaderMap};

use crate::http::HttpError;

/// The operator's credentials, built once from the configuration.
pub struct Operator {
    token: Option<blake3::Hash>,
}

/// Headers a proxy adds when it relays a request.
const FORWARDING: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

impl Operator {
    /// From `server.metrics_token` (empty = none).
    pub fn new(metrics_token: &str) -> Operator {
        let token = metrics_token.trim();
        Operator {
            token: (!token.is_empty()).then(|| blake3::hash(token.as_bytes())),
        }
    }

    /// `Ok` when the request is the operator's; else why not (`401` when a token
    /// is configured, `403` when only local connections are served).
    pub fn check(&self, peer: IpAddr, headers: &HeaderMap) -> Result<(), HttpError> {
        match &self.token {
            Some(expected) => {
                let given = bearer(headers).map(|t| blake3::hash(t.as_bytes()));
                if given.is_some_and(|g| g == *expected) {
                    Ok(())
                } else {
                    Err(HttpError::OperatorToken)
                }
            }
            None => {
                let direct = FORWARDING.iter().all(|h| !headers.contains_key(*h));
                if peer.to_canonical().is_loopback() && direct {
                    Ok(())
                } else {
                    Err(HttpError::Forbidden(
                        "served only to local connections; set server.metrics_token to read it from elsewhere"
                            .into(),
                    ))
                }
            }
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, value) = v.trim().split_once(' ')?;
    let value = value.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !value.is_empty()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn without_a_token_only_direct_local_connections_pass() {
        let op = Operator::new("");
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let remote: IpAddr = "81.2.69.142".parse().unwrap();
        assert!(op.check(local, &HeaderMap::new()).is_ok());
        assert!(op.check(mapped, &HeaderMap::new()).is_ok());
        assert!(op.check(remote, &HeaderMap::new()).is_err());
        let relayed = headers(&[("x-forwarded-for", "81.2.69.142")]);
        assert_eq!(
            op.check(local, &relayed).map_err(|e| e.status().as_u16()),
            Err(403)
        );
    }

    #[test]
    fn with_a_token_only_the_token_passes() {
        let op = Operator::new(" m3trics ");
        let local: IpAddr = "127.0.0.1".parse().unwrap();
        let ok = headers(&[("authorization", "Bearer m3trics")]);
        let wrong = headers(&[("authorization", "Bearer nope")]);
        assert!(op.check("81.2.69.142".parse().unwrap(), &ok).is_ok());
        assert_eq!(
            op.check(local, &wrong).map_err(|e| e.status().as_u16()),
            Err(401)
        );
        assert!(
            op.check(local, &HeaderMap::new()).is_err(),
            "loopback alone no longer"
        );
    }
}
