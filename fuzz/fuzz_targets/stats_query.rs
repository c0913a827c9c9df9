#![no_main]
//! The stats API's query string (`veil::stats::params`): dates, range, limit,
//! compare, interval, dimension, sort and filters. Input: the query string.
//!
//! Checks: no panic; a date that parses prints back as itself; a range is ordered
//! and at most MAX_RANGE_DAYS long, and its comparison range is ordered too; a
//! limit is within 1–MAX_LIMIT; a filter's pattern matches its own value.
use libfuzzer_sys::fuzz_target;
use veil::stats::params::{
    dimension, metrics_of, parse_date, DateRange, Filter, Interval, Params, Pattern, Sort,
    DEFAULT_LIMIT, MAX_LIMIT, MAX_RANGE_DAYS,
};

fuzz_target!(|data: &[u8]| {
    let s = veil_fuzz::text(data);
    let p = Params::parse(&s);
    for name in ["from", "to"] {
        if let Some(v) = p.get(name) {
            if let Ok(d) = parse_date(v) {
                assert_eq!(
                    DateRange { from: d, to: d }.from_str(),
                    v,
                    "date round trip"
                );
            }
        }
    }
    if let Ok(r) = p.range() {
        assert!(r.from <= r.to && r.days() <= MAX_RANGE_DAYS, "{r:?}");
        if let Ok(Some(c)) = p.compare() {
            let c = c.range(r);
            assert!(c.from <= c.to, "{c:?} from {r:?}");
        }
        let _ = Interval::from_params(&p, r);
    }
    if let Ok(n) = p.bounded("limit", DEFAULT_LIMIT, MAX_LIMIT) {
        assert!((1..=MAX_LIMIT).contains(&n));
    }
    if let Some(dim) = p.get("dimension").and_then(dimension) {
        let _ = Sort::from_params(&p, metrics_of(dim));
    }
    if let Ok(filters) = Filter::from_params(&p) {
        for f in filters {
            let own = match &f.pattern {
                Pattern::Exact(v)
                | Pattern::Prefix(v)
                | Pattern::Suffix(v)
                | Pattern::Contains(v) => v,
            };
            assert!(!own.is_empty() && f.pattern.matches(own), "{f:?}");
        }
    }
});
