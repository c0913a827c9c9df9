//! Migrations in `sql/`, compiled into the binary, applied by `veil migrate`.
//!
//! Each file is a list of `;`-separated statements written to run on ClickHouse
//! 18.16 and on current releases. Applied versions are recorded in
//! `schema_migrations`; `veil serve` refuses to start on a schema older than the
//! binary's, so an operator never writes into tables that are not there yet.

use clickhouse::Client;
use serde::Deserialize;

use super::close::CLOSED;
use super::sql::{text, Arg, Sql};
use super::SinkError;
use crate::config::ClickHouseConfig;

/// One migration file.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Number in the file name.
    pub version: u32,
    /// File name.
    pub name: &'static str,
    /// The SQL.
    pub sql: &'static str,
}

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "0001_init.sql",
        sql: include_str!("../../sql/0001_init.sql"),
    },
    Migration {
        version: 2,
        name: "0002_days.sql",
        sql: include_str!("../../sql/0002_days.sql"),
    },
    Migration {
        version: 3,
        name: "0003_conversions.sql",
        sql: include_str!("../../sql/0003_conversions.sql"),
    },
    Migration {
        version: 4,
        name: "0004_reports.sql",
        sql: include_str!("../../sql/0004_reports.sql"),
    },
    Migration {
        version: 5,
        name: "0005_batch_blocks.sql",
        sql: include_str!("../../sql/0005_batch_blocks.sql"),
    },
];

/// The version the binary needs.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Tables veil owns (for audits and tests).
pub const TABLES: &[&str] = &[
    "open_aggregates",
    "daily",
    "hourly",
    "late_daily",
    "late_hourly",
    "day_close",
    "batches",
    "report_ledger",
    "schema_migrations",
];

/// A client for veil's database. Validation is off: ClickHouse 18.16 lacks the
/// `RowBinaryWithNamesAndTypes` format the crate's validation uses. On a
/// cluster, an insert answers only once every shard it reaches has stored its
/// block (`insert_distributed_sync`): otherwise a `Distributed` table queues the
/// rows on the server it reached, and a success would not mean stored.
pub fn client(cfg: &ClickHouseConfig) -> Client {
    let client = server_client(cfg).with_database(&cfg.database);
    match cfg.cluster() {
        Some(_) => client.with_setting("insert_distributed_sync", "1"),
        None => client,
    }
}

/// A client without a default database (to create it).
pub fn server_client(cfg: &ClickHouseConfig) -> Client {
    Client::default()
        .with_url(&cfg.url)
        .with_user(&cfg.user)
        .with_password(&cfg.password)
        .with_validation(false)
}

