//! Retention: veil deletes expired aggregates itself.
//!
//! ClickHouse 18.16 has no TTL, so this module enforces the per-site, per-class
//! limits of [`RetentionConfig`] in two ways:
//!
//! - **Partition drops** (cheap, immediate): the finalised days (`daily`, `hourly`)
//!   are partitioned by local date, so a day older than the longest limit of *any* site holds nothing anyone keeps and
//!   the whole partition goes with `ALTER TABLE … DROP PARTITION ID`. `batches` only
//!   exists to recognise retried inserts, so its partitions go after
//!   [`BATCHES_RETENTION_DAYS`].
//! - **Row deletions** (mutations, asynchronous and expensive): a site's class whose
//!   limit is shorter than the partition limit gets
//!   `ALTER TABLE daily|hourly DELETE WHERE site = ? AND dim IN (…) AND date < ?`, but
//!   only when such rows exist (counted first), and not while a recent deletion is
//!   still running (it may already cover them).
//!
//! A limit of `N` days keeps the dates `today - N ..= today` (day numbers, as in the
//! `date` column, which holds each site's local date); older dates are expired.
//!
//! Partitions are found in `system.parts` and dropped by id: each holds one date
//! (alone, or with the zone), which `min_date` gives alike on 18.16 and current
//! releases — partition ids of `(date, zone)` are hashes, and the `partition`
//! column is spelled differently by the two.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clickhouse::Client;
use serde::Deserialize;

use crate::clock::{day_of, format_day, Clock};
use crate::config::{ClickHouseConfig, Config, RetentionConfig};
use crate::model::DataClass;
use crate::sink::cluster::Layout;

/// The tables of finalised days, partitioned by local date: retention drops their
/// partitions and deletes their rows per data class. (`open_aggregates` holds only
/// the open day or two, which no limit reaches.)
pub const DAY_TABLES: [&str; 4] = ["daily", "hourly", "late_daily", "late_hourly"];

/// Days `batches` partitions are kept. A batch id only matters while the writer may
/// still retry the batch (minutes); a week leaves room for a long ClickHouse outage.
pub const BATCHES_RETENTION_DAYS: u32 = 7;

/// Shortest pause between two runs of the background job: a zero interval would
/// hammer ClickHouse with partition listings.
pub const MIN_INTERVAL: Duration = Duration::from_secs(60);

/// Unfinished deletions younger than this defer new ones (they may cover the same
/// rows); older ones are considered stuck and no longer block retention.
const PENDING_GRACE_SECS: u32 = 86_400;

/// Errors of one retention run.
#[derive(Debug, thiserror::Error)]
pub enum RetentionError {
    /// A query failed.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// Deletions were still running when the wait ended.
    #[error("{pending} deletion(s) of `daily`/`hourly` still running after {}s", waited.as_secs())]
    MutationsPending {
        /// Unfinished mutations.
        pending: u64,
        /// How long we waited.
        waited: Duration,
    },
}

/// A partition that was (or, in a dry run, would be) dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DroppedPartition {
    /// `daily`, `hourly` or `batches`.
    pub table: &'static str,
    /// ClickHouse partition id (`YYYYMMDD`).
    pub partition_id: String,
    /// Its day number.
    pub day: u32,
    /// Rows it held (unmerged rows, as `system.parts` counts them).
    pub rows: u64,
}

/// A deletion of one site's class that was (or would be) scheduled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledDeletion {
    /// Site id.
    pub site: String,
    /// Data class.
    pub class: DataClass,
    /// First day kept: rows with an earlier `date` are deleted.
    pub keep_from: u32,
    /// Rows found before the cutoff (unmerged rows).
    pub rows: u64,
}

/// What one run did (or would do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionReport {
    /// The day the run computed its cutoffs from.
    pub today: u32,
    /// The longest limit of any site (days): older `aggregates` partitions go.
    pub partition_days: u32,
    /// True when nothing was changed (`veil retention --dry-run`).
    pub dry_run: bool,
    /// Partitions dropped.
    pub dropped: Vec<DroppedPartition>,
    /// Deletions scheduled (they run asynchronously; see [`wait_for_mutations`]).
    pub deletions: Vec<ScheduledDeletion>,
    /// Recent unfinished deletions that made this run skip its own, if any.
    pub deferred_by_pending: Option<u64>,
}

impl RetentionReport {
    /// First day kept in `aggregates` partitions.
    pub fn aggregates_keep_from(&self) -> u32 {
        self.today.saturating_sub(self.partition_days)
    }

    /// Whether the run found nothing to do.
    pub fn is_noop(&self) -> bool {
        self.dropped.is_empty() && self.deletions.is_empty()
    }
}

