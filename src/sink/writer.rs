//! The single task that owns ClickHouse writes: fresh batches in arrival order,
//! the spool when ClickHouse is away, and the replay once it is back.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};

use super::retry::{attempt, write_batch, Backoff, Target, Written};
use super::spool::Spool;
use super::Batch;
use crate::metrics::Metrics;

/// Quick attempts at a fresh batch before it goes to the spool.
const DIRECT_ATTEMPTS: u32 = 3;

/// The single task that owns ClickHouse writes.
pub struct Writer {
    /// Where batches go.
    pub target: Target,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Disk spool for outages (None = retry in memory until the shutdown deadline).
    pub spool: Option<Arc<Spool>>,
    /// Longest wait between retries.
    pub max_backoff: Duration,
}

impl Writer {
    /// Inserts batches in arrival order until the channel closes. With a spool:
    /// a batch that cannot be stored after a few quick attempts is spooled, and
    /// while anything is spooled new batches queue behind it on disk (order is
    /// kept) and the spool is replayed with backoff. Without one, a batch is
    /// retried in memory (the bounded queue pushes back) until the deadline.
    pub async fn run(self, mut rx: mpsc::Receiver<Batch>, mut abandon: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(Duration::from_millis(200), self.max_backoff);
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
                        backoff = Backoff::new(Duration::from_millis(200), self.max_backoff);
                    }
                    next_replay = tokio::time::Instant::now() + backoff.next_delay();
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

    /// A fresh batch: a few quick attempts when nothing waits in the spool, then
    /// the spool (or, without one, retries in memory).
    async fn accept(&self, batch: Batch, abandon: &mut watch::Receiver<bool>) {
        let Some(spool) = &self.spool else {
            self.retry_in_memory(&batch, abandon).await;
            return;
        };
        if spool.is_empty() {
            let mut delay = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
            for n in 1..=DIRECT_ATTEMPTS {
                match attempt(&self.target, &batch, n > 1, &self.metrics).await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, attempt = n, "insert failed");
                        if n < DIRECT_ATTEMPTS {
                            tokio::time::sleep(delay.next_delay()).await;
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

    /// Retries a batch in memory until it is stored or the deadline abandons it.
    async fn retry_in_memory(&self, batch: &Batch, abandon: &mut watch::Receiver<bool>) {
        write_batch(
            &self.target,
            batch,
            &self.metrics,
            self.max_backoff,
            abandon,
        )
        .await;
    }

    /// Replays the spool in order; false when ClickHouse failed again (try later).
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
            match attempt(&self.target, &batch, true, &self.metrics).await {
                Ok(Written::Dropped) => {
                    tracing::error!("ClickHouse refused a spooled batch; moved to rejected/");
                    spool.reject_first();
                }
                Ok(written) => {
                    if written == Written::Inserted {
                        Metrics::inc(&self.metrics.batches_replayed);
                    }
                    if let Err(e) = spool.pop() {
                        tracing::error!(error = %e, "cannot remove a replayed spool file");
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
    }
}
