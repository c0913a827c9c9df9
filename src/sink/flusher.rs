//! The flusher: every flush interval, closes finished visits, drains the window
//! and queues its rows as batches with fresh ids for the writer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::row::{new_batch_id, AggRow};
use super::Batch;
use crate::aggregate::Aggregator;

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
