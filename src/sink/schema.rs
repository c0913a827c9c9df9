//! Migrations in `sql/`, compiled into the binary, applied by `veil migrate`.
//!
//! Each file is a list of `;`-separated statements written to run on ClickHouse
//! 18.16 and on current releases. Applied versions are recorded in
//! `schema_migrations`; `veil serve` refuses to start on a schema older than the
//! binary's, so an operator never writes into tables that are not there yet.

use clickhouse::Client;
use serde::Deserialize;

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
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "0001_init.sql",
    sql: include_str!("../../sql/0001_init.sql"),
}];

/// The version the binary needs.
pub fn latest_version() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Tables veil owns (for audits and tests).
pub const TABLES: &[&str] = &["aggregates", "batches", "schema_migrations"];

/// A client for veil's database. Validation is off: ClickHouse 18.16 lacks the
/// `RowBinaryWithNamesAndTypes` format the crate's validation uses.
pub fn client(cfg: &ClickHouseConfig) -> Client {
    server_client(cfg).with_database(&cfg.database)
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
/// version. Idempotent; returns the versions applied now.
pub async fn migrate(cfg: &ClickHouseConfig) -> Result<Vec<u32>, SinkError> {
    server_client(cfg)
        .query(&format!("CREATE DATABASE IF NOT EXISTS {}", cfg.database))
        .execute()
        .await?;
    let client = client(cfg);
    let have = current_version(&client).await?;
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > have) {
        for stmt in statements(m.sql) {
            client
                .query(&stmt)
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
        assert!(s.iter().all(|s| !s.contains("--")));
        assert!(s[0].starts_with("CREATE TABLE IF NOT EXISTS aggregates_in"));
    }
}
