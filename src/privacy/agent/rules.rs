//! The rules that turn a UA into labels: woothee's answer, corrected with the token hits
//! (browser, OS, device class), and the bot rules.

use std::panic::{catch_unwind, AssertUnwindSafe};

use super::tokens::{Hits, Matcher};
use super::tokens::{
    BOT_TOKENS, EXTRA_BROWSERS, EXTRA_OS_TOKENS, FALLBACK_BROWSERS, NOT_BOT_WORDS,
    OTHER_DEVICE_TOKENS,
};
use super::tokens::{OFF_BOT, OFF_BROWSER, OFF_DEVICE, OFF_FALLBACK, OFF_NOT_BOT, OFF_OS};
use super::tokens::{
    T_ANDROID, T_COMPATIBLE, T_KAIOS, T_MOBI, T_MSIE, T_OPERA_MINI, T_TABLET, T_TRIDENT,
};
use super::{Agent, DeviceClass, MAX_PARSED_LEN, UNKNOWN};
use crate::privacy::url::truncate;

// ---------------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------------

/// Empty, blank or "-" (what logs and some proxies write for "none"): no UA at all.
pub(super) fn is_blank(ua: &str) -> bool {
    let t = ua.trim();
    t.is_empty() || t == "-"
}

/// The raw fields we use from a woothee result, borrowed from static data or the UA.
struct Raw<'a> {
    name: &'a str,
    category: &'a str,
    os: &'a str,
    os_version: std::borrow::Cow<'a, str>,
    version: &'a str,
}

fn run_woothee<'a>(parser: &woothee::parser::Parser, ua: &'a str) -> Raw<'a> {
    // woothee unwraps regex captures internally; it should never panic on any input, but a
    // panic on attacker-controlled input must not take a request down, so contain it.
    let parsed = catch_unwind(AssertUnwindSafe(|| {
        parser.parse(ua).map(|r| Raw {
            name: r.name,
            category: r.category,
            os: r.os,
            os_version: r.os_version,
            version: r.version,
        })
    }));
    match parsed {
        Ok(Some(raw)) => raw,
        _ => Raw {
            name: woothee::woothee::VALUE_UNKNOWN,
            category: woothee::woothee::VALUE_UNKNOWN,
            os: woothee::woothee::VALUE_UNKNOWN,
            os_version: "".into(),
            version: woothee::woothee::VALUE_UNKNOWN,
        },
    }
}

/// The labels for one UA: woothee's answer, corrected by the token hits (see the module doc
/// of `agent` for what is corrected and why).
pub(super) fn classify(
    parser: &woothee::parser::Parser,
    matcher: &Matcher,
    user_agent: &str,
) -> Agent {
    let trimmed = user_agent.trim();
    if is_blank(trimmed) {
        return Agent::empty_bot();
    }
    let too_long = trimmed.len() > MAX_PARSED_LEN;
    let ua = truncate(trimmed, MAX_PARSED_LEN);
    let raw = run_woothee(parser, ua);
    let hits = matcher.scan(ua.as_bytes());

    let (browser, browser_version) = browser_of(ua, &raw, &hits);
    let (os, mut os_version) = os_of(&raw, &hits);
    // Safari 26 freezes the iOS version in the UA at 18.6; Safari's own version is the OS's.
    if (os == "iOS" || os == "iPadOS") && browser == "Safari" {
        if let Ok(v) = browser_version.parse::<u32>() {
            if v >= 26 {
                os_version = browser_version;
            }
        }
    }
    let device = device_of(&raw, &hits);
    let is_bot = too_long || looks_like_bot(ua, raw.category, browser, &hits);

    Agent {
        browser: browser.into(),
        browser_version: browser_version.into(),
        os: os.into(),
        os_version: os_version.into(),
        device,
        is_bot,
    }
}

/// Longest major version kept. Real majors have at most 4 digits; longer ones are made up
/// and would only add junk values to the aggregates.
const MAX_MAJOR_DIGITS: usize = 4;

