//! # veil — a privacy-preserving web analytics collector
//!
//! Websites send pageview beacons (a pixel or a tiny script); veil answers at once,
//! turns each request into anonymous facts before anything is stored, and writes
//! hourly aggregates to ClickHouse.
//!
//! ## Layout
//! - [`config`]: `veil.toml` + `VEIL_*` overrides → validated [`config::Config`].
//! - [`server`]: hyper accept loop, routes, responses, limits.
//! - [`beacon`]: wire formats (pixel query, JSON) → [`beacon::Beacon`].
//! - [`privacy`]: the boundary — consent, geo, agent, salted visitor hash, URL
//!   reduction → [`privacy::AnonHit`]. The only module that sees an IP or a UA.
//! - [`aggregate`]: sharded in-memory hourly rollups → [`aggregate::AggRow`].
//! - [`sink`]: flusher and ClickHouse writer (batches, retries, idempotency), and
//!   the migrations in `sql/`.
//! - [`retention`]: drops and deletes expired aggregates (ClickHouse 18.16 has no TTL).
//! - [`audit`]: `veil audit`, the privacy checks of a running deployment.
//! - [`manifest`]: what veil collects for a site, from the running configuration:
//!   JSON, and English and Polish disclosures (`veil manifest`, `/privacy`).
//! - [`stats`]: the stats API (`/api/v1`) and dashboard (`/dashboard/{site}`).
//! - [`metrics`]: counters for `/metrics`.
//! - [`clock`]: injectable time, so tests can cross midnight.
//!
//! [`run`] wires them together; `main.rs` is only the command line.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

pub mod aggregate;
pub mod audit;
pub mod beacon;
pub mod clock;
pub mod config;
pub mod manifest;
pub mod metrics;
pub mod privacy;
pub mod retention;
pub mod server;
pub mod session;
pub mod sink;
pub mod stats;

use aggregate::Aggregator;
use clock::Clock;
use config::Config;
use metrics::Metrics;
use privacy::geo::GeoDb;
use privacy::salt::SaltKeeper;
use privacy::Privacy;

