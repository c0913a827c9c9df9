//! Which period a report covers: the site's previous complete local week
//! (Monday to Sunday) or calendar month, and the one before it (the change).

use crate::clock::civil_from_days;
use crate::clock::zone::Zone;
use crate::config::Every;
use crate::stats::params::{days_from_civil, DateRange};

/// One period of a report and the period it is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// Weekly or monthly.
    pub every: Every,
    /// The local days covered.
    pub range: DateRange,
    /// The period before (the previous week, or the previous calendar month).
    pub previous: DateRange,
}

/// The Monday of the week (Monday to Sunday) containing `day`.
pub fn monday(day: u32) -> u32 {
    // 1970-01-01 was a Thursday: (day + 3) % 7 is 0 on Mondays.
    day - (day + 3) % 7
}

/// The first day of the month containing `day`.
fn first_of_month(day: u32) -> u32 {
    let (y, m, _) = civil_from_days(i64::from(day));
    days_from_civil(y, m, 1) as u32
}

/// The month before the one starting on `first`.
fn month_before(first: u32) -> DateRange {
    DateRange {
        from: first_of_month(first - 1),
        to: first - 1,
    }
}

impl Period {
    /// The period of `every` that ends just before local day `day` starts a new
    /// one: the latest period complete on `day`.
    pub fn last_complete(every: Every, day: u32) -> Period {
        match every {
            Every::Week => {
                let this = monday(day);
                Period::week(this - 7)
            }
            Every::Month => Period::month(month_before(first_of_month(day)).from),
        }
    }

    fn week(monday: u32) -> Period {
        Period {
            every: Every::Week,
            range: DateRange {
                from: monday,
                to: monday + 6,
            },
            previous: DateRange {
                from: monday - 7,
                to: monday - 1,
            },
        }
    }

    fn month(first: u32) -> Period {
        let next = first_of_month(first + 31);
        Period {
            every: Every::Month,
            range: DateRange {
                from: first,
                to: next - 1,
            },
            previous: month_before(first),
        }
    }

    /// The period just before this one.
    pub fn before(self) -> Period {
        match self.every {
            Every::Week => Period::week(self.range.from - 7),
            Every::Month => Period::month(self.previous.from),
        }
    }

    /// When the report of this period is due in `zone`: `delay_secs` after the
    /// period's last local day ends (see `Reports::delay_secs`).
    pub fn due_at(&self, zone: &Zone, delay_secs: u64) -> u64 {
        zone.day_start(self.range.to + 1) + delay_secs
    }

    /// The latest period of `every` due at `now` in `zone`: the only one a
    /// report run sends (a missed earlier period is not sent any more).
    pub fn latest_due(every: Every, zone: &Zone, now: u64, delay_secs: u64) -> Period {
        let p = Period::last_complete(every, zone.day_of(now));
        if now >= p.due_at(zone, delay_secs) {
            p
        } else {
            p.before()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::format_day;

    fn d(y: i64, m: u32, day: u32) -> u32 {
        days_from_civil(y, m, day) as u32
    }

    fn show(r: DateRange) -> (String, String) {
        (format_day(r.from), format_day(r.to))
    }

    #[test]
    fn weeks_run_monday_to_sunday() {
        // 2026-11-25 is a Wednesday.
        assert_eq!(monday(d(2026, 11, 25)), d(2026, 11, 23));
        assert_eq!(monday(d(2026, 11, 23)), d(2026, 11, 23));
        assert_eq!(monday(d(2026, 11, 29)), d(2026, 11, 23));
        let p = Period::last_complete(Every::Week, d(2026, 11, 25));
        assert_eq!(show(p.range), ("2026-11-16".into(), "2026-11-22".into()));
        assert_eq!(show(p.previous), ("2026-11-09".into(), "2026-11-15".into()));
        // On a Monday the week that just ended is complete.
        let p = Period::last_complete(Every::Week, d(2026, 11, 23));
        assert_eq!(show(p.range), ("2026-11-16".into(), "2026-11-22".into()));
        assert_eq!(show(p.before().range), show(p.previous));
    }

    #[test]
    fn months_are_calendar_months_compared_with_the_month_before() {
        let p = Period::last_complete(Every::Month, d(2026, 3, 1));
        assert_eq!(show(p.range), ("2026-02-01".into(), "2026-02-28".into()));
        assert_eq!(show(p.previous), ("2026-01-01".into(), "2026-01-31".into()));
        let p = Period::last_complete(Every::Month, d(2026, 1, 15));
        assert_eq!(show(p.range), ("2025-12-01".into(), "2025-12-31".into()));
        assert_eq!(show(p.previous), ("2025-11-01".into(), "2025-11-30".into()));
        assert_eq!(show(p.before().range), show(p.previous));
        let p = Period::last_complete(Every::Month, d(2024, 3, 31));
        assert_eq!(show(p.range), ("2024-02-01".into(), "2024-02-29".into()));
    }

    #[test]
    fn a_period_is_due_after_its_last_local_day_and_the_delay() {
        let waw = Zone::new("Europe/Warsaw").unwrap();
        // Monday 2026-11-23 00:00 in Warsaw = 2026-11-22 23:00 UTC.
        let monday_start = waw.day_start(d(2026, 11, 23));
        let p = Period::latest_due(Every::Week, &waw, monday_start + 100, 600);
        assert_eq!(
            show(p.range).0,
            "2026-11-09",
            "not due yet: the week before"
        );
        let p = Period::latest_due(Every::Week, &waw, monday_start + 600, 600);
        assert_eq!(show(p.range).0, "2026-11-16");
        // Three weeks later: only the latest week.
        let p = Period::latest_due(Every::Week, &waw, monday_start + 21 * 86_400 + 600, 600);
        assert_eq!(show(p.range).0, "2026-12-07");
    }
}
