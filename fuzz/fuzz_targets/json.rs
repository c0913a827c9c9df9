#![no_main]
//! The JSON decoders: veil's own, Plausible's and Umami's shapes.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = veil::beacon::json::decode(data);
    let _ = veil::beacon::plausible::decode(data);
    let _ = veil::beacon::umami::decode(data);
});
