//! `veil-bench sql-plan`: every SQL statement veil's storage sends — migrations
//! (v1 → v2 conversion included), the day close, every stats query and the
//! report ledger — in the
//! order a deployment's life sends them, over a small seeded data set, as plain
//! text with binds inlined ([`Sql::inline`]). `scripts/chdb-check.py` replays the
//! plan on ClickHouse 18.16 and on the current engine (chdb) and compares the
//! answers, so SQL that only one of them accepts, or answers differently, fails CI.
//!
//! The plan is deterministic: fixed data, fixed dates (all before the plan was
//! written, so the conversion's `now()` marks every v1 day closed), and the
//! catalog's `today` query takes a fixed `now`. The only wall-clock value left
//! is the ledger's `at` column, which no compared query reads.

use std::collections::BTreeSet;

use serde::Serialize;

use veil::clock::zone::{UnknownZone, Zone};
use veil::clock::{format_day, DAY_SECS, HOUR_SECS};
use veil::config::Every;
use veil::model::{Counters, Dim, OTHER, PROP_SEP, UNKNOWN};
use veil::report::ledger::{self, Key};
use veil::sink::close::close_day_statements;
use veil::sink::row::AggRow;
use veil::sink::schema::{statements, v1_site_statements, MIGRATIONS, V1_COUNTERS};
use veil::sink::sql::Sql;
use veil::stats::params::DateRange;
use veil::stats::query::{catalog, ClosedDays, Scope};

/// One statement of the plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What the statement is, for reports (`open: totals [waw.example]`).
    pub name: String,
    /// The exact text both engines receive.
    pub sql: String,
    /// Whether the answers of both engines must be equal (queries); other steps
    /// only have to succeed on both.
    pub compare: bool,
}

/// The sites of the data set and their zones: a zone with DST (Warsaw, whose
/// 2026-03-29 has 23 hours and 2026-10-25 has 25), a half-hour offset
/// (Kolkata: local hours start at :30 UTC) and UTC. One site id carries a quote,
/// so escaping is exercised everywhere the site is a literal.
pub const SITES: &[(&str, &str)] = &[
    ("waw.example", "Europe/Warsaw"),
    ("kol.example", "Asia/Kolkata"),
    ("o'utc.example", "UTC"),
];

/// Local days of the v1 data set (UTC hours, as v1 stored them): around the
/// spring DST change.
const V1_DAYS: [&str; 3] = ["2026-03-28", "2026-03-29", "2026-03-30"];
/// Local days of the v2 data set: around the autumn DST change.
const V2_DAYS: [&str; 3] = ["2026-10-24", "2026-10-25", "2026-10-26"];
/// The stats range: covers both data sets with a margin.
const RANGE: (&str, &str) = ("2026-03-20", "2026-11-02");
/// The k-anonymity threshold of the `groups` queries: low enough that some
/// values are named and others fold into `(other)`.
const K: u32 = 3;

/// Day number of `YYYY-MM-DD` (the plan's dates are constants).
fn day(ymd: &str) -> u32 {
    let mut it = ymd.split('-').map(|p| p.parse::<i64>().unwrap_or(1));
    let (y, m, d) = (
        it.next().unwrap_or(1970),
        it.next().unwrap_or(1),
        it.next().unwrap_or(1),
    );
    // Howard Hinnant's days_from_civil, the inverse of veil's civil_from_days.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) as u32
}

