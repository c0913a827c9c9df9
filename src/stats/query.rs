//! The SQL of the stats API.
//!
//! Every value that comes from a request (site, dates, dimension value, k) or from
//! configuration (the time zone) travels as a `?` bind, which the client escapes
//! as a literal; the SQL text itself is fixed. Dimension names come from the
//! [`Dim`] whitelist. Ranges are local dates of the site's time zone turned into
//! UTC hour bounds by ClickHouse (`toDateTime('YYYY-MM-DD 00:00:00', tz)`), with a
//! ±1 day bound on the `date` partition key so only the partitions needed are read.

use clickhouse::query::Query;
use clickhouse::{Client, Row};
use serde::Deserialize;

use crate::clock::format_day;
use crate::model::{Dim, OTHER};

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

enum Arg {
    Str(String),
    Num(u64),
}

/// SQL text plus its binds, in order.
struct Sql {
    text: String,
    args: Vec<Arg>,
}

impl Sql {
    fn new(text: &str) -> Sql {
        Sql {
            text: text.to_string(),
            args: Vec::new(),
        }
    }

    /// Appends text (which may contain `?`) and the values for its `?`s.
    fn push(&mut self, text: &str, args: impl IntoIterator<Item = Arg>) -> &mut Sql {
        self.text.push_str(text);
        self.args.extend(args);
        self
    }

    /// `WHERE` for one site, dimension and local date range.
    fn scope(&mut self, s: Scope<'_>, dim: Dim) -> &mut Sql {
        let midnight = |day: u32| format!("{} 00:00:00", format_day(day));
        self.push(
            " WHERE site = ? AND dim = ? AND date >= toDate(?) AND date <= toDate(?) \
             AND hour >= toDateTime(?, ?) AND hour < toDateTime(?, ?)",
            [
                Arg::Str(s.site.to_string()),
                Arg::Str(dim.as_str().to_string()),
                Arg::Str(format_day(s.range.from.saturating_sub(1))),
                Arg::Str(format_day(s.range.to + 1)),
                Arg::Str(midnight(s.range.from)),
                Arg::Str(s.tz.to_string()),
                Arg::Str(midnight(s.range.to + 1)),
                Arg::Str(s.tz.to_string()),
            ],
        )
    }

    fn query(&self, client: &Client) -> Query {
        let mut q = client.query(&self.text);
        for a in &self.args {
            q = match a {
                Arg::Str(s) => q.bind(s.as_str()),
                Arg::Num(n) => q.bind(*n),
            };
        }
        q
    }
}

/// The additive metrics of a cell merge: sums and merged visitor sketches.
const METRICS: &str = "sumMerge(pageviews) AS pv, sumMerge(events) AS ev, sumMerge(visits) AS vi, \
     sumMerge(bounces) AS bo, sumMerge(duration) AS du, uniqCombinedArrayMerge(visitors) AS uv";

/// Merged metrics of a set of cells.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Row, Deserialize)]
pub struct Metrics {
    /// Pageviews.
    pub pageviews: u64,
    /// Custom events.
    pub events: u64,
    /// Visits started.
    pub visits: u64,
    /// Visits of one pageview without engagement.
    pub bounces: u64,
    /// Seconds of all visits.
    pub duration: u64,
    /// Unique visitors (merged sketch; ~0.3 % error past a few thousand).
    pub visitors: u64,
}

/// Metrics of one dimension value, or of `(other)`.
#[derive(Clone, Debug, PartialEq, Eq, Row, Deserialize)]
pub struct Group {
    /// Dimension value (`(other)` for the folded group).
    pub value: String,
    /// Values merged into this group (1 for a named value).
    pub groups: u64,
    /// Pageviews.
    pub pageviews: u64,
    /// Custom events.
    pub events: u64,
    /// Visits started.
    pub visits: u64,
    /// Bounced visits.
    pub bounces: u64,
    /// Seconds of all visits.
    pub duration: u64,
    /// Unique visitors (exact merge for `(other)`).
    pub visitors: u64,
}

