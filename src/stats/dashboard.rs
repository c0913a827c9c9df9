//! `GET /dashboard/{site}`: one page, compiled into the binary, built on the stats
//! API. No CDN, no external font, no framework: an HTML shell plus one script and
//! one stylesheet served from `/dashboard/-/`, under a strict Content Security
//! Policy (`'self'` only, no inline code). English and Polish, chosen by `?lang=`,
//! then `Accept-Language`, then the site's `language`.

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
    let r = match rest {
        "-/app.js" => response::text(StatusCode::OK, "text/javascript; charset=utf-8", JS.into()),
        "-/app.css" => response::text(StatusCode::OK, "text/css; charset=utf-8", CSS.into()),
        "-/icon.svg" => response::text(StatusCode::OK, "image/svg+xml", ICON.into()),
        "" => response::text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "open /dashboard/SITE (the site id from veil.toml)\n".into(),
        ),
        site => page(state, req, site),
    };
    secure(r)
}

fn page<B>(state: &AppState, req: &Request<B>, site: &str) -> Response<Body> {
    let site = crate::http::query::percent_decode(site, false);
    let Some(cfg) = state.config.sites.iter().find(|s| s.id == site) else {
        return response::text(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "unknown site\n".into(),
        );
    };
    let query_lang = crate::http::query::first(req.uri().query().unwrap_or(""), "lang");
    let query_lang = query_lang.as_deref();
    let accept = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok());
    let lang = language(query_lang, accept, &cfg.language);
    let html = HTML
        .replace("{{lang}}", lang)
        .replace("{{site}}", &escape(&cfg.id))
        .replace(
            "{{public}}",
            if cfg.public_dashboard {
                "true"
            } else {
                "false"
            },
        );
    response::text(StatusCode::OK, "text/html; charset=utf-8", html)
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

fn secure(mut r: Response<Body>) -> Response<Body> {
    crate::http::response::harden_page(&mut r, CSP);
    let h = r.headers_mut();
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
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
}
