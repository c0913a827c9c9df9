//! Schema checks: what the tables and views of veil's database could hold, judged
//! from their engines, column names and types — before any row is read.

use std::collections::BTreeMap;

use clickhouse::Client;
use serde::Deserialize;

use super::{AuditError, Check, Status};

/// A table or view of veil's database with its columns.
#[derive(Clone, Debug)]
pub(super) struct Table {
    pub(super) name: String,
    pub(super) engine: String,
    /// The engine with its arguments (`Distributed(veil, veil, batches_local)`).
    pub(super) engine_full: String,
    pub(super) columns: Vec<Column>,
}

#[derive(Clone, Debug)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) ty: String,
    in_sorting_key: bool,
}

#[derive(Deserialize, clickhouse::Row)]
struct TableRow {
    name: String,
    engine: String,
    engine_full: String,
}

#[derive(Deserialize, clickhouse::Row)]
struct ColumnRow {
    table: String,
    name: String,
    ty: String,
    in_sorting_key: u8,
}

pub(super) async fn load_tables(client: &Client) -> Result<BTreeMap<String, Table>, AuditError> {
    let mut tables: BTreeMap<String, Table> = client
        .query(
            "SELECT name, engine, engine_full FROM system.tables WHERE database = currentDatabase()",
        )
        .fetch_all::<TableRow>()
        .await?
        .into_iter()
        .map(|t| {
            let table = Table {
                name: t.name.clone(),
                engine: t.engine,
                engine_full: t.engine_full,
                columns: Vec::new(),
            };
            (t.name, table)
        })
        .collect();
    let columns = client
        .query(
            "SELECT table, name, type AS ty, is_in_sorting_key AS in_sorting_key \
             FROM system.columns WHERE database = currentDatabase()",
        )
        .fetch_all::<ColumnRow>()
        .await?;
    for c in columns {
        if let Some(t) = tables.get_mut(&c.table) {
            t.columns.push(Column {
                name: c.name,
                ty: c.ty,
                in_sorting_key: c.in_sorting_key != 0,
            });
        }
    }
    Ok(tables)
}

#[derive(Deserialize, clickhouse::Row)]
struct Version {
    v: u32,
}

pub(super) async fn schema_version_check(
    client: &Client,
    tables: &BTreeMap<String, Table>,
) -> Result<Check, AuditError> {
    let want = crate::sink::schema::latest_version();
    if !tables.contains_key("schema_migrations") {
        return Ok(Check::new(
            Status::Fail,
            "schema version",
            format!(
                "no schema_migrations table: run `veil migrate` (this binary needs version {want})"
            ),
        ));
    }
    let have = client
        .query("SELECT toUInt32(max(version)) AS v FROM schema_migrations")
        .fetch_one::<Version>()
        .await?
        .v;
    Ok(if have == want {
        Check::new(
            Status::Ok,
            "schema version",
            format!("{have}, as this binary expects"),
        )
    } else {
        Check::new(
            Status::Fail,
            "schema version",
            format!("database is at version {have}, this binary expects {want}"),
        )
    })
}

/// Whether the engine keeps rows (as opposed to views, Null, or remote engines).
fn stores_rows(engine: &str) -> bool {
    engine.ends_with("MergeTree")
        || matches!(
            engine,
            "Log" | "TinyLog" | "StripeLog" | "Memory" | "Buffer" | "Set" | "Join"
        )
}

/// Whether the audit may read the table's rows: it stores them, and reading has no
/// side effect (unlike a Kafka table).
pub(super) fn scannable(engine: &str) -> bool {
    engine.ends_with("MergeTree")
        || matches!(
            engine,
            "Log" | "TinyLog" | "StripeLog" | "Memory" | "Buffer"
        )
}

