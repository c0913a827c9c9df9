//! A site's day: local days and local hours of an IANA time zone, in UTC seconds.
//!
//! veil's day is the site's day: the salt of the visitor hash rotates at the
//! site's local midnight, a day's sketches are finalised when that day ends, and a
//! marketer's "day" is the same day. Cells are keyed by the start of the *local*
//! hour (for whole-hour offsets that is the UTC hour; in zones with a half-hour
//! offset, such as Asia/Kolkata, a local hour starts at :30 UTC), so every local
//! day is a whole number of cells:
//!
//! - a day on which clocks go forward has 23 hours, one going back 25 (the
//!   repeated local hour is two cells, told apart by their UTC start);
//! - a day is `[local midnight, next local midnight)`; where a zone skips
//!   midnight itself, the day starts at the first instant that exists.
//!
//! Conversions run on every hit, so [`Zone`] caches the current span of constant
//! UTC offset (until the next transition or local midnight): the hot path is two
//! comparisons and integer arithmetic.

use parking_lot::RwLock;

use super::{DAY_SECS, HOUR_SECS};

/// The span of constant offset the cache holds: `[from, until)`, offset in seconds.
#[derive(Clone, Copy, Debug)]
struct Span {
    from: i64,
    until: i64,
    offset: i64,
}

/// One time zone, with a cache of the span around "now".
pub struct Zone {
    name: String,
    tz: jiff::tz::TimeZone,
    span: RwLock<Span>,
}

impl std::fmt::Debug for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Zone").field("name", &self.name).finish()
    }
}

/// The zone name is not in the time zone database.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone `{0}`")]
pub struct UnknownZone(pub String);

impl Zone {
    /// The zone of an IANA name (`UTC`, `Europe/Warsaw`).
    pub fn new(name: &str) -> Result<Zone, UnknownZone> {
        let tz = jiff::tz::TimeZone::get(name).map_err(|_| UnknownZone(name.to_string()))?;
        Ok(Zone {
            name: name.to_string(),
            tz,
            span: RwLock::new(Span {
                from: 0,
                until: 0,
                offset: 0,
            }),
        })
    }

    /// UTC, which needs no time zone database.
    pub fn utc() -> Zone {
        Zone {
            name: "UTC".to_string(),
            tz: jiff::tz::TimeZone::UTC,
            span: RwLock::new(Span {
                from: 0,
                until: 0,
                offset: 0,
            }),
        }
    }

    /// The IANA name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// UTC offset in seconds at `secs`.
    fn offset(&self, secs: i64) -> i64 {
        let cached = *self.span.read();
        if secs >= cached.from && secs < cached.until {
            return cached.offset;
        }
        let span = self.span_at(secs);
        *self.span.write() = span;
        span.offset
    }

    /// The span of constant offset around `secs`, cut at local midnights so a
    /// cached span never crosses a day.
    fn span_at(&self, secs: i64) -> Span {
        let ts = timestamp(secs);
        let offset = i64::from(self.tz.to_offset(ts).seconds());
        let next = self
            .tz
            .following(ts)
            .next()
            .map_or(i64::MAX, |t| t.timestamp().as_second());
        let local_midnight = (secs + offset).div_euclid(DAY_SECS as i64) * DAY_SECS as i64;
        let next_midnight = local_midnight + DAY_SECS as i64 - offset;
        let prev_transition = self
            .tz
            .preceding(timestamp(secs + 1))
            .next()
            .map_or(i64::MIN, |t| t.timestamp().as_second());
        let this_midnight = local_midnight - offset;
        Span {
            from: this_midnight.max(prev_transition),
            until: next.min(next_midnight),
            offset,
        }
    }

    /// The local date of `secs` as a day number since 1970-01-01 (ClickHouse `Date`).
    pub fn day_of(&self, secs: u64) -> u32 {
        let secs = secs as i64;
        (secs + self.offset(secs)).div_euclid(DAY_SECS as i64) as u32
    }

