#![no_main]
//! The pixel's query-string decoder.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(q) = std::str::from_utf8(data) {
        let _ = veil::beacon::pixel::decode(q, None);
    }
});