impl fmt::Display for RetentionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (drop_verb, delete_verb) = if self.dry_run {
            ("would drop", "would delete")
        } else {
            ("dropped", "scheduled deletion of")
        };
        writeln!(
            f,
            "retention{} on {}: aggregates kept from {} ({} days, the longest limit of any site), batches kept from {} ({} days)",
            if self.dry_run { " (dry run)" } else { "" },
            format_day(self.today),
            format_day(self.aggregates_keep_from()),
            self.partition_days,
            format_day(self.today.saturating_sub(BATCHES_RETENTION_DAYS)),
            BATCHES_RETENTION_DAYS,
        )?;
        for p in &self.dropped {
            writeln!(
                f,
                "  {drop_verb} partition {} of {} ({} row(s))",
                format_day(p.day),
                p.table,
                p.rows
            )?;
        }
        for d in &self.deletions {
            writeln!(
                f,
                "  {delete_verb} {} data of site {} before {} ({} row(s))",
                d.class.as_str(),
                d.site,
                format_day(d.keep_from),
                d.rows
            )?;
        }
        if let Some(n) = self.deferred_by_pending {
            writeln!(
                f,
                "  row deletions deferred: {n} earlier deletion(s) still running"
            )?;
        }
        if self.is_noop() {
            writeln!(f, "  nothing to do")?;
        }
        Ok(())
    }
}

/// Days a site keeps one class of data.
pub fn class_days(r: &RetentionConfig, class: DataClass) -> u32 {
    match class {
        DataClass::Audience => r.audience_days,
        DataClass::Marketing => r.marketing_days,
        DataClass::Consent => r.consent_days,
    }
}

/// The longest limit of any configured site: `aggregates` partitions older than this
/// hold nothing any site keeps.
pub fn partition_days(config: &Config) -> u32 {
    config
        .sites
        .iter()
        .map(|s| s.retention.max_days())
        .max()
        .unwrap_or_else(|| RetentionConfig::default().max_days())
}

#[derive(Deserialize, clickhouse::Row)]
struct PartRow {
    table: String,
    partition_id: String,
    day: u32,
    days: u64,
    rows: u64,
}

#[derive(Deserialize, clickhouse::Row)]
struct Count {
    n: u64,
}

/// The partition listing of the tables of finalised days and of the batch ids.
/// `{from}` is `system.parts` on one server, or the `cluster()` table function
/// over it; `{tables}` the table names, and `{db}` the database (bound, since
/// `currentDatabase()` of a remote server is not the client's database).
const PARTS_SQL: &str = "SELECT table, partition_id, toUInt32(min(min_date)) AS day, \
     toUInt64(uniqExact(min_date) + uniqExact(max_date)) AS days, sum(rows) AS rows \
     FROM {from} WHERE database = ? AND active AND table IN ({tables}) \
     GROUP BY table, partition_id ORDER BY table, day";

