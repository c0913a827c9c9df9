//! Start-up: everything veil runs, wired as named steps.
//!
//! [`start_on`] reads as the list: check the schema → open the geo database →
//! keep the salts → build the pipeline → open the spool → spawn the writer, the
//! flusher and the background jobs (the e-mail reports among them) → serve.
//! Shutdown runs the same list backwards: stop accepting, finish in-flight
//! requests, close visits, final flush, drain the writer (or spool) within
//! `pipeline.shutdown_deadline_ms`.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};

use crate::aggregate::{Aggregator, WindowSite};
use crate::clock::Clock;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pipeline::rate_limit::RateLimits;
use crate::pipeline::Pipeline;
use crate::privacy::client_ip::{ClientPrefix, TrustedProxies};
use crate::privacy::geo::GeoDb;
use crate::privacy::salt::SaltKeeper;
use crate::privacy::Privacy;
use crate::session::Sessions;
use crate::sink::spool::Spool;
use crate::{privacy, retention, server, sink, AppState};

/// Errors that stop veil from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
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
    /// The SMTP transport of the reports could not be set up.
    #[error("reports: {0}")]
    Report(#[from] crate::report::ReportError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
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

    /// Puts a new configuration in force without a restart (what SIGHUP does with
    /// the file); on error the running configuration stays. See [`crate::reload`].
    pub fn reload(
        &self,
        config: Config,
    ) -> Result<crate::reload::Reloaded, crate::config::ConfigError> {
        crate::reload::apply(&self.state, config)
    }

    /// Re-reads the geo database files (what SIGHUP does).
    pub fn reload_geo(&self) -> Result<(), privacy::geo::GeoError> {
        match self.state.pipeline.geo() {
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

/// Starts veil on a bound listener and serves until `shutdown` resolves (or
/// [`Running::shutdown`] is called).
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

    let reports = open_reports(&config, clock.clone())?;
    let geo = open_geo(&config)?;
    let zones: Vec<&str> = config.sites.iter().map(|s| s.timezone.as_str()).collect();
    let salts = Arc::new(SaltKeeper::new(
        clock.clone(),
        config.salt.grace_secs,
        config.salt.state_file.clone(),
        &zones,
    )?);
    let spool = open_spool(&config)?;
    let metrics = Arc::new(Metrics::default());
    let pipeline = build_pipeline(
        &config,
        geo.clone(),
        salts.clone(),
        spool.clone(),
        metrics.clone(),
        clock.clone(),
    )?;
    let p = &config.pipeline;
    let (queue_tx, queue_rx) = mpsc::channel(p.queue_batches);
    let state = Arc::new(AppState {
        loaded: arc_swap::ArcSwap::from_pointee(crate::reload::Loaded::first(
            &config,
            &pipeline.rules().privacy,
        )),
        reloading: parking_lot::Mutex::new(()),
        pipeline,
        metrics: metrics.clone(),
        clickhouse_up: AtomicBool::new(true),
        geo_required: geo.is_some(),
        max_body_bytes: config.server.max_body_bytes,
        body_read_timeout: Duration::from_millis(config.server.body_read_timeout_ms),
        queue: queue_tx.downgrade(),
        queue_capacity: p.queue_batches,
    });

    // Background tasks stop when `bg_stop` flips; the writer only when its channel
    // closes (after the final flush) or the deadline abandons it.
    let (bg_stop_tx, bg_stop) = watch::channel(false);
    let (abandon_tx, abandon) = watch::channel(false);
    let writer = tokio::spawn(
        sink::Writer {
            target: sink::Target::new(client.clone(), clock.clone(), config.salt.grace_secs),
            metrics: metrics.clone(),
            spool,
            max_backoff: Duration::from_millis(p.retry_max_backoff_ms),
        }
        .run(queue_rx, abandon),
    );
    let flusher = spawn_flusher(&state, queue_tx, stopped(bg_stop.clone()));
    spawn_background_jobs(&state, client, geo, salts, clock, &bg_stop);
    if let Some(reports) = reports {
        let live = state.clone();
        tokio::spawn(crate::report::run_reports(
            reports,
            Duration::from_secs(config.reports.interval_secs),
            move || live.config(),
            stopped(bg_stop.clone()),
        ));
    }

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server_state = state.clone();
    let deadline = Duration::from_millis(p.shutdown_deadline_ms);
    let limits = server::ConnectionLimits {
        max_connections: config.server.max_connections,
        per_client: server::per_client::ClientConnections::new(
            config.server.max_connections_per_ip,
            ClientPrefix::new(config.limits.ipv4_prefix, config.limits.ipv6_prefix),
            TrustedProxies::new(config.trusted_proxies()?),
        ),
        header_read_timeout: Duration::from_millis(config.server.header_read_timeout_ms),
    };
    let done = tokio::spawn(async move {
        let either = async move {
            tokio::select! {
                _ = shutdown => {},
                _ = stop_rx => {},
            }
        };
        server::serve(listener, server_state, limits, deadline / 2, either).await;
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

/// A future that resolves once `rx` turns true.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// Step: the geo database, when one is configured.
fn open_geo(config: &Config) -> Result<Option<Arc<GeoDb>>, StartError> {
    if config.geo.paths.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(GeoDb::open(&config.geo.paths)?)))
}

/// Step: the e-mail report job, when enabled and some site has reports.
fn open_reports(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> Result<Option<crate::report::Reports>, StartError> {
    if !config.reports.enabled {
        return Ok(None);
    }
    Ok(crate::report::Reports::new(config, clock)?)
}

/// Step: the disk spool, when configured (what a previous run left is replayed).
fn open_spool(config: &Config) -> Result<Option<Arc<Spool>>, StartError> {
    if config.spool.dir.as_os_str().is_empty() {
        return Ok(None);
    }
    let s = Spool::open(&config.spool.dir, config.spool.max_bytes)?;
    if !s.is_empty() {
        tracing::info!(batches = s.len(), "spooled batches found; replaying");
    }
    Ok(Some(Arc::new(s)))
}

/// Step: the stages of the pipeline, from the configuration.
pub fn build_pipeline(
    config: &Config,
    geo: Option<Arc<GeoDb>>,
    salts: Arc<SaltKeeper>,
    spool: Option<Arc<Spool>>,
    metrics: Arc<Metrics>,
    clock: Arc<dyn Clock>,
) -> Result<Pipeline, StartError> {
    let privacy = Privacy::new(config, geo, salts.clone(), clock.clone())?;
    let p = &config.pipeline;
    let window_sites = privacy.sites().iter().map(|s| WindowSite::of(s)).collect();
    let aggregator = Arc::new(Aggregator::new(
        p.shards,
        window_sites,
        config.limits.max_values_per_dim,
    ));
    let sessions = Arc::new(Sessions::new(
        p.shards,
        p.visit_timeout_secs,
        p.max_live_visits,
        p.max_interned_bytes,
    ));
    Ok(Pipeline::new(
        privacy,
        RateLimits::new(&config.limits, config.sites.len()),
        sessions,
        aggregator,
        metrics,
        spool,
        clock,
    ))
}

/// Step: the flusher, which closes visits and drains the window into batches
/// every flush interval (and once more at shutdown).
fn spawn_flusher(
    state: &Arc<AppState>,
    queue: mpsc::Sender<sink::Batch>,
    stop: impl Future<Output = ()> + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    let config = state.config();
    let p = &config.pipeline;
    let state_for_visits = state.clone();
    let close_visits = move |last: bool| state_for_visits.pipeline.close_visits(last);
    tokio::spawn(sink::run_flusher(
        state.pipeline.aggregator.clone(),
        close_visits,
        queue,
        Duration::from_millis(p.flush_interval_ms),
        p.batch_rows,
        stop,
    ))
}

/// Step: salt rotation, geo file watching, retention, day close and the
/// ClickHouse probe.
fn spawn_background_jobs(
    state: &Arc<AppState>,
    client: clickhouse::Client,
    geo: Option<Arc<GeoDb>>,
    salts: Arc<SaltKeeper>,
    clock: Arc<dyn Clock>,
    bg_stop: &watch::Receiver<bool>,
) {
    let config = state.config();
    tokio::spawn(privacy::salt::run_rotation(salts, stopped(bg_stop.clone())));
    if let (Some(geo), true) = (geo, config.geo.reload_poll_secs > 0) {
        tokio::spawn(privacy::geo::watch_files(
            geo,
            Duration::from_secs(config.geo.reload_poll_secs),
            stopped(bg_stop.clone()),
        ));
    }
    if config.retention.enabled {
        let live = state.clone();
        tokio::spawn(retention::run_retention(
            client.clone(),
            move || live.config(),
            clock.clone(),
            Duration::from_secs(config.retention.interval_secs),
            stopped(bg_stop.clone()),
        ));
    }
    tokio::spawn(sink::close::run_closer(
        client.clone(),
        sink::cluster::Layout::of(&config.clickhouse),
        clock.clone(),
        sink::close::CloseTiming::of(&config),
        Duration::from_secs(config.pipeline.close_interval_secs.max(1)),
        stopped(bg_stop.clone()),
    ));
    tokio::spawn(probe_clickhouse(
        client,
        state.clone(),
        stopped(bg_stop.clone()),
    ));
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
