//! `GET /dashboard/{site}`: one page, compiled into the binary, built on the stats
//! API. No CDN, no external font, no framework: an HTML shell plus one script and
//! one stylesheet served from `/dashboard/-/`, under a strict Content Security
//! Policy (`'self'` only, no inline code). English and Polish, chosen by `?lang=`,
//! then `Accept-Language`, then the site's `language`.
//!
//! The page never frames: `frame-ancestors 'none'` and `X-Frame-Options: DENY`,
//! except for a valid embed share link (`?share=TOKEN` with the embed flag), which
//! is served with `frame-ancestors` = the site's `embed_origins` (`'none'` when
//! there are none) and no `X-Frame-Options`, and with compact chrome. The page
//! itself holds no token: its script reads `share` from the address.

use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use crate::http::response::{self, Body};
use crate::AppState;

const HTML: &str = include_str!("../../assets/dashboard/index.html");
const JS: &str = include_str!("../../assets/dashboard/app.js");
const CSS: &str = include_str!("../../assets/dashboard/app.css");
const ICON: &str = include_str!("../../assets/dashboard/icon.svg");

/// The policy of every dashboard answer: only veil's own script, style and API.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Serves the page or one of its assets.
pub fn serve<B>(state: &AppState, req: &Request<B>) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return response::error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let rest = req
        .uri()
        .path()
        .trim_start_matches("/dashboard")
        .trim_start_matches('/');
    let mut frame: Option<Vec<String>> = None;
    let r = match rest {
        "-/app.js" => response::text(StatusCode::OK, "text/javascript; charset=utf-8", JS.into()),
        "-/app.css" => response::text(StatusCode::OK, "text/css; charset=utf-8", CSS.into()),
        "-/icon.svg" => response::text(StatusCode::OK, "image/svg+xml", ICON.into()),
        "" => response::text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "open /dashboard/SITE (the site id from veil.toml)\n".into(),
        ),
        site => {
            let (r, embed) = page(state, req, site);
            frame = embed;
            r
        }
    };
    secure(r, frame.as_deref())
}

/// The page, and the origins that may frame it (`Some` only for a valid embed
/// share link).
fn page<B>(
    state: &AppState,
    req: &Request<B>,
    site: &str,
) -> (Response<Body>, Option<Vec<String>>) {
    let site = crate::http::query::percent_decode(site, false);
    let query = req.uri().query().unwrap_or("");
    let query_lang = crate::http::query::first(query, "lang");
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let live = state.loaded();
    let Some(idx) = live.config.sites.iter().position(|s| s.id == site) else {
        // The page of a site that does not exist is that of a private one (which
        // then asks for a key the API refuses), so the page cannot tell which
        // site ids exist either.
        let lang = language(query_lang.as_deref(), accept, "en");
        let html = HTML
            .replace("{{lang}}", lang)
            .replace("{{site}}", &escape(&site))
            .replace("{{embed}}", "false")
            .replace("{{public}}", "false");
        let r = response::text(StatusCode::OK, "text/html; charset=utf-8", html);
        return (r, None);
    };
    let cfg = &live.config.sites[idx];
    let now = state.pipeline.clock().now_secs();
    let embed = crate::http::query::first(query, "share")
        .and_then(|t| live.stats.keys.share_link(idx, &t, now).ok())
        .is_some_and(|l| l.embed);
    let lang = language(query_lang.as_deref(), accept, &cfg.language);
    let html = HTML
        .replace("{{lang}}", lang)
        .replace("{{site}}", &escape(&cfg.id))
        .replace("{{embed}}", if embed { "true" } else { "false" })
        .replace(
            "{{public}}",
            if cfg.public_dashboard {
                "true"
            } else {
                "false"
            },
        );
    let r = response::text(StatusCode::OK, "text/html; charset=utf-8", html);
    (r, embed.then(|| cfg.embed_origins.clone()))
}

/// `pl` or `en`: the query wins, then the first supported `Accept-Language`
/// entry, then the site default.
pub fn language(query: Option<&str>, accept: Option<&str>, default: &str) -> &'static str {
    let pick = |s: &str| match s.trim().get(..2).map(str::to_ascii_lowercase).as_deref() {
        Some("pl") => Some("pl"),
        Some("en") => Some("en"),
        _ => None,
    };
    query
        .and_then(pick)
        .or_else(|| {
            accept.and_then(|a| {
                a.split(',')
                    .find_map(|part| pick(part.split(';').next().unwrap_or("")))
            })
        })
        .or_else(|| pick(default))
        .unwrap_or("en")
}

use crate::http::escape::html_escape as escape;

/// The policy of an embed page: framable by `origins` only.
pub fn embed_csp(origins: &[String]) -> String {
    let list = if origins.is_empty() {
        "'none'".to_string()
    } else {
        origins.join(" ")
    };
    CSP.replace("frame-ancestors 'none'", &format!("frame-ancestors {list}"))
}

fn secure(mut r: Response<Body>, frame: Option<&[String]>) -> Response<Body> {
    crate::http::response::harden_page(&mut r, CSP);
    let h = r.headers_mut();
    // Origins are validated (scheme, host, port), so they make a valid header.
    match frame.and_then(|o| HeaderValue::from_str(&embed_csp(o)).ok()) {
        Some(csp) => {
            h.insert(header::CONTENT_SECURITY_POLICY, csp);
        }
        None => {
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_prefers_query_then_header_then_site() {
        assert_eq!(language(Some("pl"), Some("en-US"), "en"), "pl");
        assert_eq!(
            language(None, Some("de-DE, pl;q=0.8, en;q=0.5"), "en"),
            "pl"
        );
        assert_eq!(language(Some("xx"), None, "pl"), "pl");
        assert_eq!(language(None, None, "en"), "en");
    }

    #[test]
    fn the_page_has_no_inline_code_or_remote_resources() {
        assert!(!HTML.contains("<script>") && !HTML.contains("<style") && !HTML.contains("style="));
        for text in [HTML, JS, CSS] {
            // The SVG namespace is an identifier, not a resource that is fetched.
            let text = text.replace("http://www.w3.org/2000/svg", "");
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "no remote resources"
            );
        }
        assert!(escape("<a\"&'>") == "&lt;a&quot;&amp;&#39;&gt;");
    }

    #[test]
    fn embed_pages_name_their_framing_origins() {
        let o = [
            "https://intranet.example".to_string(),
            "http://localhost:3000".to_string(),
        ];
        let csp = embed_csp(&o);
        assert!(
            csp.ends_with("frame-ancestors https://intranet.example http://localhost:3000"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none'; script-src 'self'"));
        assert!(embed_csp(&[]).ends_with("frame-ancestors 'none'"));
    }
}