impl Group {
    /// The metrics alone.
    pub fn metrics(&self) -> Metrics {
        Metrics {
            pageviews: self.pageviews,
            events: self.events,
            visits: self.visits,
            bounces: self.bounces,
            duration: self.duration,
            visitors: self.visitors,
        }
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

/// Metrics of `dim = value` over the scope (`Dim::Total` with `""` for the site).
pub async fn totals(
    c: &Client,
    s: Scope<'_>,
    dim: Dim,
    value: &str,
) -> Result<Metrics, clickhouse::error::Error> {
    let mut sql = Sql::new("SELECT ");
    sql.push(METRICS, [])
        .push(" FROM aggregates", [])
        .scope(s, dim);
    sql.push(" AND value = ?", [Arg::Str(value.to_string())]);
    sql.query(c).fetch_one::<Metrics>().await
}

/// The bucket key expression of an interval over the `DateTime` named `t`, and
/// whether it has a `?` for the time zone. Hours are keyed by their UTC start, so
/// the repeated local hour of a DST change stays two buckets.
fn bucket_key(interval: Interval, t: &str) -> (String, bool) {
    match interval {
        Interval::Hour => (format!("toString(toUInt32({t}))"), false),
        Interval::Day => (format!("toString(toDate({t}, ?))"), true),
        Interval::Week => (format!("toString(toMonday(toDate({t}, ?)))"), true),
        Interval::Month => (format!("toString(toStartOfMonth(toDate({t}, ?)))"), true),
    }
}

#[derive(Row, Deserialize)]
struct BucketRow {
    key: String,
    pageviews: u64,
    events: u64,
    visits: u64,
    bounces: u64,
    duration: u64,
    visitors: u64,
}

#[derive(Row, Deserialize)]
struct SkeletonRow {
    key: String,
    label: String,
    start: u32,
}

/// Every bucket of the range (also empty ones), with the metrics of `dim = value`.
pub async fn series(
    c: &Client,
    s: Scope<'_>,
    interval: Interval,
    dim: Dim,
    value: &str,
) -> Result<Vec<Bucket>, clickhouse::error::Error> {
    let tz = || Arg::Str(s.tz.to_string());
    let midnight = |day: u32| format!("{} 00:00:00", format_day(day));

    // The skeleton: one row per bucket, from the hours of the range.
    let (key, key_tz) = bucket_key(interval, "h");
    let mut sk = Sql::new("SELECT ");
    sk.push(&key, key_tz.then(tz)).push(" AS key, ", []);
    if interval == Interval::Hour {
        sk.push("substring(toString(h, ?), 1, 16)", [tz()]);
    } else {
        sk.push(&key, key_tz.then(tz));
    }
    sk.push(
        " AS label, toUInt32(min(h)) AS start FROM (SELECT toDateTime(?, ?) + number * 3600 AS h \
         FROM numbers(?)) WHERE h < toDateTime(?, ?) GROUP BY key, label ORDER BY start",
        [
            Arg::Str(midnight(s.range.from)),
            tz(),
            Arg::Num(u64::from(s.range.days() + 1) * 24),
            Arg::Str(midnight(s.range.to + 1)),
            tz(),
        ],
    );
    // The data, keyed the same way.
    let (key, key_tz) = bucket_key(interval, "hour");
    let mut data = Sql::new("SELECT ");
    data.push(&key, key_tz.then(tz)).push(" AS key, ", []);
    data.push(METRICS, [])
        .push(" FROM aggregates", [])
        .scope(s, dim);
    data.push(" AND value = ? GROUP BY key", [Arg::Str(value.to_string())]);

    let (skeleton, rows) = tokio::try_join!(
        sk.query(c).fetch_all::<SkeletonRow>(),
        data.query(c).fetch_all::<BucketRow>()
    )?;
    let mut by_key: std::collections::HashMap<String, Metrics> = rows
        .into_iter()
        .map(|r| {
            let m = Metrics {
                pageviews: r.pageviews,
                events: r.events,
                visits: r.visits,
                bounces: r.bounces,
                duration: r.duration,
                visitors: r.visitors,
            };
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

/// Every value of a dimension over the scope, folded in ClickHouse: values with
/// fewer than `k` visitors (and the values the ingest cardinality bound already
/// stored as `(other)`) become one `(other)` group whose visitors are the exact
/// merge of their sketches. The `(other)` group comes first when there is one;
/// named groups follow by visitors. Returns the groups and whether named groups
/// were cut at [`MAX_GROUPS`].
pub async fn groups(
    c: &Client,
    s: Scope<'_>,
    dim: Dim,
    k: u32,
) -> Result<(Vec<Group>, bool), clickhouse::error::Error> {
    // One merged state per value (its visitor count read with finalizeAggregation,
    // so each value's sketches are merged once), then merged again per label.
    let mut sql = Sql::new(
        "SELECT label, toUInt64(count()) AS groups, sum(pv), sum(ev), sum(vi), sum(bo), sum(du), \
         uniqCombinedArrayMerge(st) AS merged FROM (SELECT if(finalizeAggregation(st) >= ? AND value != ?, \
         value, ?) AS label, pv, ev, vi, bo, du, st FROM (SELECT value, sumMerge(pageviews) AS pv, \
         sumMerge(events) AS ev, sumMerge(visits) AS vi, sumMerge(bounces) AS bo, \
         sumMerge(duration) AS du, uniqCombinedArrayMergeState(visitors) AS st FROM aggregates",
    );
    sql.args.extend([
        Arg::Num(u64::from(k)),
        Arg::Str(OTHER.into()),
        Arg::Str(OTHER.into()),
    ]);
    sql.scope(s, dim);
    sql.push(
        " GROUP BY value)) GROUP BY label ORDER BY label = ? DESC, merged DESC, label LIMIT ?",
        [Arg::Str(OTHER.into()), Arg::Num(MAX_GROUPS as u64 + 2)],
    );
    let mut rows = sql.query(c).fetch_all::<Group>().await?;
    let named = rows.iter().filter(|g| g.value != OTHER).count();
    let truncated = named > MAX_GROUPS;
    if truncated {
        rows.truncate(rows.len() - 1);
    }
    Ok((rows, truncated))
}

#[derive(Row, Deserialize)]
struct DecisionRow {
    value: String,
    hits: u64,
}

/// Hits per consent decision over the scope.
pub async fn decisions(
    c: &Client,
    s: Scope<'_>,
) -> Result<Vec<(String, u64)>, clickhouse::error::Error> {
    let mut sql = Sql::new("SELECT value, sumMerge(hits) AS h FROM aggregates");
    sql.scope(s, Dim::Decision).push(" GROUP BY value", []);
    Ok(sql
        .query(c)
        .fetch_all::<DecisionRow>()
        .await?
        .into_iter()
        .map(|r| (r.value, r.hits))
        .collect())
}

#[derive(Row, Deserialize)]
struct Today {
    day: String,
}

/// The local date in `tz` at Unix time `now`.
pub async fn today(c: &Client, tz: &str, now: u64) -> Result<String, clickhouse::error::Error> {
    let mut sql = Sql::new("SELECT toString(toDate(toDateTime(?), ?)) AS day");
    sql.args.extend([Arg::Num(now), Arg::Str(tz.to_string())]);
    Ok(sql.query(c).fetch_one::<Today>().await?.day)
}
