//! The SQL of the stats API, and the query planner over the two stores.
//!
//! A day is in exactly one place: **closed days** (the ledger `day_close` says
//! *closed*) as plain counters in `daily` (and `hourly` for hour buckets); the
//! **open day(s)** as hourly sketches in `open_aggregates`, merged per day here.
//! [`cells`] is the planner: one subquery that yields, per local day (or local
//! hour) and value, the counters and the unique visitors of that day, from
//! whichever store holds the day. Every query below aggregates over it, so a
//! range of 30 closed days reads 30 small rows per value and merges no sketch.
//!
//! Visitors of a range of days are the sum of each day's unique visitors: a
//! visitor is hashed under the salt of one day, so the same person on two days
//! is two visitors — what Plausible's numbers mean too. Finalised rows are written
//! by steps that may repeat ([`crate::sink::close`]), so the closed branch takes
//! `max()` per (day, value, part), which makes a repeated row count once.
//!
//! Every value that comes from a request (site, dates, dimension value, k) or from
//! configuration (the time zone) travels as a `?` bind, which the client escapes
//! as a literal; the SQL text itself is fixed. Dimension names come from the
//! [`Dim`] whitelist. Dates are the site's local dates (what the tables store), so
//! no time-zone arithmetic is needed except to label hours.

use clickhouse::Client;
use serde::Deserialize;

use crate::clock::format_day;
use crate::model::counters::counter_row;
use crate::model::{Counters, Dim, OTHER};
use crate::sink::close::CLOSED;
use crate::sink::sql::{text, Arg, Sql};

use super::params::{DateRange, Interval};

/// Rows one breakdown reads at most (named groups); more is reported as truncated.
pub const MAX_GROUPS: usize = 100_000;

/// Where a query looks: one site, its time zone, a range of its local dates.
#[derive(Clone, Copy, Debug)]
pub struct Scope<'a> {
    /// Site id.
    pub site: &'a str,
    /// IANA time zone of the site.
    pub tz: &'a str,
    /// Local dates.
    pub range: DateRange,
}

counter_row! {
    /// Metrics of a set of cells: counter sums and unique visitors (the sum of
    /// each day's — or hour's — unique visitors).
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Metrics {
    } then {
        /// Unique visitors.
        pub visitors: u64,
    }
}

counter_row! {
    /// Metrics of one dimension value, or of `(other)`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Group {
        /// Dimension value (`(other)` for the folded group).
        pub value: String,
        /// Values merged into this group (1 for a named value).
        pub groups: u64,
    } then {
        /// Unique visitors (for `(other)`: the sum of its values' visitors).
        pub visitors: u64,
    }
}

impl Group {
    /// The metrics alone.
    pub fn metrics(&self) -> Metrics {
        let mut m = Metrics {
            visitors: self.visitors,
            ..Metrics::default()
        };
        m.set_counters(&self.counters());
        m
    }
}

counter_row! {
    /// Metrics of one (dimension, value) over a range (overviews, audits, tests).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct ValueRow {
        /// Dimension name.
        pub dim: String,
        /// Dimension value.
        pub value: String,
    } then {
        /// Unique visitors (sum of each day's).
        pub visitors: u64,
    }
}

/// Metrics of one time bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Start of the bucket (Unix seconds).
    pub start: u32,
    /// Local label (`2026-11-23`, or `2026-11-23 14:00` for hours).
    pub label: String,
    /// Metrics.
    pub m: Metrics,
}

/// How fine the planner's rows are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grain {
    /// One row per (local day, value).
    Day,
    /// One row per (local hour, value).
    Hour,
}

