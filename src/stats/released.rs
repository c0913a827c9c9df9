//! The numbers the stats API, the dashboard and the reports release: exact from
//! [`query`], or — when the site's differential-privacy mode is on — noised per
//! (day, cell) by [`super::noise`].
//!
//! Handlers ask [`groups`], [`totals`] and [`series`] here instead of [`query`];
//! with the mode off these are [`query`]'s own answers, unchanged.
//!
//! # How a noised answer is made
//!
//! ClickHouse answers the planner's rows per (value, local day) — per hour for
//! hourly series — without summing over the range; Rust adds each row's
//! deterministic noise ([`super::noise::Noise::draw`]) to each noised counter
//! and only then sums over the range and the bucket. So:
//! - a range's noised count is the sum of its days' noised counts (ranges that
//!   overlap share their days' noise), and day, week and month buckets add up to
//!   the range; hourly buckets are cells of their own (own noise), so they do not
//!   add up to the day exactly;
//! - k applies to the noised visitors of the whole range, in breakdowns, single
//!   groups, goals and funnel steps alike: a value with fewer than k noised
//!   visitors is folded, whatever its raw count;
//! - `(other)` is the sum of the noised counts of what it folds (each value's
//!   own noise, so it is noised too);
//! - every released count is clamped at 0 once, at release (sums run on the
//!   unclamped values, so they stay unbiased); bounces are capped at visits.
//!
//! Not exact any more, by design: a breakdown's rows plus `(other)` need not sum
//! to the noised site total (each is its own cell), nor a pair's rows to the
//! rows of its parts.
//!
//! The per-day rows of a breakdown are bounded by [`MAX_CELLS`]; beyond it the
//! answer is marked truncated (values are cut whole, in value order).

use std::collections::HashMap;

use clickhouse::Client;

use crate::config::SiteConfig;
use crate::model::counters::counter_row;
use crate::model::{Counters, Dim, OTHER};
use crate::sink::sql::{Arg, Sql};

use super::noise::{Cell, Noise, When, NOISED};
use super::params::Interval;
use super::query::{
    self, with_closed_days, Bucket, ClosedDays, Grain, Group, Metrics, Scope, SkeletonRow,
};

/// Per-day rows one noised breakdown reads at most.
pub const MAX_CELLS: usize = 300_000;

type Result<T> = std::result::Result<T, clickhouse::error::Error>;

/// Whether the site's released counts are noised.
pub fn noised(site: &SiteConfig) -> bool {
    site.dp_epsilon_per_day > 0.0
}

/// [`query::groups`], noised when the site says so.
pub async fn groups(
    c: &Client,
    site: &SiteConfig,
    s: Scope<'_>,
    dim: Dim,
    k: u32,
) -> Result<(Vec<Group>, bool)> {
    match Noise::of(site) {
        None => query::groups(c, s, dim, k).await,
        Some(noise) => noised_groups(c, &noise, s, dim, k).await,
    }
}

/// [`query::totals`], noised when the site says so.
pub async fn totals(
    c: &Client,
    site: &SiteConfig,
    s: Scope<'_>,
    dim: Dim,
    value: &str,
) -> Result<Metrics> {
    let Some(noise) = Noise::of(site) else {
        return query::totals(c, s, dim, value).await;
    };
    let (rows, _) = day_cells(c, s, dim, Some(value), Grain::Day, "''").await?;
    let mut t = Tally::default();
    for r in &rows {
        t.add_row(&noise, s.site, dim, Grain::Day, r);
    }
    Ok(t.metrics())
}

