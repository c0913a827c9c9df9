//! `GET /t.js`: the tracker script, embedded in the binary.
//!
//! The script (`assets/t.js`, under 1.2 KB gzipped, no dependencies, no build step)
//! sends veil's JSON beacon (`POST /api/collect`) for pageviews, SPA navigations and
//! custom events, and one engagement report per page view (visible time and the
//! deepest scroll position) when the page is hidden or left. The budget was 1 KB
//! until engagement: the report costs about 180 bytes, the price of time on page. It never sets or reads a cookie; the only state it keeps is the
//! visitor's own consent choice and opt-out flag in the site's `localStorage`.
//!
//! # Embedding
//!
//! ```html
//! <script defer src="https://stats.example.com/t.js" data-site="example.com"></script>
//! <noscript><img src="https://stats.example.com/p.gif?s=example.com&amp;u=https%3A%2F%2Fexample.com%2Fpricing"
//!   alt="" width="1" height="1" referrerpolicy="no-referrer-when-downgrade"></noscript>
//! ```
//!
//! The `<noscript>` pixel counts visitors without JavaScript. It cannot read the page
//! URL, so the page template fills `u` (percent-encoded); without `u` veil counts the
//! site's home page. It carries no consent categories, so the site's default applies
//! (under `eu-strict`: the anonymous count).
//!
//! Attributes of the script tag:
//!
//! | attribute | effect |
//! |---|---|
//! | `data-site` | required: the site id configured in veil |
//! | `data-api` | collect endpoint; default `api/collect` next to the script (for `/t.js`: the script's origin + `/api/collect`; behind a proxy at `/stats/t.js`: `/stats/api/collect`) |
//! | `data-consent="analytics,marketing"` | categories the page says the visitor granted (a site rendering its consent banner's state); absent = no `consent` field, so the site's policy default applies; `""` = nothing granted |
//! | `data-hash-routing` | `#/route` (and `#!/route`) counts as the page path `/route`: pageviews on hash changes |
//! | `data-outbound` | clicks on links to another host → event `outbound`, prop `url` = host (with a non-default port) + path; never the query or fragment |
//! | `data-downloads` | clicks on links to `pdf zip gz dmg exe msi apk csv xls(x) doc(x) txt mp3 mp4` files → event `download`, prop `file` = path (host + path for another host), no query |
//! | `data-manual` | no automatic pageviews: call `veil('pageview')` yourself |
//!
//! # Behaviour
//!
//! - A pageview on load and on every SPA navigation: `history.pushState` and
//!   `replaceState` are wrapped, `popstate` is followed (it also fires on fragment
//!   changes, which is how hash routes are seen). The same URL twice in a row counts
//!   once, so `replaceState` with the current URL or an in-page `#anchor` is no new
//!   pageview. A prerendered page counts when it is shown; a page restored from the
//!   back/forward cache is not counted again.
//! - Link clicks (`data-outbound`, `data-downloads`) are primary-button clicks; the
//!   beacon leaves before the browser follows the link. Middle clicks and "open in
//!   new tab" from the context menu are not seen.
//! - Sent: `{site, url, referrer, width, event?, props?, revenue?, consent?, optout}` as
//!   `text/plain` through `navigator.sendBeacon` (no CORS preflight, survives the page
//!   unloading), falling back to `fetch(api, {method: 'POST', body, keepalive: true})`
//!   when `sendBeacon` refuses (a string body is `text/plain` there too).
//!   `url` is `location.href` without the fragment (veil keeps only host, path and
//!   UTM keys); `referrer` is `document.referrer` on the first pageview and the
//!   previous page on SPA navigations (veil turns own-site referrers into direct
//!   traffic, as it does for a full page load); `width` is `screen.width`, the screen's
//!   width in CSS pixels (the device class and `screen` dimension are about the
//!   device, not the window size).
//! - A page without `data-site`, or the script included a second time, does nothing.
//! - Automation is not special-cased (`navigator.webdriver` is not read); veil's
//!   agent parser recognises headless browsers by their User-Agent.
//!
//! # JavaScript API
//!
//! ```js
//! // Before the script has loaded (calls are queued and replayed in order):
//! window.veil = window.veil || function () { (veil.q = veil.q || []).push(arguments) };
//!
//! veil('signup', {plan: 'pro'});        // custom event with props (strings, numbers, booleans)
//! veil('purchase', {plan: 'pro'}, {amount: 19.99, currency: 'EUR'}); // with revenue
//! veil('pageview');                     // pageview now (with data-manual); veil('pageview', '/masked/url') sends that URL
//! veil('consent', ['analytics']);       // queued form of veil.consent
//! veil('optout', true);                 // queued form of veil.optout
//! // After the script has loaded also:
//! veil.pageview(url?);                  // same as veil('pageview', url)
//! veil.consent(['analytics', 'marketing']); // categories sent with every later beacon (a
//!                                       // comma-separated string works too); returns them
//! veil.consent([]);                     // withdrawn: beacons send consent: [] and only the `denied` counter moves
//! veil.consent(null);                   // forget the choice: no consent field, the site's default applies
//! veil.consent();                       // the categories sent now (undefined = none)
//! veil.optout(true);                    // opt out on this site; veil.optout(false) opts back in
//! veil.optout();                        // true while opted out
//! ```
//!
//! `pageview`, `consent` and `optout` are reserved: they are no custom event names.
//!
//! Revenue is a third argument rather than a key inside the props, so that every
//! existing call keeps its meaning and a site's own `revenue` prop stays a prop.
//! `amount` is a number or a decimal string (`"19.99"`, kept to thousandths),
//! `currency` a three-letter ISO 4217 code; the script sends them as given and
//! veil answers `400` with the reason when either is malformed (a negative amount,
//! `EURO`). Pass `{}` or `undefined` as props when there are none.
//!
//! ## Consent
//!
//! `veil.consent(list)` stores the list in `localStorage["veil_consent"]`, so it holds
//! for later page loads on the site's origin, and takes effect at once (it replaces
//! the page's `data-consent` for the rest of the page). When a page has
//! `data-consent` and a stored choice exists, only the categories in both are sent:
//! a withdrawal stored by the banner outweighs a grant hard-coded in the page, and a
//! page that no longer renders a grant outweighs an old stored one. veil applies the
//! categories under the site's policy (`Sec-GPC` and `DNT` can still cap them).
//!
//! ## Opt-out: two switches
//!
//! - `veil.optout(true)` stores `localStorage["veil_optout"] = "1"` on the site's
//!   origin; while it is set every beacon carries `optout: true`, so only the site's
//!   `optout` counter moves and veil stores nothing else. A site can put an opt-out
//!   button in its privacy policy with it.
//! - veil's own `/optout` page sets the `veil_optout=1` cookie on veil's origin;
//!   `sendBeacon` sends it with every beacon (not the `fetch` fallback) where the
//!   browser allows cookies to veil's origin (same-site deployments such as
//!   `stats.example.com`; browsers that block third-party cookies drop it for
//!   cross-site ones). The `localStorage` flag works regardless.
//!
//! # Serving
//!
//! `Cache-Control: public, max-age=86400` (the URL never changes, so a day keeps
//! updates flowing), a strong `ETag` from the BLAKE3 hash of the script (the gzip
//! variant's tag has a `-gz` suffix, as a strong validator must differ per content
//! coding) with `304` on a matching `If-None-Match`, and a gzip body, compressed once
//! at first use, for clients that accept it (`Vary: Accept-Encoding`).
//! `Access-Control-Allow-Origin: *` lets a site load it with `crossorigin` and
//! Subresource Integrity; `Cross-Origin-Resource-Policy: cross-origin` lets pages
//! with `Cross-Origin-Embedder-Policy` load it.
//!
//! # Reading the script
//!
//! The script is minified by hand to stay under 1.2 KB gzipped (a unit test holds it
//! to that), so it has no comments; this is its legend. Arguments: `w` window, `d`
//! document, `l` location, `n` navigator, `c` undefined. `s` the script element, `a`/`b`
//! read / test a `data-` attribute, `S` site, `t` storage (`localStorage`, or a plain
//! object when storage is blocked, so the API still works for the page), `E` endpoint,
//! `L` parse a category list, `A` the page's categories, `H`/`D`/`B` hash routing /
//! downloads / outbound on, `P` last pageview URL, `R` referrer, `W` storage write,
//! `K` categories to send, `U` current page URL, `T` send a beacon (event, props,
//! revenue, engagement), `F` when the page became visible (`-1` once reported), `Y`
//! deepest scroll percent, `Q` update it, `G` send the engagement report, `V`
//! pageview (reports the previous page's engagement first), `Z` pageview if the URL
//! changed, `v` the public `veil`, `q` the stub's queue.

