//! Bots counted apart: veil's User-Agent rules against `isbot` (npm, the list
//! Umami uses) on public lists, side by side.
//!
//! - `tests/data/agents/crawlers.txt`: every example User-Agent of the npm
//!   package `crawler-user-agents` (MIT) — crawlers, previews, monitors, tools;
//! - `tests/data/agents/browsers.txt`: the npm package `top-user-agents` (MIT),
//!   the most common real browser User-Agents;
//! - `tests/data/agents/isbot.json`: isbot's verdicts on both lists, written by
//!   `scripts/bot-eval.sh` (which fetches isbot and reruns this comparison).
//!
//! veil must catch at least as many crawlers as isbot and flag no more real
//! browsers. The header signals (`privacy::agent::signals`) come on top of this
//! and are tested where they live.

use std::collections::BTreeSet;

use serde::Deserialize;
use veil::privacy::agent::AgentParser;

const CRAWLERS: &str = include_str!("data/agents/crawlers.txt");
const BROWSERS: &str = include_str!("data/agents/browsers.txt");
const ISBOT: &str = include_str!("data/agents/isbot.json");

#[derive(Deserialize)]
struct Verdicts {
    total: usize,
    flagged: usize,
    /// Crawlers it missed, or browsers it flagged.
    misjudged: Vec<String>,
}

#[derive(Deserialize)]
struct Isbot {
    isbot: String,
    #[serde(rename = "crawlers.txt")]
    crawlers: Verdicts,
    #[serde(rename = "browsers.txt")]
    browsers: Verdicts,
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().filter(|l| !l.is_empty()).collect()
}

/// Whether a User-Agent is an in-app browser: `crawler-user-agents` lists some
/// (Instagram, Facebook) because their link previews fetch pages, but the same
/// User-Agents are real people reading in the app. isbot and veil both count
/// them as browsers.
fn in_app_browser(ua: &str) -> bool {
    ["Instagram ", "FBAN/", "FBAV/", "MetaIAB", "FB_IAB"]
        .iter()
        .any(|t| ua.contains(t))
}

#[test]
fn veil_catches_at_least_the_crawlers_isbot_catches_and_flags_no_more_browsers() {
    let isbot: Isbot = serde_json::from_str(ISBOT).expect("isbot.json");
    let parser = AgentParser::new(0);
    let is_bot = |ua: &str| parser.parse_uncached(ua).is_bot;

    let crawlers = lines(CRAWLERS);
    let browsers = lines(BROWSERS);
    assert_eq!(crawlers.len(), isbot.crawlers.total, "isbot.json is stale");
    assert_eq!(browsers.len(), isbot.browsers.total, "isbot.json is stale");

    let missed: Vec<&str> = crawlers.iter().copied().filter(|ua| !is_bot(ua)).collect();
    let flagged: Vec<&str> = browsers.iter().copied().filter(|ua| is_bot(ua)).collect();
    let caught = crawlers.len() - missed.len();
    let pct = |n: usize, of: usize| 100.0 * n as f64 / of as f64;
    println!(
        "crawler-user-agents ({} UAs): veil catches {caught} ({:.1} %), isbot {} {} ({:.1} %)",
        crawlers.len(),
        pct(caught, crawlers.len()),
        isbot.isbot,
        isbot.crawlers.flagged,
        pct(isbot.crawlers.flagged, crawlers.len()),
    );
    println!(
        "top-user-agents ({} browsers): veil flags {} ({:.1} %), isbot {}",
        browsers.len(),
        flagged.len(),
        pct(flagged.len(), browsers.len()),
        isbot.browsers.flagged,
    );
    let isbot_missed: BTreeSet<&str> = isbot
        .crawlers
        .misjudged
        .iter()
        .map(String::as_str)
        .collect();
    for ua in &flagged {
        println!("  flagged browser: {ua}");
    }
    for ua in &missed {
        let also = if isbot_missed.contains(ua) {
            " (isbot too)"
        } else {
            ""
        };
        println!("  missed{also}: {ua}");
    }

    assert!(
        caught >= isbot.crawlers.flagged,
        "veil catches {caught} crawlers, isbot {}",
        isbot.crawlers.flagged
    );
    assert!(
        flagged.len() <= isbot.browsers.flagged,
        "veil flags real browsers: {flagged:#?}"
    );
    // What veil misses beyond isbot's misses may only be in-app browsers.
    for ua in missed.iter().filter(|ua| !isbot_missed.contains(*ua)) {
        assert!(
            in_app_browser(ua),
            "a crawler isbot catches and veil misses: {ua}"
        );
    }
}