/// Which local days of a scope the planner reads as closed.
///
/// The planner reads a closed day from `daily`/`hourly` and an open one from its
/// sketches. Both branches must agree on which days are closed: if each asked the
/// ledger itself, a day close marking a day *closed* between the two reads would
/// make the day vanish from the answer (or count twice). So an API query reads the
/// ledger once ([`ClosedDays::read`]) and hands both branches the same list; the
/// closer keeps a closed day's sketches for `settle` after the mark, so a query
/// that read the list just before it still finds the day's sketches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClosedDays {
    /// As the ledger says when the query runs (a subquery in each branch): for
    /// replaying SQL where no day close runs at the same time (engine checks,
    /// tests).
    Ledger,
    /// These local days (day numbers), read once before the query.
    Listed(Vec<u16>),
}

#[derive(clickhouse::Row, Deserialize)]
struct ClosedDay {
    date: u16,
}

/// Runs `query` over the scope's closed days, and again when a day closed while
/// it ran: the closer drops a day's sketches only after marking it closed (and
/// its settle time), so an answer whose list the ledger still confirms
/// afterwards read every day from a store that held it; a day that closed
/// meanwhile may already have lost its sketches (a short settle time, a slow
/// query), so the query is run again with the new list.
pub async fn with_closed_days<T, F, Fut>(
    c: &Client,
    s: Scope<'_>,
    query: F,
) -> Result<T, clickhouse::error::Error>
where
    F: Fn(ClosedDays) -> Fut,
    Fut: std::future::Future<Output = Result<T, clickhouse::error::Error>>,
{
    let mut closed = ClosedDays::read(c, s).await?;
    loop {
        let out = query(closed.clone()).await?;
        let now = ClosedDays::read(c, s).await?;
        if now == closed {
            return Ok(out);
        }
        // Days only ever become closed, so this ends within the range's days.
        closed = now;
    }
}

impl ClosedDays {
    /// The scope's closed days, from the ledger.
    pub async fn read(c: &Client, s: Scope<'_>) -> Result<ClosedDays, clickhouse::error::Error> {
        let days = ledger_sql(s).query(c).fetch_all::<ClosedDay>().await?;
        Ok(ClosedDays::Listed(
            days.into_iter().map(|d| d.date).collect(),
        ))
    }

    /// `date IN <closed>` (or `NOT IN` when `negated`), as a condition.
    fn condition(&self, s: Scope<'_>, negated: bool) -> Sql {
        let not = if negated { " NOT" } else { "" };
        match self {
            ClosedDays::Ledger => {
                let mut sql = Sql::new(&format!(" AND date{not} IN "));
                sql.append(ledger_sql(s));
                sql
            }
            // An empty list: nothing is closed.
            ClosedDays::Listed(days) if days.is_empty() => {
                Sql::new(if negated { "" } else { " AND 0" })
            }
            ClosedDays::Listed(days) => {
                let marks = vec!["toDate(?)"; days.len()].join(", ");
                let mut sql = Sql::new(&format!(" AND date{not} IN ({marks})"));
                sql.args
                    .extend(days.iter().map(|d| text(format_day(u32::from(*d)))));
                sql
            }
        }
    }
}

/// The local days of the scope that are closed (their final counters complete).
fn ledger_sql(s: Scope<'_>) -> Sql {
    let mut sql = Sql::new(
        "(SELECT date FROM day_close WHERE site = ? AND date >= toDate(?) AND date <= toDate(?) \
         GROUP BY date HAVING max(state) >= ?)",
    );
    sql.args.extend([
        text(s.site),
        text(format_day(s.range.from)),
        text(format_day(s.range.to)),
        Arg::Num(u64::from(CLOSED)),
    ]);
    sql
}

/// The planner: a subquery with columns `date, hour, dim, value`, the counters and
/// `visitors`, one row per (day or hour, value) of `dim` over the scope (only
/// `value` when given), from three sources summed:
/// - closed days from `daily`/`hourly`, as they are (the day close swaps a day in
///   atomically, so each row is there once);
/// - late additions from `late_daily`/`late_hourly`, deduplicated per batch id
///   (a retried batch writes its rows again);
/// - open days from `open_aggregates`, whose sketches are merged per day (or
///   hour) here.
pub fn cells(
    s: Scope<'_>,
    closed: &ClosedDays,
    dim: Dim,
    value: Option<&str>,
    grain: Grain,
) -> Sql {
    cells_of(s, closed, Some(dim), value, grain)
}