/// Active partitions of `daily`, `hourly`, `late_*` and `batches` in veil's
/// database, with their day (partitions whose id is not a day are skipped).
///
/// On a cluster the day tables are replicated on every server, so the server the
/// client reaches lists them all; the batch ids are sharded (`batches_local`), so
/// one server knows only its own shard's partitions, and they are listed with
/// `cluster(<name>, system, parts)`, which asks one replica of every shard.
pub async fn partitions(
    client: &Client,
    cfg: &ClickHouseConfig,
) -> Result<Vec<DroppedPartition>, RetentionError> {
    let db = cfg.database.as_str();
    let listed = |tables: &[&str]| {
        let quoted: Vec<String> = tables.iter().map(|t| format!("'{t}'")).collect();
        PARTS_SQL
            .replace("{from}", "system.parts")
            .replace("{tables}", &quoted.join(", "))
    };
    let rows = match Layout::of(cfg) {
        Layout::Single => {
            let sql = listed(&[&DAY_TABLES[..], &["batches"]].concat());
            client.query(&sql).bind(db).fetch_all::<PartRow>().await?
        }
        Layout::Cluster(cluster) => {
            let local = listed(&DAY_TABLES);
            let mut rows = client.query(&local).bind(db).fetch_all::<PartRow>().await?;
            let sharded = PARTS_SQL
                .replace("{from}", "cluster(?, system, parts)")
                .replace("{tables}", "'batches_local'");
            rows.extend(
                client
                    .query(&sharded)
                    .bind(cluster.as_str())
                    .bind(db)
                    .fetch_all::<PartRow>()
                    .await?,
            );
            rows
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        // On a cluster, `batches` is the `Distributed` over `batches_local`.
        let name = r.table.strip_suffix("_local").unwrap_or(&r.table);
        let Some(table) = DAY_TABLES
            .iter()
            .chain(&["batches"])
            .copied()
            .find(|t| *t == name)
        else {
            continue;
        };
        // Every table here is partitioned by a date (alone, or with the zone):
        // a partition holds one day, which `min_date` = `max_date` gives on 18.16
        // and on current releases alike (partition ids of (date, zone) are hashes).
        // On a cluster the shards' partitions of one day have the same id and are
        // one entry here.
        if r.days == 2 {
            out.push(DroppedPartition {
                table,
                partition_id: r.partition_id,
                day: r.day,
                rows: r.rows,
            });
        } else {
            tracing::warn!(
                table,
                partition_id = %r.partition_id,
                "partition holds more than one day; left alone"
            );
        }
    }
    Ok(out)
}

/// Unfinished mutations of `daily` and `hourly`; with `recent_only`, only those created in
/// the last day (older ones are probably stuck).
async fn pending_mutations(client: &Client, recent_only: bool) -> Result<u64, RetentionError> {
    const ALL: &str = "SELECT count() AS n FROM system.mutations \
        WHERE database = currentDatabase() AND table IN ('daily', 'hourly', 'late_daily', 'late_hourly') AND is_done = 0";
    let q = if recent_only {
        client
            .query(&format!("{ALL} AND create_time > now() - ?"))
            .bind(PENDING_GRACE_SECS)
    } else {
        client.query(ALL)
    };
    Ok(q.fetch_one::<Count>().await?.n)
}

/// `?, ?, …` for `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Works out what is expired and, unless `dry_run`, drops and schedules it.
async fn run_once(
    client: &Client,
    config: &Config,
    today: u32,
    dry_run: bool,
) -> Result<RetentionReport, RetentionError> {
    let partition_days = partition_days(config);
    let mut report = RetentionReport {
        today,
        partition_days,
        dry_run,
        dropped: Vec::new(),
        deletions: Vec::new(),
        deferred_by_pending: None,
    };
    let aggregates_keep_from = report.aggregates_keep_from();
    let batches_keep_from = today.saturating_sub(BATCHES_RETENTION_DAYS);

    let layout = Layout::of(&config.clickhouse);
    for p in partitions(client, &config.clickhouse).await? {
        let keep_from = if DAY_TABLES.contains(&p.table) {
            aggregates_keep_from
        } else {
            batches_keep_from
        };
        if p.day >= keep_from {
            continue;
        }
        if !dry_run {
            // The table name comes from the whitelist above, never from input.
            // On a cluster `batches` is sharded: its partition goes on every shard
            // (the shards' partitions of one day have the same id; a shard without
            // it drops nothing). The day tables are replicated everywhere: a drop on
            // one server reaches every replica.
            let alter = if DAY_TABLES.contains(&p.table) {
                format!("ALTER TABLE {}", p.table)
            } else {
                layout.alter_sharded(p.table)
            };
            let sql = format!("{alter} DROP PARTITION ID ?");
            client
                .query(&sql)
                .bind(p.partition_id.as_str())
                .execute()
                .await?;
            tracing::info!(
                table = p.table,
                date = %format_day(p.day),
                rows = p.rows,
                "retention: partition dropped"
            );
        }
        report.dropped.push(p);
    }

    let pending = pending_mutations(client, true).await?;
    if pending > 0 {
        tracing::info!(
            pending,
            "retention: earlier deletions still running; row deletions deferred to the next run"
        );
        report.deferred_by_pending = Some(pending);
        return Ok(report);
    }
    let stuck = pending_mutations(client, false).await?;
    if stuck > 0 {
        tracing::warn!(
            stuck,
            "retention: deletions of `daily`/`hourly` unfinished for over a day (see system.mutations)"
        );
    }

    for site in &config.sites {
        for class in DataClass::ALL {
            let days = class_days(&site.retention, class);
            if days >= partition_days {
                // The partition drop already enforces this limit.
                continue;
            }
            let keep_from = today.saturating_sub(days);
            if keep_from <= aggregates_keep_from {
                continue;
            }
            let dims = class.dims();
            let count_sql = format!(
                "SELECT count() AS n FROM daily WHERE site = ? AND dim IN ({}) \
                 AND date >= toDate(?) AND date < toDate(?)",
                placeholders(dims.len())
            );
            let mut q = client.query(&count_sql).bind(site.id.as_str());
            for d in &dims {
                q = q.bind(*d);
            }
            let rows = q
                .bind(format_day(aggregates_keep_from))
                .bind(format_day(keep_from))
                .fetch_one::<Count>()
                .await?
                .n;
            if rows == 0 {
                continue;
            }
            if !dry_run {
                for table in DAY_TABLES {
                    let delete_sql = format!(
                        "ALTER TABLE {table} DELETE WHERE site = ? AND dim IN ({}) AND date < toDate(?)",
                        placeholders(dims.len())
                    );
                    let mut q = client.query(&delete_sql).bind(site.id.as_str());
                    for d in &dims {
                        q = q.bind(*d);
                    }
                    q.bind(format_day(keep_from)).execute().await?;
                }
                tracing::info!(
                    site = %site.id,
                    class = class.as_str(),
                    before = %format_day(keep_from),
                    rows,
                    "retention: deletion scheduled"
                );
            }
            report.deletions.push(ScheduledDeletion {
                site: site.id.clone(),
                class,
                keep_from,
                rows,
            });
        }
    }
    Ok(report)
}

/// Drops expired partitions and schedules deletions of expired rows for the day
/// `today` (days since the epoch, UTC). Deletions run asynchronously on ClickHouse
/// 18.16 (no `mutations_sync`): the report lists what was scheduled, and
/// [`wait_for_mutations`] waits for it.
pub async fn enforce(
    client: &Client,
    config: &Config,
    today: u32,
) -> Result<RetentionReport, RetentionError> {
    run_once(client, config, today, false).await
}

/// What [`enforce`] would do for `today`, changing nothing.
pub async fn plan(
    client: &Client,
    config: &Config,
    today: u32,
) -> Result<RetentionReport, RetentionError> {
    run_once(client, config, today, true).await
}

/// Waits until no mutation of `daily` or `hourly` is unfinished, polling
/// `system.mutations`; fails with the number still running after `timeout`.
pub async fn wait_for_mutations(client: &Client, timeout: Duration) -> Result<(), RetentionError> {
    let started = Instant::now();
    let mut pause = Duration::from_millis(50);
    loop {
        let pending = pending_mutations(client, false).await?;
        if pending == 0 {
            return Ok(());
        }
        if started.elapsed() >= timeout {
            return Err(RetentionError::MutationsPending {
                pending,
                waited: started.elapsed(),
            });
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The background job of `veil serve`: [`enforce`] at start and then every `every`
/// (at least [`MIN_INTERVAL`]), for the day `clock` says it is. A failed run is
/// logged and retried at the next interval; the job ends when `stop` resolves.
/// Each run reads the configuration in force (`current`), so sites and
/// retention periods a reload brings are enforced from the next run.
pub async fn run_retention(
    client: Client,
    current: impl Fn() -> Arc<Config>,
    clock: Arc<dyn Clock>,
    every: Duration,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let every = every.max(MIN_INTERVAL);
    loop {
        let today = day_of(clock.now_secs());
        let config = current();
        tokio::select! {
            _ = &mut stop => return,
            result = enforce(&client, &config, today) => match result {
                Ok(report) if report.is_noop() => {
                    tracing::debug!(date = %format_day(today), "retention: nothing expired");
                }
                Ok(report) => tracing::info!(
                    date = %format_day(today),
                    dropped = report.dropped.len(),
                    deletions = report.deletions.len(),
                    "retention run done"
                ),
                Err(e) => tracing::error!(error = %e, "retention run failed; retrying at the next interval"),
            },
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_limit_is_the_longest_of_any_site() {
        let mut c = Config::default();
        let mut a: crate::config::SiteConfig =
            toml::from_str("id = \"a\"\nretention = { audience_days = 60, marketing_days = 14, consent_days = 400 }\n")
                .unwrap();
        c.sites.push(a.clone());
        assert_eq!(partition_days(&c), 400);
        a.id = "b".into();
        a.retention.audience_days = 900;
        c.sites.push(a);
        assert_eq!(partition_days(&c), 900);
        assert_eq!(class_days(&c.sites[0].retention, DataClass::Marketing), 14);
    }

    #[test]
    fn report_reads_well() {
        let r = RetentionReport {
            today: 20_780,
            partition_days: 1095,
            dry_run: true,
            dropped: vec![DroppedPartition {
                table: "daily",
                partition_id: "20230101".into(),
                day: 19_358, // 2023-01-01
                rows: 3,
            }],
            deletions: vec![ScheduledDeletion {
                site: "shop.example".into(),
                class: DataClass::Marketing,
                keep_from: 20_766,
                rows: 12,
            }],
            deferred_by_pending: None,
        };
        let text = r.to_string();
        assert!(
            text.contains("would drop partition 2023-01-01 of daily (3 row(s))"),
            "{text}"
        );
        assert!(
            text.contains(
                "would delete marketing data of site shop.example before 2026-11-09 (12 row(s))"
            ),
            "{text}"
        );
    }
}
