//! One attempt at storing a batch, and the backoff between attempts: the single
//! definition of "store this batch exactly once" that the writer's three paths
//! (fresh batch, in-memory retry, spool replay) share.
//!
//! An insert can succeed after the client gave up on it (a timeout), so every
//! attempt after the first asks `batches` whether the batch already landed before
//! inserting again; that is what makes retries idempotent on ClickHouse 18.16,
//! which deduplicates inserts only in `Replicated` tables.

use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;
use parking_lot::Mutex;
use serde::Deserialize;
use tokio::sync::watch;

use super::close::{late_days, Zones};
use super::error_code::is_retryable;
use super::row::AggRow;
use super::Batch;
use crate::clock::Clock;
use crate::metrics::Metrics;

/// Outcome of storing one batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Inserted now.
    Inserted,
    /// Found already stored by an earlier attempt.
    AlreadyStored,
    /// Refused as malformed, or abandoned at the shutdown deadline.
    Dropped,
}

/// Where batches go: the client, and what deciding "late" needs.
pub struct Target {
    /// Client for veil's database.
    pub client: Client,
    /// The clock (which days have ended).
    pub clock: Arc<dyn Clock>,
    /// The salt grace: rows of a day that ended less than this ago cannot be late.
    pub grace_secs: u64,
    zones: Mutex<Zones>,
}

impl Target {
    /// A target for `client`.
    pub fn new(client: Client, clock: Arc<dyn Clock>, grace_secs: u64) -> Target {
        Target {
            client,
            clock,
            grace_secs,
            zones: Mutex::new(Zones::default()),
        }
    }
}

/// Longest an insert may take to start and to end (what the day close's settle
/// time must exceed).
pub const INSERT_TIMEOUTS: (Duration, Duration) =
    (Duration::from_secs(30), Duration::from_secs(60));

async fn write_rows<R>(
    client: &Client,
    table: &str,
    rows: impl Iterator<Item = R>,
) -> Result<(), clickhouse::error::Error>
where
    R: clickhouse::Row + serde::Serialize,
    for<'a> R: clickhouse::RowWrite<Value<'a> = R>,
{
    let mut insert = client
        .insert::<R>(table)
        .await?
        .with_timeouts(Some(INSERT_TIMEOUTS.0), Some(INSERT_TIMEOUTS.1));
    for row in rows {
        insert.write(&row).await?;
    }
    insert.end().await
}

/// Inserts the rows of a batch: rows of an open day into `aggregates_in`, rows of
/// a day whose close has begun into `late_daily` and `late_hourly` as the batch's
/// own part
/// (see [`super::close`]). Late rows go first, so a batch recorded in `batches`
/// is complete.
async fn insert_once(target: &Target, batch: &Batch) -> Result<(), clickhouse::error::Error> {
    let late = {
        let now = target.clock.now_secs();
        let mut zones = std::mem::take(&mut *target.zones.lock());
        let found = late_days(
            &target.client,
            &batch.rows,
            now,
            target.grace_secs,
            &mut zones,
        )
        .await;
        *target.zones.lock() = zones;
        found.map_err(|e| match e {
            super::SinkError::ClickHouse(e) => e,
            other => clickhouse::error::Error::Custom(other.to_string()),
        })?
    };
    let is_late = |r: &AggRow| late.iter().any(|(s, d)| *s == r.site && *d == r.date);
    if !late.is_empty() {
        let (daily, hourly): (Vec<_>, Vec<_>) = batch
            .rows
            .iter()
            .filter(|r| is_late(r))
            .map(AggRow::late)
            .unzip();
        tracing::info!(
            rows = daily.len(),
            "late rows for a closed day: added as counters"
        );
        write_rows(&target.client, "late_daily", daily.into_iter()).await?;
        write_rows(&target.client, "late_hourly", hourly.into_iter()).await?;
    }
    let open: Vec<&AggRow> = batch.rows.iter().filter(|r| !is_late(r)).collect();
    if open.is_empty() {
        return Ok(());
    }
    write_rows(&target.client, "aggregates_in", open.into_iter().cloned()).await
}

#[derive(Deserialize, clickhouse::Row)]
struct Count {
    n: u64,
}

/// Whether a batch id is recorded in `batches` (it landed).
pub async fn batch_stored(client: &Client, id: u64) -> Result<bool, clickhouse::error::Error> {
    let c = client
        .query("SELECT count() AS n FROM batches WHERE batch = ?")
        .bind(id)
        .fetch_one::<Count>()
        .await?;
    Ok(c.n > 0)
}

/// One attempt: when `check_first` (a retry, or a spooled batch), asks whether the
/// batch already landed; then inserts. Counts what happened. `Err` is a transient
/// failure worth another attempt; a malformed batch is `Ok(Written::Dropped)`.
pub async fn attempt(
    target: &Target,
    batch: &Batch,
    check_first: bool,
    metrics: &Metrics,
) -> Result<Written, clickhouse::error::Error> {
    if check_first && batch_stored(&target.client, batch.id).await? {
        Metrics::inc(&metrics.batches_already_stored);
        return Ok(Written::AlreadyStored);
    }
    match insert_once(target, batch).await {
        Ok(()) => {
            Metrics::inc(&metrics.batches_inserted);
            metrics.rows_inserted.fetch_add(
                batch.rows.len() as u64,
                std::sync::atomic::Ordering::Relaxed,
            );
            Ok(Written::Inserted)
        }
        Err(e) if !is_retryable(&e) => {
            tracing::error!(error = %e, rows = batch.rows.len(), "ClickHouse refused a batch as malformed; dropped");
            Metrics::inc(&metrics.batches_dropped);
            Ok(Written::Dropped)
        }
        Err(e) => {
            Metrics::inc(&metrics.insert_retries);
            Err(e)
        }
    }
}

/// Exponential backoff that gives up when the shutdown deadline abandons work.
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Starts at `first`, doubles up to `max`.
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff { next: first, max }
    }

    /// The wait before the next attempt, doubling the one after.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = (self.next * 2).min(self.max);
        d
    }

    /// Waits the next delay; false when `abandon` turned true (stop retrying).
    pub async fn wait(&mut self, abandon: &mut watch::Receiver<bool>) -> bool {
        let d = self.next_delay();
        if *abandon.borrow() {
            return false;
        }
        let gave_up = tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = abandon.wait_for(|a| *a) => true,
        };
        !gave_up && !*abandon.borrow()
    }
}

/// Stores one batch, retrying with backoff until it is stored, refused as
/// malformed, or `abandon` turns true (shutdown deadline).
pub async fn write_batch(
    target: &Target,
    batch: &Batch,
    metrics: &Metrics,
    max_backoff: Duration,
    abandon: &mut watch::Receiver<bool>,
) -> Written {
    let mut backoff = Backoff::new(Duration::from_millis(100), max_backoff);
    let mut attempted = false;
    loop {
        match attempt(target, batch, attempted, metrics).await {
            Ok(w) => return w,
            Err(e) => tracing::warn!(error = %e, "store failed; will retry"),
        }
        attempted = true;
        if !backoff.wait(abandon).await {
            tracing::error!(
                rows = batch.rows.len(),
                "shutdown deadline passed; batch not stored"
            );
            Metrics::inc(&metrics.batches_dropped);
            return Written::Dropped;
        }
    }
}
