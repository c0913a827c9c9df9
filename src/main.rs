//! The `veil` command line. All logic lives in the library; this file parses
//! arguments, sets up logging and signals, and maps errors to exit codes.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use veil::clock::SystemClock;
use veil::config::Config;

/// veil — privacy-preserving web analytics collector.
///
/// Configuration comes from a TOML file (see veil.example.toml) and VEIL_SECTION__KEY
/// environment variables, e.g. VEIL_CLICKHOUSE__URL=http://127.0.0.1:8123.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    /// Configuration file.
    #[arg(short, long, global = true, env = "VEIL_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the collector (pixel, JSON endpoint, health, readiness, metrics).
    Serve,
    /// Create the database and apply the SQL migrations (idempotent).
    Migrate,
    /// Inspect the configured geo database and optionally look up addresses.
    Geo {
        #[command(subcommand)]
        command: GeoCommand,
    },
    /// Check the configuration and print it as veil sees it (secrets hidden).
    CheckConfig,
    /// Send realistic beacon traffic to a running veil over loopback and report
    /// throughput, latency, CPU and memory; optionally compare with baselines
    /// (--baselines) and check ClickHouse for loss (--clickhouse). See benches/README.md.
    Loadgen(Box<veil::loadgen::LoadgenArgs>),
}

#[derive(Subcommand)]
enum GeoCommand {
    /// Open the MMDB files, print their metadata, and resolve the given addresses
    /// to country and region.
    Check {
        /// IP addresses to look up.
        ips: Vec<std::net::IpAddr>,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    let command = match cli.command {
        // The load generator needs no veil configuration and builds its own runtime.
        Command::Loadgen(args) => return veil::loadgen::main(*args).map_err(Into::into),
        other => other,
    };
    let config = Config::load(cli.config.as_deref(), std::env::vars())
        .context("configuration is invalid")?;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if config.server.worker_threads > 0 {
        rt.worker_threads(config.server.worker_threads);
    }
    let rt = rt.build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        match command {
            Command::Serve => serve(config).await,
            Command::Migrate => {
                let applied = veil::sink::schema::migrate(&config.clickhouse)
                    .await
                    .context("migration failed")?;
                if applied.is_empty() {
                    println!("schema is up to date (version {})", veil::sink::schema::latest_version());
                } else {
                    println!("applied migrations {applied:?}");
                }
                Ok(())
            }
            Command::Geo { command: GeoCommand::Check { ips } } => geo_check(&config, &ips),
            Command::Loadgen(_) => Ok(()),
            Command::CheckConfig => {
                let mut shown = config.clone();
                if !shown.clickhouse.password.is_empty() {
                    shown.clickhouse.password = "********".into();
                }
                println!("{}", toml::to_string_pretty(&shown).context("cannot print config")?);
                Ok(())
            }
        }
    })
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VEIL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if std::env::var("VEIL_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let running = veil::start(config, Arc::new(SystemClock), shutdown_signal())
        .await
        .context("veil could not start")?;
    let state = running.state.clone();
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else { return };
        while hup.recv().await.is_some() {
            if let Some(geo) = state.privacy.geo() {
                match geo.reload() {
                    Ok(()) => tracing::info!("geo database reloaded (SIGHUP)"),
                    Err(e) => tracing::error!(error = %e, "geo reload failed; keeping the old database"),
                }
            }
        }
    });
    running.wait().await;
    tracing::info!("veil stopped");
    Ok(())
}

/// Resolves on SIGTERM (containers) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn geo_check(config: &Config, ips: &[std::net::IpAddr]) -> anyhow::Result<()> {
    anyhow::ensure!(!config.geo.paths.is_empty(), "config key `geo.paths` is empty: no geo database configured");
    let db = veil::privacy::geo::GeoDb::open(&config.geo.paths).context("cannot open the geo database")?;
    for info in db.describe() {
        println!("{info}");
    }
    for ip in ips {
        let loc = db.lookup(*ip);
        println!(
            "{ip}\tcountry={}\tregion={}",
            loc.country.as_ref().map_or("-", |c| c.as_str()),
            loc.region.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
