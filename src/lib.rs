//! # veil — a privacy-preserving web analytics collector
//!
//! Websites send pageview beacons (a pixel or a tiny script); veil answers at once,
//! turns each request into anonymous facts before anything is stored, and writes
//! hourly aggregates to ClickHouse.
//!
//! ## Layout, in the order a beacon passes
//! - [`server`]: hyper accept loop, connection limits, routes, pages, `t.js`, the
//!   same-origin check of the opt-out form and who may read `/metrics`.
//! - [`http`]: the shared HTTP vocabulary — answers, the one error type, the one
//!   body reader, query strings, HTML escaping.
//! - [`beacon`]: wire formats (pixel, JSON, Plausible, Umami) → [`beacon::Beacon`].
//! - [`pipeline`]: one beacon's path after decoding — rate limits → privacy →
//!   sessions → realtime → window — and the closing of visits. **The hot path.**
//! - [`privacy`]: **the privacy boundary** — consent, geo, agent, salted visitor
//!   hash, URL reduction → [`privacy::AnonHit`]. The only module that sees an IP
//!   or a User-Agent.
//! - [`session`]: live visits (entry/exit page, bounce, duration), in memory only.
//! - [`aggregate`]: the sharded in-memory hourly window → [`sink::row::AggRow`].
//! - [`model`]: **the storage format's vocabulary** — dimensions, data classes,
//!   the counter set — shared by the window, the sink and the query side.
//! - [`sink`]: flusher, ClickHouse writer (batches, retries, idempotency), disk
//!   spool, and the migrations in `sql/`.
//! - [`retention`]: drops and deletes expired aggregates (ClickHouse 18.16 has no TTL).
//! - [`stats`]: the stats API (`/api/v1`) and dashboard (`/dashboard/{site}`).
//! - [`report`]: scheduled e-mail reports (weekly, monthly; EN, PL) over SMTP,
//!   sent once per period through a ledger in ClickHouse.
//! - [`manifest`]: what veil collects for a site, from the running configuration:
//!   JSON, and English and Polish disclosures (`veil manifest`, `/privacy`).
//! - [`audit`]: `veil audit`, the privacy checks of a running deployment.
//! - [`config`]: `veil.toml` + `VEIL_*` overrides → validated [`config::Config`].
//! - [`reload`]: the configuration put in force again without a restart
//!   (`SIGHUP`, a file change), atomically, with a generation in `/metrics`.
//! - [`metrics`]: counters for `/metrics`.
//! - [`clock`]: injectable time, so tests can cross midnight.
//! - [`startup`]: wires everything together as named steps ([`start`], [`start_on`]).
//!
//! `main.rs` is only the command line. The load generator, the bare-hyper baseline
//! and `seed` live in the `veil-bench` tool crate, not in this one.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tokio::sync::mpsc;

pub mod aggregate;
pub mod audit;
pub mod beacon;
pub mod clock;
pub mod config;
pub mod http;
pub mod manifest;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod privacy;
pub mod reload;
pub mod report;
pub mod retention;
pub mod server;
pub mod session;
pub mod sink;
pub mod startup;
pub mod stats;

pub use startup::{start, start_on, Running, StartError};

use config::Config;
use metrics::Metrics;
use pipeline::Pipeline;

/// State shared by every request.
pub struct AppState {
    /// The stages a beacon passes.
    pub pipeline: Pipeline,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Last ClickHouse probe result.
    pub clickhouse_up: AtomicBool,
    /// Whether `/ready` requires a geo database (one is configured).
    pub geo_required: bool,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Longest time a client may take to send a body, on every `POST`.
    pub body_read_timeout: std::time::Duration,
    /// The configuration in force with what is built from it for the stats API,
    /// the pages and the operator endpoints ([`reload`] replaces it).
    loaded: arc_swap::ArcSwap<reload::Loaded>,
    /// Held by a reload while it builds and installs the next generation.
    reloading: parking_lot::Mutex<()>,
    queue: mpsc::WeakSender<sink::Batch>,
    queue_capacity: usize,
}

impl AppState {
    /// The loaded configuration now in force; a request reads it once and keeps
    /// it to the end, so it sees one generation.
    pub fn loaded(&self) -> Arc<reload::Loaded> {
        self.loaded.load_full()
    }

    /// The configuration now in force.
    pub fn config(&self) -> Arc<Config> {
        self.loaded().config.clone()
    }

    fn set_loaded(&self, next: reload::Loaded) {
        self.loaded.store(Arc::new(next));
    }

    /// Whether hits must be refused: ClickHouse is down and the spool is full.
    pub fn spool_full(&self) -> bool {
        self.pipeline.spool_full()
    }

    /// Batches waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.queue
            .upgrade()
            .map_or(0, |tx| self.queue_capacity - tx.capacity())
    }
}
