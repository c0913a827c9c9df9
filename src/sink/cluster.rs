//! veil on a ClickHouse cluster (`clickhouse.cluster`): the schema of
//! `sql/cluster/`, and what the day close and retention do differently there.
//!
//! The cluster holds the tables of one server under the same names (see the
//! migration's comment): the visitor sketches and batch ids sharded as
//! `*_local` tables behind `Distributed` ones, the small counter tables
//! replicated on every server. So the writer, the stats API and most of the
//! day close run unchanged; what differs is named here:
//!
//! - DDL runs `ON CLUSTER`, and the migrations are their own files: a new
//!   cluster gets the latest schema created at once (`sql/cluster/000N_cluster.sql`),
//!   a cluster at an older version the steps from it (`0005_batch_blocks.sql`
//!   from v4); each later single-server migration needs a cluster step and a new
//!   at-once file before a cluster can move to it, even one that changes nothing
//!   on one server, as v5 does;
//! - inserts wait until every shard they reach has stored its block
//!   (`insert_distributed_sync = 1`), so an insert's success means stored, as
//!   on one server, and a failure goes to veil's retry and spool;
//! - the close's staging table is a plain `MergeTree` on the server the close
//!   runs on (`CREATE TABLE … AS daily` would copy the replicated engine and its
//!   ZooKeeper path), and dropping a day's sketches runs `ON CLUSTER` on every
//!   shard's local table.
//!
//! Retries: replicated tables drop a block identical to one of the last 100
//! they stored (insert deduplication, also through `Distributed` and the views).
//! A retried batch is the same rows in the same order, so even when the retry's
//! check of `batches` reads a replica that has not fetched the first attempt's
//! part yet, the second copy is dropped by ClickHouse. A different batch must
//! never be an identical block, or it would be dropped as well: the sketch view
//! also writes the batch id (`maxState(batch)`, read by no query), because two
//! batches of a quiet site often hold the same cells with the same counts.

use clickhouse::Client;

use super::error_code::{exception_code, ILLEGAL_COLUMN};
use super::schema::{self, server_client, statements, MIGRATIONS};
use super::sql::Sql;
use super::SinkError;
use crate::config::ClickHouseConfig;

/// A cluster migration: from version `from` (0: a cluster without veil's
/// schema, the file creates everything at once) to `version`.
#[derive(Debug, Clone, Copy)]
pub struct ClusterMigration {
    /// The version the file applies to.
    pub from: u32,
    /// The single-server version this file brings a cluster to.
    pub version: u32,
    /// File name (under `sql/cluster/`).
    pub name: &'static str,
    /// The SQL, with `@cluster@` and `@db@` to replace.
    pub sql: &'static str,
}

/// Every cluster migration, in order of `version`. A new cluster gets the
/// latest schema created at once; a cluster at an older version the steps from
/// it (see [`plan`]).
pub const CLUSTER_MIGRATIONS: &[ClusterMigration] = &[
    ClusterMigration {
        from: 0,
        version: 4,
        name: "cluster/0004_cluster.sql",
        sql: include_str!("../../sql/cluster/0004_cluster.sql"),
    },
    ClusterMigration {
        from: 4,
        version: 5,
        name: "cluster/0005_batch_blocks.sql",
        sql: include_str!("../../sql/cluster/0005_batch_blocks.sql"),
    },
    ClusterMigration {
        from: 0,
        version: 5,
        name: "cluster/0005_cluster.sql",
        sql: include_str!("../../sql/cluster/0005_cluster.sql"),
    },
];

/// The cluster migrations that bring a cluster at version `have` as far as
/// they go: at each step the one from the version reached that goes furthest.
pub fn plan(have: u32) -> Vec<&'static ClusterMigration> {
    let mut out = Vec::new();
    let mut at = have;
    while let Some(m) = CLUSTER_MIGRATIONS
        .iter()
        .filter(|m| m.from == at && m.version > at)
        .max_by_key(|m| m.version)
    {
        out.push(m);
        at = m.version;
    }
    out
}

/// Where veil's tables live: one server, or a named cluster.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Layout {
    /// One server: the tables of `sql/*.sql`.
    #[default]
    Single,
    /// A cluster of `<remote_servers>`: the tables of `sql/cluster/`.
    Cluster(String),
}

impl Layout {
    /// The layout a configuration names.
    pub fn of(cfg: &ClickHouseConfig) -> Layout {
        cfg.cluster()
            .map_or(Layout::Single, |c| Layout::Cluster(c.to_string()))
    }

    /// The statement creating a day close's staging table like `table` (see the
    /// module docs for why not `AS` alone on a cluster).
    pub fn create_stage(&self, stage: &str, table: &str) -> String {
        match self {
            Layout::Single => format!("CREATE TABLE {stage} AS {table}"),
            Layout::Cluster(_) => {
                let order = if table == "hourly" {
                    "(site, dim, hour, value)"
                } else {
                    "(site, dim, date, value)"
                };
                format!(
                    "CREATE TABLE {stage} AS {table} ENGINE = MergeTree \
                     PARTITION BY (date, zone) ORDER BY {order}"
                )
            }
        }
    }