/// `YYYY-MM-DD hh:mm:ss` (UTC) of Unix seconds, as a DateTime('UTC') literal.
fn datetime(secs: u64) -> String {
    let rem = secs % DAY_SECS;
    format!(
        "{} {:02}:{:02}:{:02}",
        format_day((secs / DAY_SECS) as u32),
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A ClickHouse string literal.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A deterministic generator (splitmix64): visitor hashes and counts.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The cells of one site-hour: (dimension, value, counters, visitors). A pool
/// of visitors per hour, drawn from with repeats, so a visitor shows up in
/// several dimensions. A `crowd` (when not empty) is one page's visitors in
/// numbers only a sketch's estimating mode holds.
fn hour_cells(
    mix: &mut Mix,
    pool: &[u64],
    crowd: Vec<u64>,
) -> Vec<(Dim, String, Counters, Vec<u64>)> {
    let page_values = ["/", "/pricing", "/blog/it's-here", "/a\\b?c=1", "/zażółć"];
    let mut out = Vec::new();
    let take = |mix: &mut Mix, n: u64| -> Vec<u64> {
        let mut v: Vec<u64> = (0..n)
            .map(|_| pool[mix.below(pool.len() as u64) as usize])
            .collect();
        v.sort_unstable();
        v.dedup();
        v
    };
    let visitors = take(mix, 6);
    let c = |mix: &mut Mix, n: usize| Counters {
        hits: n as u64 + mix.below(3),
        pageviews: n as u64 + mix.below(2),
        events: mix.below(2),
        visits: (n as u64).div_ceil(2),
        bounces: mix.below(2),
        duration: mix.below(600),
        revenue: mix.below(100_000),
        engagements: mix.below(3),
        engaged_ms: mix.below(90_000),
        scroll_depth: mix.below(300),
    };
    out.push((Dim::Total, String::new(), c(mix, visitors.len()), visitors));
    if !crowd.is_empty() {
        let n = crowd.len();
        out.push((Dim::Page, "/viral".into(), c(mix, n), crowd));
    }
    for page in page_values {
        if mix.below(3) == 0 {
            continue;
        }
        let v = take(mix, 3);
        out.push((Dim::Page, page.to_string(), c(mix, v.len()), v));
    }
    for dim in Dim::ALL {
        let values = match dim {
            Dim::Total | Dim::Page | Dim::Event | Dim::Prop | Dim::Decision => continue,
            Dim::Source => vec!["search".to_string(), "direct".into(), "social".into()],
            Dim::Referrer => vec!["(direct)".into(), "www.google.com".into(), "t.co".into()],
            Dim::Country => vec!["PL".into(), "IN".into(), UNKNOWN.into()],
            Dim::Language => vec!["pl".into(), "en".into(), "hi".into()],
            // Values the ingest bound folded (`(other)`) and ones it did not.
            dim => vec![
                format!("{}-1", dim.as_str()),
                format!("{}-2", dim.as_str()),
                OTHER.into(),
            ],
        };
        let value = values[mix.below(values.len() as u64) as usize].clone();
        let v = take(mix, 4);
        out.push((dim, value, c(mix, v.len()), v));
    }
    let event = ["signup", "download"][mix.below(2) as usize];
    let v = take(mix, 2);
    out.push((Dim::Event, event.to_string(), c(mix, v.len()), v.clone()));
    out.push((
        Dim::Prop,
        format!("{event}{PROP_SEP}plan{PROP_SEP}pro\tmonthly"),
        c(mix, v.len()),
        v,
    ));
    for decision in ["granted", "denied"] {
        let hits = Counters {
            hits: 1 + mix.below(4),
            ..Counters::default()
        };
        out.push((Dim::Decision, decision.to_string(), hits, Vec::new()));
    }
    out
}

/// Visitors of the `/viral` page in hour `n` of the first site's data: two
/// hours of 20,000 with 10,000 in common, so the sketches leave their exact
/// modes and the day close merges estimates (both engines must estimate alike).
fn crowd(site: usize, n: usize) -> Vec<u64> {
    match (site, n) {
        (0, 2 | 3) => {
            let from = (n as u64 - 2) * 10_000 + 1;
            (from..from + 20_000).collect()
        }
        _ => Vec::new(),
    }
}

/// The hours of the data set: every 5th local hour of each day and local hours
/// 1–3 (where Warsaw's clocks change, so a DST day's odd hour is in), so days
/// have several hours but the plan stays small.
fn hours_of(zone: &Zone, days: &[&str]) -> Vec<u32> {
    let mut hours = BTreeSet::new();
    for d in days {
        let (start, end) = zone.day_bounds(day(d));
        let mut h = start;
        let mut i = 0;
        while h < end {
            if i % 5 == 0 || (1..=3).contains(&i) {
                hours.insert(zone.hour_of(h));
            }
            h += HOUR_SECS;
            i += 1;
        }
    }
    hours.into_iter().collect()
}

/// The first `n` counters as VALUES items, in `Counters::NAMES` order (the
/// column lists the inserts name).
fn counters_values(c: &Counters, n: usize) -> String {
    c.values()
        .iter()
        .take(n)
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// An `Array(UInt64)` literal.
fn array(v: &[u64]) -> String {
    format!(
        "[{}]",
        v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    )
}

/// The v1 data set: `INSERT INTO aggregates_in` of schema v1 (UTC date and
/// hours, no zone), one statement per site.
fn v1_inserts(utc: &Zone) -> Vec<Step> {
    let counters = V1_COUNTERS.join(", ");
    SITES
        .iter()
        .enumerate()
        .map(|(i, (site, _))| {
            let mut mix = Mix(100 + i as u64);
            let mut rows = Vec::new();
            for (d, hour) in hours_of(utc, &V1_DAYS).into_iter().enumerate() {
                let pool: Vec<u64> = (0..12).map(|_| mix.next()).collect();
                for (dim, value, c, visitors) in hour_cells(&mut mix, &pool, crowd(i, d)) {
                    rows.push(format!(
                        "({}, {}, {}, {}, {}, {}, {}, {})",
                        quote(&format_day(hour / DAY_SECS as u32)),
                        quote(&datetime(u64::from(hour))),
                        quote(site),
                        quote(dim.as_str()),
                        quote(&value),
                        1_000 + d as u64,
                        counters_values(&c, V1_COUNTERS.len()),
                        array(&visitors)
                    ));
                }
            }
            Step {
                name: format!("v1 data [{site}]"),
                sql: format!(
                    "INSERT INTO aggregates_in (date, hour, site, dim, value, batch, \
                     {counters}, visitors) VALUES {}",
                    rows.join(", ")
                ),
                compare: false,
            }
        })
        .collect()
}

/// The v2 data set as veil's writer builds it ([`AggRow::new`]: local date,
/// zone, local hours), one statement per site; also the (date, zone)
/// partitions it fills.
fn v2_inserts(zones: &[Zone]) -> (Vec<Step>, BTreeSet<(u16, String)>) {
    let counters = Counters::NAMES.join(", ");
    let mut partitions = BTreeSet::new();
    let mut steps = Vec::new();
    for (i, ((site, _), zone)) in SITES.iter().zip(zones).enumerate() {
        let mut mix = Mix(200 + i as u64);
        let mut rows = Vec::new();
        for (n, hour) in hours_of(zone, &V2_DAYS).into_iter().enumerate() {
            let pool: Vec<u64> = (0..12).map(|_| mix.next()).collect();
            for (dim, value, c, visitors) in hour_cells(&mut mix, &pool, crowd(i, n)) {
                let mut row = AggRow::new(zone, hour, site.to_string(), dim, value, &c, visitors);
                row.batch = 2_000 + n as u64;
                partitions.insert((row.date, row.zone.clone()));
                rows.push(format!(
                    "({}, {}, {}, {}, {}, {}, {}, {}, {})",
                    quote(&format_day(u32::from(row.date))),
                    quote(&row.zone),
                    quote(&datetime(u64::from(row.hour))),
                    quote(&row.site),
                    quote(&row.dim),
                    quote(&row.value),
                    row.batch,
                    counters_values(&row.counters(), Counters::NAMES.len()),
                    array(&row.visitors)
                ));
            }
        }
        steps.push(Step {
            name: format!("v2 data [{site}]"),
            sql: format!(
                "INSERT INTO aggregates_in (date, zone, hour, site, dim, value, batch, \
                 {counters}, visitors) VALUES {}",
                rows.join(", ")
            ),
            compare: false,
        });
    }
    (steps, partitions)
}

/// The value `totals <dim>` asks for: one the data set has.
fn value_of(dim: Dim) -> String {
    match dim {
        Dim::Total => String::new(),
        Dim::Page => "/blog/it's-here".into(),
        Dim::Source => "search".into(),
        Dim::Referrer => "(direct)".into(),
        Dim::Country => "PL".into(),
        Dim::Language => "pl".into(),
        Dim::Event => "signup".into(),
        Dim::Prop => format!("signup{PROP_SEP}plan{PROP_SEP}pro\tmonthly"),
        Dim::Decision => "granted".into(),
        dim => format!("{}-1", dim.as_str()),
    }
}

const BATCHES: &str = "SELECT date, batch, sum(rows) AS rows FROM batches \
    GROUP BY date, batch ORDER BY date, batch";

/// Read-backs of the raw tables (what the conversion and the close wrote),
/// compared like the stats queries. The ledger's `at` is wall-clock: left out.
fn table_dumps(label: &str) -> Vec<Step> {
    let counters = Counters::NAMES.join(", ");
    let merged = Counters::columns(|c| format!("sumMerge({c}) AS {c}"));
    [
        (
            "daily",
            format!(
                "SELECT date, zone, site, dim, value, {counters}, visitors FROM daily \
                 ORDER BY site, dim, date, value"
            ),
        ),
        (
            "hourly",
            format!(
                "SELECT date, zone, hour, site, dim, value, {counters}, visitors FROM hourly \
                 ORDER BY site, dim, hour, value"
            ),
        ),
        (
            "late_daily",
            format!(
                "SELECT date, site, dim, value, part, {counters}, visitors FROM late_daily FINAL \
                 ORDER BY site, dim, date, value, part"
            ),
        ),
        (
            "late_hourly",
            format!(
                "SELECT date, hour, site, dim, value, part, {counters}, visitors FROM late_hourly \
                 FINAL ORDER BY site, dim, hour, value, part"
            ),
        ),
        (
            "day_close",
            "SELECT date, site, zone, max(state) AS state FROM day_close \
             GROUP BY date, site, zone ORDER BY site, date, zone"
                .to_string(),
        ),
        (
            "open_aggregates",
            format!(
                "SELECT date, zone, hour, site, dim, value, {merged}, \
                 uniqCombinedArrayMerge(visitors) AS visitors FROM open_aggregates \
                 GROUP BY date, zone, hour, site, dim, value \
                 ORDER BY site, dim, hour, value"
            ),
        ),
        ("batches", BATCHES.to_string()),
    ]
    .into_iter()
    .map(|(table, sql)| Step {
        name: format!("{label}: table {table}"),
        sql,
        compare: true,
    })
    .collect()
}

/// Read-backs of schema v1's tables after the v1 data set went in.
fn v1_dumps() -> Vec<Step> {
    let merged = V1_COUNTERS
        .map(|c| format!("sumMerge({c}) AS {c}"))
        .join(", ");
    vec![
        Step {
            name: "v1: table aggregates".into(),
            sql: format!(
                "SELECT date, hour, site, dim, value, {merged}, \
                 uniqCombinedArrayMerge(visitors) AS visitors FROM aggregates \
                 GROUP BY date, hour, site, dim, value ORDER BY site, dim, hour, value"
            ),
            compare: true,
        },
        Step {
            name: "v1: table batches".into(),
            sql: BATCHES.into(),
            compare: true,
        },
    ]
}

/// Every catalog query for every site over [`RANGE`], then the table dumps.
fn queries(label: &str) -> Vec<Step> {
    let range = DateRange {
        from: day(RANGE.0),
        to: day(RANGE.1),
    };
    let mut out = Vec::new();
    for (site, tz) in SITES {
        let scope = Scope { site, tz, range };
        out.extend(
            catalog(scope, &ClosedDays::Ledger, K, value_of)
                .into_iter()
                .map(|(name, sql)| Step {
                    name: format!("{label}: {name} [{site}]"),
                    sql: sql.inline(),
                    compare: true,
                }),
        );
        // The form the API sends: the closed days read once and listed (here the
        // range's first days, whatever the ledger says: both engines get the same).
        let listed = ClosedDays::Listed((range.from..range.from + 3).map(|d| d as u16).collect());
        out.extend(
            catalog(scope, &listed, K, value_of)
                .into_iter()
                .filter(|(name, _)| {
                    ["totals", "decisions", "series day", "groups page"].contains(&name.as_str())
                })
                .map(|(name, sql)| Step {
                    name: format!("{label}: {name}, listed closed days [{site}]"),
                    sql: sql.inline(),
                    compare: true,
                }),
        );
    }
    out.extend(table_dumps(label));
    out
}

/// The report ledger's statements (`report::ledger`) for one report: look,
/// two claims in round 0, the election, `sent`, look again, and a second round
/// after a timed-out claim. The looks and the election read the server's clock
/// (`now()`, claims stamped by it), so they are run, not compared; the dump of
/// the states is compared.
fn ledger_steps() -> Vec<Step> {
    let key = Key {
        site: SITES[2].0.to_string(),
        every: Every::Week,
        period: day("2026-10-19"),
        recipients: ledger::recipients_hash(&["a@example.com".into()]),
    };
    let monthly = Key {
        every: Every::Month,
        period: day("2026-10-01"),
        ..key.clone()
    };
    let mut out = vec![
        run("ledger: look".into(), &ledger::status_sql(&key)),
        run("ledger: claim 1".into(), &ledger::claim_sql(&key, 0, 7)),
        run("ledger: claim 2".into(), &ledger::claim_sql(&key, 0, 3)),
        run("ledger: elect".into(), &ledger::winner_sql(&key, 0)),
        run(
            "ledger: sent".into(),
            &ledger::sent_sql(&key, 0, 3, 1_792_000_000),
        ),
        run("ledger: look again".into(), &ledger::status_sql(&key)),
        run(
            "ledger: claim, month".into(),
            &ledger::claim_sql(&monthly, 0, 5),
        ),
        run(
            "ledger: claim, month round 1".into(),
            &ledger::claim_sql(&monthly, 1, 9),
        ),
        run(
            "ledger: elect, month".into(),
            &ledger::winner_sql(&monthly, 1),
        ),
    ];
    out.push(Step {
        name: "ledger: table report_ledger".into(),
        sql: "SELECT site, kind, period, recipients, round, token, max(state) AS top, \
              countIf(state = 2 AND at = toDateTime(1792000000, 'UTC')) AS sent_rows \
              FROM report_ledger GROUP BY site, kind, period, recipients, round, token \
              ORDER BY site, kind, period, recipients, round, token"
            .into(),
        compare: true,
    });
    out
}

fn run(name: String, sql: &Sql) -> Step {
    Step {
        name,
        sql: sql.inline(),
        compare: false,
    }
}

/// The whole plan, in order: v1 schema and data, v2 schema, the v1 conversion,
/// v2 data, the queries, the day close of every open partition, the queries again.
pub fn plan() -> Result<Vec<Step>, UnknownZone> {
    let zones = SITES
        .iter()
        .map(|(_, tz)| Zone::new(tz))
        .collect::<Result<Vec<_>, _>>()?;
    let utc = Zone::new("UTC")?;
    let mut out = Vec::new();
    for m in MIGRATIONS {
        let stmts = statements(m.sql);
        let n = stmts.len();
        out.extend(stmts.into_iter().enumerate().map(|(i, sql)| Step {
            name: format!("{} {}/{n}", m.name, i + 1),
            sql,
            compare: false,
        }));
        if m.version == 1 {
            out.extend(v1_inserts(&utc));
            out.extend(v1_dumps());
        }
        if m.version == 2 {
            for (site, tz) in SITES {
                for (i, sql) in v1_site_statements(site, tz).iter().enumerate() {
                    out.push(run(format!("convert v1 [{site}] {}", i + 1), sql));
                }
            }
            out.push(run(
                "convert v1: drop aggregates".into(),
                &Sql::new("DROP TABLE IF EXISTS aggregates"),
            ));
        }
    }
    out.extend(queries("converted"));
    let (inserts, partitions) = v2_inserts(&zones);
    out.extend(inserts);
    out.extend(queries("open"));
    for (date, zone) in &partitions {
        for (what, sql) in close_day_statements(*date, zone, "plan") {
            let name = format!("close {} {zone}: {what}", format_day(u32::from(*date)));
            out.push(run(name, &sql));
        }
    }
    out.extend(queries("closed"));
    out.extend(ledger_steps());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip() {
        for d in ["1970-01-01", "2026-03-29", "2026-10-25", "2000-02-29"] {
            assert_eq!(format_day(day(d)), d);
        }
        assert_eq!(datetime(1_774_746_000), "2026-03-29 01:00:00");
        assert_eq!(quote("it's \\"), "'it\\'s \\\\'");
    }

    #[test]
    fn the_plan_is_deterministic_and_closes_every_partition() {
        let a = plan().unwrap();
        assert_eq!(a, plan().unwrap());
        let names: Vec<&str> = a.iter().map(|s| s.name.as_str()).collect();
        let at = |prefix: &str| names.iter().position(|n| n.starts_with(prefix)).unwrap();
        assert!(at("0001_init.sql") < at("v1 data"));
        assert!(at("v1 data") < at("0002_days.sql"));
        assert!(at("0002_days.sql") < at("convert v1 [waw.example]"));
        assert!(at("convert v1: drop") < at("v2 data"));
        // Every statement of every migration is replayed; a migration without
        // statements (v5 on one server, see its file) adds none.
        for m in MIGRATIONS {
            let n = statements(m.sql).len();
            let steps = names.iter().filter(|s| s.starts_with(m.name)).count();
            assert_eq!(steps, n, "{}", m.name);
        }
        assert!(MIGRATIONS.iter().any(|m| m.version == 5));
        assert!(at("open: totals [waw.example]") < at("close 2026-10-25 Europe/Warsaw"));
        assert!(at("close ") < at("closed: totals [kol.example]"));
        // The DST days of both data sets are in the plan, in Warsaw's local days.
        assert!(a.iter().any(|s| s.sql.contains("'2026-03-29 01:00:00'")));
        let closes = names.iter().filter(|n| n.starts_with("close ")).count();
        let steps_per_close = close_day_statements(0, "UTC", "plan").len();
        assert_eq!(
            steps_per_close, 11,
            "mark, stage/fill/swap/unstage × 2, mark, drop"
        );
        assert_eq!(closes, steps_per_close * 3 * V2_DAYS.len());
        // Kolkata's local hours start at :30 UTC.
        assert!(a.iter().any(|s| s.name.starts_with("v2 data [kol")
            && s.sql
                .contains("'2026-10-24', 'Asia/Kolkata', '2026-10-23 18:30:00'")));
        // Every catalog query runs before and after the close, compared.
        let open = names.iter().filter(|n| n.starts_with("open: ")).count();
        let closed = names.iter().filter(|n| n.starts_with("closed: ")).count();
        assert!(open > 50 && open == closed);
        assert!(a
            .iter()
            .filter(|s| s.compare)
            .all(|s| s.sql.starts_with("SELECT")));
        assert!(at("0004_reports.sql") < at("ledger: claim 1"));
        assert!(names
            .last()
            .is_some_and(|n| *n == "ledger: table report_ledger"));
    }
}
