//! Aggregates → ClickHouse, off the request path.
//!
//! The flusher ([`run_flusher`]) drains the in-memory window every flush interval
//! into batches with random ids and hands them to one writer task ([`run_writer`])
//! through a bounded channel. The writer inserts each batch into `aggregates_in`
//! and retries transient failures with exponential backoff. Before a retry it asks
//! `batches` whether the batch already landed (an insert can succeed after the
//! client gave up on it), so a batch is never counted twice. Data ClickHouse refuses
//! as malformed is never retried.

use std::sync::Arc;
use std::time::Duration;

use clickhouse::Client;
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

pub mod schema;
pub mod spool;

use crate::aggregate::{new_batch_id, AggRow, Aggregator};
use crate::metrics::Metrics;

/// Errors talking to ClickHouse.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Any client error.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// A migration statement failed.
    #[error("migration {name} failed: {source}")]
    Migration {
        /// File.
        name: &'static str,
        /// Error.
        source: clickhouse::error::Error,
    },
    /// The database schema is older than this binary.
    #[error("database schema is at version {have}, this veil needs {want}: run `veil migrate`")]
    SchemaBehind {
        /// Recorded version.
        have: u32,
        /// Needed version.
        want: u32,
    },
}

/// Rows that travel and land together.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Random id, written into every row and recorded in `batches`.
    pub id: u64,
    /// The rows.
    pub rows: Vec<AggRow>,
}

