//! Aggregates → ClickHouse, off the request path.
//!
//! - [`flusher`]: drains the in-memory window every flush interval into batches
//!   with random ids, through a bounded channel to
//! - [`writer`]: the one task that owns ClickHouse writes — fresh batches, the
//!   [`spool`] during outages, and its replay.
//! - [`retry`]: one attempt at storing a batch exactly once (ask `batches`
//!   before a retry: an insert can land after the client gave up) and the backoff.
//! - [`error_code`]: ClickHouse's exception codes, named: retry or refuse.
//! - [`close`]: day close — a finished day's sketches become plain counters.
//! - [`row`]: the rows written (`aggregates_in`, and `daily`/`hourly`).
//! - [`schema`]: the client, the migrations in `sql/`, the schema version check.
//! - [`cluster`]: the same on a ClickHouse cluster (`clickhouse.cluster`).

pub mod close;
pub mod cluster;
pub mod error_code;
pub mod flusher;
pub mod retry;
pub mod row;
pub mod schema;
pub mod spool;
pub mod sql;
pub mod writer;

pub use flusher::{flush_once, run_flusher};
pub use retry::{batch_stored, write_batch, Target, Written};
pub use writer::Writer;

use row::AggRow;

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
    /// The cluster's schema cannot reach this binary's version.
    #[error("the cluster schema is at version {have}, this veil needs {want}, and sql/cluster/ has no migration to it")]
    NoClusterMigration {
        /// Version reached.
        have: u32,
        /// Needed version.
        want: u32,
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