    /// `ALTER TABLE` of a sharded table by its code name (`open_aggregates`,
    /// `batches`): its local tables on every shard on a cluster.
    pub fn alter_sharded(&self, table: &str) -> String {
        match self {
            Layout::Single => format!("ALTER TABLE {table}"),
            Layout::Cluster(c) => format!("ALTER TABLE {table}_local ON CLUSTER {c}"),
        }
    }
}

/// The statements of a cluster migration for `cfg`'s cluster and database.
pub fn cluster_statements(m: &ClusterMigration, cluster: &str, database: &str) -> Vec<String> {
    statements(m.sql)
        .into_iter()
        .map(|s| s.replace("@cluster@", cluster).replace("@db@", database))
        .collect()
}

fn create_migrations(cluster: &str, database: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {database}.schema_migrations ON CLUSTER {cluster} \
         (version UInt32, name String, applied_at DateTime('UTC')) \
         ENGINE = ReplicatedMergeTree('/clickhouse/tables/all/{database}/schema_migrations', '{{replica}}') \
         ORDER BY version"
    )
}

/// `veil migrate` on a cluster: the database and `schema_migrations` on every
/// server, then the cluster migrations newer than the recorded version. Each
/// statement is idempotent (`IF NOT EXISTS`), so a rerun after a failure (a
/// server down: Code 159 after `distributed_ddl_task_timeout`) finishes the job.
pub async fn migrate(cfg: &ClickHouseConfig, cluster: &str) -> Result<Vec<u32>, SinkError> {
    let db = &cfg.database;
    server_client(cfg)
        .query(&format!(
            "CREATE DATABASE IF NOT EXISTS {db} ON CLUSTER {cluster}"
        ))
        .execute()
        .await?;
    server_client(cfg)
        .query(&create_migrations(cluster, db))
        .execute()
        .await?;
    let client = schema::client(cfg);
    let have = schema::current_version(&client).await?;
    let want = schema::latest_version();
    let mut applied = Vec::new();
    for m in plan(have) {
        for stmt in cluster_statements(m, cluster, db) {
            match Sql::new(&stmt).query(&client).execute().await {
                Ok(()) => {}
                Err(e) if already_added(&stmt, &e) => {
                    tracing::info!(name = m.name, %stmt, "column already there");
                }
                Err(source) => {
                    return Err(SinkError::Migration {
                        name: m.name,
                        source,
                    })
                }
            }
        }
        for v in MIGRATIONS
            .iter()
            .filter(|s| s.version > m.from && s.version <= m.version)
        {
            record(&client, v.version, v.name).await?;
            applied.push(v.version);
        }
        tracing::info!(
            version = m.version,
            name = m.name,
            cluster,
            "cluster migration applied"
        );
    }
    let reached = applied.last().copied().unwrap_or(have);
    if reached < want {
        return Err(SinkError::NoClusterMigration {
            have: reached,
            want,
        });
    }
    Ok(applied)
}

/// Whether `stmt` adds a column that its table already has: done, so a rerun
/// of a migration that failed after it goes on (18.16 has no `ADD COLUMN IF NOT
/// EXISTS`). On a cluster the error names one server; every server without the
/// column has added it.
fn already_added(stmt: &str, e: &clickhouse::error::Error) -> bool {
    let clickhouse::error::Error::BadResponse(msg) = e else {
        return false;
    };
    stmt.contains(" ADD COLUMN ")
        && exception_code(e) == Some(ILLEGAL_COLUMN)
        && msg.contains("column with this name already exists")
}