/// [`cells`] of one dimension, or of every dimension (`None`; tests and audits).
pub fn cells_of(
    s: Scope<'_>,
    closed: &ClosedDays,
    dim: Option<Dim>,
    value: Option<&str>,
    grain: Grain,
) -> Sql {
    let (closed_table, late_table, hour) = match grain {
        Grain::Day => ("daily", "late_daily", "toDateTime(0, 'UTC')"),
        Grain::Hour => ("hourly", "late_hourly", "hour"),
    };
    let where_scope = |sql: &mut Sql| {
        sql.push(" WHERE site = ?", [text(s.site)]);
        if let Some(dim) = dim {
            sql.push(" AND dim = ?", [text(dim.as_str())]);
        }
        sql.push(
            " AND date >= toDate(?) AND date <= toDate(?)",
            [text(format_day(s.range.from)), text(format_day(s.range.to))],
        );
        if let Some(v) = value {
            sql.push(" AND value = ?", [text(v)]);
        }
    };
    let group_hour = if grain == Grain::Hour { ", hour" } else { "" };
    let columns = |agg: &str, visitors: &str| {
        format!(
            "{}, {visitors} AS visitors",
            Counters::columns(|c| if agg.is_empty() {
                c.to_string()
            } else {
                format!("{agg}({c}) AS {c}")
            })
        )
    };

    let mut sql = Sql::new("(SELECT date, ");
    sql.push(hour, [])
        .push(" AS hour, dim, value, ", [])
        .push(&columns("", "visitors"), [])
        .push(" FROM ", [])
        .push(closed_table, []);
    where_scope(&mut sql);
    sql.append(closed.condition(s, false));
    sql.push(" UNION ALL SELECT date, ", [])
        .push(hour, [])
        .push(" AS hour, dim, value, ", [])
        .push(&columns("max", "max(visitors)"), [])
        .push(" FROM ", [])
        .push(late_table, []);
    where_scope(&mut sql);
    sql.push(" GROUP BY date", [])
        .push(group_hour, [])
        .push(", dim, value, part UNION ALL SELECT date, ", [])
        .push(hour, [])
        .push(" AS hour, dim, value, ", [])
        .push(&columns("sumMerge", "uniqCombinedArrayMerge(visitors)"), [])
        .push(" FROM open_aggregates", []);
    where_scope(&mut sql);
    sql.append(closed.condition(s, true));
    sql.push(" GROUP BY date", [])
        .push(group_hour, [])
        .push(", dim, value)", []);
    sql
}

/// Sums of the planner's columns, in [`Metrics`] order.
pub(super) fn summed() -> String {
    Counters::columns(|c| format!("sum({c}) AS {c}")) + ", sum(visitors) AS visitors"
}

/// The SQL of [`totals`].
pub fn totals_sql(s: Scope<'_>, closed: &ClosedDays, dim: Dim, value: &str) -> Sql {
    let mut sql = Sql::new("SELECT ");
    sql.push(&summed(), []).push(" FROM ", []);
    sql.append(cells(s, closed, dim, Some(value), Grain::Day));
    sql
}

/// Metrics of `dim = value` over the scope (`Dim::Total` with `""` for the site).
pub async fn totals(
    c: &Client,
    s: Scope<'_>,
    dim: Dim,
    value: &str,
) -> Result<Metrics, clickhouse::error::Error> {
    with_closed_days(c, s, |closed| {
        let sql = totals_sql(s, &closed, dim, value);
        async move { sql.query(c).fetch_one::<Metrics>().await }
    })
    .await
}

