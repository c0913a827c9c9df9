//! What a request's headers give away about a client whose User-Agent says
//! "browser".
//!
//! A script can copy a browser's User-Agent in one line; it rarely copies the rest
//! of what a browser sends with every request. These checks only ever turn a hit
//! into a bot, so a client that forges the headers they read can only get *its
//! own* hits counted apart: nothing here needs the headers to be trusted.
//!
//! Each rule is one a real browser cannot trip:
//! - **no `Accept-Language`, or `*`**: every browser sends the user's languages
//!   on every request, image and `sendBeacon` included; curl and most HTTP
//!   libraries send none, and Node's `fetch` (undici) sends `*`.
//! - **a Chromium-based browser (Chrome, Edge, Opera, Samsung Internet, …) of
//!   version 80 or later without `Sec-Fetch-Mode`, from an `https` page**:
//!   Chromium sends fetch metadata on every request to a potentially trustworthy
//!   URL since version 76 (`Sec-Fetch-Dest` since 80). An `https` page can only
//!   reach veil over `https` (mixed content is upgraded or blocked), so such a
//!   request always carries it. From an `http` page (a plain-HTTP test site, a
//!   local setup) Chromium sends none, so the rule does not apply there.
//!
//! Not used: `Accept-Encoding` and `Accept` (a proxy or a privacy extension may
//! rewrite them), client hints (off in some Chromium builds and enterprise
//! policies), header order (rewritten by every proxy in between).
//!
//! Sites that send events from their own servers (Plausible's and Umami's APIs
//! allow it) forward the visitor's User-Agent but not these headers; they turn
//! the signals off with `pipeline.bot_header_signals = false`.

/// The request headers the rules read.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeaderSignals<'a> {
    /// `Accept-Language`, as sent.
    pub accept_language: Option<&'a str>,
    /// Whether `Sec-Fetch-Mode` was sent.
    pub sec_fetch: bool,
    /// Whether the page the beacon reports is an `https` URL.
    pub page_is_https: bool,
}

/// Chromium-based browsers by the name [`super::Agent::browser`] gives them.
/// (In-app browsers and WebViews are left out: their embedders vary.)
const CHROMIUM: &[&str] = &[
    "Chrome",
    "Edge",
    "Opera",
    "Samsung Internet",
    "Vivaldi",
    "Yandex Browser",
];

/// First Chromium version that sends `Sec-Fetch-*` on every request.
const FETCH_METADATA_SINCE: u32 = 80;

/// Whether headers betray a client that a User-Agent alone took for a browser.
/// `browser` and `major` are the parsed User-Agent's browser name and major
/// version.
pub fn betray_bot(browser: &str, major: &str, h: &HeaderSignals<'_>) -> bool {
    let language = h.accept_language.map(str::trim).unwrap_or("");
    if language.is_empty() || language == "*" {
        return true;
    }
    if h.page_is_https && !h.sec_fetch && CHROMIUM.contains(&browser) {
        // Legacy Edge (EdgeHTML, versions 12–18) is "Edge" too, but never sent
        // fetch metadata; its versions are below 80.
        return major
            .parse::<u32>()
            .is_ok_and(|v| v >= FETCH_METADATA_SINCE);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(lang: Option<&str>, sec_fetch: bool, https: bool) -> HeaderSignals<'_> {
        HeaderSignals {
            accept_language: lang,
            sec_fetch,
            page_is_https: https,
        }
    }

    #[test]
    fn a_browser_sends_languages_and_chromium_on_https_sends_fetch_metadata() {
        let browser = sig(Some("pl-PL,pl;q=0.9,en;q=0.8"), true, true);
        for b in ["Chrome", "Edge", "Firefox", "Safari", "Samsung Internet"] {
            assert!(!betray_bot(b, "131", &browser), "{b}");
        }
        // Plain-HTTP page: no fetch metadata from anyone, and that is fine.
        assert!(!betray_bot("Chrome", "131", &sig(Some("en"), false, false)));
        // Safari and Firefox are not held to the Chromium rule.
        assert!(!betray_bot("Safari", "17", &sig(Some("en"), false, true)));
        assert!(!betray_bot("Firefox", "128", &sig(Some("en"), false, true)));
        // Old Chromium and legacy Edge did not send it.
        assert!(!betray_bot("Chrome", "75", &sig(Some("en"), false, true)));
        assert!(!betray_bot("Edge", "18", &sig(Some("en"), false, true)));
    }

    #[test]
    fn scripts_with_a_browser_user_agent_give_themselves_away() {
        // curl, Python, Go: no Accept-Language.
        assert!(betray_bot("Chrome", "131", &sig(None, false, false)));
        assert!(betray_bot("Safari", "17", &sig(Some("  "), false, false)));
        // Node's fetch (undici) sends `*`.
        assert!(betray_bot("Firefox", "128", &sig(Some("*"), false, false)));
        // A Chromium UA from an https page without fetch metadata.
        assert!(betray_bot(
            "Chrome",
            "131",
            &sig(Some("en-US"), false, true)
        ));
        assert!(betray_bot("Edge", "120", &sig(Some("en-US"), false, true)));
    }
}
