//! Time as a dependency.
//!
//! Salt rotation, the hour a hit belongs to and (later) visit timeouts all depend on
//! "now". Production reads the system clock; tests use [`ManualClock`] so they can
//! cross midnight without waiting for it.

pub mod zone;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds in one day; salts rotate on multiples of it (00:00 UTC).
pub const DAY_SECS: u64 = 86_400;
/// Seconds in one hour; aggregates are keyed by multiples of it.
pub const HOUR_SECS: u64 = 3_600;

/// A source of wall-clock time in milliseconds since the Unix epoch (UTC).
pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    fn now_ms(&self) -> u64;

    /// Whole seconds since the epoch.
    fn now_secs(&self) -> u64 {
        self.now_ms() / 1000
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to: deterministic tests of day and hour
/// boundaries.
#[derive(Debug, Default)]
pub struct ManualClock {
    ms: AtomicU64,
}

impl ManualClock {
    /// A clock standing at `ms` milliseconds since the epoch.
    pub fn at_ms(ms: u64) -> Self {
        Self {
            ms: AtomicU64::new(ms),
        }
    }

    /// Moves the clock to `ms`.
    pub fn set_ms(&self, ms: u64) {
        self.ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms`.
    pub fn advance_ms(&self, ms: u64) {
        self.ms.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.ms.load(Ordering::SeqCst)
    }
}

/// Day number since the epoch (UTC) of a time in seconds; ClickHouse's `Date`.
pub fn day_of(secs: u64) -> u32 {
    (secs / DAY_SECS) as u32
}

/// Start of the UTC hour containing `secs`.
pub fn hour_of(secs: u64) -> u32 {
    (secs - secs % HOUR_SECS) as u32
}

/// `YYYY-MM-DD` of a day number, for logs, file names and partition ids.
pub fn format_day(day: u32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Converts days since 1970-01-01 to a (year, month, day) civil date
/// (Howard Hinnant's algorithm), so no date crate is needed for UTC arithmetic.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = (z - era * 146_097) as u64;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe as i64 + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(20_780), "2026-11-23");
        assert_eq!(format_day(11_016), "2000-02-29");
    }

    #[test]
    fn hours_and_days() {
        let t = 1_795_424_400 + 3_599; // 2026-11-23 09:59:59 UTC
        assert_eq!(hour_of(t), 1_795_424_400);
        assert_eq!(day_of(t), 20_780);
    }
}