/// [`query::series`], noised when the site says so.
pub async fn series(
    c: &Client,
    site: &SiteConfig,
    s: Scope<'_>,
    interval: Interval,
    dim: Dim,
    value: &str,
) -> Result<Vec<Bucket>> {
    let Some(noise) = Noise::of(site) else {
        return query::series(c, s, interval, dim, value).await;
    };
    let (key, grain) = query::bucket_key(interval);
    let sk = query::skeleton_sql(s, interval);
    let (skeleton, (rows, _)) = tokio::try_join!(
        sk.query(c).fetch_all::<SkeletonRow>(),
        day_cells(c, s, dim, Some(value), grain, key)
    )?;
    let mut by_key: HashMap<&str, Tally> = HashMap::new();
    for r in &rows {
        by_key
            .entry(r.key.as_str())
            .or_default()
            .add_row(&noise, s.site, dim, grain, r);
    }
    Ok(skeleton
        .into_iter()
        .map(|b| Bucket {
            m: by_key
                .get(b.key.as_str())
                .map_or_else(Metrics::default, Tally::metrics),
            start: b.start,
            label: b.label,
        })
        .collect())
}

counter_row! {
    /// One value's counters on one local day (or hour), with its bucket key.
    #[derive(Debug)]
    pub struct DayCell {
        /// Stored value.
        pub value: String,
        /// Local day.
        pub day: u16,
        /// Hour start (Unix seconds), 0 for daily rows.
        pub hour_start: u32,
        /// Bucket key of a series (empty otherwise).
        pub key: String,
    } then {
        /// Unique visitors of the day (or hour).
        pub visitors: u64,
    }
}

/// The SQL of the per-day (or per-hour) rows of `dim` (only `value` when given),
/// ordered by value, with `key` (an expression of `date` and `hour`) as bucket key.
pub fn day_cells_sql(
    s: Scope<'_>,
    closed: &ClosedDays,
    dim: Dim,
    value: Option<&str>,
    grain: Grain,
    key: &str,
) -> Sql {
    let mut sql = Sql::new("SELECT value, toUInt16(date) AS day, toUInt32(hour) AS hour_start, ");
    sql.push(key, [])
        .push(" AS key, ", [])
        .push(&query::summed(), [])
        .push(" FROM ", []);
    sql.append(query::cells(s, closed, dim, value, grain));
    sql.push(
        " GROUP BY value, date, hour ORDER BY value, day, hour_start LIMIT ?",
        [Arg::Num(MAX_CELLS as u64 + 1)],
    );
    sql
}

/// The per-day rows, and whether they were cut at [`MAX_CELLS`] (then the last,
/// possibly partial, value is dropped whole).
async fn day_cells(
    c: &Client,
    s: Scope<'_>,
    dim: Dim,
    value: Option<&str>,
    grain: Grain,
    key: &str,
) -> Result<(Vec<DayCell>, bool)> {
    let mut rows = with_closed_days(c, s, |closed| {
        let sql = day_cells_sql(s, &closed, dim, value, grain, key);
        async move { sql.query(c).fetch_all::<DayCell>().await }
    })
    .await?;
    let truncated = rows.len() > MAX_CELLS;
    if let Some(last) = rows.last().filter(|_| truncated).map(|r| r.value.clone()) {
        rows.retain(|r| r.value != last);
    }
    Ok((rows, truncated))
}

async fn noised_groups(
    c: &Client,
    noise: &Noise,
    s: Scope<'_>,
    dim: Dim,
    k: u32,
) -> Result<(Vec<Group>, bool)> {
    let (rows, truncated) = day_cells(c, s, dim, None, Grain::Day, "''").await?;
    let mut values: Vec<(String, Tally)> = Vec::new();
    for r in &rows {
        match values.last_mut() {
            Some((v, t)) if *v == r.value => t.add_row(noise, s.site, dim, Grain::Day, r),
            _ => {
                let mut t = Tally::default();
                t.add_row(noise, s.site, dim, Grain::Day, r);
                values.push((r.value.clone(), t));
            }
        }
    }
    Ok((fold_noised(values, k), truncated))
}

