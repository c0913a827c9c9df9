//! Invariants shared by the fuzz targets (see README.md).

use veil::beacon::{Beacon, MAX_ENGAGEMENT_MS};

/// Text from arbitrary bytes: the decoders take `&str`, and what a browser or a
/// proxy sends that is not UTF-8 reaches them replaced, so mutations of non-UTF-8
/// bytes still exercise them.
pub fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// What every format's decoder promises about a beacon it accepts.
pub fn check_beacon(b: &Beacon<'_>) {
    assert!(!b.site.trim().is_empty(), "empty site accepted: {b:?}");
    assert!(!b.url.trim().is_empty(), "empty url accepted: {b:?}");
    if let Some(r) = &b.referrer {
        assert!(!r.is_empty(), "empty referrer kept: {b:?}");
    }
    if let Some(e) = &b.event {
        let e = e.trim();
        assert!(
            !e.is_empty() && !e.eq_ignore_ascii_case("pageview"),
            "pageview as an event: {b:?}"
        );
    }
    if let Some(r) = &b.revenue {
        assert!(b.event.is_some(), "revenue without an event: {b:?}");
        assert!(
            r.milli <= 1_000_000_000_000_000,
            "revenue over the cap: {b:?}"
        );
        assert!(
            r.currency.iter().all(u8::is_ascii_uppercase),
            "currency not upper-case letters: {b:?}"
        );
    }
    if let Some(e) = &b.engagement {
        assert!(b.event.is_none(), "engagement with an event: {b:?}");
        assert!(
            e.time_ms <= MAX_ENGAGEMENT_MS,
            "engagement time over the cap: {b:?}"
        );
        assert!(e.scroll <= 100, "scroll depth over 100: {b:?}");
    }
}

/// The JSON formats drop widths that are not a plausible screen.
pub fn check_json_width(b: &Beacon<'_>) {
    if let Some(w) = b.width {
        assert!(w < 100_000, "width {w} kept: {b:?}");
    }
}

/// `19990` thousandths → `"19.990"`: the decimal text every format accepts.
pub fn amount_text(milli: u64) -> String {
    format!("{}.{:03}", milli / 1000, milli % 1000)
}