async fn record(client: &Client, version: u32, name: &str) -> Result<(), SinkError> {
    client
        .query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, now())")
        .bind(version)
        .bind(name)
        .execute()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cluster_schema_reaches_the_latest_version_on_every_server() {
        let latest = schema::latest_version();
        // A new cluster: the latest schema at once; a cluster at v4: step by step.
        let names = |have| plan(have).iter().map(|m| m.name).collect::<Vec<_>>();
        assert_eq!(names(0), ["cluster/0005_cluster.sql"]);
        assert_eq!(names(4), ["cluster/0005_batch_blocks.sql"]);
        assert!(names(5).is_empty());
        for have in [0, 4] {
            assert_eq!(plan(have).last().unwrap().version, latest);
        }
        let s = cluster_statements(plan(0)[0], "c1", "db1");
        assert!(
            s.iter().all(|s| s.contains(" ON CLUSTER c1")),
            "every statement on the cluster"
        );
        assert!(s.iter().all(|s| !s.contains('@')));
        assert!(s
            .iter()
            .any(|s| s.contains("ENGINE = Distributed(c1, db1, aggregates_in_local, batch)")));
        // Every table the code names exists on the cluster under that name.
        for t in schema::TABLES.iter().filter(|t| **t != "schema_migrations") {
            let create = format!("CREATE TABLE IF NOT EXISTS db1.{t} ON CLUSTER");
            assert!(s.iter().any(|s| s.starts_with(&create)), "{t} missing");
        }
        // v4 + the v5 step = the v5 schema at once: the same sketch table and view.
        let v4 = cluster_statements(&CLUSTER_MIGRATIONS[0], "c1", "db1");
        let step = cluster_statements(plan(4)[0], "c1", "db1");
        let find = |s: &[String], p: &str| s.iter().find(|s| s.starts_with(p)).cloned().unwrap();
        let view = "CREATE MATERIALIZED VIEW IF NOT EXISTS db1.open_aggregates_mv";
        assert_eq!(find(&s, view), find(&step, view));
        let local = "CREATE TABLE IF NOT EXISTS db1.open_aggregates_local ON CLUSTER";
        let added = find(&step, "ALTER TABLE db1.open_aggregates_local");
        let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
        let column = words(added.rsplit("ADD COLUMN ").next().unwrap());
        assert!(words(&find(&s, local)).contains(&column), "{column}");
        assert!(!words(&find(&v4, local)).contains(&column));
        // Everything else is v4's, statement for statement.
        let other = |s: &[String]| {
            s.iter()
                .filter(|s| !s.starts_with(view) && !s.starts_with(local))
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(other(&s), other(&v4));
    }

    #[test]
    fn v5_makes_every_batch_s_sketch_block_its_own() {
        let v4 = cluster_statements(&CLUSTER_MIGRATIONS[0], "c1", "db1");
        assert_eq!(CLUSTER_MIGRATIONS[0].version, 4);
        assert!(
            v4.iter().all(|s| !s.contains("maxState(batch)")),
            "0004 as released"
        );
        let s = cluster_statements(plan(4)[0], "c1", "db1");
        assert_eq!(s.len(), 5, "{s:#?}");
        assert!(s[0].starts_with("DROP TABLE IF EXISTS db1.open_aggregates_mv ON CLUSTER c1"));
        assert!(
            s[1].starts_with("ALTER TABLE db1.open_aggregates_local ON CLUSTER c1")
                && s[1].ends_with("ADD COLUMN batch AggregateFunction(max, UInt64)"),
            "{}",
            s[1]
        );
        // The Distributed table again like the changed local one (18.16 alters no
        // Distributed table ON CLUSTER).
        assert!(s[2].starts_with("DROP TABLE IF EXISTS db1.open_aggregates ON CLUSTER c1"));
        let create = v4
            .iter()
            .find(|s| s.starts_with("CREATE TABLE IF NOT EXISTS db1.open_aggregates ON CLUSTER"))
            .unwrap();
        assert_eq!(s[3], *create);
        // The view is created again, with the batch id in every block.
        assert!(s[4].starts_with(
            "CREATE MATERIALIZED VIEW IF NOT EXISTS db1.open_aggregates_mv ON CLUSTER c1"
        ));
        assert!(s[4].contains("maxState(batch)        AS batch"), "{}", s[4]);
        // ... and otherwise writes what v4's view wrote.
        let old = v4
            .iter()
            .find(|s| s.contains("MATERIALIZED VIEW IF NOT EXISTS db1.open_aggregates_mv"))
            .unwrap();
        let strip = |v: &str| v.replace(",\n    maxState(batch)        AS batch", "");
        assert_eq!(strip(&s[4]), *old);
    }

    #[test]
    fn only_an_existing_column_of_an_add_column_counts_as_done() {
        let e = |m: &str| clickhouse::error::Error::BadResponse(m.to_string());
        let exists = e(
            "Code: 44, e.displayText() = DB::Exception: There was an error on \
            [127.0.0.1:29114]: Code: 44, e.displayText() = DB::Exception: Cannot add column \
            batch: column with this name already exists, e.what() = DB::Exception",
        );
        let add = "ALTER TABLE db1.open_aggregates_local ON CLUSTER c1 ADD COLUMN batch UInt8";
        assert!(already_added(add, &exists));
        assert!(!already_added("DROP TABLE db1.x ON CLUSTER c1", &exists));
        let other = e(
            "Code: 44, e.displayText() = DB::Exception: Cannot add column batch: \
            wrong type",
        );
        assert!(!already_added(add, &other));
        assert!(!already_added(
            add,
            &e("Code: 371, e.displayText() = already exists")
        ));
    }

    #[test]
    fn stages_and_sharded_alters_follow_the_layout() {
        let one = Layout::Single;
        let c = Layout::Cluster("c1".into());
        assert_eq!(one.create_stage("s", "daily"), "CREATE TABLE s AS daily");
        assert!(c.create_stage("s", "hourly").ends_with(
            "ENGINE = MergeTree PARTITION BY (date, zone) ORDER BY (site, dim, hour, value)"
        ));
        assert_eq!(
            one.alter_sharded("open_aggregates"),
            "ALTER TABLE open_aggregates"
        );
        assert_eq!(
            c.alter_sharded("open_aggregates"),
            "ALTER TABLE open_aggregates_local ON CLUSTER c1"
        );
    }
}
