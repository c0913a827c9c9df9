#![no_main]
//! The pixel's query string (`/p.gif?…`) and the Referer header that stands in for
//! a missing `u=`. Input: `QUERY` or `QUERY\nREFERER`.
//!
//! Checks: no panic; deterministic; the beacon invariants of `veil_fuzz`; and a
//! round trip: the accepted beacon, encoded back into a query string, decodes to
//! the same beacon.
use libfuzzer_sys::fuzz_target;
use veil_fuzz::{amount_text, check_beacon, text};

fuzz_target!(|data: &[u8]| {
    let input = text(data);
    let (query, referer) = match input.split_once('\n') {
        Some((q, r)) => (q, Some(r)),
        None => (&*input, None),
    };
    let got = veil::beacon::pixel::decode(query, referer);
    assert_eq!(
        got,
        veil::beacon::pixel::decode(query, referer),
        "not deterministic"
    );
    let Ok(b) = got else { return };
    check_beacon(&b);

    let mut q = form_urlencoded::Serializer::new(String::new());
    q.append_pair("s", &b.site).append_pair("u", &b.url);
    if let Some(r) = &b.referrer {
        q.append_pair("r", r);
    }
    if let Some(w) = b.width {
        q.append_pair("w", &w.to_string());
    }
    if let Some(e) = &b.event {
        q.append_pair("e", e);
    }
    for (k, v) in &b.props {
        q.append_pair(&format!("p.{k}"), v);
    }
    if let Some(c) = &b.consent {
        q.append_pair("c", c);
    }
    if b.opt_out {
        q.append_pair("o", "1");
    }
    if let Some(r) = &b.revenue {
        q.append_pair("ra", &amount_text(r.milli));
        q.append_pair("rc", std::str::from_utf8(&r.currency).unwrap());
    }
    if let Some(e) = &b.engagement {
        q.append_pair("et", &e.time_ms.to_string());
        q.append_pair("sd", &e.scroll.to_string());
    }
    let q = q.finish();
    let again = veil::beacon::pixel::decode(&q, None)
        .unwrap_or_else(|e| panic!("re-encoded {q:?} refused: {e}; was {b:?}"));
    assert_eq!(again, b, "round trip through {q:?}");
});
