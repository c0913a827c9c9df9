//! Pages for visitors: what veil collects for a site (`/privacy`, `/privacy.json`)
//! and the opt-out page (`/optout`), where a visitor objects to measurement.
//!
//! Everything shown is derived from the running configuration through
//! [`crate::manifest`], so a page cannot promise more than the collector does. The
//! pages are self-contained (inline CSS, no scripts, no external assets), never
//! cached, and sent with a strict `Content-Security-Policy`. The opt-out choice is
//! the `veil_optout=1` cookie that the pixel and JSON paths already honour
//! ([`crate::privacy::OPT_OUT_COOKIE`]); the form posts back here and is answered
//! with `303 See Other` to the page, which then shows the current state.

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use hyper::body::Incoming;

use crate::config::{Config, SiteConfig};
use crate::http::escape::html_escape;
use crate::http::response::{self, Body};
use crate::http::{body, header_str, media_type, query, HttpError};
use crate::manifest::doc::{self, Block};
use crate::manifest::{self, encode_component, Format, Lang, Manifest, OPT_OUT_MAX_AGE_SECS};
use crate::privacy::{cookie_value, OPT_OUT_COOKIE};
use crate::AppState;

/// Nothing may load, run or be framed; only inline styles and forms to ourselves.
pub const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Largest opt-out form body: three short fields.
pub const MAX_FORM_BYTES: usize = 2_048;

const STYLE: &str = "body{margin:0;font:16px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f1f1f;background:#fff}\
main{max-width:42rem;margin:0 auto;padding:1rem 1.25rem 3rem}\
h1{font-size:1.6rem;line-height:1.25}h3{font-size:1.15rem;margin-top:1.8rem}\
li{margin:.3rem 0}code{font-size:.9em;background:#f1f3f4;padding:0 .25em;border-radius:3px;overflow-wrap:anywhere}\
a{color:#0b57d0}.state{padding:.8rem 1rem;border-radius:8px;background:#e8f0fe}.state.objected{background:#fef7e0}\
button{font:inherit;width:100%;max-width:26rem;padding:.8rem 1.2rem;border:0;border-radius:8px;background:#0b57d0;color:#fff;cursor:pointer}\
button.undo{background:#5f6368}small{color:#555}nav{margin-top:2rem}\
@media (prefers-color-scheme:dark){body{background:#121212;color:#e8e8e8}code{background:#2a2a2a}a{color:#8ab4f8}.state{background:#1e2a3d}.state.objected{background:#3a3020}small{color:#aaa}}";

/// The parameters the pages read, from a query string or a form body.
#[derive(Debug, Default, PartialEq, Eq)]
struct Params {
    site: Option<String>,
    lang: Option<String>,
    action: Option<String>,
}

/// `a=1&b=2` (first occurrence of a key wins; `+` is a space).
fn params(s: &str) -> Params {
    let mut p = Params::default();
    for (k, v) in query::pairs(s) {
        let slot = match &*k {
            "site" => &mut p.site,
            "lang" => &mut p.lang,
            "action" => &mut p.action,
            _ => continue,
        };
        if slot.is_none() {
            *slot = Some(v.trim().to_string());
        }
    }
    p
}

fn find_site<'a>(config: &'a Config, site: Option<&str>) -> Result<&'a SiteConfig, HttpError> {
    let id = site
        .filter(|s| !s.is_empty())
        .ok_or(HttpError::BadRequest("missing site parameter".into()))?;
    config
        .sites
        .iter()
        .find(|s| s.id == id)
        .ok_or(HttpError::NotFound("unknown site".into()))
}

/// `lang=` if given, else the visitor's `Accept-Language` (first of en/pl by
/// preference), else the site's language.
fn choose_lang(
    param: Option<&str>,
    accept: Option<&str>,
    site: &SiteConfig,
) -> Result<Lang, HttpError> {
    if let Some(p) = param.filter(|p| !p.is_empty()) {
        return p
            .parse()
            .map_err(|_| HttpError::BadRequest("lang must be en or pl".into()));
    }
    Ok(accept
        .and_then(preferred_lang)
        .unwrap_or_else(|| Lang::of_site(site)))
}

