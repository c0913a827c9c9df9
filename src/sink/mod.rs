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

/// The writer task: inserts batches in arrival order until the channel closes.
pub async fn run_writer(
    client: Client,
    mut rx: mpsc::Receiver<Batch>,
    metrics: Arc<Metrics>,
    max_backoff: Duration,
    mut abandon: watch::Receiver<bool>,
) {
    while let Some(batch) = rx.recv().await {
        write_batch(&client, &batch, &metrics, max_backoff, &mut abandon).await;
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