/// ClickHouse's numeric exception code in an error, if any.
pub fn exception_code(e: &clickhouse::error::Error) -> Option<u32> {
    let clickhouse::error::Error::BadResponse(msg) = e else {
        return None;
    };
    let rest = &msg[msg.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Whether retrying can help: errors that mean the data itself is bad never do.
pub fn is_retryable(e: &clickhouse::error::Error) -> bool {
    use clickhouse::error::Error as E;
    match e {
        E::Network(_) | E::TimedOut => true,
        E::BadResponse(_) => !matches!(
            exception_code(e),
            Some(6 | 16 | 26 | 27 | 33 | 38 | 41 | 53 | 62 | 69 | 70 | 72 | 117 | 131)
        ),
        E::InvalidParams(_) | E::Compression(_) | E::Custom(_) | E::SequenceMustHaveLength => false,
        _ => true,
    }
}

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

/// Outcome of writing one batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Inserted now.
    Inserted,
    /// Found already stored by an earlier attempt.
    AlreadyStored,
    /// Refused as malformed, or abandoned at the shutdown deadline.
    Dropped,
}

/// Writes one batch with retries until it is stored, refused as malformed, or
/// `abandon` turns true.
pub async fn write_batch(
    client: &Client,
    batch: &Batch,
    metrics: &Metrics,
    max_backoff: Duration,
    abandon: &mut watch::Receiver<bool>,
) -> Written {
    let mut backoff = Duration::from_millis(100);
    let mut attempted = false;
    loop {
        if attempted {
            match batch_stored(client, batch.id).await {
                Ok(true) => {
                    Metrics::inc(&metrics.batches_already_stored);
                    return Written::AlreadyStored;
                }
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot check whether a retried batch landed");
                    if !wait(backoff, abandon).await {
                        return abandoned(metrics, batch);
                    }
                    backoff = (backoff * 2).min(max_backoff);
                    continue;
                }
            }
        }
        attempted = true;
        match insert_once(client, batch).await {
            Ok(()) => {
                Metrics::inc(&metrics.batches_inserted);
                metrics.rows_inserted.fetch_add(
                    batch.rows.len() as u64,
                    std::sync::atomic::Ordering::Relaxed,
                );
                return Written::Inserted;
            }
            Err(e) if !is_retryable(&e) => {
                tracing::error!(error = %e, rows = batch.rows.len(), "ClickHouse refused a batch as malformed; dropped");
                Metrics::inc(&metrics.batches_dropped);
                return Written::Dropped;
            }
            Err(e) => {
                Metrics::inc(&metrics.insert_retries);
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "insert failed; will retry");
                if !wait(backoff, abandon).await {
                    return abandoned(metrics, batch);
                }
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }
}

fn abandoned(metrics: &Metrics, batch: &Batch) -> Written {
    tracing::error!(
        rows = batch.rows.len(),
        "shutdown deadline passed; batch not stored"
    );
    Metrics::inc(&metrics.batches_dropped);
    Written::Dropped
}

/// Sleeps `d`; false when `abandon` turned true first.
async fn wait(d: Duration, abandon: &mut watch::Receiver<bool>) -> bool {
    if *abandon.borrow() {
        return false;
    }
    let gave_up = tokio::select! {
        _ = tokio::time::sleep(d) => false,
        _ = abandon.wait_for(|a| *a) => true,
    };
    !gave_up && !*abandon.borrow()
}

/// Quick attempts at a fresh batch before it goes to the spool.
const DIRECT_ATTEMPTS: u32 = 3;

/// The single task that owns ClickHouse writes.
pub struct Writer {
    /// Client for veil's database.
    pub client: Client,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Disk spool for outages (None = retry in memory until the shutdown deadline).
    pub spool: Option<Arc<spool::Spool>>,
    /// Longest wait between retries.
    pub max_backoff: Duration,
}

impl Writer {
    /// Inserts batches in arrival order until the channel closes. With a spool:
    /// a batch that cannot be stored after a few quick attempts is spooled, and
    /// while anything is spooled new batches queue behind it on disk (order is
    /// kept); the spool is replayed with backoff until ClickHouse is back.
    pub async fn run(self, mut rx: mpsc::Receiver<Batch>, mut abandon: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        let mut next_replay = tokio::time::Instant::now();
        loop {
            let spooled = self.spool.as_ref().is_some_and(|s| !s.is_empty());
            tokio::select! {
                batch = rx.recv() => match batch {
                    Some(batch) => self.accept(batch, &mut abandon).await,
                    None => break,
                },
                _ = tokio::time::sleep_until(next_replay), if spooled => {
                    if self.replay().await {
                        backoff = Duration::from_millis(200);
                    } else {
                        backoff = (backoff * 2).min(self.max_backoff);
                    }
                    next_replay = tokio::time::Instant::now() + backoff;
                }
            }
        }
        // Shutdown: one last replay; whatever is left stays on disk for next start.
        if self.spool.as_ref().is_some_and(|s| !s.is_empty()) && !self.replay().await {
            tracing::warn!(
                batches = self.spool.as_ref().map_or(0, |s| s.len()),
                "ClickHouse unavailable at shutdown; batches stay in the spool"
            );
        }
    }

    async fn accept(&self, batch: Batch, abandon: &mut watch::Receiver<bool>) {
        let Some(spool) = &self.spool else {
            self.retry_in_memory(&batch, abandon).await;
            return;
        };
        if spool.is_empty() {
            let mut delay = Duration::from_millis(100);
            for attempt in 1..=DIRECT_ATTEMPTS {
                match insert_once(&self.client, &batch).await {
                    Ok(()) => {
                        self.count_inserted(&batch);
                        return;
                    }
                    Err(e) if !is_retryable(&e) => {
                        tracing::error!(error = %e, rows = batch.rows.len(), "ClickHouse refused a batch as malformed; dropped");
                        Metrics::inc(&self.metrics.batches_dropped);
                        return;
                    }
                    Err(e) => {
                        Metrics::inc(&self.metrics.insert_retries);
                        tracing::warn!(error = %e, attempt, "insert failed");
                        if attempt < DIRECT_ATTEMPTS {
                            tokio::time::sleep(delay).await;
                            delay *= 2;
                        }
                    }
                }
            }
        }
        match spool.push(&batch) {
            Ok(()) => {
                Metrics::inc(&self.metrics.batches_spooled);
                tracing::info!(
                    rows = batch.rows.len(),
                    spooled = spool.len(),
                    "batch spooled to disk"
                );
            }
            Err(e) => {
                // No room on disk: keep retrying in memory (bounded by the queue).
                tracing::error!(error = %e, "cannot spool; retrying in memory");
                self.retry_in_memory(&batch, abandon).await;
            }
        }
    }

    /// Replays spooled batches oldest first; false when ClickHouse still fails.
    async fn replay(&self) -> bool {
        let Some(spool) = &self.spool else {
            return true;
        };
        loop {
            let batch = match spool.peek() {
                Ok(Some(b)) => b,
                Ok(None) => return true,
                Err(e) => {
                    tracing::error!(error = %e, "spool file moved aside");
                    Metrics::inc(&self.metrics.batches_dropped);
                    continue;
                }
            };
            // A spooled batch may have landed in an attempt that timed out.
            match batch_stored(&self.client, batch.id).await {
                Ok(true) => {
                    Metrics::inc(&self.metrics.batches_already_stored);
                    if let Err(e) = spool.pop() {
                        tracing::error!(error = %e, "cannot remove a replayed spool file");
                        return false;
                    }
                    continue;
                }
                Ok(false) => {}
                Err(_) => return false,
            }
            match insert_once(&self.client, &batch).await {
                Ok(()) => {
                    self.count_inserted(&batch);
                    Metrics::inc(&self.metrics.batches_replayed);
                    if let Err(e) = spool.pop() {
                        tracing::error!(error = %e, "cannot remove a replayed spool file");
                        return false;
                    }
                }
                Err(e) if !is_retryable(&e) => {
                    tracing::error!(error = %e, "ClickHouse refused a spooled batch; moved to rejected/");
                    Metrics::inc(&self.metrics.batches_dropped);
                    spool.reject_first();
                }
                Err(_) => return false,
            }
        }
    }

    async fn retry_in_memory(&self, batch: &Batch, abandon: &mut watch::Receiver<bool>) {
        write_batch(
            &self.client,
            batch,
            &self.metrics,
            self.max_backoff,
            abandon,
        )
        .await;
    }

    fn count_inserted(&self, batch: &Batch) {
        Metrics::inc(&self.metrics.batches_inserted);
        self.metrics.rows_inserted.fetch_add(
            batch.rows.len() as u64,
            std::sync::atomic::Ordering::Relaxed,
        );
    }
}

/// Drains the window once and queues its rows as batches of at most `batch_rows`.
/// Returns the number of rows queued.
pub async fn flush_once(agg: &Aggregator, tx: &mpsc::Sender<Batch>, batch_rows: usize) -> usize {
    let rows = agg.drain();
    let n = rows.len();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let id = new_batch_id();
        let chunk: Vec<AggRow> = rows
            .by_ref()
            .take(batch_rows)
            .map(|mut r| {
                r.batch = id;
                r
            })
            .collect();
        if tx.send(Batch { id, rows: chunk }).await.is_err() {
            tracing::error!("writer is gone; aggregates not queued");
            break;
        }
    }
    n
}

/// The flusher task: flushes every `interval`, and once more when `stop` resolves.
/// `before_drain(last)` runs first each time (it closes finished visits; `last` at
/// shutdown closes them all).
pub async fn run_flusher(
    agg: Arc<Aggregator>,
    before_drain: impl Fn(bool) + Send,
    tx: mpsc::Sender<Batch>,
    interval: Duration,
    batch_rows: usize,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = &mut stop => break,
            _ = ticker.tick() => {
                before_drain(false);
                flush_once(&agg, &tx, batch_rows).await;
            }
        }
    }
    before_drain(true);
    let n = flush_once(&agg, &tx, batch_rows).await;
    tracing::info!(rows = n, "final flush queued");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_codes_decide_retries() {
        let bad = clickhouse::error::Error::BadResponse(
            "Code: 27, e.displayText() = DB::Exception: Cannot parse input".into(),
        );
        assert_eq!(exception_code(&bad), Some(27));
        assert!(!is_retryable(&bad));
        let busy = clickhouse::error::Error::BadResponse(
            "Code: 252, e.displayText() = DB::Exception: Too many parts".into(),
        );
        assert!(is_retryable(&busy));
        assert!(is_retryable(&clickhouse::error::Error::TimedOut));
    }
}