    /// The UTC start of the local hour containing `secs`.
    pub fn hour_of(&self, secs: u64) -> u32 {
        let s = secs as i64;
        (s - (s + self.offset(s)).rem_euclid(HOUR_SECS as i64)) as u32
    }

    /// `[start, end)` of local day `day` in UTC seconds: 23, 24 or 25 hours (or
    /// another length where a zone changed its offset that day).
    pub fn day_bounds(&self, day: u32) -> (u64, u64) {
        (self.day_start(day), self.day_start(day + 1))
    }

    /// The first UTC second of local day `day`.
    pub fn day_start(&self, day: u32) -> u64 {
        let date = jiff::civil::Date::constant(1970, 1, 1)
            .checked_add(jiff::Span::new().days(i64::from(day)))
            .unwrap_or(jiff::civil::Date::MAX);
        match date.to_zoned_datetime(self.tz.clone()) {
            // Midnight, or the first instant after a gap, or the first instant after a gap.
            Ok(z) => z.timestamp().as_second().max(0) as u64,
            Err(_) => u64::from(day) * DAY_SECS,
        }
    }
}

fn timestamp(secs: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(secs).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_23: u32 = 20_780; // 2026-11-23

    #[test]
    fn utc_days_and_hours_are_plain_arithmetic() {
        let z = Zone::new("UTC").unwrap();
        let t = u64::from(NOV_23) * DAY_SECS + 5 * 3600 + 59;
        assert_eq!(z.day_of(t), NOV_23);
        assert_eq!(
            z.hour_of(t),
            (u64::from(NOV_23) * DAY_SECS + 5 * 3600) as u32
        );
        assert_eq!(
            z.day_bounds(NOV_23),
            (
                u64::from(NOV_23) * DAY_SECS,
                u64::from(NOV_23 + 1) * DAY_SECS
            )
        );
    }

    #[test]
    fn warsaw_days_start_at_local_midnight_and_dst_days_have_23_or_25_hours() {
        let z = Zone::new("Europe/Warsaw").unwrap();
        // 2026-11-23 00:00 CET = 2026-11-22 23:00 UTC.
        let (start, end) = z.day_bounds(NOV_23);
        assert_eq!(start, u64::from(NOV_23) * DAY_SECS - 3600);
        assert_eq!(end - start, DAY_SECS);
        assert_eq!(z.day_of(start), NOV_23);
        assert_eq!(z.day_of(start - 1), NOV_23 - 1);
        // 2026-03-29 (clocks forward) and 2026-10-25 (clocks back).
        let spring = 20_541;
        let autumn = 20_751;
        let (s, e) = z.day_bounds(spring);
        assert_eq!(e - s, 23 * 3600);
        let (s, e) = z.day_bounds(autumn);
        assert_eq!(e - s, 25 * 3600);
        // 25 distinct local-hour cells on the long day.
        let hours: std::collections::BTreeSet<u32> =
            (s..e).step_by(600).map(|t| z.hour_of(t)).collect();
        assert_eq!(hours.len(), 25);
        assert!(hours.iter().all(|h| z.day_of(u64::from(*h)) == autumn));
    }

    #[test]
    fn half_hour_zones_key_hours_at_half_past_utc() {
        let z = Zone::new("Asia/Kolkata").unwrap();
        // 2026-11-23 00:00 IST = 2026-11-22 18:30 UTC.
        let (start, end) = z.day_bounds(NOV_23);
        assert_eq!(start, u64::from(NOV_23) * DAY_SECS - 5 * 3600 - 1800);
        assert_eq!(end - start, DAY_SECS);
        assert_eq!(z.hour_of(start + 1799), start as u32);
        assert_eq!(z.hour_of(start + 3600 + 1), (start + 3600) as u32);
        assert_eq!(z.day_of(start - 1), NOV_23 - 1);
        let z = Zone::new("Asia/Kathmandu").unwrap(); // +05:45
        let (start, _) = z.day_bounds(NOV_23);
        assert_eq!(z.hour_of(start + 10), start as u32);
        assert!(Zone::new("Mars/Olympus").is_err());
    }
}
