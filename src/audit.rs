//! `veil audit`: checks a deployment against veil's privacy promises.
//!
//! The privacy boundary is enforced in code ([`crate::privacy`]); this audit looks
//! at what actually ended up in ClickHouse and at the configuration veil runs with,
//! so an operator (or CI) can show that the promises hold — and notice when someone
//! added a table, a column or a setting that breaks them:
//!
//! - **schema**: every table and view of veil's database has no column that could
//!   hold an address (IPv4/IPv6 types, `FixedString(4|16)`, integers named like an
//!   IP) and no text column named like an IP, a User-Agent, a cookie or a URL query;
//!   `aggregates_in` is a Null table (stores nothing), `aggregates` an
//!   AggregatingMergeTree of aggregate states, and no stored table keeps a column or
//!   a sorting key per visitor;
//! - **content**: every text column of every stored table is scanned (up to
//!   [`AuditOptions::sample_rows`] rows) for IPv4/IPv6 addresses and User-Agent
//!   fragments — the report names the table, column and dimension, never the value;
//! - **retention**: no `aggregates` partition older than the longest limit (+1 day
//!   for the job interval), no rows of a site's class older than its own limit;
//! - **configuration**: each site's k threshold and consent preset, the salt state
//!   file's mode and owner, trusted-proxy ranges, geo, and the schema version.
//!
//! Each check is one line: OK, WARN (worth a look, not a broken promise) or FAIL.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv6Addr;

use clickhouse::sql::Identifier;
use clickhouse::Client;
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

use crate::clock::{day_of, format_day, Clock, SystemClock};
use crate::config::Config;
use crate::model::DataClass;
use crate::retention;
use crate::sink::schema;

/// Rows read per table when scanning text columns, unless told otherwise: small
/// tables are scanned whole, big ones sampled.
pub const DEFAULT_SAMPLE_ROWS: u64 = 100_000;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// The promise holds.
    Ok,
    /// Worth a look; no promise is broken.
    Warn,
    /// A promise is broken (or cannot be shown to hold).
    Fail,
}

impl Status {
    /// The label printed in the report.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// Outcome.
    pub status: Status,
    /// What was checked (`table aggregates`, `salt state file`).
    pub name: String,
    /// Why it passed or failed; never a stored value.
    pub detail: String,
}

impl Check {
    fn new(status: Status, name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            status,
            name: name.into(),
            detail: detail.into(),
        }
    }
}

/// The outcome of `veil audit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    /// The audited database.
    pub database: String,
    /// The day the retention checks used.
    pub today: u32,
    /// Every check, in report order.
    pub checks: Vec<Check>,
}

impl AuditReport {
    /// True when no check failed (warnings allowed).
    pub fn passed(&self) -> bool {
        self.count(Status::Fail) == 0
    }

    /// Number of checks with `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The failed checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == Status::Fail)
    }
}

impl fmt::Display for AuditReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "veil privacy audit of database `{}` ({})",
            self.database,
            format_day(self.today)
        )?;
        let width = self
            .checks
            .iter()
            .map(|c| c.name.chars().count())
            .max()
            .unwrap_or(0)
            .min(40);
        for c in &self.checks {
            writeln!(
                f,
                "{:<4}  {:<width$}  {}",
                c.status.as_str(),
                c.name,
                c.detail
            )?;
        }
        write!(
            f,
            "{}: {} ok, {} warning(s), {} failed",
            if self.passed() { "PASSED" } else { "FAILED" },
            self.count(Status::Ok),
            self.count(Status::Warn),
            self.count(Status::Fail)
        )
    }
}

/// Tuning of one audit run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditOptions {
    /// Rows read per text column and table; 0 reads everything.
    pub sample_rows: u64,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            sample_rows: DEFAULT_SAMPLE_ROWS,
        }
    }
}

/// Why the audit could not run at all (problems it finds are checks, not errors).
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// ClickHouse unreachable or a query failed.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// Reading partitions or mutations failed.
    #[error(transparent)]
    Retention(#[from] retention::RetentionError),
}