/// Leading decimal digits of `v` ("131.0.6778" → "131"; "UNKNOWN" → ""; more than
/// [`MAX_MAJOR_DIGITS`] digits → "").
fn major(v: &str) -> &str {
    let end = v.bytes().take_while(u8::is_ascii_digit).count();
    if end > MAX_MAJOR_DIGITS {
        return "";
    }
    v.get(..end).unwrap_or_default()
}

/// Major version following `token` (ASCII case-insensitive) in `ua`: "Chrome/131.0" with
/// "Chrome/" → "131".
fn major_after<'a>(ua: &'a str, token: &str) -> &'a str {
    let (hay, needle) = (ua.as_bytes(), token.as_bytes());
    // Exact case first (fast, and what real UAs use); the tokens were matched
    // case-insensitively, so fall back to a case-insensitive search.
    let found = ua.find(token).or_else(|| {
        (0..hay.len().saturating_sub(needle.len()) + 1).find(|&i| {
            hay.get(i..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
        })
    });
    found
        .and_then(|i| ua.get(i + needle.len()..))
        .map(major)
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Labels
// ---------------------------------------------------------------------------------------------

fn browser_of<'a>(ua: &'a str, raw: &Raw<'a>, hits: &Hits) -> (&'static str, &'a str) {
    // Known crawlers and tools keep woothee's name; bots are counted per crawler.
    if raw.category == "crawler" || raw.category == "misc" {
        return (intern_other(raw.name), major(raw.version));
    }
    for (k, &(_, label, version_token)) in EXTRA_BROWSERS.iter().enumerate() {
        if hits.has(OFF_BROWSER + k) {
            let version = if version_token.is_empty() {
                ""
            } else {
                major_after(ua, version_token)
            };
            return (label, version);
        }
    }
    let label: &'static str = match raw.name {
        "Chrome" => "Chrome",
        "Firefox" => "Firefox",
        // Before Chrome, Android's own browser was WebKit with "Version/4.0 Mobile Safari".
        "Safari" if raw.os == "Android" => "Android Browser",
        "Safari" => "Safari",
        "Edge" => "Edge",
        "Opera" => "Opera",
        "Internet Explorer" => "Internet Explorer",
        "Vivaldi" => "Vivaldi",
        "Yandex Browser" => "Yandex Browser",
        "SamsungBrowser" => "Samsung Internet",
        "Google Search App" => "Google App",
        "Webview" => {
            // woothee reports Android WebView's "Version/4.0"; the engine version is Chrome's.
            return if hits.has(T_ANDROID) {
                ("Android WebView", major_after(ua, "Chrome/"))
            } else {
                ("iOS WebView", "")
            };
        }
        _ => {
            for (k, &(token, label)) in FALLBACK_BROWSERS.iter().enumerate() {
                if hits.has(OFF_FALLBACK + k) {
                    return (label, major_after(ua, token));
                }
            }
            return (UNKNOWN, "");
        }
    };
    (label, major(raw.version))
}

/// woothee's crawler and tool names, as our own statics (its names are `&'static str` in its
/// dataset, but its API does not say so); anything else is "Unknown".
fn intern_other(name: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "Googlebot",
        "Googlebot Mobile",
        "AdsBot-Google",
        "AdsBot-Google-Mobile",
        "Google Mediapartners",
        "Google Feedfetcher",
        "Google AppEngine",
        "Google Web Preview",
        "Google FeedBurner",
        "Google Desktop",
        "bingbot",
        "BingPreview",
        "msnbot",
        "Yahoo! Slurp",
        "Yahoo! Japan",
        "Yahoo! Pipes",
        "Baiduspider",
        "Naver Yeti",
        "facebook",
        "twitter",
        "trendiction",
        "mixi",
        "Indy Library",
        "Apple iCloud",
        "Genieo Web Filter",
        "topsy Butterfly",
        "SeoMoz rogerbot",
        "ahref AhrefsBot",
        "salesforce radian6",
        "Hatena",
        "goo",
        "livedoor FeedFetcher",
        "misc crawler",
        "HTTP Library",
        "RSSReader",
        "Safari RSSReader",
        "Windows RSSReader",
    ];
    NAMES
        .iter()
        .find(|&&n| n == name)
        .copied()
        .unwrap_or(UNKNOWN)
}