/// The bucket key of an interval over the planner's `date` and `hour` columns.
/// Hours are keyed by their UTC start, so the repeated local hour of a DST change
/// stays two buckets.
pub(super) fn bucket_key(interval: Interval) -> (&'static str, Grain) {
    match interval {
        Interval::Hour => ("toString(toUInt32(hour))", Grain::Hour),
        Interval::Day => ("toString(date)", Grain::Day),
        Interval::Week => ("toString(toMonday(date))", Grain::Day),
        Interval::Month => ("toString(toStartOfMonth(date))", Grain::Day),
    }
}

counter_row! {
    /// One bucket's metrics, keyed.
    #[derive(Debug)]
    pub struct BucketRow {
        /// The bucket key.
        pub key: String,
    } then {
        /// Unique visitors.
        pub visitors: u64,
    }
}

/// One bucket of a range, before its metrics.
#[derive(clickhouse::Row, Deserialize)]
pub(super) struct SkeletonRow {
    pub(super) key: String,
    pub(super) label: String,
    pub(super) start: u32,
}

/// The SQL of the buckets of a range (every one, also empty ones): key, label,
/// start. Built from the local hours of the range, so DST days have 23 or 25.
pub fn skeleton_sql(s: Scope<'_>, interval: Interval) -> Sql {
    let tz = || text(s.tz);
    let midnight = |day: u32| format!("{} 00:00:00", format_day(day));
    let (key, label_tz): (String, bool) = match interval {
        Interval::Hour => ("toString(toUInt32(h))".into(), false),
        Interval::Day => ("toString(toDate(h, ?))".into(), true),
        Interval::Week => ("toString(toMonday(toDate(h, ?)))".into(), true),
        Interval::Month => ("toString(toStartOfMonth(toDate(h, ?)))".into(), true),
    };
    let mut sk = Sql::new("SELECT ");
    sk.push(&key, label_tz.then(tz)).push(" AS key, ", []);
    if interval == Interval::Hour {
        sk.push("substring(toString(h, ?), 1, 16)", [tz()]);
    } else {
        sk.push(&key, label_tz.then(tz));
    }
    sk.push(
        " AS label, toUInt32(min(h)) AS start FROM (SELECT toDateTime(?, ?) + number * 3600 AS h \
         FROM numbers(?)) WHERE h < toDateTime(?, ?) GROUP BY key, label ORDER BY start",
        [
            text(midnight(s.range.from)),
            tz(),
            Arg::Num(u64::from(s.range.days() + 1) * 24),
            text(midnight(s.range.to + 1)),
            tz(),
        ],
    );
    sk
}

/// The SQL of the metrics per bucket of `dim = value`.
pub fn series_sql(
    s: Scope<'_>,
    closed: &ClosedDays,
    interval: Interval,
    dim: Dim,
    value: &str,
) -> Sql {
    let (key, grain) = bucket_key(interval);
    let mut data = Sql::new("SELECT ");
    data.push(key, [])
        .push(" AS key, ", [])
        .push(&summed(), [])
        .push(" FROM ", []);
    data.append(cells(s, closed, dim, Some(value), grain));
    data.push(" GROUP BY key", []);
    data
}

/// Every bucket of the range (also empty ones), with the metrics of `dim = value`.
pub async fn series(
    c: &Client,
    s: Scope<'_>,
    interval: Interval,
    dim: Dim,
    value: &str,
) -> Result<Vec<Bucket>, clickhouse::error::Error> {
    let sk = skeleton_sql(s, interval);
    let (skeleton, rows) = tokio::try_join!(
        sk.query(c).fetch_all::<SkeletonRow>(),
        with_closed_days(c, s, |closed| {
            let data = series_sql(s, &closed, interval, dim, value);
            async move { data.query(c).fetch_all::<BucketRow>().await }
        })
    )?;
    let mut by_key: std::collections::HashMap<String, Metrics> = rows
        .into_iter()
        .map(|r| {
            let mut m = Metrics {
                visitors: r.visitors,
                ..Metrics::default()
            };
            m.set_counters(&r.counters());
            (r.key, m)
        })
        .collect();
    Ok(skeleton
        .into_iter()
        .map(|b| Bucket {
            m: by_key.remove(&b.key).unwrap_or_default(),
            start: b.start,
            label: b.label,
        })
        .collect())
}