/// Splits a migration into statements, dropping `--` comment lines.
pub fn statements(sql: &str) -> Vec<String> {
    sql.split(';')
        .map(|stmt| {
            stmt.lines()
                .filter(|l| !l.trim_start().starts_with("--"))
                .collect::<Vec<_>>()
                .join("\n")
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[derive(Deserialize, clickhouse::Row)]
struct Version {
    v: u32,
}

const CREATE_MIGRATIONS: &str = "CREATE TABLE IF NOT EXISTS schema_migrations \
    (version UInt32, name String, applied_at DateTime('UTC')) \
    ENGINE = MergeTree ORDER BY version";

/// The schema version recorded in the database (0 when nothing was applied).
pub async fn current_version(client: &Client) -> Result<u32, SinkError> {
    client.query(CREATE_MIGRATIONS).execute().await?;
    let v = client
        .query("SELECT toUInt32(max(version)) AS v FROM schema_migrations")
        .fetch_one::<Version>()
        .await?;
    Ok(v.v)
}

/// Creates the database and applies every migration newer than the recorded
/// version. Idempotent; returns the versions applied now. `site_zones` (site id,
/// IANA zone) tells the v1 → v2 conversion each site's local days; sites it does
/// not name are taken as UTC.
///
/// With `clickhouse.cluster` set, the cluster schema of `sql/cluster/` instead
/// (see [`super::cluster`]).
pub async fn migrate(
    cfg: &ClickHouseConfig,
    site_zones: &[(String, String)],
) -> Result<Vec<u32>, SinkError> {
    if let Some(cluster) = cfg.cluster() {
        return super::cluster::migrate(cfg, cluster).await;
    }
    migrate_to(cfg, site_zones, latest_version()).await
}

/// [`migrate`], but no further than version `target` (tests of old schemas).
pub async fn migrate_to(
    cfg: &ClickHouseConfig,
    site_zones: &[(String, String)],
    target: u32,
) -> Result<Vec<u32>, SinkError> {
    server_client(cfg)
        .query(&format!("CREATE DATABASE IF NOT EXISTS {}", cfg.database))
        .execute()
        .await?;
    let client = client(cfg);
    let have = current_version(&client).await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > have && m.version <= target)
    {
        let mut stmts: Vec<Sql> = statements(m.sql).iter().map(|s| Sql::new(s)).collect();
        if m.version == 2 {
            stmts.extend(convert_v1(&client, site_zones).await?);
        }
        for stmt in stmts {
            stmt.query(&client)
                .execute()
                .await
                .map_err(|source| SinkError::Migration {
                    name: m.name,
                    source,
                })?;
        }
        client
            .query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, now())")
            .bind(m.version)
            .bind(m.name)
            .execute()
            .await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}

#[derive(Deserialize, clickhouse::Row)]
struct Site {
    site: String,
}

#[derive(Deserialize, clickhouse::Row)]
struct Exists {
    n: u64,
}

/// The statements that turn v1's hourly sketches (`aggregates`, UTC hours) into
/// v2's finalised days, then drop them: every site's rows become `late_daily` and
/// `late_hourly` counters of its local days (part 1, "from v1"), every local day
/// before today is recorded closed, and today's v1 counts stay beside today's new
/// sketches until today is closed. Repeating them after a crash writes the same
/// rows again, which readers count once. Empty when there is no v1 table.
pub async fn convert_v1(
    client: &Client,
    site_zones: &[(String, String)],
) -> Result<Vec<Sql>, SinkError> {
    let exists = client
        .query(
            "SELECT count() AS n FROM system.tables \
             WHERE database = currentDatabase() AND name = 'aggregates'",
        )
        .fetch_one::<Exists>()
        .await?;
    if exists.n == 0 {
        return Ok(Vec::new());
    }
    let sites = client
        .query("SELECT site FROM aggregates GROUP BY site ORDER BY site")
        .fetch_all::<Site>()
        .await?;
    let mut out = Vec::new();
    for Site { site } in sites {
        let tz = site_zones
            .iter()
            .find(|(s, _)| *s == site)
            .map_or("UTC", |(_, z)| z.as_str());
        out.extend(v1_site_statements(&site, tz));
    }
    out.push(Sql::new("DROP TABLE IF EXISTS aggregates"));
    Ok(out)
}

/// The counters schema v1 had (the first of `Counters::NAMES`); later
/// counters start at their column default (0) in converted rows.
pub const V1_COUNTERS: [&str; 6] = [
    "hits",
    "pageviews",
    "events",
    "visits",
    "bounces",
    "duration",
];

/// The conversion statements of one site in zone `tz` (see [`convert_v1`]).
pub fn v1_site_statements(site: &str, tz: &str) -> Vec<Sql> {
    let merged = V1_COUNTERS
        .map(|c| format!("sumMerge({c}) AS {c}"))
        .join(", ");
    let names = V1_COUNTERS.join(", ");
    let mut daily = Sql::new(&format!(
        "INSERT INTO late_daily (date, site, dim, value, part, {names}, visitors) \
         SELECT toDate(hour, ?) AS local_date, site, dim, value, toUInt64(1) AS part, {merged}, \
         uniqCombinedArrayMerge(visitors) AS visitors FROM aggregates WHERE site = ? \
         GROUP BY local_date, site, dim, value"
    ));
    daily.args.extend([text(tz), text(site)]);
    let mut hourly = Sql::new(&format!(
        "INSERT INTO late_hourly (date, hour, site, dim, value, part, {names}, visitors) \
         SELECT toDate(hour, ?) AS local_date, hour, site, dim, value, toUInt64(1) AS part, {merged}, \
         uniqCombinedArrayMerge(visitors) AS visitors FROM aggregates WHERE site = ? \
         GROUP BY local_date, hour, site, dim, value"
    ));
    hourly.args.extend([text(tz), text(site)]);
    let mut closed = Sql::new(
        "INSERT INTO day_close (date, site, zone, state, at) \
         SELECT toDate(hour, ?) AS local_date, site, ? AS zone, toUInt8(?) AS state, now() AS at \
         FROM aggregates WHERE site = ? AND toDate(hour, ?) < toDate(now(), ?) \
         GROUP BY local_date, site",
    );
    closed.args.extend([
        text(tz),
        text(tz),
        Arg::Num(u64::from(CLOSED)),
        text(site),
        text(tz),
        text(tz),
    ]);
    vec![daily, hourly, closed]
}

/// Fails unless the database is at the binary's schema version.
pub async fn check_version(client: &Client) -> Result<(), SinkError> {
    let have = current_version(client).await?;
    let want = latest_version();
    if have < want {
        return Err(SinkError::SchemaBehind { have, want });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_and_drop_comments() {
        let s = statements(MIGRATIONS[0].sql);
        assert_eq!(s.len(), 5);
        assert_eq!(statements(MIGRATIONS[1].sql).len(), 12);
        assert!(s.iter().all(|s| !s.contains("--")));
        assert!(s[0].starts_with("CREATE TABLE IF NOT EXISTS aggregates_in"));
        // v5 changes nothing on one server (its file is a comment): migrating
        // to it only records the version.
        let v5 = MIGRATIONS.iter().find(|m| m.version == 5).unwrap();
        assert!(statements(v5.sql).is_empty());
        assert!(!v5.sql.trim().is_empty());
    }

    #[test]
    fn versions_are_numbered_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version as usize, i + 1, "{}", m.name);
            assert!(
                m.name.starts_with(&format!("{:04}_", m.version)),
                "{}",
                m.name
            );
        }
        assert_eq!(latest_version(), 5);
    }
}