fn os_of<'r>(raw: &'r Raw<'_>, hits: &Hits) -> (&'static str, &'r str) {
    for (k, &(_, os)) in EXTRA_OS_TOKENS.iter().enumerate() {
        if hits.has(OFF_OS + k) {
            return (os, "");
        }
    }
    let v: &str = &raw.os_version;
    match raw.os {
        "Windows 10" => ("Windows", "10"),
        "Windows 8.1" => ("Windows", "8.1"),
        "Windows 8" => ("Windows", "8"),
        "Windows 7" => ("Windows", "7"),
        "Windows Vista" => ("Windows", "Vista"),
        "Windows XP" => ("Windows", "XP"),
        "Windows Phone OS" => ("Windows Phone", major(v)),
        "Mac OSX" => {
            // "10.15.7" → "10.15": for Mac OS X the minor number is the release.
            let first = major(v);
            let minor = v
                .get(first.len()..)
                .and_then(|rest| rest.strip_prefix('.'))
                .map(major)
                .unwrap_or_default();
            let version = if first.is_empty() || minor.is_empty() {
                ""
            } else {
                v.get(..first.len() + 1 + minor.len()).unwrap_or_default()
            };
            ("macOS", version)
        }
        "iPhone" | "iPod" => ("iOS", major(v)),
        "iPad" => {
            let m = major(v);
            // iPadOS is the name from 13 on.
            let os = match m.parse::<u32>() {
                Ok(n) if n >= 13 => "iPadOS",
                _ => "iOS",
            };
            (os, m)
        }
        "iOS" => ("iOS", ""),
        "Android" => ("Android", major(v)),
        "Linux" => ("Linux", ""),
        "ChromeOS" => ("ChromeOS", ""),
        "BSD" => ("BSD", ""),
        "Firefox OS" => ("Firefox OS", ""),
        "BlackBerry" | "BlackBerry 10" => ("BlackBerry", ""),
        "Mac OS Classic" => ("Mac OS Classic", ""),
        os if os.starts_with("Windows") => ("Windows", ""),
        os if os.starts_with("PlayStation") => ("PlayStation", ""),
        os if os.starts_with("Xbox") => ("Xbox", ""),
        os if os.starts_with("Nintendo") => ("Nintendo", ""),
        _ => (UNKNOWN, ""),
    }
}

fn device_of(raw: &Raw<'_>, hits: &Hits) -> DeviceClass {
    let tv_or_console = (0..OTHER_DEVICE_TOKENS.len()).any(|k| hits.has(OFF_DEVICE + k));
    if raw.category == "appliance" || tv_or_console {
        return DeviceClass::Other;
    }
    if hits.has(T_OPERA_MINI) || hits.has(T_KAIOS) {
        return DeviceClass::Mobile;
    }
    match raw.os {
        "iPad" => DeviceClass::Tablet,
        "iPhone" | "iPod" => DeviceClass::Mobile,
        "Android" => {
            // Chrome's convention (followed by most Android browsers): phones send "Mobile",
            // tablets do not; Firefox says "Mobile;" or "Tablet;".
            if hits.has(T_TABLET) {
                DeviceClass::Tablet
            } else if hits.has(T_MOBI) {
                DeviceClass::Mobile
            } else {
                DeviceClass::Tablet
            }
        }
        "Windows Phone OS" | "BlackBerry" | "BlackBerry 10" | "Firefox OS" => DeviceClass::Mobile,
        _ => match raw.category {
            "pc" => DeviceClass::Desktop,
            "smartphone" | "mobilephone" => DeviceClass::Mobile,
            _ => DeviceClass::Other,
        },
    }
}