/// Folds values by their noised visitors, as [`query::groups`] does by exact
/// ones: `(other)` first (the ingest bound's `(other)` and every value below k,
/// summed unclamped), then the named values by visitors. `k = 0` folds only the
/// ingest bound's `(other)`.
pub fn fold_noised(values: Vec<(String, Tally)>, k: u32) -> Vec<Group> {
    let mut other: Option<(Tally, u64)> = None;
    let mut named = Vec::new();
    for (value, t) in values {
        if value == OTHER || (k > 0 && t.visitors() < i64::from(k)) {
            let o = other.get_or_insert_with(Default::default);
            o.0.absorb(&t);
            o.1 += 1;
        } else {
            named.push(t.group(value, 1));
        }
    }
    named.sort_by(|a, b| b.visitors.cmp(&a.visitors).then(a.value.cmp(&b.value)));
    other
        .map(|(t, n)| t.group(OTHER.to_string(), n))
        .into_iter()
        .chain(named)
        .collect()
}

/// The counters of a set of cells, the noised ones (in [`NOISED`] order) as
/// true + noise, unclamped, and the others exact.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    exact: Counters,
    noised: [i64; NOISED.len()],
}

/// The true values of the noised counters, in [`NOISED`] order.
fn noised_values(c: &Counters, visitors: u64) -> [u64; NOISED.len()] {
    [visitors, c.pageviews, c.visits, c.bounces, c.events, c.hits]
}

impl Tally {
    /// A tally of raw counts with the given noised values (tests).
    pub fn with(exact: Counters, noised: [i64; NOISED.len()]) -> Tally {
        Tally { exact, noised }
    }

    /// Adds one cell: its counters, and the noise of each noised one.
    pub fn add(&mut self, noise: &Noise, cell: &Cell<'_>, c: &Counters, visitors: u64) {
        self.exact.add(c);
        for ((sum, name), v) in self
            .noised
            .iter_mut()
            .zip(NOISED)
            .zip(noised_values(c, visitors))
        {
            *sum += v as i64 + noise.draw(cell, name);
        }
    }

    fn add_row(&mut self, noise: &Noise, site: &str, dim: Dim, grain: Grain, r: &DayCell) {
        let when = match grain {
            Grain::Day => When::Day(r.day),
            Grain::Hour => When::Hour(r.hour_start),
        };
        let cell = Cell {
            site,
            dim,
            value: &r.value,
            when,
        };
        self.add(noise, &cell, &r.counters(), r.visitors);
    }

    /// Adds another tally (unclamped).
    pub fn absorb(&mut self, o: &Tally) {
        self.exact.add(&o.exact);
        for (a, b) in self.noised.iter_mut().zip(o.noised) {
            *a += b;
        }
    }

    /// Noised visitors, unclamped.
    pub fn visitors(&self) -> i64 {
        self.noised[0]
    }

    /// The released counters and visitors: noised ones clamped at 0, bounces
    /// at most visits.
    fn released(&self) -> (Counters, u64) {
        let n = self.noised.map(|v| v.max(0) as u64);
        let mut c = self.exact;
        let [visitors, pageviews, visits, bounces, events, hits] = n;
        c.pageviews = pageviews;
        c.visits = visits;
        c.bounces = bounces.min(visits);
        c.events = events;
        c.hits = hits;
        (c, visitors)
    }

    /// As released metrics.
    pub fn metrics(&self) -> Metrics {
        let (c, visitors) = self.released();
        let mut m = Metrics {
            visitors,
            ..Metrics::default()
        };
        m.set_counters(&c);
        m
    }