/// The best of `en`/`pl` in an `Accept-Language` header, by q-value then order.
fn preferred_lang(accept: &str) -> Option<Lang> {
    let mut best: Option<(u16, Lang)> = None;
    for entry in accept.split(',') {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .next()
            .and_then(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        // Thousandths, so comparisons need no floats.
        let q = (q.clamp(0.0, 1.0) * 1000.0) as u16;
        let primary = tag.split(['-', '_']).next().unwrap_or("");
        let Ok(lang) = primary.parse::<Lang>() else {
            continue;
        };
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

fn opted_out(headers: &HeaderMap) -> bool {
    cookie_value(header_str(headers, header::COOKIE), OPT_OUT_COOKIE) == Some("1")
}

/// Headers every page carries.
fn harden(r: &mut Response<Body>) {
    response::harden_page(r, CSP);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    let mut r = response::text(status, "text/html; charset=utf-8", body);
    harden(&mut r);
    r
}

/// A refusal as plain text, with the page headers.
fn refused_text(e: HttpError) -> Response<Body> {
    let mut r = e.to_text();
    harden(&mut r);
    r
}

fn document(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"robots\" content=\"noindex\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n</body>\n</html>\n",
        lang.as_str(),
        html_escape(title),
    )
}

fn other(lang: Lang) -> Lang {
    match lang {
        Lang::En => Lang::Pl,
        Lang::Pl => Lang::En,
    }
}

fn page_link(path: &str, site: &str, lang: Lang) -> String {
    format!(
        "{path}?site={}&lang={}",
        encode_component(site),
        lang.as_str()
    )
}

/// The site a page request names, its manifest, and the language to answer in.
fn site_manifest(
    state: &AppState,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(Manifest, Lang), HttpError> {
    let p = params(query.unwrap_or(""));
    let config = state.config();
    let site = find_site(&config, p.site.as_deref())?;
    let lang = choose_lang(
        p.lang.as_deref(),
        header_str(headers, header::ACCEPT_LANGUAGE),
        site,
    )?;
    let m = Manifest::for_site(&config, &site.id)
        .map_err(|_| HttpError::NotFound("unknown site".into()))?;
    Ok((m, lang))
}

/// `GET /privacy?site=S[&lang=en|pl]`: the disclosure as a page.
pub fn privacy(state: &AppState, query: Option<&str>, headers: &HeaderMap) -> Response<Body> {
    let found = site_manifest(state, query, headers);
    let (m, lang) = match found {
        Ok(x) => x,
        Err(e) => return refused_text(e),
    };
    let mut blocks = manifest::disclosure(&m, lang);
    let title = match blocks.first_mut() {
        Some(Block::Heading(level, inlines)) => {
            *level = 1;
            doc::plain_text(inlines)
        }
        _ => m.site.clone(),
    };
    let texts = manifest::opt_out_texts(&m, lang);
    let mut body = format!(
        "<section class=\"veil-disclosure\" lang=\"{}\">\n",
        lang.as_str()
    );
    doc::html_blocks(&blocks, &mut body);
    body.push_str("</section>\n");
    let switch = other(lang);
    body.push_str(&format!(
        "<nav><a href=\"{}\">{}</a> · <a href=\"{}\" lang=\"{}\" hreflang=\"{}\">{}</a></nav>\n",
        html_escape(&page_link("/optout", &m.site, lang)),
        html_escape(texts.object_button),
        html_escape(&page_link("/privacy", &m.site, switch)),
        switch.as_str(),
        switch.as_str(),
        html_escape(texts.other_language),
    ));
    html(StatusCode::OK, document(lang, &title, &body))
}

/// `GET /privacy.json?site=S`: the manifest, for machines (CORS-readable: it is
/// public information a site may show on its own pages).
pub fn privacy_json(state: &AppState, query: Option<&str>) -> Response<Body> {
    let p = params(query.unwrap_or(""));
    let config = state.config();
    let mut r = match find_site(&config, p.site.as_deref()) {
        Err(e) => e.to_json(),
        Ok(site) => match manifest::render(&config, Some(&site.id), Format::Json, Lang::En) {
            Ok(json) => response::json_body(StatusCode::OK, json),
            Err(e) => {
                tracing::error!(error = %e, "manifest could not be rendered");
                response::error(StatusCode::INTERNAL_SERVER_ERROR, "manifest unavailable")
            }
        },
    };
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// `GET /optout?site=S[&lang=]`: what is collected, the current choice, and a
/// button to object or to withdraw the objection.
pub fn optout_page(state: &AppState, query: Option<&str>, headers: &HeaderMap) -> Response<Body> {
    let found = site_manifest(state, query, headers);
    match found {
        Ok((m, lang)) => html(StatusCode::OK, optout_html(&m, lang, opted_out(headers))),
        Err(e) => refused_text(e),
    }
}

/// The opt-out page for a manifest, language and current state.
fn optout_html(m: &Manifest, lang: Lang, objected: bool) -> String {
    let texts = manifest::opt_out_texts(m, lang);
    let mut body = format!("<h1>{}</h1>\n", html_escape(&texts.title));
    doc::html_blocks(&texts.summary, &mut body);
    let (class, state, action, button, button_class) = if objected {
        (
            "state objected",
            texts.objected,
            "undo",
            texts.undo_button,
            " class=\"undo\"",
        )
    } else {
        (
            "state",
            texts.not_objected,
            "optout",
            texts.object_button,
            "",
        )
    };
    body.push_str(&format!(
        "<p class=\"{class}\" role=\"status\">{}</p>\n<form method=\"post\" action=\"/optout\">\n<input type=\"hidden\" name=\"site\" value=\"{}\">\n<input type=\"hidden\" name=\"lang\" value=\"{}\">\n<input type=\"hidden\" name=\"action\" value=\"{action}\">\n<button type=\"submit\"{button_class}>{}</button>\n</form>\n<p><small>{}</small></p>\n",
        html_escape(state),
        html_escape(&m.site),
        lang.as_str(),
        html_escape(button),
        html_escape(&texts.cookie_note),
    ));
    let switch = other(lang);
    body.push_str(&format!(
        "<nav><a href=\"{}\">{}</a> · <a href=\"{}\" lang=\"{}\" hreflang=\"{}\">{}</a></nav>\n",
        html_escape(&page_link("/privacy", &m.site, lang)),
        html_escape(texts.full_disclosure),
        html_escape(&page_link("/optout", &m.site, switch)),
        switch.as_str(),
        switch.as_str(),
        html_escape(texts.other_language),
    ));
    document(lang, &texts.title, &body)
}

/// Whether the request reached the proxy in front of veil over https.
fn over_https(headers: &HeaderMap) -> bool {
    let xfp = header_str(headers, "x-forwarded-proto")
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    let fwd = header_str(headers, header::FORWARDED).is_some_and(|v| {
        v.split(',').next().unwrap_or("").split(';').any(|kv| {
            kv.trim().split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("proto")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
            })
        })
    });
    xfp || fwd
}

/// The `Set-Cookie` value for an objection (`true`) or its withdrawal.
pub fn opt_out_cookie(object: bool, secure: bool) -> String {
    let mut c = if object {
        format!(
            "{OPT_OUT_COOKIE}=1; Path=/; Max-Age={OPT_OUT_MAX_AGE_SECS}; SameSite=Lax; HttpOnly"
        )
    } else {
        format!("{OPT_OUT_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly")
    };
    if secure {
        c.push_str("; Secure");
    }
    c
}

/// `POST /optout` (form: site, lang, action=optout|undo): sets or clears the
/// cookie and answers `303 See Other` back to the page.
pub async fn optout_post(state: &AppState, headers: &HeaderMap, body: Incoming) -> Response<Body> {
    // Another site's page must not be able to switch a visitor's choice.
    let config = state.config();
    if let Err(e) =
        super::same_origin::check(headers, &config.server.public_origin, over_https(headers))
    {
        return refused_text(e);
    }
    let mime = media_type(headers);
    if !mime.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
        return refused_text(HttpError::UnsupportedMediaType(
            "content type must be application/x-www-form-urlencoded",
        ));
    }
    let read = body::read(body, headers, MAX_FORM_BYTES, state.body_read_timeout).await;
    let body = match read.map_err(|e| match e {
        HttpError::TooLarge(_) => HttpError::TooLarge("form body too large"),
        e => e,
    }) {
        Ok(b) => b,
        Err(e) => return refused_text(e),
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return refused_text(HttpError::BadRequest("form body is not UTF-8".into()));
    };
    let p = params(text);
    let site = match find_site(&config, p.site.as_deref()) {
        Ok(s) => s,
        Err(e) => return refused_text(e),
    };
    let object = match p.action.as_deref() {
        Some("optout") => true,
        Some("undo") => false,
        _ => {
            return refused_text(HttpError::BadRequest(
                "action must be optout or undo".into(),
            ))
        }
    };
    let mut location = manifest::opt_out_path(&site.id);
    match p
        .lang
        .as_deref()
        .filter(|l| !l.is_empty())
        .map(str::parse::<Lang>)
    {
        Some(Ok(lang)) => {
            location.push_str("&lang=");
            location.push_str(lang.as_str());
        }
        Some(Err(_)) => return refused_text(HttpError::BadRequest("lang must be en or pl".into())),
        None => {}
    }
    tracing::debug!(site = %site.id, object, "opt-out choice changed");
    let mut r = response::text(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        format!("see {location}\n"),
    );
    harden(&mut r);
    let h = r.headers_mut();
    match (
        HeaderValue::from_str(&location),
        HeaderValue::from_str(&opt_out_cookie(object, over_https(headers))),
    ) {
        (Ok(loc), Ok(cookie)) => {
            h.insert(header::LOCATION, loc);
            h.insert(header::SET_COOKIE, cookie);
            r
        }
        // Both are ASCII by construction (percent-encoded id, fixed cookie).
        _ => refused_text(HttpError::Internal("cannot build the answer".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn manifest(preset: &str) -> Manifest {
        let toml = format!(
            "[[sites]]\nid = \"a<b>.example\"\nconsent = {{ preset = \"{preset}\" }}\ncontroller = \"<script>x</script>\"\n"
        );
        let c = Config::from_toml_str(&toml, std::path::Path::new("t.toml"), Vec::new()).unwrap();
        Manifest::for_site(&c, "a<b>.example").unwrap()
    }

    #[test]
    fn params_decode_and_first_wins() {
        let p = params("site=shop.example&lang=pl&site=other&action=optout&x=1");
        assert_eq!(p.site.as_deref(), Some("shop.example"));
        assert_eq!(p.lang.as_deref(), Some("pl"));
        assert_eq!(p.action.as_deref(), Some("optout"));
        assert_eq!(params("site=a%20b+c").site.as_deref(), Some("a b c"));
        assert_eq!(params(""), Params::default());
    }

    #[test]
    fn accept_language_picks_the_preferred_supported_language() {
        assert_eq!(preferred_lang("pl-PL,pl;q=0.9,en;q=0.8"), Some(Lang::Pl));
        assert_eq!(preferred_lang("de-DE,en;q=0.5,pl;q=0.7"), Some(Lang::Pl));
        assert_eq!(preferred_lang("en-GB,pl;q=0.9"), Some(Lang::En));
        assert_eq!(preferred_lang("pl;q=0,en;q=0.1"), Some(Lang::En));
        assert_eq!(preferred_lang("de,fr"), None);
        assert_eq!(preferred_lang(""), None);
    }

    #[test]
    fn cookies_are_strict_and_secure_behind_https() {
        assert_eq!(
            opt_out_cookie(true, false),
            "veil_optout=1; Path=/; Max-Age=157680000; SameSite=Lax; HttpOnly"
        );
        assert_eq!(
            opt_out_cookie(false, true),
            "veil_optout=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly; Secure"
        );
        let mut h = HeaderMap::new();
        assert!(!over_https(&h));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(over_https(&h));
        let mut h = HeaderMap::new();
        h.insert(
            header::FORWARDED,
            HeaderValue::from_static("for=1.2.3.4;proto=https"),
        );
        assert!(over_https(&h));
    }

    #[test]
    fn the_optout_page_escapes_config_text_and_shows_the_state() {
        let m = manifest("eu-strict");
        let page = optout_html(&m, Lang::Pl, false);
        assert!(page.starts_with("<!doctype html>\n<html lang=\"pl\">"));
        assert!(!page.contains("<b>"), "site id must be escaped");
        assert!(page.contains("a&lt;b&gt;.example"));
        assert!(page.contains("name=\"action\" value=\"optout\""));
        assert!(page.contains("Zgłaszam sprzeciw"));
        assert!(!page.contains("<script"), "no scripts, even from config");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external assets"
        );
        let page = optout_html(&m, Lang::En, true);
        assert!(page.contains("name=\"action\" value=\"undo\""));
        assert!(page.contains("Withdraw my objection"));
        assert!(page.contains("href=\"/optout?site=a%3Cb%3E.example&amp;lang=pl\""));
    }
}
