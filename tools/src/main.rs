//! The `veil-bench` command line: the tools that measure veil and fill it with
//! data, kept out of the `veil` binary. All logic lives in the library; this file
//! parses arguments and maps errors to exit codes.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use veil::clock::{Clock, SystemClock};
use veil::config::Config;

/// veil-bench — load generator, baselines and synthetic data for veil.
///
/// Not part of the product: see benches/README.md for the benchmark.
#[derive(Parser)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Send realistic beacon traffic to a running veil over loopback and report
    /// throughput, latency, CPU and memory; optionally compare with baselines
    /// (--baselines) and check ClickHouse for loss (--clickhouse). See benches/README.md.
    Loadgen(Box<veil_bench::loadgen::LoadArgs>),
    /// The no-work hyper server that `loadgen --baselines` starts: veil's HTTP
    /// settings and answers without any beacon processing. Prints `listening on ADDR`.
    BareServer {
        /// Address to listen on (port 0 = any free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Runtime worker threads (veil's `server.worker_threads`; 0 = one per core).
        #[arg(long, default_value_t = 1)]
        worker_threads: usize,
    },
    /// Write synthetic but realistic aggregates for a site (demos, dashboard tests,
    /// latency measurements). Creates the database and tables if needed.
    Seed {
        /// veil's configuration file (its `clickhouse` section says where to write).
        #[arg(short, long, env = "VEIL_CONFIG")]
        config: Option<PathBuf>,
        /// Site id the rows are written for.
        #[arg(long)]
        site: String,
        /// Days of data, ending today (up to the current hour).
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Average pageviews per day.
        #[arg(long, default_value_t = 100_000)]
        pageviews_per_day: u64,
        /// Database to write to (default: `clickhouse.database`).
        #[arg(long)]
        database: Option<String>,
        /// Seed of the generator (same seed, same data).
        #[arg(long, default_value_t = 1)]
        rng_seed: u64,
        /// Also write the same traffic as raw events (one row per pageview or
        /// event, Plausible style) into this table of the same database; create
        /// it first from benches/raw_events.sql. The aggregates are unchanged.
        #[arg(long, value_name = "TABLE")]
        raw_events: Option<String>,
    },
    /// Write the SQL plan of scripts/chdb-check.py: every migration (v1 → v2
    /// included), the day close and every stats query over a small fixed data
    /// set, as JSON `[{"name", "sql", "compare"}]`, for replay on ClickHouse
    /// 18.16 and the current engine.
    SqlPlan {
        /// Where to write the plan.
        #[arg(long)]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        // Both build their own runtime, shaped for what they measure.
        Command::Loadgen(args) => veil_bench::loadgen::run_load(*args).map_err(Into::into),
        Command::BareServer {
            listen,
            worker_threads,
        } => veil_bench::loadgen::baseline::bare_server_main(listen, worker_threads)
            .map_err(Into::into),
        Command::Seed {
            config,
            site,
            days,
            pageviews_per_day,
            database,
            rng_seed,
            raw_events,
        } => {
            let config = Config::load(config.as_deref(), std::env::vars())
                .context("configuration is invalid")?;
            let mut ch = config.clickhouse.clone();
            if let Some(db) = database {
                ch.database = db;
            }
            let declared = config.sites.iter().find(|s| s.id == site);
            let tz = declared.map_or("UTC", |s| s.timezone.as_str());
            let (goals, funnels) = veil_bench::seed::declarations();
            let all_pairs = |s: &veil::config::SiteConfig| {
                s.pairs.as_ref().is_none_or(|p| {
                    veil::model::DEFAULT_PAIRS
                        .iter()
                        .all(|d| p.iter().any(|q| q == d))
                })
            };
            if declared.is_none_or(|s| s.goals != goals || s.funnels != funnels || !all_pairs(s)) {
                eprintln!(
                    "note: the seed writes the goals, funnel and default pairs of this site \
                     configuration; the dashboard shows them only when `{site}` declares them:\n{}",
                    veil_bench::seed::SITE_DECLARATIONS
                );
            }
            let zone = std::sync::Arc::new(
                veil::clock::zone::Zone::new(tz).context("the site's time zone is unknown")?,
            );
            let opts = veil_bench::seed::SeedOptions {
                zone,
                site,
                days,
                pageviews_per_day,
                rng_seed,
                end_secs: SystemClock.now_secs(),
                raw_events,
            };
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            rt.block_on(seed(ch, opts))
        }
        Command::SqlPlan { out } => {
            let plan = veil_bench::sqlplan::plan().context("the plan's time zones are unknown")?;
            let json = serde_json::to_string_pretty(&plan).context("cannot encode the plan")?;
            std::fs::write(&out, json + "\n")
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!("{} steps written to {}", plan.len(), out.display());
            Ok(())
        }
    }
}

async fn seed(
    ch: veil::config::ClickHouseConfig,
    opts: veil_bench::seed::SeedOptions,
) -> anyhow::Result<()> {
    let zones = [(opts.site.clone(), opts.zone.name().to_string())];
    veil::sink::schema::migrate(&ch, &zones)
        .await
        .context("migration failed")?;
    let client = veil::sink::schema::client(&ch);
    let report = veil_bench::seed::seed(&client, &opts, |done, total| {
        if done % 24 == 0 || done == total {
            eprintln!("seeded {done}/{total} hours");
        }
    })
    .await
    .context("seeding failed")?;
    println!(
        "seeded {} hours, {} rows, {} pageviews into {} ({} past days closed)",
        report.hours, report.rows, report.pageviews, ch.database, report.days_closed
    );
    if let Some(table) = &opts.raw_events {
        println!("wrote {} raw events into {table}", report.raw_rows);
    }
    Ok(())
}

/// Logs (veil's migrations, for one) go to stderr, filtered by `VEIL_LOG` as in veil.
fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VEIL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
