#![no_main]
//! Umami's collection API (`POST /api/send`).
//!
//! Checks: no panic; deterministic; the beacon invariants of `veil_fuzz`; revenue
//! taken out of `data` is not also kept as props.
use libfuzzer_sys::fuzz_target;
use veil::beacon::umami::{decode, UmamiEvent};
use veil_fuzz::check_beacon;

fuzz_target!(|data: &[u8]| {
    let got = decode(data);
    assert_eq!(got, decode(data), "not deterministic");
    let Ok(UmamiEvent::Hit(b)) = got else { return };
    check_beacon(&b);
    assert!(b.consent.is_none() && !b.opt_out && b.engagement.is_none());
    if b.revenue.is_some() {
        assert!(
            b.props
                .iter()
                .all(|(k, _)| k != "revenue" && k != "currency"),
            "revenue also kept as props: {b:?}"
        );
    }
});