use std::io::Write;
use std::sync::LazyLock;

use bytes::Bytes;
use flate2::write::GzEncoder;
use flate2::Compression;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;

use crate::http::response::Body;

/// The script, as shipped.
pub const SCRIPT: &str = include_str!("../../assets/t.js");

/// The script's two representations and their validators, computed once.
struct Asset {
    /// Strong tag of the identity body: the BLAKE3 hash in hex, quoted.
    etag: HeaderValue,
    /// Strong tag of the gzip body.
    etag_gz: HeaderValue,
    /// The gzip body; `None` only if compression failed (then identity is served).
    gzip: Option<Bytes>,
}

static ASSET: LazyLock<Asset> = LazyLock::new(|| {
    let hex = blake3::hash(SCRIPT.as_bytes()).to_hex();
    let gzip = gzip(SCRIPT.as_bytes());
    if let Err(e) = &gzip {
        tracing::warn!(error = %e, "cannot gzip t.js; serving it uncompressed");
    }
    Asset {
        etag: HeaderValue::from_str(&format!("\"{hex}\""))
            .unwrap_or(HeaderValue::from_static("\"t\"")),
        etag_gz: HeaderValue::from_str(&format!("\"{hex}-gz\""))
            .unwrap_or(HeaderValue::from_static("\"t-gz\"")),
        gzip: gzip.ok().map(Bytes::from),
    }
});

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len()), Compression::best());
    enc.write_all(data)?;
    enc.finish()
}

