//! One attempt at storing a batch, and the backoff between attempts: the single
//! definition of "store this batch exactly once" that the writer's three paths
//! (fresh batch, in-memory retry, spool replay) share.
//!
//! An insert can succeed after the client gave up on it (a timeout), so every
//! attempt after the first asks `batches` whether the batch already landed before
//! inserting again; that is what makes retries idempotent on ClickHouse 18.16,
//! which deduplicates inserts only in `Replicated` tables.

use std::time::Duration;

use clickhouse::Client;
use serde::Deserialize;
use tokio::sync::watch;

use super::error_code::is_retryable;
use super::row::AggRow;
use super::Batch;
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

/// Inserts the rows of a batch into `aggregates_in`.
async fn insert_once(client: &Client, batch: &Batch) -> Result<(), clickhouse::error::Error> {
    let mut insert = client
        .insert::<AggRow>("aggregates_in")
        .await?
        .with_timeouts(Some(Duration::from_secs(30)), Some(Duration::from_secs(60)));
    for row in &batch.rows {
        insert.write(row).await?;
    }
    insert.end().await
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
    client: &Client,
    batch: &Batch,
    check_first: bool,
    metrics: &Metrics,
) -> Result<Written, clickhouse::error::Error> {
    if check_first && batch_stored(client, batch.id).await? {
        Metrics::inc(&metrics.batches_already_stored);
        return Ok(Written::AlreadyStored);
    }
    match insert_once(client, batch).await {
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
    client: &Client,
    batch: &Batch,
    metrics: &Metrics,
    max_backoff: Duration,
    abandon: &mut watch::Receiver<bool>,
) -> Written {
    let mut backoff = Backoff::new(Duration::from_millis(100), max_backoff);
    let mut attempted = false;
    loop {
        match attempt(client, batch, attempted, metrics).await {
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
