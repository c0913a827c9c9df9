#![no_main]
//! Page URL and referrer normalisation.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let p = veil::privacy::url::parse_page(s, 512, data.first().is_some_and(|b| b & 1 == 1));
        assert!(p.path.starts_with('/'));
        let _ = veil::privacy::url::referrer_host(s);
    }
});
