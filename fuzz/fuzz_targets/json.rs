#![no_main]
//! veil's JSON event (`POST /api/collect`).
//!
//! Checks: no panic; deterministic; the beacon invariants of `veil_fuzz`; widths
//! below 100 000; and a round trip: the accepted beacon, written back as the
//! documented JSON shape, decodes to the same beacon.
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Map, Value};
use veil_fuzz::{amount_text, check_beacon, check_json_width};

fuzz_target!(|data: &[u8]| {
    let got = veil::beacon::json::decode(data);
    assert_eq!(got, veil::beacon::json::decode(data), "not deterministic");
    let Ok(b) = got else { return };
    check_beacon(&b);
    check_json_width(&b);

    let mut o = Map::new();
    o.insert("site".into(), json!(b.site));
    o.insert("url".into(), json!(b.url));
    if let Some(r) = &b.referrer {
        o.insert("referrer".into(), json!(r));
    }
    if let Some(w) = b.width {
        o.insert("width".into(), json!(w));
    }
    if let Some(e) = &b.event {
        o.insert("event".into(), json!(e));
    }
    if !b.props.is_empty() {
        let props: Map<String, Value> = b
            .props
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        o.insert("props".into(), Value::Object(props));
    }
    if let Some(c) = &b.consent {
        o.insert("consent".into(), json!(c));
    }
    o.insert("optout".into(), json!(b.opt_out));
    if let Some(r) = &b.revenue {
        let currency = std::str::from_utf8(&r.currency).unwrap();
        o.insert(
            "revenue".into(),
            json!({"amount": amount_text(r.milli), "currency": currency}),
        );
    }
    if let Some(e) = &b.engagement {
        o.insert(
            "engagement".into(),
            json!({"time_ms": e.time_ms, "scroll": e.scroll}),
        );
    }
    let body = serde_json::to_vec(&Value::Object(o)).unwrap();
    let again = veil::beacon::json::decode(&body).unwrap_or_else(|e| {
        panic!(
            "re-encoded {:?} refused: {e}; was {b:?}",
            String::from_utf8_lossy(&body)
        )
    });
    assert_eq!(again, b, "round trip");
});
