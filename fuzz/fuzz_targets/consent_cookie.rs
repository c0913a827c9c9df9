#![no_main]
//! The Cookie header and consent-list parsers.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some(v) = veil::privacy::cookie_value(Some(s), "consent") {
            let _ = veil::privacy::consent::Categories::parse_list(v);
        }
        let _ = veil::privacy::consent::Categories::parse_list(s);
    }
});
