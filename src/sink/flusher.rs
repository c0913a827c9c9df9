//! The flusher: every flush interval, closes finished visits, drains the window
//! and queues its rows as batches with fresh ids for the writer.
//!
//! Closing visits and draining the window walk every live visit and every cell:
//! with many sites, tens of milliseconds or more. That work runs on the blocking
//! pool, not on a runtime worker, so a node with one worker thread keeps answering
//! beacons meanwhile (it used to stop answering for the length of each flush).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::row::{new_batch_id, AggRow};
use super::Batch;
use crate::aggregate::Aggregator;

/// Drains the window once and queues its rows as batches of at most `batch_rows`.
/// Returns the number of rows queued.
pub async fn flush_once(agg: &Aggregator, tx: &mpsc::Sender<Batch>, batch_rows: usize) -> usize {
    queue_rows(agg.drain(), tx, batch_rows).await
}

/// Queues drained rows as batches of at most `batch_rows`.
async fn queue_rows(rows: Vec<AggRow>, tx: &mpsc::Sender<Batch>, batch_rows: usize) -> usize {
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

/// `before_drain(last)` and the drain, on the blocking pool; the rows.
async fn close_and_drain(
    agg: &Arc<Aggregator>,
    before_drain: &Arc<dyn Fn(bool) + Send + Sync>,
    last: bool,
) -> Vec<AggRow> {
    let (agg, before) = (agg.clone(), before_drain.clone());
    let work = move || {
        before(last);
        agg.drain()
    };
    match tokio::task::spawn_blocking(work).await {
        Ok(rows) => rows,
        Err(e) => {
            // A panic in the drain: the cells it took are gone, which the error
            // says; the window goes on for the next flush.
            tracing::error!(error = %e, "window drain failed; this flush's rows are lost");
            Vec::new()
        }
    }
}

/// The flusher task: flushes every `interval`, and once more when `stop` resolves.
/// `before_drain(last)` runs first each time (it closes finished visits; `last` at
/// shutdown closes them all).
pub async fn run_flusher(
    agg: Arc<Aggregator>,
    before_drain: Arc<dyn Fn(bool) + Send + Sync>,
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
                let rows = close_and_drain(&agg, &before_drain, false).await;
                queue_rows(rows, &tx, batch_rows).await;
            }
        }
    }
    let rows = close_and_drain(&agg, &before_drain, true).await;
    let n = queue_rows(rows, &tx, batch_rows).await;
    tracing::info!(rows = n, "final flush queued");
}