/// Whether a UA is a non-human client. Rules, in order, each cheap and each justified by how
/// real browsers behave (every browser that can run veil's script sends a UA starting with
/// "Mozilla/5.0 (platform; ...)", or "Opera/9.80 (...)" for Opera Mini/Presto):
/// 1. woothee calls it a crawler or a tool (`crawler`, `misc` categories);
/// 2. it does not start with "Mozilla/" or "Opera/" (HTTP libraries, CLIs, app stacks such as
///    Dalvik/CFNetwork, link unfurlers, feature phones' WAP browsers);
/// 3. it has no "(...)" platform part ("Mozilla/5.0", "Mozilla/5.0 zgrab/0.x");
/// 4. it says "compatible" without being Internet Explorer — since IE died only crawlers use
///    the "(compatible; Name/1.0; +url)" form;
/// 5. it contains one of [`BOT_TOKENS`] (case-insensitive), not only inside [`NOT_BOT_WORDS`];
/// 6. no browser could be named: a browser-shaped UA with no known browser token is a script
///    (or a mail client, a preview pane, a long-dead browser).
///
/// Measured on the fixtures shipped with the `isbot` 0.1.3 crate (165,809 "browser" UAs
/// collected by ua-parser et al., 4,353 bot UAs): 1.8 % of the browser set is flagged, almost
/// all by rule 2 (Dalvik and CFNetwork app stacks, J2ME feature phones, MS Office — clients
/// that do not run a page's JavaScript) or rule 6 (browsers from the 1990s); rule 5 flags 11
/// (PowerShell, jsdom, ...). 12 of the bot set (0.3 %) are missed, all posing as Internet
/// Explorer (QQDownload, DMBrowser, Daum).
fn looks_like_bot(ua: &str, category: &str, browser: &str, hits: &Hits) -> bool {
    if category == "crawler" || category == "misc" {
        return true;
    }
    if !(ua.starts_with("Mozilla/") || ua.starts_with("Opera/")) {
        return true;
    }
    if !ua.contains('(') {
        return true;
    }
    if hits.has(T_COMPATIBLE) && !hits.has(T_MSIE) && !hits.has(T_TRIDENT) {
        return true;
    }
    has_bot_token(hits) || (browser == UNKNOWN && !is_bare_webkit(ua))
}