/// Lower-case words of a column name: `clientIP`, `client_ip` → `client`, `ip`.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if !ch.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if ch.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = ch.is_ascii_lowercase() || ch.is_ascii_digit();
        cur.push(ch.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn has_pair(w: &[String], a: &str, b: &str) -> bool {
    w.windows(2).any(|p| p[0] == a && p[1] == b)
}

fn named_like_ip(w: &[String]) -> bool {
    w.iter().any(|t| {
        t == "ip" || t == "ip4" || t == "ip6" || t.starts_with("ipv") || t.starts_with("ipaddr")
    }) || has_pair(w, "remote", "addr")
        || has_pair(w, "client", "addr")
}

fn named_like_user_agent(w: &[String]) -> bool {
    w.iter().any(|t| t == "ua" || t == "useragent") || has_pair(w, "user", "agent")
}

fn named_like_cookie(w: &[String]) -> bool {
    w.iter().any(|t| t.starts_with("cookie"))
}

fn named_like_url_query(w: &[String]) -> bool {
    w.iter().any(|t| t == "urlquery" || t == "querystring")
        || has_pair(w, "url", "query")
        || has_pair(w, "query", "string")
}

/// A name that identifies one visitor (a per-visitor table would be keyed by it).
fn named_like_visitor_id(w: &[String]) -> bool {
    w.iter().any(|t| {
        matches!(
            t.as_str(),
            "visitor"
                | "visitorid"
                | "session"
                | "sessionid"
                | "uid"
                | "userid"
                | "fingerprint"
                | "clientid"
                | "deviceid"
                | "cid"
        )
    }) || ["user", "client", "device", "visitor", "session"]
        .iter()
        .any(|a| has_pair(w, a, "id"))
}

/// The type inside `Nullable(…)`, `LowCardinality(…)` and `Array(…)` wrappers.
pub(super) fn base_type(ty: &str) -> &str {
    let mut t = ty.trim();
    loop {
        let inner = ["Nullable(", "LowCardinality(", "Array("]
            .iter()
            .find_map(|w| t.strip_prefix(w).and_then(|r| r.strip_suffix(')')));
        match inner {
            Some(i) => t = i.trim(),
            None => return t,
        }
    }
}

pub(super) fn is_text(base: &str) -> bool {
    base == "String" || base.starts_with("FixedString(")
}

/// What is wrong with a column of any table or view, if anything.
fn column_problem(name: &str, ty: &str) -> Option<String> {
    let base = base_type(ty);
    if matches!(base, "IPv4" | "IPv6" | "FixedString(4)" | "FixedString(16)") {
        return Some(format!("column `{name}` ({ty}) can hold an IP address"));
    }
    let w = words(name);
    let ip_capable = is_text(base) || matches!(base, "UInt32" | "Int32" | "UInt128" | "Int128");
    if ip_capable && named_like_ip(&w) {
        return Some(format!(
            "column `{name}` ({ty}) is named like an IP address"
        ));
    }
    if is_text(base) {
        let what = if named_like_user_agent(&w) {
            Some("a User-Agent")
        } else if named_like_cookie(&w) {
            Some("a cookie")
        } else if named_like_url_query(&w) {
            Some("a URL query")
        } else {
            None
        };
        if let Some(what) = what {
            return Some(format!("column `{name}` ({ty}) is named like {what}"));
        }
    }
    None
}

/// The tables `veil migrate` creates, with what each must be.
const VEIL_TABLES: &[(&str, &str)] = &[
    (
        "aggregates_in",
        "inserts pass through to the views, nothing is stored",
    ),
    (
        "open_aggregates",
        "the open day(s) only: counters and visitor sketches per (site, dim, hour, value)",
    ),
    (
        "open_aggregates_mv",
        "feeds open_aggregates, stores nothing itself",
    ),
    (
        "daily",
        "closed days: plain counters per (site, dim, day, value), visitors as a count",
    ),
    (
        "hourly",
        "closed days: plain counters per (site, dim, hour, value), visitors as a count",
    ),
    (
        "late_daily",
        "additions to closed days from late batches: plain counters per (site, dim, day, value, part)",
    ),
    (
        "late_hourly",
        "additions to closed days from late batches: plain counters per (site, dim, hour, value, part)",
    ),
    (
        "day_close",
        "the ledger of closed days (site, date, zone, state)",
    ),
    (
        "batches",
        "batch ids of recent inserts (date, batch, rows), for idempotent retries",
    ),
    ("batches_mv", "feeds batches, stores nothing itself"),
    (
        "report_ledger",
        "the ledger of e-mail reports (site, kind, period, recipients hash, claim token, state): no visitor data",
    ),
    ("schema_migrations", "applied migrations"),
];

/// The sharded tables of a cluster (`clickhouse.cluster`, `sql/cluster/`): under
/// the name the code uses a `Distributed` table, which stores nothing, over each
/// server's `<name>_local`, which holds that shard's rows (or, for
/// `aggregates_in_local`, is the Null table the views read). The rules of the
/// name apply to the local table; the `Distributed` one must point at it.
pub(super) const SHARDED: [&str; 3] = ["aggregates_in", "open_aggregates", "batches"];

/// The local tables behind [`SHARDED`], with what each must be.
const CLUSTER_LOCAL_TABLES: &[(&str, &str)] = &[
    (
        "aggregates_in_local",
        "this server's end of aggregates_in: inserts pass through to the views, nothing is stored",
    ),
    (
        "open_aggregates_local",
        "this shard's open day(s): counters and visitor sketches per (site, dim, hour, value)",
    ),
    (
        "batches_local",
        "this shard's batch ids of recent inserts (date, batch, rows), for idempotent retries",
    ),
];

/// The code's name of a cluster table whose rules apply to `name`: `X` for
/// `X_local` of a [`SHARDED`] table, else `name` itself.
pub(super) fn rule_name(name: &str) -> &str {
    name.strip_suffix("_local")
        .filter(|base| SHARDED.contains(base))
        .unwrap_or(name)
}

/// Columns of `open_aggregates` that are keys rather than aggregate states.
const AGGREGATE_KEYS: &[&str] = &["date", "zone", "hour", "site", "dim", "value"];

/// Columns of `daily`/`hourly` that are keys rather than counters.
const COUNTER_KEYS: &[&str] = &["date", "zone", "hour", "site", "dim", "value", "part"];

/// One check per table, and a failure per table `veil migrate` creates that is
/// missing. `cluster`: the database holds the cluster schema (`sql/cluster/`),
/// whose sharded tables are checked as [`SHARDED`] says.
pub(super) fn table_checks(tables: &BTreeMap<String, Table>, cluster: bool) -> Vec<Check> {
    let mut out = Vec::new();
    let locals = if cluster { CLUSTER_LOCAL_TABLES } else { &[] };
    for (name, _) in VEIL_TABLES.iter().chain(locals) {
        if !tables.contains_key(*name) {
            out.push(Check::new(
                Status::Fail,
                format!("table {name}"),
                "missing: run `veil migrate`",
            ));
        }
    }
    for t in tables.values() {
        out.push(table_check(t, cluster));
    }
    out
}

fn table_check(t: &Table, cluster: bool) -> Check {
    let mut fails: Vec<String> = t
        .columns
        .iter()
        .filter_map(|c| column_problem(&c.name, &c.ty))
        .collect();
    let mut warns = Vec::new();
    let stored = stores_rows(&t.engine);
    if stored {
        for c in &t.columns {
            if !named_like_visitor_id(&words(&c.name)) {
                continue;
            }
            if c.in_sorting_key {
                fails.push(format!("keyed per visitor by `{}`", c.name));
            } else if !c.ty.starts_with("AggregateFunction(") {
                fails.push(format!(
                    "column `{}` ({}) holds a value per visitor",
                    c.name, c.ty
                ));
            }
        }
    }
    let locals = if cluster { CLUSTER_LOCAL_TABLES } else { &[] };
    let purpose = VEIL_TABLES
        .iter()
        .chain(locals)
        .find(|(n, _)| *n == t.name)
        .map(|(_, p)| *p)
        .or_else(|| {
            t.name
                .starts_with(crate::sink::close::STAGE_PREFIX)
                .then_some("a day close's staging table (counters only), dropped when it finishes")
        });
    let rule = if cluster {
        rule_name(&t.name)
    } else {
        t.name.as_str()
    };
    let distributed = cluster && SHARDED.contains(&t.name.as_str());
    if distributed {
        // It stores nothing; its rows are the shards' local tables, checked by
        // their own name.
        let local = format!("{}_local", t.name);
        let args = t.engine_full.split(['(', ')', ',', ' ']);
        if t.engine != "Distributed" || !args.into_iter().any(|a| a == local) {
            fails.push(format!(
                "engine is {}, must be Distributed over {local} on a cluster",
                t.engine_full
            ));
        }
    }
    match rule {
        _ if distributed => {}
        "aggregates_in" if t.engine != "Null" => fails.push(format!(
            "engine is {}, must be Null (it would store every inserted row)",
            t.engine
        )),
        "daily" | "hourly" | "late_daily" | "late_hourly" => {
            for c in &t.columns {
                if !COUNTER_KEYS.contains(&c.name.as_str()) && c.ty != "UInt64" {
                    fails.push(format!(
                        "column `{}` ({}) is not a plain counter: a closed day keeps no sketch",
                        c.name, c.ty
                    ));
                }
            }
        }
        "open_aggregates" => {
            if !t.engine.ends_with("AggregatingMergeTree") {
                fails.push(format!(
                    "engine is {}, must be AggregatingMergeTree",
                    t.engine
                ));
            }
            for c in &t.columns {
                if !AGGREGATE_KEYS.contains(&c.name.as_str())
                    && !c.ty.starts_with("AggregateFunction(")
                {
                    fails.push(format!(
                        "column `{}` ({}) is not an aggregate state",
                        c.name, c.ty
                    ));
                }
            }
        }
        "batches" => {
            for c in &t.columns {
                if !matches!(c.name.as_str(), "date" | "batch" | "rows") {
                    warns.push(format!("unexpected column `{}` ({})", c.name, c.ty));
                }
            }
        }
        "open_aggregates_mv" | "batches_mv" if t.engine != "MaterializedView" => {
            warns.push(format!("engine is {}, expected MaterializedView", t.engine));
        }
        _ => {}
    }
    let name = format!("table {}", t.name);
    if !fails.is_empty() {
        fails.extend(warns);
        return Check::new(Status::Fail, name, fails.join("; "));
    }
    if purpose.is_none() && stored {
        warns.push(format!(
            "not created by veil; {} stores rows: make sure they are aggregates",
            t.engine
        ));
    }
    if !warns.is_empty() {
        return Check::new(Status::Warn, name, warns.join("; "));
    }
    let detail = match purpose {
        Some(p) if distributed => format!("{}: {p}; over every shard's {}_local", t.engine, t.name),
        Some(p) => format!("{}: {p}", t.engine),
        None => format!("{}: stores nothing", t.engine),
    };
    Check::new(Status::Ok, name, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_rules() {
        assert!(column_problem("ip", "String").is_some());
        assert!(column_problem("client_ip", "Nullable(String)").is_some());
        assert!(column_problem("clientIP", "UInt32").is_some());
        assert!(column_problem("addr", "IPv6").is_some());
        assert!(column_problem("h", "FixedString(16)").is_some());
        assert!(column_problem("user_agent", "LowCardinality(String)").is_some());
        assert!(column_problem("ua", "String").is_some());
        assert!(column_problem("cookies", "Array(String)").is_some());
        assert!(column_problem("url_query", "String").is_some());
        for (n, t) in [
            ("site", "String"),
            ("dim", "String"),
            ("value", "String"),
            ("hits", "AggregateFunction(sum, UInt64)"),
            (
                "visitors",
                "AggregateFunction(uniqCombinedArray, Array(UInt64))",
            ),
            ("batch", "UInt64"),
            ("ip_count", "UInt64"),
            ("description", "String"),
            ("hour", "DateTime('UTC')"),
        ] {
            assert_eq!(column_problem(n, t), None, "{n} {t}");
        }
        assert!(named_like_visitor_id(&words("visitor_id")));
        assert!(named_like_visitor_id(&words("sessionId")));
        assert!(!named_like_visitor_id(&words("visitors")));
        assert_eq!(base_type("Array(Nullable(String))"), "String");
    }

    fn table(name: &str, engine_full: &str, columns: &[(&str, &str)]) -> Table {
        Table {
            name: name.into(),
            engine: engine_full.split('(').next().unwrap().into(),
            engine_full: engine_full.into(),
            columns: columns
                .iter()
                .map(|(n, t)| Column {
                    name: (*n).into(),
                    ty: (*t).into(),
                    in_sorting_key: false,
                })
                .collect(),
        }
    }

    #[test]
    fn cluster_tables_are_checked_by_their_role() {
        let sketch = [
            ("site", "String"),
            (
                "visitors",
                "AggregateFunction(uniqCombinedArray, Array(UInt64))",
            ),
        ];
        let dist = table(
            "open_aggregates",
            "Distributed(veil, veil, open_aggregates_local)",
            &sketch,
        );
        let local = table(
            "open_aggregates_local",
            "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/veil/open_aggregates_local', '{replica}')",
            &sketch,
        );
        assert_eq!(table_check(&dist, true).status, Status::Ok);
        assert_eq!(table_check(&local, true).status, Status::Ok);
        // On one server the same Distributed table is wrong: the rows are elsewhere.
        assert_eq!(table_check(&dist, false).status, Status::Fail);
        let elsewhere = table(
            "open_aggregates",
            "Distributed(veil, veil, open_aggregates_copy)",
            &sketch,
        );
        assert_eq!(table_check(&elsewhere, true).status, Status::Fail);
        // The local table keeps the rules of its name.
        let plain = table(
            "open_aggregates_local",
            "ReplicatedAggregatingMergeTree('p', 'r')",
            &[("site", "String"), ("visitor_hash", "UInt64")],
        );
        assert_eq!(table_check(&plain, true).status, Status::Fail);
        let stored_in = table("aggregates_in_local", "MergeTree()", &[("site", "String")]);
        assert_eq!(table_check(&stored_in, true).status, Status::Fail);
        let null_in = table("aggregates_in_local", "Null", &[("site", "String")]);
        assert_eq!(table_check(&null_in, true).status, Status::Ok);
        // The late additions are veil's own tables on one server too.
        let late = table("late_daily", "ReplacingMergeTree()", &[("hits", "UInt64")]);
        assert_eq!(table_check(&late, false).status, Status::Ok);
    }
}