/// Errors that stop veil from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The geo database could not be opened.
    #[error("geo database: {0}")]
    Geo(#[from] privacy::geo::GeoError),
    /// The salt state file could not be written.
    #[error(transparent)]
    Salt(#[from] privacy::salt::SaltError),
    /// The spool directory could not be opened.
    #[error(transparent)]
    Spool(#[from] sink::spool::SpoolError),
    /// ClickHouse unreachable or schema behind.
    #[error(transparent)]
    Sink(#[from] sink::SinkError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// State shared by every request.
pub struct AppState {
    /// The configuration veil runs with (pages and the manifest read it).
    pub config: Arc<Config>,
    /// The privacy boundary.
    pub privacy: Privacy,
    /// The in-memory window.
    pub aggregator: Arc<Aggregator>,
    /// Live visits.
    pub sessions: Arc<session::Sessions>,
    /// Rate limits at the gate.
    pub limits: server::limits::RateLimits,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Last ClickHouse probe result.
    pub clickhouse_up: AtomicBool,
    /// Whether `/ready` requires a geo database (one is configured).
    pub geo_required: bool,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Disk spool (when configured).
    pub spool: Option<Arc<sink::spool::Spool>>,
    /// The query side (stats API client, realtime counters, API keys).
    pub stats: stats::Stats,
    queue: mpsc::WeakSender<sink::Batch>,
    queue_capacity: usize,
}

impl AppState {
    /// Whether hits must be refused: ClickHouse is down and the spool is full.
    pub fn spool_full(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| s.is_full())
    }

    /// Batches waiting for the writer.
    pub fn queue_depth(&self) -> usize {
        self.queue
            .upgrade()
            .map_or(0, |tx| self.queue_capacity - tx.capacity())
    }
}

/// A running veil: its address and the handles to stop it.
pub struct Running {
    /// The bound address (useful with port 0).
    pub addr: SocketAddr,
    /// Shared state (metrics, geo reload).
    pub state: Arc<AppState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl Running {
    /// Asks veil to stop (as SIGTERM does) and waits until everything accepted was
    /// flushed to ClickHouse (or the shutdown deadline passed).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.done).await;
    }

    /// Waits until veil stops by itself (its shutdown future resolved).
    pub async fn wait(mut self) {
        let _ = (&mut self.done).await;
    }

    /// Re-reads the geo database files (what SIGHUP does).
    pub fn reload_geo(&self) -> Result<(), privacy::geo::GeoError> {
        match self.state.privacy.geo() {
            Some(geo) => {
                geo.reload()?;
                Metrics::inc(&self.state.metrics.geo_reloads);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

/// Binds the configured address and starts veil; see [`start_on`].
pub async fn start(
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    let addr = config.server.listen;
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| StartError::Bind { addr, source })?;
    start_on(listener, config, clock, shutdown).await
}

/// Starts veil on a bound listener: checks the schema, opens the geo database,
/// spawns the salt rotation, geo watcher, flusher, writer, retention job and
/// readiness probe, and serves until `shutdown` resolves (or [`Running::shutdown`]
/// is called). Then it stops accepting, finishes in-flight requests, flushes the
/// window and drains the writer within `pipeline.shutdown_deadline_ms`.
pub async fn start_on(
    listener: TcpListener,
    config: Config,
    clock: Arc<dyn Clock>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<Running, StartError> {
    config.validate()?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.server.listen,
        source,
    })?;
    let client = sink::schema::client(&config.clickhouse);
    sink::schema::check_version(&client).await?;

    let geo = if config.geo.paths.is_empty() {
        None
    } else {
        Some(Arc::new(GeoDb::open(&config.geo.paths)?))
    };
    let salts = Arc::new(SaltKeeper::new(
        clock.clone(),
        config.salt.grace_secs,
        config.salt.state_file.clone(),
    )?);
    let privacy = Privacy::new(&config, geo.clone(), salts.clone(), clock.clone())?;
    let aggregator = Arc::new(Aggregator::new(
        config.pipeline.shards,
        privacy.sites().iter().map(|s| s.id.clone()).collect(),
        config.limits.max_values_per_dim,
    ));
    let metrics = Arc::new(Metrics::default());
    let p = &config.pipeline;
    let sessions = Arc::new(session::Sessions::new(
        p.shards,
        p.visit_timeout_secs,
        p.max_live_visits,
    ));
    let (tx, rx) = mpsc::channel(p.queue_batches);
    let spool = if config.spool.dir.as_os_str().is_empty() {
        None
    } else {
        let s = sink::spool::Spool::open(&config.spool.dir, config.spool.max_bytes)?;
        if !s.is_empty() {
            tracing::info!(batches = s.len(), "spooled batches found; replaying");
        }
        Some(Arc::new(s))
    };
    let state = Arc::new(AppState {
        config: Arc::new(config.clone()),
        privacy,
        aggregator: aggregator.clone(),
        sessions: sessions.clone(),
        limits: server::limits::RateLimits::new(&config.limits, config.sites.len()),
        metrics: metrics.clone(),
        clickhouse_up: AtomicBool::new(true),
        geo_required: geo.is_some(),
        max_body_bytes: config.server.max_body_bytes,
        spool: spool.clone(),
        stats: stats::Stats::new(&config),
        queue: tx.downgrade(),
        queue_capacity: p.queue_batches,
    });

    // Background tasks stop when `bg_stop` flips; the writer only when its channel
    // closes (after the final flush) or the deadline abandons it.
    let (bg_stop_tx, bg_stop) = watch::channel(false);
    let (abandon_tx, abandon) = watch::channel(false);
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let writer = tokio::spawn(
        sink::Writer {
            client: client.clone(),
            metrics: metrics.clone(),
            spool,
            max_backoff: Duration::from_millis(p.retry_max_backoff_ms),
        }
        .run(rx, abandon),
    );
    let limits_state = Arc::downgrade(&state);
    let close_visits = {
        let (aggregator, salts, clock) = (aggregator.clone(), salts.clone(), clock.clone());
        move |last: bool| {
            let closed = if last {
                sessions.close_all()
            } else {
                let now = clock.now_secs() as u32;
                sessions.sweep(now, |day| salts.holds_day(day))
            };
            for visit in &closed {
                aggregator.record_visit(visit);
            }
            if let Some(state) = limits_state.upgrade() {
                state.limits.retain_recent();
            }
        }
    };
    let flusher = tokio::spawn(sink::run_flusher(
        aggregator,
        close_visits,
        tx,
        Duration::from_millis(p.flush_interval_ms),
        p.batch_rows,
        stopped(bg_stop.clone()),
    ));
    tokio::spawn(privacy::salt::run_rotation(salts, stopped(bg_stop.clone())));
    if let (Some(geo), true) = (geo, config.geo.reload_poll_secs > 0) {
        tokio::spawn(privacy::geo::watch_files(
            geo,
            Duration::from_secs(config.geo.reload_poll_secs),
            stopped(bg_stop.clone()),
        ));
    }
    if config.retention.enabled {
        tokio::spawn(retention::run_retention(
            client.clone(),
            state.config.clone(),
            clock,
            Duration::from_secs(config.retention.interval_secs),
            stopped(bg_stop.clone()),
        ));
    }
    tokio::spawn(probe_clickhouse(
        client,
        state.clone(),
        stopped(bg_stop.clone()),
    ));

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let deadline = Duration::from_millis(p.shutdown_deadline_ms);
    let max_connections = config.server.max_connections;
    let header_timeout = Duration::from_millis(config.server.header_read_timeout_ms);
    let done = tokio::spawn(async move {
        let either = async move {
            tokio::select! {
                _ = shutdown => {},
                _ = stop_rx => {},
            }
        };
        server::serve(
            listener,
            server_state,
            max_connections,
            header_timeout,
            deadline / 2,
            either,
        )
        .await;
        tracing::info!("listener closed; flushing");
        let _ = bg_stop_tx.send(true);
        let _ = flusher.await;
        tokio::select! {
            _ = writer => tracing::info!("all batches written"),
            _ = tokio::time::sleep(deadline) => {
                let _ = abandon_tx.send(true);
                tracing::error!("shutdown deadline passed with batches unwritten");
            }
        }
    });
    tracing::info!(%addr, "veil listening");
    Ok(Running {
        addr,
        state,
        stop: Some(stop_tx),
        done,
    })
}

/// Probes ClickHouse every few seconds for `/ready`.
async fn probe_clickhouse(
    client: clickhouse::Client,
    state: Arc<AppState>,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    loop {
        let ok = client.query("SELECT 1").execute().await.is_ok();
        if ok != state.clickhouse_up.swap(ok, Ordering::Relaxed) {
            tracing::warn!(clickhouse_up = ok, "ClickHouse reachability changed");
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}