/// `GET`/`HEAD /t.js` (hyper drops the body of a `HEAD` answer and keeps its length).
pub fn script(request: &HeaderMap) -> Response<Body> {
    let asset = &*ASSET;
    let gz = asset.gzip.as_ref().filter(|_| accepts_gzip(request));
    let etag = if gz.is_some() {
        &asset.etag_gz
    } else {
        &asset.etag
    };
    let fresh = if_none_match(request, &[&asset.etag, &asset.etag_gz]);
    let body = match (fresh, gz) {
        (true, _) => Bytes::new(),
        (false, Some(gz)) => gz.clone(),
        (false, None) => Bytes::from_static(SCRIPT.as_bytes()),
    };
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(header::ETAG, etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    if fresh {
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        return r;
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/javascript; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if gz.is_some() {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

/// Whether `Accept-Encoding` allows gzip (`gzip`, `x-gzip` or `*`, with `q` > 0).
fn accepts_gzip(request: &HeaderMap) -> bool {
    let mut star = false;
    for value in request.get_all(header::ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q = parts
                .filter_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .or_else(|| p.trim().strip_prefix("Q="))
                })
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                return q > 0.0;
            }
            if coding == "*" {
                star = q > 0.0;
            }
        }
    }
    star
}

/// Whether `If-None-Match` names one of `tags` (weak comparison, as RFC 9110 asks for
/// this header) or is `*`.
fn if_none_match(request: &HeaderMap, tags: &[&HeaderValue]) -> bool {
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| {
            let t = t.strip_prefix("W/").unwrap_or(t);
            t == "*" || tags.iter().any(|tag| tag.as_bytes() == t.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use http_body_util::BodyExt;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    async fn body(r: Response<Body>) -> Vec<u8> {
        r.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    fn gunzip(data: &[u8]) -> String {
        let mut out = String::new();
        flate2::read::GzDecoder::new(data)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn gzipped_script_is_under_1_2_kb_and_round_trips() {
        let gz = ASSET.gzip.as_ref().expect("gzip variant");
        println!("t.js: {} bytes, {} gzipped", SCRIPT.len(), gz.len());
        assert!(
            gz.len() < 1229,
            "t.js is {} bytes gzipped; the budget is 1228",
            gz.len()
        );
        assert_eq!(gunzip(gz), SCRIPT);
    }

    #[test]
    fn script_keeps_its_promises() {
        // No cookies, no automation sniffing, no third-party code.
        for banned in [
            "cookie",
            "webdriver",
            "import(",
            "eval(",
            "http://",
            "https://",
        ] {
            assert!(!SCRIPT.contains(banned), "t.js mentions {banned:?}");
        }
        assert!(SCRIPT.contains("sendBeacon") && SCRIPT.contains("keepalive"));
    }

    #[test]
    fn etag_is_the_quoted_blake3_hex() {
        let hex = blake3::hash(SCRIPT.as_bytes()).to_hex().to_string();
        assert_eq!(ASSET.etag.to_str().unwrap(), format!("\"{hex}\""));
        assert_eq!(ASSET.etag_gz.to_str().unwrap(), format!("\"{hex}-gz\""));
    }

    #[tokio::test]
    async fn identity_by_default_with_cache_headers() {
        let r = script(&HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        let h = r.headers();
        assert_eq!(
            h[header::CONTENT_TYPE],
            "application/javascript; charset=utf-8"
        );
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=86400");
        assert_eq!(h[header::VARY], "Accept-Encoding");
        assert_eq!(h[header::ETAG], ASSET.etag);
        assert!(h.get(header::CONTENT_ENCODING).is_none());
        assert_eq!(body(r).await, SCRIPT.as_bytes());
    }

    #[tokio::test]
    async fn gzip_when_accepted() {
        for ae in [
            "gzip",
            "gzip, deflate, br, zstd",
            "br;q=1.0, gzip;q=0.8",
            "X-GZIP",
            "*",
        ] {
            let r = script(&headers(&[("accept-encoding", ae)]));
            assert_eq!(r.headers()[header::CONTENT_ENCODING], "gzip", "{ae}");
            assert_eq!(r.headers()[header::ETAG], ASSET.etag_gz, "{ae}");
            assert_eq!(gunzip(&body(r).await), SCRIPT, "{ae}");
        }
        for ae in [
            "identity",
            "br",
            "gzip;q=0",
            "gzip; q=0.000, br",
            "*;q=0",
            "deflate",
        ] {
            let r = script(&headers(&[("accept-encoding", ae)]));
            assert!(r.headers().get(header::CONTENT_ENCODING).is_none(), "{ae}");
            assert_eq!(body(r).await, SCRIPT.as_bytes(), "{ae}");
        }
        let two = headers(&[("accept-encoding", "br"), ("accept-encoding", "gzip")]);
        assert!(accepts_gzip(&two));
    }

    #[tokio::test]
    async fn not_modified_on_a_matching_if_none_match() {
        let id = ASSET.etag.to_str().unwrap().to_string();
        let gz = ASSET.etag_gz.to_str().unwrap().to_string();
        let weak = format!("W/{id}");
        let listed = format!("\"old\", {gz}");
        for inm in [
            id.as_str(),
            gz.as_str(),
            weak.as_str(),
            listed.as_str(),
            "*",
        ] {
            let r = script(&headers(&[
                ("if-none-match", inm),
                ("accept-encoding", "gzip"),
            ]));
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{inm}");
            assert_eq!(r.headers()[header::ETAG], ASSET.etag_gz);
            assert_eq!(r.headers()[header::CACHE_CONTROL], "public, max-age=86400");
            assert!(r.headers().get(header::CONTENT_ENCODING).is_none());
            assert!(body(r).await.is_empty());
        }
        for inm in ["\"old\"", "\"\"", "W/\"x\", \"y\""] {
            let r = script(&headers(&[("if-none-match", inm)]));
            assert_eq!(r.status(), StatusCode::OK, "{inm}");
            assert_eq!(body(r).await, SCRIPT.as_bytes());
        }
        // A tag without its quotes is not the tag.
        let bare = id.trim_matches('"').to_string();
        assert_eq!(
            script(&headers(&[("if-none-match", &bare)])).status(),
            StatusCode::OK
        );
    }
}
