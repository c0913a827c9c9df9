#![no_main]
//! The Cookie header, consent lists (fixed and custom categories) and the
//! Accept-Language header. Input: the header text.
//!
//! Checks: no panic; a cookie value is a `;`-free piece of the header; a parsed
//! list always holds `necessary`; custom categories only add to the fixed ones; a
//! list naming neither `analytics`/`statistics` nor `marketing` grants no
//! analytics level; a primary language is 2–3 lower-case ASCII letters.
use libfuzzer_sys::fuzz_target;
use veil::privacy::consent::{Categories, Level};
use veil::privacy::{cookie_value, primary_language, OPT_OUT_COOKIE};

fuzz_target!(|data: &[u8]| {
    let s = veil_fuzz::text(data);
    for name in ["consent", OPT_OUT_COOKIE] {
        if let Some(v) = cookie_value(Some(&s), name) {
            assert!(s.contains(v) && !v.contains(';'), "{v:?}");
            let _ = Categories::parse_list(v);
        }
    }
    let fixed = Categories::parse_list(&s);
    assert!(fixed.contains(Categories::NECESSARY));
    let custom = ["functional".to_string(), "preferences".to_string()];
    let with = Categories::parse_list_with(&s, &custom);
    assert!(
        with.contains(fixed),
        "custom categories took a fixed one away"
    );
    assert_eq!(
        with.level(),
        fixed.level(),
        "custom categories changed the level"
    );
    let lower = s.to_ascii_lowercase();
    if !lower.contains("analytics") && !lower.contains("statistics") {
        assert_eq!(fixed.level(), Level::None, "{s:?}");
    }
    if let Some(l) = primary_language(&s) {
        assert!(
            (2..=3).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase()),
            "{l:?}"
        );
    }
});