/// Runs every check with the default options, for today (UTC).
pub async fn run(config: &Config) -> Result<AuditReport, AuditError> {
    run_with(config, &AuditOptions::default()).await
}

/// Runs every check.
pub async fn run_with(config: &Config, opts: &AuditOptions) -> Result<AuditReport, AuditError> {
    let today = day_of(SystemClock.now_secs());
    let client = schema::client(&config.clickhouse);
    let tables = load_tables(&client).await?;
    let mut checks = Vec::new();

    checks.push(schema_version_check(&client, &tables).await?);
    checks.extend(table_checks(&tables));
    for t in tables.values().filter(|t| scannable(&t.engine)) {
        checks.push(content_check(&client, t, opts.sample_rows).await?);
    }
    let has = |name: &str| tables.contains_key(name);
    if has("aggregates") {
        checks.push(partition_check(&client, config, today).await?);
    }
    let recent_deletions = if has("aggregates") {
        pending_deletions(&client).await?
    } else {
        0
    };
    for site in &config.sites {
        checks.push(
            site_check(
                &client,
                config,
                site,
                today,
                has("aggregates"),
                recent_deletions,
            )
            .await?,
        );
    }
    checks.push(retention_job_check(config));
    checks.push(salt_file_check(config));
    checks.push(trusted_proxies_check(config));
    checks.push(geo_check(config));

    Ok(AuditReport {
        database: config.clickhouse.database.clone(),
        today,
        checks,
    })
}

// ---- schema ----------------------------------------------------------------------

/// A table or view of veil's database with its columns.
#[derive(Clone, Debug)]
struct Table {
    name: String,
    engine: String,
    columns: Vec<Column>,
}

#[derive(Clone, Debug)]
struct Column {
    name: String,
    ty: String,
    in_sorting_key: bool,
}

#[derive(Deserialize, clickhouse::Row)]
struct TableRow {
    name: String,
    engine: String,
}

#[derive(Deserialize, clickhouse::Row)]
struct ColumnRow {
    table: String,
    name: String,
    ty: String,
    in_sorting_key: u8,
}

