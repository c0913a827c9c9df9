//! `veil audit`: checks a deployment against veil's privacy promises.
//!
//! The privacy boundary is enforced in code ([`crate::privacy`]); this audit looks
//! at what actually ended up in ClickHouse and at the configuration veil runs with,
//! so an operator (or CI) can show that the promises hold — and notice when someone
//! added a table, a column or a setting that breaks them:
//!
//! On a cluster (`clickhouse.cluster`) the sharded tables are checked by their
//! role: the `Distributed` table under the code's name must point at the
//! shards' `*_local` table, which must be what the name promises on one server;
//! their content is read through the `Distributed` table, so every shard is
//! scanned, and retention partitions of `batches` are listed on every shard.
//!
//! - **schema**: every table and view of veil's database has no column that could
//!   hold an address (IPv4/IPv6 types, `FixedString(4|16)`, integers named like an
//!   IP) and no text column named like an IP, a User-Agent, a cookie or a URL query;
//!   `aggregates_in` is a Null table (stores nothing), `open_aggregates` an
//!   AggregatingMergeTree of aggregate states, `daily` and `hourly` hold plain
//!   counters only, and no stored table keeps a column or a sorting key per visitor;
//! - **day close**: no visitor sketch of a closed day is stored — every sketch
//!   partition belongs to a day that is still open and not overdue for its close;
//! - **content**: every text column of every stored table is scanned (up to
//!   [`AuditOptions::sample_rows`] rows) for IPv4/IPv6 addresses and User-Agent
//!   fragments — the report names the table, column and dimension, never the value;
//! - **retention**: no `daily` partition older than the longest limit (+1 day
//!   for the job interval), no rows of a site's class older than its own limit;
//! - **configuration**: each site's k threshold and consent preset, the salt state
//!   file's mode and owner, trusted-proxy ranges, geo, and the schema version.
//!
//! Each check is one line: OK, WARN (worth a look, not a broken promise) or FAIL.
//!
//! One file per concern: `schema.rs`, `content.rs`, `retention.rs` and `config.rs`
//! hold the checks above; this file holds the report types and [`run_with`], which
//! puts the checks in report order.

use std::collections::BTreeMap;
use std::fmt;

use crate::clock::{day_of, format_day, Clock, SystemClock};
use crate::config::Config;
use crate::sink::cluster::Layout;

mod config;
mod content;
mod retention;
mod schema;

pub use self::content::{has_ipv4, has_ipv6, has_user_agent};

use self::config::{geo_check, salt_file_check, trusted_proxies_check};
use self::content::content_check;
use self::retention::{
    partition_check, pending_deletions, retention_job_check, site_check, sketch_check,
};
use self::schema::{load_tables, rule_name, scannable, schema_version_check, table_checks, Table};

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
    Retention(#[from] crate::retention::RetentionError),
}

/// What the content scan reads for a stored table: the table itself, or on a
/// cluster, for a shard's `X_local` of a sharded table, the `Distributed` `X` over
/// every shard (the local table holds only the shard of the server the audit
/// reached). The columns are the same.
fn scan_target(tables: &BTreeMap<String, Table>, t: &Table, cluster: bool) -> Table {
    let base = rule_name(&t.name);
    match tables.get(base) {
        Some(d) if cluster && base != t.name && d.engine == "Distributed" => Table {
            name: d.name.clone(),
            ..t.clone()
        },
        _ => t.clone(),
    }
}

/// Runs every check with the default options, for today (UTC).
pub async fn run(config: &Config) -> Result<AuditReport, AuditError> {
    run_with(config, &AuditOptions::default()).await
}

/// Runs every check.
pub async fn run_with(config: &Config, opts: &AuditOptions) -> Result<AuditReport, AuditError> {
    let today = day_of(SystemClock.now_secs());
    let client = crate::sink::schema::client(&config.clickhouse);
    let tables = load_tables(&client).await?;
    let mut checks = Vec::new();

    checks.push(schema_version_check(&client, &tables).await?);
    let cluster = matches!(Layout::of(&config.clickhouse), Layout::Cluster(_));
    checks.extend(table_checks(&tables, cluster));
    for t in tables.values().filter(|t| scannable(&t.engine)) {
        checks.push(
            content_check(&client, &scan_target(&tables, t, cluster), opts.sample_rows).await?,
        );
    }
    let has = |name: &str| tables.contains_key(name);
    if has("daily") {
        checks.push(partition_check(&client, config, today).await?);
    }
    if has("open_aggregates") && has("day_close") {
        checks.push(sketch_check(&client, config, SystemClock.now_secs()).await?);
    }
    let recent_deletions = if has("daily") {
        pending_deletions(&client).await?
    } else {
        0
    };
    for site in &config.sites {
        checks
            .push(site_check(&client, config, site, today, has("daily"), recent_deletions).await?);
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

#[cfg(test)]
mod tests {
    use super::*;

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