/// A UA that stops after the engine, `Mozilla/5.0 (…) AppleWebKit/605.1.15 (KHTML,
/// like Gecko)` (optionally `Mobile/…`): what apps embedding Apple's or
/// Chromium's web view send by default. Real people read in those views
/// (`top-user-agents` lists both shapes among the most common), so naming no
/// browser is not enough to call it a script here.
fn is_bare_webkit(ua: &str) -> bool {
    let Some((_, engine)) = ua.split_once(") AppleWebKit/") else {
        return false;
    };
    let rest = engine.trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
    let rest = rest.trim_start();
    let rest = rest
        .strip_prefix("(KHTML, like Gecko)")
        .unwrap_or(rest)
        .trim();
    rest.is_empty()
        || rest
            .strip_prefix("Mobile/")
            .is_some_and(|b| b.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn has_bot_token(hits: &Hits) -> bool {
    if !(OFF_BOT..OFF_NOT_BOT).any(|id| hits.has(id)) {
        return false;
    }
    if !(OFF_NOT_BOT..OFF_BROWSER).any(|id| hits.has(id)) {
        return true;
    }
    // Rare: a harmless word is present; discount the bot tokens found inside it.
    BOT_TOKENS.iter().enumerate().any(|(k, token)| {
        let mut n = u32::from(hits.count(OFF_BOT + k));
        for (w, &(_, inner)) in NOT_BOT_WORDS.iter().enumerate() {
            if *token == inner {
                n = n.saturating_sub(u32::from(hits.count(OFF_NOT_BOT + w)));
            }
        }
        n > 0
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::corpus;
    use super::super::AgentParser;
    use super::*;

    #[test]
    fn corpus_lines_classify_as_tagged() {
        let p = AgentParser::new(0);
        let mut failures = Vec::new();
        let lines = corpus();
        assert!(lines.len() >= 150, "corpus too small: {}", lines.len());
        for (tag, ua) in lines {
            let a = p.parse(ua);
            let ok = match tag {
                "browser" => !a.is_bot && &*a.browser != UNKNOWN,
                "bot" | "library" => a.is_bot,
                other => panic!("unknown tag {other:?}"),
            };
            if !ok {
                failures.push(format!("{tag}\t{ua}\n    => {a:?}"));
            }
        }
        assert!(
            failures.is_empty(),
            "misclassified:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn corpus_browsers_have_versions_and_os() {
        let p = AgentParser::new(0);
        for (tag, ua) in corpus() {
            if tag != "browser" {
                continue;
            }
            let a = p.parse(ua);
            // Only a few apps publish no version (plain iOS WebViews, Pinterest).
            if !matches!(&*a.browser, "iOS WebView" | "Pinterest") {
                assert!(!a.browser_version.is_empty(), "{ua} => {a:?}");
            }
            assert_ne!(&*a.os, UNKNOWN, "{ua} => {a:?}");
        }
    }

    fn check(
        ua: &str,
        browser: &str,
        version: &str,
        os: &str,
        os_version: &str,
        device: DeviceClass,
    ) {
        let a = AgentParser::new(0).parse(ua);
        let want = Agent {
            browser: browser.into(),
            browser_version: version.into(),
            os: os.into(),
            os_version: os_version.into(),
            device,
            is_bot: false,
        };
        assert_eq!(*a, want, "{ua}");
    }

    #[test]
    fn well_known_user_agents() {
        use DeviceClass::*;
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome", "131", "Windows", "10", Desktop,
        );
        check(
            "Mozilla/5.0 (Windows NT 6.1; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Safari/537.36",
            "Chrome", "109", "Windows", "7", Desktop,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
            "Chrome", "130", "macOS", "10.15", Desktop,
        );
        check(
            "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome", "131", "ChromeOS", "", Desktop,
        );
        check(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome", "131", "Android", "10", Mobile,
        );
        check(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Chrome", "131", "Android", "10", Tablet,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
            "Chrome", "131", "iOS", "17", Mobile,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge", "131", "Windows", "10", Desktop,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox",
            "133",
            "Windows",
            "10",
            Desktop,
        );
        check(
            "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
            "Firefox",
            "133",
            "Linux",
            "",
            Desktop,
        );
        check(
            "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
            "Firefox",
            "133",
            "Android",
            "14",
            Mobile,
        );
        check(
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            "Safari", "18", "macOS", "10.15", Desktop,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
            "Safari", "17", "iOS", "17", Mobile,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/26.0 Mobile/15E148 Safari/604.1",
            "Safari", "26", "iOS", "26", Mobile,
        );
        check(
            "Mozilla/5.0 (iPad; CPU OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
            "Safari", "18", "iPadOS", "18", Tablet,
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S928B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
            "Samsung Internet", "26", "Android", "14", Mobile,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
            "Opera", "115", "Windows", "10", Desktop,
        );
        check(
            "Opera/9.80 (Android; Opera Mini/36.2.2254/119.132; U; id) Presto/2.12.423 Version/12.16",
            "Opera Mini", "36", "Android", "", Mobile,
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36",
            "Android WebView", "131", "Android", "14", Mobile,
        );
        check(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/485.0.0.41.108;FBBV/648612370;FBDV/iPhone15,2;FBMD/iPhone;FBSN/iOS;FBSV/17.6.1;FBSS/3;FBID/phone;FBLC/en_US;FBOP/5;FBRV/651213015]",
            "Facebook", "485", "iOS", "17", Mobile,
        );
        check(
            "Mozilla/5.0 (Linux; Android 14; Pixel 7 Build/AP2A.240905.003; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/129.0.6668.100 Mobile Safari/537.36 Instagram 351.0.0.41.106 Android (34/14; 420dpi; 1080x2400; Google/google; Pixel 7; panther; panther; en_US; 646581398)",
            "Instagram", "351", "Android", "14", Mobile,
        );
        check(
            "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/130.4.1 like Chrome/130.0.6723.102 Safari/537.36",
            "Silk", "130", "Android", "9", Tablet,
        );
        check(
            "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
            "Internet Explorer",
            "11",
            "Windows",
            "10",
            Desktop,
        );
        check(
            "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/94.0.4606.128 Safari/537.36 WebAppManager",
            "Chrome", "94", "webOS", "", Other,
        );
    }

    #[test]
    fn well_known_bots() {
        let p = AgentParser::new(0);
        let googlebot =
            p.parse("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)");
        assert!(googlebot.is_bot);
        assert_eq!(&*googlebot.browser, "Googlebot");
        assert_eq!(googlebot.device, DeviceClass::Other);
        let headless = p.parse("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36");
        assert!(headless.is_bot);
        assert_eq!(&*headless.browser, "Headless Chrome");
        assert_eq!(&*headless.browser_version, "131");
        for ua in [
            "python-requests/2.32.3",
            "curl/8.5.0",
            "Go-http-client/1.1",
            "okhttp/4.12.0",
        ] {
            let a = p.parse(ua);
            assert!(a.is_bot, "{ua}");
            assert_eq!(a.device, DeviceClass::Other, "{ua}");
        }
    }

    #[test]
    fn bot_token_exceptions() {
        let p = AgentParser::new(0);
        let cubot = p.parse("Mozilla/5.0 (Linux; Android 11; CUBOT_X50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36");
        assert!(!cubot.is_bot, "{cubot:?}");
        let cubot_bot = p.parse("Mozilla/5.0 (Linux; Android 11; CUBOT_X50) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36 (compatible; SomeBot/1.0)");
        assert!(cubot_bot.is_bot);
    }

    #[test]
    fn empty_garbage_and_huge_inputs_do_not_panic() {
        let p = AgentParser::new(64);
        for ua in ["", " ", "-", "\t\n"] {
            let a = p.parse(ua);
            assert!(a.is_bot, "{ua:?}");
            assert_eq!(&*a.browser, UNKNOWN);
            assert_eq!(a.device, DeviceClass::Other);
        }
        let huge = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) ".to_string() + &"é".repeat(5 * 1024);
        assert!(huge.len() > 10 * 1024);
        assert!(p.parse(&huge).is_bot);
        let huge_ascii = "A".repeat(10 * 1024);
        assert!(p.parse(&huge_ascii).is_bot);
        let made_up = p.parse("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/99999999999999999999.0 Safari/537.36");
        assert_eq!(&*made_up.browser, "Chrome");
        assert_eq!(&*made_up.browser_version, "");
        for ua in [
            "\u{0}\u{1}\u{7f}",
            "Mozilla/",
            "Mozilla/5.0 (",
            "Mozilla/5.0 ((((((((((",
            "Mozilla/5.0 (iPhone; CPU iPhone OS like Mac OS X)",
            "Mozilla/5.0 (iPad; CPU OS 99999999999999999999_1 like Mac OS X) Version/99999999999999999999 Safari/1",
            "Mozilla/5.0 (Windows NT 10.0) Chrome/ Safari/",
            "Mozilla/5.0 (Linux; Android ; wv) Chrome Version/",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_)",
            "Opera/9.80",
            "FBAV/",
            "🦀🦀🦀",
            "Mozilla/5.0 (X11; CrOS )",
        ] {
            let _ = p.parse(ua);
        }
    }
}
