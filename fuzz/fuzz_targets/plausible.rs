#![no_main]
//! Plausible's event API (`POST /api/event`).
//!
//! Checks: no panic; deterministic; the beacon invariants of `veil_fuzz`; widths
//! below 100 000; an `engagement` event becomes an engagement report.
use libfuzzer_sys::fuzz_target;
use veil::beacon::plausible::{decode, PlausibleEvent};
use veil_fuzz::{check_beacon, check_json_width};

fuzz_target!(|data: &[u8]| {
    let got = decode(data);
    assert_eq!(got, decode(data), "not deterministic");
    let Ok(PlausibleEvent::Hit(b)) = got else {
        return;
    };
    check_beacon(&b);
    check_json_width(&b);
    assert!(
        b.consent.is_none() && !b.opt_out,
        "consent from Plausible: {b:?}"
    );
});