/// The SQL of [`groups`].
pub fn groups_sql(s: Scope<'_>, closed: &ClosedDays, dim: Dim, k: u32) -> Sql {
    // Per value: the sum over days; then values below k (and the ingest bound's
    // own `(other)`) are labelled `(other)` and summed again per label.
    let mut sql = Sql::new("SELECT label AS value, toUInt64(count()) AS groups, ");
    sql.push(&summed(), [])
        .push(
            " FROM (SELECT if(visitors >= ? AND value != ?, value, ?) AS label, ",
            [Arg::Num(u64::from(k)), text(OTHER), text(OTHER)],
        )
        .push(&Counters::NAMES.join(", "), [])
        .push(", visitors FROM (SELECT value, ", [])
        .push(&summed(), [])
        .push(" FROM ", []);
    sql.append(cells(s, closed, dim, None, Grain::Day));
    sql.push(
        " GROUP BY value)) GROUP BY label ORDER BY label = ? DESC, visitors DESC, label LIMIT ?",
        [text(OTHER), Arg::Num(MAX_GROUPS as u64 + 2)],
    );
    sql
}

/// Every value of a dimension over the scope, folded in ClickHouse: values with
/// fewer than `k` visitors (and the values the ingest cardinality bound already
/// stored as `(other)`) become one `(other)` group. The `(other)` group comes
/// first when there is one; named groups follow by visitors. Returns the groups
/// and whether named groups were cut at [`MAX_GROUPS`].
pub async fn groups(
    c: &Client,
    s: Scope<'_>,
    dim: Dim,
    k: u32,
) -> Result<(Vec<Group>, bool), clickhouse::error::Error> {
    let mut rows = with_closed_days(c, s, |closed| {
        let sql = groups_sql(s, &closed, dim, k);
        async move { sql.query(c).fetch_all::<Group>().await }
    })
    .await?;
    let named = rows.iter().filter(|g| g.value != OTHER).count();
    let truncated = named > MAX_GROUPS;
    if truncated {
        rows.truncate(rows.len() - 1);
    }
    Ok((rows, truncated))
}

#[derive(clickhouse::Row, Deserialize)]
struct DecisionRow {
    value: String,
    hits: u64,
}

/// The SQL of [`decisions`].
pub fn decisions_sql(s: Scope<'_>, closed: &ClosedDays) -> Sql {
    let mut sql = Sql::new("SELECT value, sum(hits) AS hits FROM ");
    sql.append(cells(s, closed, Dim::Decision, None, Grain::Day));
    sql.push(" GROUP BY value ORDER BY value", []);
    sql
}

/// Hits per consent decision over the scope.
pub async fn decisions(
    c: &Client,
    s: Scope<'_>,
) -> Result<Vec<(String, u64)>, clickhouse::error::Error> {
    Ok(with_closed_days(c, s, |closed| {
        let sql = decisions_sql(s, &closed);
        async move { sql.query(c).fetch_all::<DecisionRow>().await }
    })
    .await?
    .into_iter()
    .map(|r| (r.value, r.hits))
    .collect())
}

#[derive(clickhouse::Row, Deserialize)]
struct Today {
    day: String,
}

/// The SQL of [`today`].
pub fn today_sql(tz: &str, now: u64) -> Sql {
    let mut sql = Sql::new("SELECT toString(toDate(toDateTime(?), ?)) AS day");
    sql.args.extend([Arg::Num(now), text(tz)]);
    sql
}

/// The local date in `tz` at Unix time `now`.
pub async fn today(c: &Client, tz: &str, now: u64) -> Result<String, clickhouse::error::Error> {
    Ok(today_sql(tz, now).query(c).fetch_one::<Today>().await?.day)
}

