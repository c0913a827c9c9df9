//! Who may read a site's statistics: per-site read-only API keys, stored hashed,
//! and signed share links ([`super::share`]).
//!
//! The configuration holds `blake3:HEX` of each key (printed by `veil hash-key`),
//! never the key: a leaked config file does not leak access. A request's
//! `Authorization: Bearer KEY` is hashed and compared with every stored hash in
//! constant time (`blake3::Hash` equality is constant-time, and the loop does not
//! stop at the first match). A site with `public_dashboard = true` needs no key.
//! A share link (`Authorization: Share TOKEN`, or `share=TOKEN`) is checked
//! against the key derived from the site's `share_secret` and its `share_revoked`
//! list. Browsers on other origins may call the API only from `server.cors_origins`.

use http::{header, HeaderMap, HeaderValue, Response};

use super::share::{Link, Refusal, SigningKey};
use crate::config::Config;
use crate::http::response::Body;
use crate::http::HttpError;

/// The stored form of a key: `blake3:` and the hex digest.
pub fn hash_key(key: &str) -> String {
    format!("blake3:{}", blake3::hash(key.trim().as_bytes()).to_hex())
}

/// What one site accepts.
struct SiteKeys {
    id: String,
    hashes: Vec<blake3::Hash>,
    public: bool,
    share: Option<SigningKey>,
    revoked: Vec<u64>,
}

/// The credentials of every site, by site index.
pub struct Keys {
    sites: Vec<SiteKeys>,
}

impl Keys {
    /// Parses the validated configuration's hashes and share secrets.
    pub fn new(config: &Config) -> Keys {
        Keys {
            sites: config
                .sites
                .iter()
                .map(|s| SiteKeys {
                    id: s.id.clone(),
                    hashes: s
                        .api_keys
                        .iter()
                        .filter_map(|k| k.strip_prefix("blake3:"))
                        .filter_map(|hex| blake3::Hash::from_hex(hex).ok())
                        .collect(),
                    public: s.public_dashboard,
                    share: SigningKey::of(&s.share_secret),
                    revoked: s
                        .share_revoked
                        .iter()
                        .filter_map(|id| u64::from_str_radix(id, 16).ok())
                        .collect(),
                })
                .collect(),
        }
    }

    /// Whether the site's statistics are public.
    pub fn is_public(&self, site: usize) -> bool {
        self.sites.get(site).is_some_and(|s| s.public)
    }

    /// `Ok` when the site is public or the request carries one of its keys.
    pub fn check(&self, site: usize, headers: &HeaderMap) -> Result<(), HttpError> {
        let Some(keys) = self.sites.get(site) else {
            return Err(HttpError::Unauthorized);
        };
        if keys.public {
            return Ok(());
        }
        let Some(key) = bearer(headers) else {
            return Err(HttpError::Unauthorized);
        };
        let given = blake3::hash(key.as_bytes());
        let mut ok = false;
        for h in &keys.hashes {
            ok |= *h == given;
        }
        if ok {
            Ok(())
        } else {
            Err(HttpError::Unauthorized)
        }
    }

    /// The refusal of a request for a site that does not exist: the same as for
    /// a known site without a valid key or link (`401`, same reason), after the
    /// same hashing of a given key, so neither the answer nor its time tells
    /// whether the site exists.
    pub fn refuse_unknown(&self, headers: &HeaderMap, share_param: Option<&str>) -> HttpError {
        if share_token(headers, share_param).is_some() {
            return Refusal::Invalid.into();
        }
        if let Some(key) = bearer(headers) {
            std::hint::black_box(blake3::hash(key.as_bytes()));
        }
        HttpError::Unauthorized
    }

    /// The link of a share token of this site that is valid at `now`.
    pub fn share_link(&self, site: usize, token: &str, now: u64) -> Result<Link, HttpError> {
        let keys = self.sites.get(site).ok_or(Refusal::Invalid)?;
        let key = keys.share.as_ref().ok_or(Refusal::Invalid)?;
        let link = Link::decode(token, &keys.id, key)?;
        link.check(now, &keys.revoked)?;
        Ok(link)
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    credential(headers, "bearer")
}

/// The credential of `Authorization: SCHEME VALUE`.
fn credential<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (given, value) = v.trim().split_once(' ')?;
    let value = value.trim();
    (given.eq_ignore_ascii_case(scheme) && !value.is_empty()).then_some(value)
}

/// The share token of a request: `Authorization: Share TOKEN`, else the `share`
/// query parameter (for clients that cannot set headers).
pub fn share_token<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> Option<&'a str> {
    credential(headers, "share").or(query)
}

/// The request's `Origin` when it is in `server.cors_origins`.
pub fn allowed_origin<'a>(config: &Config, headers: &'a HeaderMap) -> Option<&'a HeaderValue> {
    let origin = headers.get(header::ORIGIN)?;
    let s = origin.to_str().ok()?;
    config
        .server
        .cors_origins
        .iter()
        .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(s))
        .then_some(origin)
}

/// Adds the CORS headers for an allowed origin.
pub fn with_cors(mut r: Response<Body>, origin: Option<&HeaderValue>) -> Response<Body> {
    let h = r.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = origin {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
        // So a page on that origin can read a CSV answer's file name.
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Content-Disposition"),
        );
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let hash = hash_key("s3cret-key");
        Config::from_toml_str(
            &format!(
                "[server]\ncors_origins = [\"https://intranet.example\"]\n[[sites]]\nid = \"a\"\napi_keys = [\"{hash}\"]\n[[sites]]\nid = \"b\"\npublic_dashboard = true\n{extra}"
            ),
            std::path::Path::new("t.toml"),
            std::iter::empty(),
        )
        .unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn keys_are_checked_against_hashes() {
        let keys = Keys::new(&config(""));
        assert!(hash_key("x\n") == hash_key("x"));
        assert!(keys
            .check(0, &headers(&[("authorization", "Bearer s3cret-key")]))
            .is_ok());
        assert!(keys
            .check(0, &headers(&[("authorization", "bearer  s3cret-key ")]))
            .is_ok());
        assert!(keys
            .check(0, &headers(&[("authorization", "Bearer wrong")]))
            .is_err());
        assert!(keys
            .check(0, &headers(&[("authorization", "Basic s3cret-key")]))
            .is_err());
        assert!(keys.check(0, &HeaderMap::new()).is_err());
        assert!(keys.check(1, &HeaderMap::new()).is_ok(), "public site");
        assert!(keys.check(7, &HeaderMap::new()).is_err());
    }

    #[test]
    fn only_listed_origins_get_cors_headers() {
        let c = config("");
        let ok = headers(&[("origin", "https://intranet.example")]);
        let bad = headers(&[("origin", "https://evil.example")]);
        assert!(allowed_origin(&c, &ok).is_some());
        assert!(allowed_origin(&c, &bad).is_none());
        let r = with_cors(
            crate::http::response::empty(http::StatusCode::OK),
            allowed_origin(&c, &ok),
        );
        assert_eq!(
            r.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://intranet.example"
        );
    }
}