async fn load_tables(client: &Client) -> Result<BTreeMap<String, Table>, AuditError> {
    let mut tables: BTreeMap<String, Table> = client
        .query("SELECT name, engine FROM system.tables WHERE database = currentDatabase()")
        .fetch_all::<TableRow>()
        .await?
        .into_iter()
        .map(|t| {
            let table = Table {
                name: t.name.clone(),
                engine: t.engine,
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

async fn schema_version_check(
    client: &Client,
    tables: &BTreeMap<String, Table>,
) -> Result<Check, AuditError> {
    let want = schema::latest_version();
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
fn scannable(engine: &str) -> bool {
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
fn base_type(ty: &str) -> &str {
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

fn is_text(base: &str) -> bool {
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
        "aggregates",
        "aggregate states only: counters and visitor sketches per (site, dim, hour, value)",
    ),
    ("aggregates_mv", "feeds aggregates, stores nothing itself"),
    (
        "batches",
        "batch ids of recent inserts (date, batch, rows), for idempotent retries",
    ),
    ("batches_mv", "feeds batches, stores nothing itself"),
    ("schema_migrations", "applied migrations"),
];

/// Columns of `aggregates` that are keys rather than aggregate states.
const AGGREGATE_KEYS: &[&str] = &["date", "hour", "site", "dim", "value"];

fn table_checks(tables: &BTreeMap<String, Table>) -> Vec<Check> {
    let mut out = Vec::new();
    for (name, _) in VEIL_TABLES {
        if !tables.contains_key(*name) {
            out.push(Check::new(
                Status::Fail,
                format!("table {name}"),
                "missing: run `veil migrate`",
            ));
        }
    }
    for t in tables.values() {
        out.push(table_check(t));
    }
    out
}

fn table_check(t: &Table) -> Check {
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
    let purpose = VEIL_TABLES
        .iter()
        .find(|(n, _)| *n == t.name)
        .map(|(_, p)| *p);
    match t.name.as_str() {
        "aggregates_in" if t.engine != "Null" => fails.push(format!(
            "engine is {}, must be Null (it would store every inserted row)",
            t.engine
        )),
        "aggregates" => {
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
        "aggregates_mv" | "batches_mv" if t.engine != "MaterializedView" => {
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
        Some(p) => format!("{}: {p}", t.engine),
        None => format!("{}: stores nothing", t.engine),
    };
    Check::new(Status::Ok, name, detail)
}

// ---- content -------------------------------------------------------------------------

/// Bytes of a String column, whatever they contain (a column may hold invalid UTF-8).
struct RawText(Vec<u8>);

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<RawText, E> {
                Ok(RawText(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<RawText, E> {
                Ok(RawText(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawText, E> {
                Ok(RawText(v.as_bytes().to_vec()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[derive(Deserialize, clickhouse::Row)]
struct Sample {
    dim: RawText,
    text: RawText,
}

/// What a value looked like (never the value itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Finding {
    Ipv4,
    Ipv6,
    UserAgent,
}

impl Finding {
    fn describe(self) -> &'static str {
        match self {
            Finding::Ipv4 => "an IPv4 address",
            Finding::Ipv6 => "an IPv6 address",
            Finding::UserAgent => "a User-Agent fragment",
        }
    }
}

/// Everything the content scan looks for in one value.
fn findings(text: &[u8]) -> impl Iterator<Item = Finding> {
    [
        has_ipv4(text).then_some(Finding::Ipv4),
        has_ipv6(text).then_some(Finding::Ipv6),
        has_user_agent(text).then_some(Finding::UserAgent),
    ]
    .into_iter()
    .flatten()
}

/// SQL turning a text column (bound as an identifier at the `?`) into one String;
/// `None` for types the scan does not read.
fn text_expr(ty: &str) -> Option<&'static str> {
    let base = base_type(ty);
    if !is_text(base) {
        return None;
    }
    let nullable_inside = ty.contains("Nullable(");
    Some(match (ty.starts_with("Array("), nullable_inside) {
        (true, true) => "arrayStringConcat(arrayMap(x -> ifNull(toString(x), ''), ?), ' ')",
        (true, false) => "arrayStringConcat(arrayMap(x -> toString(x), ?), ' ')",
        (false, true) => "ifNull(toString(?), '')",
        (false, false) => "toString(?)",
    })
}

async fn content_check(client: &Client, t: &Table, sample_rows: u64) -> Result<Check, AuditError> {
    let name = format!("content {}", t.name);
    let has_dim = t
        .columns
        .iter()
        .any(|c| c.name == "dim" && base_type(&c.ty) == "String");
    let mut problems: BTreeMap<(String, String, Finding), u64> = BTreeMap::new();
    let mut scanned_columns = 0usize;
    let mut max_rows = 0u64;
    let mut skipped = Vec::new();
    for c in &t.columns {
        let Some(expr) = text_expr(&c.ty) else {
            if c.ty.contains("String") && !c.ty.starts_with("AggregateFunction(") {
                skipped.push(c.name.clone());
            }
            continue;
        };
        scanned_columns += 1;
        let dim = if has_dim { "toString(dim)" } else { "''" };
        let mut sql = format!("SELECT {dim} AS dim, {expr} AS text FROM ?");
        if sample_rows > 0 {
            sql.push_str(" LIMIT ?");
        }
        let mut q = client
            .query(&sql)
            .bind(Identifier(&c.name))
            .bind(Identifier(&t.name));
        if sample_rows > 0 {
            q = q.bind(sample_rows);
        }
        let mut cursor = q.fetch::<Sample>()?;
        let mut rows = 0u64;
        while let Some(s) = cursor.next().await? {
            rows += 1;
            for f in findings(&s.text.0) {
                let dim = if has_dim {
                    String::from_utf8_lossy(&s.dim.0).into_owned()
                } else {
                    String::new()
                };
                *problems.entry((c.name.clone(), dim, f)).or_default() += 1;
            }
        }
        max_rows = max_rows.max(rows);
    }
    let limit = if sample_rows > 0 {
        format!("up to {sample_rows} rows per column")
    } else {
        "every row".to_string()
    };
    if problems.is_empty() {
        let mut detail = if scanned_columns == 0 {
            "no text columns".to_string()
        } else {
            format!(
                "{scanned_columns} text column(s), {max_rows} row(s) read ({limit}): no IP addresses or User-Agents"
            )
        };
        if !skipped.is_empty() {
            detail.push_str(&format!("; not scanned: {}", skipped.join(", ")));
        }
        return Ok(Check::new(Status::Ok, name, detail));
    }
    let detail: Vec<String> = problems
        .iter()
        .map(|((column, dim, f), n)| {
            let at = if has_dim {
                format!("column `{column}`, dim `{dim}`")
            } else {
                format!("column `{column}`")
            };
            format!("{at}: {n} of {max_rows} row(s) read hold {}", f.describe())
        })
        .collect();
    Ok(Check::new(Status::Fail, name, detail.join("; ")))
}

/// Whether `s` contains a dotted-quad IPv4 address (each part 0–255, not part of a
/// longer dotted number such as a version `1.2.3.4.5`).
pub fn has_ipv4(s: &[u8]) -> bool {
    (0..s.len()).any(|i| {
        s[i].is_ascii_digit()
            && (i == 0 || !(s[i - 1].is_ascii_digit() || s[i - 1] == b'.'))
            && ipv4_at(s, i).is_some_and(|end| {
                end == s.len()
                    || !(s[end].is_ascii_digit()
                        || (s[end] == b'.' && s.get(end + 1).is_some_and(u8::is_ascii_digit)))
            })
    })
}

/// The end of a dotted quad starting at `i`.
fn ipv4_at(s: &[u8], mut i: usize) -> Option<usize> {
    for part in 0..4 {
        if part > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i < s.len() && s[i].is_ascii_digit() {
            if i - start == 3 {
                return None;
            }
            v = v * 10 + u32::from(s[i] - b'0');
            i += 1;
        }
        if i == start || v > 255 {
            return None;
        }
    }
    Some(i)
}

/// Whether `s` contains an IPv6 address (any spelling `std::net` accepts, including
/// `::ffff:1.2.3.4`), with at least two groups and four hex digits so that `a::b` in
/// prose or code does not count.
pub fn has_ipv6(s: &[u8]) -> bool {
    let in_run = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    let mut i = 0;
    while i < s.len() {
        if !in_run(s[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && in_run(s[i]) {
            i += 1;
        }
        let run = &s[start..i];
        // A run glued to a word (`std::fmt` → `d::f`) is not an address, unless it
        // starts or ends at a colon (`ip:2001:db8::1`).
        let glued_before = start > 0 && s[start - 1].is_ascii_alphanumeric() && run[0] != b':';
        let glued_after = i < s.len() && s[i].is_ascii_alphanumeric() && run[run.len() - 1] != b':';
        if !glued_before && !glued_after && ipv6_run(run) {
            return true;
        }
    }
    false
}

fn ipv6_run(run: &[u8]) -> bool {
    if run.iter().filter(|&&b| b == b':').count() < 2 {
        return false;
    }
    let Ok(text) = std::str::from_utf8(run) else {
        return false;
    };
    let text = text.trim_end_matches('.');
    let mut candidates = vec![text];
    if let Some(t) = text.strip_prefix(':').filter(|t| !t.starts_with(':')) {
        candidates.push(t);
    }
    if let Some(t) = text.strip_suffix(':').filter(|t| !t.ends_with(':')) {
        candidates.push(t);
    }
    candidates.into_iter().any(|c| {
        c.parse::<Ipv6Addr>().is_ok()
            && c.split(':').filter(|g| !g.is_empty()).count() >= 2
            && c.bytes().filter(u8::is_ascii_hexdigit).count() >= 4
    })
}

/// Product tokens of User-Agents (matched case-insensitively before `/<digit>`).
const UA_TOKENS: &[&[u8]] = &[
    b"mozilla",
    b"applewebkit",
    b"gecko",
    b"chrome",
    b"safari",
    b"bot",
    b"curl",
    b"python-requests",
];

/// Whether `s` contains a User-Agent product token with its version (`Mozilla/5`,
/// `AppleWebKit/537`, `Googlebot/2`, `curl/8`): the version keeps page paths such as
/// `/chatbot/help` from counting.
pub fn has_user_agent(s: &[u8]) -> bool {
    s.windows(2).enumerate().any(|(i, w)| {
        w[0] == b'/'
            && w[1].is_ascii_digit()
            && UA_TOKENS
                .iter()
                .any(|t| i >= t.len() && s[i - t.len()..i].eq_ignore_ascii_case(t))
    })
}

// ---- retention -----------------------------------------------------------------------

#[derive(Deserialize, clickhouse::Row)]
struct Count {
    n: u64,
}

async fn pending_deletions(client: &Client) -> Result<u64, AuditError> {
    Ok(client
        .query(
            "SELECT count() AS n FROM system.mutations WHERE database = currentDatabase() \
             AND table = 'aggregates' AND is_done = 0",
        )
        .fetch_one::<Count>()
        .await?
        .n)
}

async fn partition_check(
    client: &Client,
    config: &Config,
    today: u32,
) -> Result<Check, AuditError> {
    let limit = retention::partition_days(config);
    let oldest_allowed = today.saturating_sub(limit + 1);
    let parts = retention::partitions(client).await?;
    let aggregates: Vec<_> = parts.iter().filter(|p| p.table == "aggregates").collect();
    let batches_allowed = today.saturating_sub(retention::BATCHES_RETENTION_DAYS + 1);
    let old_batches = parts
        .iter()
        .filter(|p| p.table == "batches" && p.day < batches_allowed)
        .count();
    let name = "retention partitions";
    let Some(oldest) = aggregates.iter().map(|p| p.day).min() else {
        return Ok(Check::new(Status::Ok, name, "no aggregates stored yet"));
    };
    let expired = aggregates.iter().filter(|p| p.day < oldest_allowed).count();
    if expired > 0 {
        return Ok(Check::new(
            Status::Fail,
            name,
            format!(
                "{expired} aggregates partition(s) older than the longest limit of {limit} days + 1 (oldest {}): run `veil retention`",
                format_day(oldest)
            ),
        ));
    }
    if old_batches > 0 {
        return Ok(Check::new(
            Status::Warn,
            name,
            format!(
                "{old_batches} batches partition(s) older than {} days + 1: run `veil retention`",
                retention::BATCHES_RETENTION_DAYS
            ),
        ));
    }
    Ok(Check::new(
        Status::Ok,
        name,
        format!(
            "oldest aggregates partition {} is within the longest limit ({limit} days)",
            format_day(oldest)
        ),
    ))
}

async fn site_check(
    client: &Client,
    config: &Config,
    site: &crate::config::SiteConfig,
    today: u32,
    has_aggregates: bool,
    pending: u64,
) -> Result<Check, AuditError> {
    let r = &site.retention;
    let c = &site.consent;
    let mut consent = format!("consent preset {}", c.preset.as_str());
    let overrides: Vec<String> = [
        c.default.map(|l| format!("default={}", l.as_str())),
        c.gpc.map(|l| format!("gpc={}", l.as_str())),
        c.dnt.map(|l| format!("dnt={}", l.as_str())),
        c.cookie.as_ref().map(|n| format!("cookie={n}")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if !overrides.is_empty() {
        consent.push_str(&format!(" ({})", overrides.join(", ")));
    }
    let mut status = Status::Ok;
    let mut notes = vec![
        format!("k={}", site.k),
        consent,
        format!(
            "retention audience {}d, marketing {}d, consent {}d",
            r.audience_days, r.marketing_days, r.consent_days
        ),
    ];
    if site.k == 0 {
        status = Status::Warn;
        notes.push("k = 0: small groups are shown as they are, not folded into (other)".into());
    }
    if has_aggregates {
        let longest = retention::partition_days(config);
        for class in DataClass::ALL {
            let days = retention::class_days(r, class);
            if days >= longest {
                continue; // partitions; checked above
            }
            let before = today.saturating_sub(days + 1);
            let dims = class.dims();
            let sql = format!(
                "SELECT count() AS n FROM aggregates WHERE site = ? AND dim IN ({}) AND date < toDate(?)",
                vec!["?"; dims.len()].join(", ")
            );
            let mut q = client.query(&sql).bind(site.id.as_str());
            for d in &dims {
                q = q.bind(*d);
            }
            let n = q.bind(format_day(before)).fetch_one::<Count>().await?.n;
            if n == 0 {
                continue;
            }
            if pending > 0 {
                status = status.max(Status::Warn);
                notes.push(format!(
                    "{n} {} row(s) older than {days} days + 1 while deletions are still running",
                    class.as_str()
                ));
            } else {
                status = Status::Fail;
                notes.push(format!(
                    "{n} {} row(s) older than {days} days + 1: run `veil retention`",
                    class.as_str()
                ));
            }
        }
    }
    Ok(Check::new(
        status,
        format!("site {}", site.id),
        notes.join(", "),
    ))
}

fn retention_job_check(config: &Config) -> Check {
    let j = &config.retention;
    if j.enabled {
        Check::new(
            Status::Ok,
            "retention job",
            format!(
                "runs inside `veil serve` every {}s",
                j.interval_secs.max(retention::MIN_INTERVAL.as_secs())
            ),
        )
    } else {
        Check::new(
            Status::Warn,
            "retention job",
            "retention.enabled = false: run `veil retention` regularly (cron) or enable it",
        )
    }
}

// ---- configuration ---------------------------------------------------------------------

fn salt_file_check(config: &Config) -> Check {
    let name = "salt state file";
    let Some(path) = &config.salt.state_file else {
        return Check::new(
            Status::Ok,
            name,
            "not configured: salts live in memory only",
        );
    };
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Check::new(
                Status::Ok,
                name,
                format!("{shown} does not exist yet (veil creates it with mode 0600)"),
            )
        }
        Err(e) => return Check::new(Status::Fail, name, format!("{shown}: cannot inspect: {e}")),
    };
    file_owner_and_mode(name, &shown.to_string(), &meta)
}

#[cfg(unix)]
fn file_owner_and_mode(name: &str, shown: &str, meta: &std::fs::Metadata) -> Check {
    use std::os::unix::fs::MetadataExt;
    let mode = meta.mode() & 0o7777;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    let mut fails = Vec::new();
    if !meta.is_file() {
        fails.push("is not a regular file".to_string());
    }
    if mode != 0o600 {
        fails.push(format!(
            "has mode {mode:04o}, must be 0600 (the salt lets anyone who reads it link today's visitor hashes)"
        ));
    }
    if meta.uid() != me {
        fails.push(format!(
            "is owned by uid {}, not by the current user (uid {me})",
            meta.uid()
        ));
    }
    if fails.is_empty() {
        Check::new(
            Status::Ok,
            name,
            format!("{shown}: mode 0600, owned by the current user"),
        )
    } else {
        Check::new(
            Status::Fail,
            name,
            format!("{shown} {}", fails.join(" and ")),
        )
    }
}

#[cfg(not(unix))]
fn file_owner_and_mode(name: &str, shown: &str, _meta: &std::fs::Metadata) -> Check {
    Check::new(
        Status::Warn,
        name,
        format!("{shown}: permissions cannot be checked on this platform"),
    )
}

fn trusted_proxies_check(config: &Config) -> Check {
    let name = "trusted proxies";
    let list = &config.server.trusted_proxies;
    if list.is_empty() {
        return Check::new(
            Status::Ok,
            name,
            "none: the client address is the connection's peer",
        );
    }
    let mut fails = Vec::new();
    let mut warns = Vec::new();
    for s in list {
        let net = s
            .parse::<ipnet::IpNet>()
            .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
        match net {
            Err(_) => fails.push(format!("`{s}` is not an address or CIDR")),
            Ok(n) if n.prefix_len() == 0 => fails.push(format!(
                "{n} trusts every address: any client can forge its IP"
            )),
            Ok(ipnet::IpNet::V4(n)) if n.prefix_len() < 8 => {
                warns.push(format!("{n} is very broad (shorter than /8)"))
            }
            Ok(ipnet::IpNet::V6(n)) if n.prefix_len() < 32 => {
                warns.push(format!("{n} is very broad (shorter than /32)"))
            }
            Ok(_) => {}
        }
    }
    if !fails.is_empty() {
        fails.extend(warns);
        return Check::new(Status::Fail, name, fails.join("; "));
    }
    if !warns.is_empty() {
        return Check::new(Status::Warn, name, warns.join("; "));
    }
    Check::new(
        Status::Ok,
        name,
        format!("{} range(s): {}", list.len(), list.join(", ")),
    )
}

fn geo_check(config: &Config) -> Check {
    let paths = &config.geo.paths;
    if paths.is_empty() {
        return Check::new(
            Status::Warn,
            "geo",
            "no geo database configured: no country or region statistics",
        );
    }
    let missing: Vec<String> = paths
        .iter()
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Check::new(
            Status::Warn,
            "geo",
            format!("not readable: {}", missing.join(", ")),
        );
    }
    Check::new(
        Status::Ok,
        "geo",
        format!(
            "{} file(s): addresses are reduced to country and region",
            paths.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_matcher() {
        for yes in [
            "81.2.69.142",
            "ip=81.2.69.142&x",
            "/p/10.0.0.1",
            "a 0.0.0.0 b",
            "255.255.255.255.",
            "x:192.168.1.1:80",
        ] {
            assert!(has_ipv4(yes.as_bytes()), "{yes}");
        }
        for no in [
            "Chrome 131",
            "Mac OS X 10.15.7",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3",
            "1234.1.1.1",
            "1.2.3.4567",
            "v2.0.1",
            "",
        ] {
            assert!(!has_ipv4(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn ipv6_matcher() {
        for yes in [
            "2001:480::1",
            "2001:0480:0000:0000:0000:0000:0000:0001",
            "[2001:db8::7]:443",
            "ip:2001:db8::1",
            "::ffff:81.2.69.142",
            "fe80::1ff:fe23:4567:890a",
        ] {
            assert!(has_ipv6(yes.as_bytes()), "{yes}");
        }
        for no in [
            "std::fmt::Display",
            "10:30:00",
            "::1",
            "a::b",
            "00:1a:2b:3c:4d:5e",
            "event\u{1f}key\u{1f}value",
            "/page",
        ] {
            assert!(!has_ipv6(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn user_agent_matcher() {
        for yes in [
            "Mozilla/5.0 (Windows NT 10.0)",
            "AppleWebKit/537.36",
            "like Gecko/20100101",
            "Googlebot/2.1",
            "curl/8.5.0",
            "python-requests/2.31",
            "x CHROME/131",
        ] {
            assert!(has_user_agent(yes.as_bytes()), "{yes}");
        }
        for no in [
            "Chrome 131",
            "/chatbot/help",
            "/docs/curl/",
            "Safari",
            "Windows 10",
        ] {
            assert!(!has_user_agent(no.as_bytes()), "{no}");
        }
    }

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

    #[test]
    fn report_lines() {
        let r = AuditReport {
            database: "veil".into(),
            today: 20_780,
            checks: vec![
                Check::new(Status::Ok, "schema version", "1"),
                Check::new(
                    Status::Fail,
                    "table leak",
                    "column `ip` (String) is named like an IP address",
                ),
            ],
        };
        let text = r.to_string();
        assert!(!r.passed());
        assert!(text.contains("FAIL  table leak      column `ip`"), "{text}");
        assert!(
            text.ends_with("FAILED: 1 ok, 0 warning(s), 1 failed"),
            "{text}"
        );
    }
}