/// Every query the stats API runs for a scope, named: what the current-engine
/// check replays on both engines.
pub fn catalog(
    s: Scope<'_>,
    closed: &ClosedDays,
    k: u32,
    value_of: impl Fn(Dim) -> String,
) -> Vec<(String, Sql)> {
    let mut out = vec![
        ("totals".to_string(), totals_sql(s, closed, Dim::Total, "")),
        ("decisions".to_string(), decisions_sql(s, closed)),
        ("today".to_string(), today_sql(s.tz, 1_795_424_400)),
    ];
    for interval in [
        Interval::Hour,
        Interval::Day,
        Interval::Week,
        Interval::Month,
    ] {
        let name = format!("{interval:?}").to_lowercase();
        out.push((format!("skeleton {name}"), skeleton_sql(s, interval)));
        out.push((
            format!("series {name}"),
            series_sql(s, closed, interval, Dim::Total, ""),
        ));
    }
    for (name, grain, key) in [
        ("day", Grain::Day, "''"),
        ("hour", Grain::Hour, "toString(toUInt32(hour))"),
    ] {
        out.push((
            format!("noised cells {name}"),
            super::released::day_cells_sql(s, closed, Dim::Page, None, grain, key),
        ));
    }
    for dim in Dim::ALL {
        out.push((
            format!("groups {}", dim.as_str()),
            groups_sql(s, closed, dim, k),
        ));
        out.push((
            format!("totals {}", dim.as_str()),
            totals_sql(s, closed, dim, &value_of(dim)),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_planner_reads_closed_days_from_counters_and_open_days_from_sketches() {
        let scope = Scope {
            site: "example.com",
            tz: "Europe/Warsaw",
            range: DateRange {
                from: 20_780,
                to: 20_786,
            },
        };
        let sql = cells(scope, &ClosedDays::Ledger, Dim::Page, None, Grain::Day);
        assert!(sql.text.contains("FROM daily"));
        assert!(sql.text.contains("FROM late_daily"));
        assert!(sql.text.contains("FROM open_aggregates"));
        assert!(sql.text.contains("date NOT IN (SELECT date FROM day_close"));
        assert_eq!(sql.text.matches('?').count(), sql.args.len());
        let inlined = sql.inline();
        assert!(inlined.contains("'2026-11-23'") && inlined.contains("'2026-11-29'"));
        let hourly = cells(
            scope,
            &ClosedDays::Ledger,
            Dim::Total,
            Some(""),
            Grain::Hour,
        );
        assert!(hourly.text.contains("FROM hourly"));
        for closed in [ClosedDays::Ledger, ClosedDays::Listed(vec![20_781])] {
            for (name, q) in catalog(scope, &closed, 5, |_| "x".into()) {
                assert_eq!(q.text.matches('?').count(), q.args.len(), "{name}");
            }
        }
    }

    #[test]
    fn both_branches_read_one_list_of_closed_days() {
        let scope = Scope {
            site: "example.com",
            tz: "UTC",
            range: DateRange {
                from: 20_780,
                to: 20_786,
            },
        };
        let listed = cells(
            scope,
            &ClosedDays::Listed(vec![20_780, 20_781]),
            Dim::Page,
            None,
            Grain::Day,
        );
        assert!(!listed.text.contains("day_close"), "{}", listed.text);
        let inlined = listed.inline();
        assert!(inlined.contains("date IN (toDate('2026-11-23'), toDate('2026-11-24'))"));
        assert!(inlined.contains("date NOT IN (toDate('2026-11-23'), toDate('2026-11-24'))"));
        // Nothing closed: the counters branch reads nothing, the sketches everything.
        let none = cells(
            scope,
            &ClosedDays::Listed(vec![]),
            Dim::Page,
            None,
            Grain::Day,
        );
        assert!(none.text.contains(" AND 0") && !none.text.contains("NOT IN"));
    }
}
