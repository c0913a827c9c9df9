//! Whether a state-changing form post (`POST /optout`) comes from veil's own page.
//!
//! A page on another site must not be able to withdraw a visitor's objection (or
//! object on their behalf) by posting the form from its own page: a classic
//! cross-site request forgery. `SameSite=Lax` on the cookie does not help — it
//! guards reading the cookie, not setting it by a top-level form post. So the
//! request must prove it comes from veil's own origin, by the first of these the
//! browser sent:
//!
//! 1. `Sec-Fetch-Site` (every current browser): `same-origin` is accepted, and
//!    `none` too — a browser sends `none` only for what the user did themselves
//!    (typed the address, a bookmark), never for a post another page made.
//!    `same-site` (a sibling subdomain, which may be someone else's) and
//!    `cross-site` are refused.
//! 2. Without fetch metadata, `Origin` must equal veil's own origin exactly;
//!    `Origin: null` (sandboxed frames, some redirects) is refused.
//! 3. Without `Origin`, the origin of `Referer` must equal it exactly.
//! 4. With none of these, the request is refused: it cannot be told apart from a
//!    forged one. (Veil's own page sends no `Referer` — it is served with
//!    `Referrer-Policy: no-referrer` — but every browser that lacks fetch
//!    metadata sends `Origin` on a POST.)
//!
//! Veil's own origin is `server.public_origin` when configured (behind a proxy
//! that rewrites `Host`), else the request's `Host` with the scheme the proxy
//! reports (`X-Forwarded-Proto` / `Forwarded: proto=https`, else `http`). A page
//! cannot set those headers on a form post, so they cannot be used to forge a match.

use http::{header, HeaderMap};

use crate::http::{header_str, HttpError};

/// `Ok` when the request comes from veil's own origin (see the module documentation).
pub fn check(headers: &HeaderMap, public_origin: &str, over_https: bool) -> Result<(), HttpError> {
    if let Some(site) = header_str(headers, "sec-fetch-site") {
        let site = site.trim();
        return if site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none") {
            Ok(())
        } else {
            Err(refused("form submissions from other sites are refused"))
        };
    }
    let own = own_origin(headers, public_origin, over_https)
        .ok_or_else(|| refused("the request names no host"))?;
    if let Some(origin) = header_str(headers, header::ORIGIN) {
        return if same(origin.trim(), &own) {
            Ok(())
        } else {
            Err(refused("form submissions from other origins are refused"))
        };
    }
    if let Some(referer) = header_str(headers, header::REFERER) {
        return if referer_origin(referer).is_some_and(|o| same(o, &own)) {
            Ok(())
        } else {
            Err(refused("form submissions from other origins are refused"))
        };
    }
    Err(refused(
        "the request does not show where it comes from (no Sec-Fetch-Site, Origin or Referer)",
    ))
}

fn refused(reason: &'static str) -> HttpError {
    HttpError::Forbidden(reason.into())
}

/// `scheme://host[:port]` of veil as the browser sees it.
fn own_origin(headers: &HeaderMap, public_origin: &str, over_https: bool) -> Option<String> {
    let configured = public_origin.trim().trim_end_matches('/');
    if !configured.is_empty() {
        return Some(configured.to_string());
    }
    let host = header_str(headers, header::HOST)?.trim();
    if host.is_empty() {
        return None;
    }
    let scheme = if over_https { "https" } else { "http" };
    Some(format!("{scheme}://{host}"))
}

/// The `scheme://authority` part of an absolute URL.
fn referer_origin(url: &str) -> Option<&str> {
    let url = url.trim();
    let after_scheme = url.find("://")? + 3;
    let end = url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i);
    Some(&url[..end])
}

/// Origins compare case-insensitively (scheme and host are), a default port
/// spelled out or not.
fn same(given: &str, own: &str) -> bool {
    given != "null" && normalize(given).is_some_and(|g| Some(g) == normalize(own))
}

fn normalize(origin: &str) -> Option<String> {
    let lower = origin.to_ascii_lowercase();
    let (scheme, authority) = lower.split_once("://")?;
    if authority.is_empty() || authority.contains(['/', '@', '?', '#']) {
        return None;
    }
    let authority = match scheme {
        "http" => authority.strip_suffix(":80").unwrap_or(authority),
        "https" => authority.strip_suffix(":443").unwrap_or(authority),
        _ => return None,
    };
    Some(format!("{scheme}://{authority}"))
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

    fn ok(pairs: &[(&'static str, &str)]) -> bool {
        check(&headers(pairs), "", false).is_ok()
    }

    #[test]
    fn fetch_metadata_decides_when_present() {
        assert!(ok(&[("sec-fetch-site", "same-origin")]));
        assert!(ok(&[("sec-fetch-site", "none")]));
        assert!(!ok(&[
            ("sec-fetch-site", "same-site"),
            ("host", "a.example")
        ]));
        assert!(!ok(&[
            ("sec-fetch-site", "cross-site"),
            ("host", "a.example"),
            ("origin", "http://a.example"),
        ]));
    }

    #[test]
    fn origin_then_referer_must_match_exactly() {
        let host = ("host", "veil.example:8080");
        assert!(ok(&[host, ("origin", "http://veil.example:8080")]));
        assert!(ok(&[host, ("origin", "HTTP://Veil.Example:8080")]));
        assert!(!ok(&[host, ("origin", "http://veil.example")]));
        assert!(!ok(&[host, ("origin", "https://veil.example:8080")]));
        assert!(!ok(&[
            host,
            ("origin", "http://veil.example:8080.evil.example")
        ]));
        assert!(!ok(&[host, ("origin", "null")]));
        assert!(ok(&[
            host,
            ("referer", "http://veil.example:8080/optout?site=x")
        ]));
        assert!(!ok(&[
            host,
            ("referer", "http://evil.example/veil.example:8080")
        ]));
        assert!(!ok(&[
            host,
            ("referer", "http://veil.example:8080@evil.example/")
        ]));
        assert!(!ok(&[host]));
        assert!(!ok(&[("origin", "http://veil.example:8080")]), "no Host");
    }

    #[test]
    fn the_scheme_and_a_configured_origin_count() {
        let h = headers(&[("host", "veil.example"), ("origin", "https://veil.example")]);
        assert!(check(&h, "", true).is_ok());
        assert!(check(&h, "", false).is_err());
        let h = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "https://stats.example"),
        ]);
        assert!(check(&h, "https://stats.example/", false).is_ok());
        assert!(check(&h, "https://other.example", false).is_err());
        let h = headers(&[
            ("host", "veil.example"),
            ("origin", "https://veil.example:443"),
        ]);
        assert!(check(&h, "", true).is_ok(), "default port spelled out");
    }
}