    /// As a released group.
    pub fn group(&self, value: String, groups: u64) -> Group {
        let (c, visitors) = self.released();
        let mut g = Group {
            value,
            groups,
            visitors,
            ..Group::default()
        };
        g.set_counters(&c);
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(visitors: i64, pageviews: i64) -> Tally {
        Tally::with(Counters::default(), [visitors, pageviews, 0, 0, 0, 0])
    }

    #[test]
    fn values_below_k_noised_visitors_are_folded_and_counts_clamped() {
        let values = vec![
            ("/".to_string(), tally(40, 90)),
            // Many raw visitors, few noised ones: folded all the same.
            ("/a".to_string(), tally(4, 9)),
            ("/b".to_string(), tally(-2, -1)),
            (OTHER.to_string(), tally(3, 3)),
            ("/c".to_string(), tally(5, 7)),
        ];
        let groups = fold_noised(values.clone(), 5);
        let names: Vec<&str> = groups.iter().map(|g| g.value.as_str()).collect();
        assert_eq!(names, vec![OTHER, "/", "/c"]);
        // (other) sums what it folds unclamped: 4 − 2 + 3.
        assert_eq!(
            (groups[0].visitors, groups[0].pageviews, groups[0].groups),
            (5, 11, 3)
        );
        assert!(groups[1..].iter().all(|g| g.visitors >= 5));
        let unfolded = fold_noised(values, 0);
        let b = unfolded.iter().find(|g| g.value == "/b").unwrap();
        assert_eq!((b.visitors, b.pageviews), (0, 0), "clamped at 0");
    }

    #[test]
    fn k_minus_one_real_visitors_are_named_by_chance_not_by_certainty() {
        // A value with k − 1 = 4 visitors on one day (fakes around one real
        // visitor, or not): named only when its noise is ≥ 1. Over many secrets
        // that is P(Z ≥ 1) = p / (1 + p) ≈ 0.27 at ε = 1, never always.
        let c = Counters::default();
        let trials = 2_000;
        let named = (0..trials)
            .filter(|i| {
                let noise = Noise::new(&format!("secret number {i:06} of the trials"), 1.0);
                let cell = Cell {
                    site: "example.com",
                    dim: Dim::Utm(4),
                    value: "recipient-17",
                    when: When::Day(20_000),
                };
                let mut t = Tally::default();
                t.add(&noise, &cell, &c, 4);
                !fold_noised(vec![("recipient-17".into(), t)], 5)
                    .iter()
                    .all(|g| g.value == OTHER)
            })
            .count();
        let p = (-1.0f64).exp();
        let expected = p / (1.0 + p) * trials as f64;
        assert!(named > 0 && named < trials, "{named}");
        assert!(
            (named as f64 - expected).abs() < 5.0 * expected.sqrt(),
            "{named} vs {expected}"
        );
    }

    #[test]
    fn a_range_is_the_sum_of_its_noised_days() {
        let noise = Noise::new("range test secret, 32 characters", 1.0);
        let c = Counters::pageview();
        let day = |d: u16| {
            let cell = Cell {
                site: "s",
                dim: Dim::Page,
                value: "/",
                when: When::Day(d),
            };
            let mut t = Tally::default();
            t.add(&noise, &cell, &c, 10);
            t
        };
        let mut first = day(1);
        first.absorb(&day(2));
        let mut second = day(2);
        second.absorb(&day(3));
        let mut all = first;
        all.absorb(&day(3));
        let mut by_days = day(1);
        by_days.absorb(&day(2));
        by_days.absorb(&day(3));
        assert_eq!(all.metrics(), by_days.metrics());
        // The shared day carries the same noise in both overlapping ranges.
        assert_eq!(
            first.visitors() - day(1).visitors(),
            second.visitors() - day(3).visitors()
        );
    }

    #[test]
    fn day_cells_bind_every_argument() {
        let scope = Scope {
            site: "example.com",
            tz: "UTC",
            range: super::super::params::DateRange {
                from: 20_780,
                to: 20_786,
            },
        };
        for grain in [Grain::Day, Grain::Hour] {
            let sql = day_cells_sql(
                scope,
                &ClosedDays::Listed(vec![20_780]),
                Dim::Page,
                None,
                grain,
                "''",
            );
            assert_eq!(sql.text.matches('?').count(), sql.args.len());
            assert!(sql.text.contains("GROUP BY value, date, hour"));
        }
    }
}
