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
    /// Enforce retention once: drop expired day partitions, delete each site's
    /// expired rows per data class, wait for the deletions, print what was done.
    Retention {
        /// Print what would be dropped and deleted without changing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check the deployment against veil's privacy promises (schema, stored
    /// content, retention, configuration); exits non-zero when a check fails.
    Audit {
        /// Rows read per table when scanning text columns (0 = all).
        #[arg(long, default_value_t = veil::audit::DEFAULT_SAMPLE_ROWS)]
        sample_rows: u64,
    },
    /// Print what veil collects for a site, from this configuration: JSON, or a
    /// disclosure (Markdown or HTML, English or Polish) to paste into a privacy policy.
    Manifest {
        /// Site id; all sites when omitted.
        #[arg(long)]
        site: Option<String>,
        /// json, md or html.
        #[arg(long, default_value = "json")]
        format: veil::manifest::Format,
        /// en or pl; default: the site's `language` (en for all sites).
        #[arg(long)]
        lang: Option<veil::manifest::Lang>,
    },
    /// Read a stats API key from standard input and print the hash to put in a
    /// site's `api_keys` (the key itself is never stored).
    HashKey,
    /// Print a signed, expiring, read-only link to a site's dashboard (needs the
    /// site's `share_secret`); revoke it by adding its id to `share_revoked`, or
    /// all of the site's links by changing `share_secret`.
    ShareLink {
        /// Site id; default: the first site.
        #[arg(long)]
        site: Option<String>,
        /// How long the link works: `7d`, `12h`, or through a date `2026-12-31` (UTC).
        #[arg(long, default_value = "30d")]
        expires: String,
        /// A fixed filter `dimension:value` (`source:search`), at most two (a
        /// declared pair); every answer of the link is narrowed to it.
        #[arg(long)]
        filter: Vec<String>,
        /// First date the link shows (with --to).
        #[arg(long, requires = "to")]
        from: Option<String>,
        /// Last date the link shows (with --from).
        #[arg(long, requires = "from")]
        to: Option<String>,
        /// Only the last N days, today included (`30d`), at each visit.
        #[arg(long, conflicts_with = "from")]
        range: Option<String>,
        /// An embed link: framable by the site's `embed_origins`, compact chrome.
        #[arg(long)]
        embed: bool,
        /// Where veil is reached (`https://stats.example.com`); default: from
        /// `server.listen`.
        #[arg(long)]
        base_url: Option<String>,
    },
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
    if let Command::HashKey = cli.command {
        let mut key = String::new();
        std::io::stdin()
            .read_line(&mut key)
            .context("cannot read the key from standard input")?;
        let key = key.trim();
        anyhow::ensure!(key.len() >= 16, "a key should have at least 16 characters");
        println!("{}", veil::stats::auth::hash_key(key));
        return Ok(());
    }
    let command = cli.command;
    let cli_config = cli.config.clone();
    let config = Config::load(cli.config.as_deref(), std::env::vars())
        .context("configuration is invalid")?;
    if let Command::ShareLink {
        site,
        expires,
        filter,
        from,
        to,
        range,
        embed,
        base_url,
    } = command
    {
        let spec = veil::stats::share::Spec {
            expires,
            from,
            to,
            range,
            filters: filter,
            embed,
        };
        return share_link(&config, site.as_deref(), &spec, base_url.as_deref());
    }
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if config.server.worker_threads > 0 {
        rt.worker_threads(config.server.worker_threads);
    }
    let rt = rt.build().context("cannot start the async runtime")?;
    rt.block_on(async move {
        match command {
            Command::Serve => serve(config, cli_config).await,
            Command::Migrate => {
                let applied = veil::sink::schema::migrate(&config.clickhouse, &config.site_zones())
                    .await
                    .context("migration failed")?;
                if applied.is_empty() {
                    println!(
                        "schema is up to date (version {})",
                        veil::sink::schema::latest_version()
                    );
                } else {
                    println!("applied migrations {applied:?}");
                }
                Ok(())
            }
            Command::Geo {
                command: GeoCommand::Check { ips },
            } => geo_check(&config, &ips),
            Command::Retention { dry_run } => retention(&config, dry_run).await,
            Command::Audit { sample_rows } => {
                let opts = veil::audit::AuditOptions { sample_rows };
                let report = veil::audit::run_with(&config, &opts)
                    .await
                    .context("the audit could not run")?;
                println!("{report}");
                anyhow::ensure!(
                    report.passed(),
                    "privacy audit failed: {} check(s) FAIL",
                    report.count(veil::audit::Status::Fail)
                );
                Ok(())
            }
            Command::Manifest { site, format, lang } => {
                let lang = match (lang, &site) {
                    (Some(l), _) => l,
                    (None, Some(id)) => config
                        .sites
                        .iter()
                        .find(|s| &s.id == id)
                        .map_or(veil::manifest::Lang::En, veil::manifest::Lang::of_site),
                    (None, None) => veil::manifest::Lang::En,
                };
                print!(
                    "{}",
                    veil::manifest::render(&config, site.as_deref(), format, lang)?
                );
                Ok(())
            }
            Command::HashKey | Command::ShareLink { .. } => Ok(()),
            Command::CheckConfig => {
                let mut shown = config.clone();
                if !shown.clickhouse.password.is_empty() {
                    shown.clickhouse.password = "********".into();
                }
                for site in &mut shown.sites {
                    if !site.share_secret.is_empty() {
                        site.share_secret = "********".into();
                    }
                }
                if !shown.server.metrics_token.is_empty() {
                    shown.server.metrics_token = "********".into();
                }
                if !shown.smtp.password.is_empty() {
                    shown.smtp.password = "********".into();
                }
                println!(
                    "{}",
                    toml::to_string_pretty(&shown).context("cannot print config")?
                );
                Ok(())
            }
        }
    })
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("VEIL_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("VEIL_LOG_FORMAT").is_ok_and(|f| f == "json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// `veil serve`: SIGHUP reloads the configuration file and the geo database; the
/// file is also watched (`server.config_poll_secs`).
async fn serve(config: Config, path: Option<PathBuf>) -> anyhow::Result<()> {
    let poll = config.server.config_poll_secs;
    let running = veil::start(config, Arc::new(SystemClock), shutdown_signal())
        .await
        .context("veil could not start")?;
    if let (Some(path), true) = (path.clone(), poll > 0) {
        tokio::spawn(veil::reload::watch_file(
            running.state.clone(),
            path,
            std::time::Duration::from_secs(poll),
            std::future::pending::<()>(),
        ));
    }
    let state = running.state.clone();
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            veil::reload::reload_file(&state, path.as_deref(), "SIGHUP");
            if let Some(geo) = state.pipeline.geo() {
                match geo.reload() {
                    Ok(()) => tracing::info!("geo database reloaded (SIGHUP)"),
                    Err(e) => {
                        tracing::error!(error = %e, "geo reload failed; keeping the old database")
                    }
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

async fn retention(config: &Config, dry_run: bool) -> anyhow::Result<()> {
    use veil::clock::Clock;
    use veil::retention;
    let client = veil::sink::schema::client(&config.clickhouse);
    veil::sink::schema::check_version(&client)
        .await
        .context("cannot enforce retention")?;
    let today = veil::clock::day_of(SystemClock.now_secs());
    let report = if dry_run {
        retention::plan(&client, config, today).await
    } else {
        retention::enforce(&client, config, today).await
    }
    .context("retention failed")?;
    print!("{report}");
    if !dry_run && (!report.deletions.is_empty() || report.deferred_by_pending.is_some()) {
        println!("waiting for the deletions to finish …");
        retention::wait_for_mutations(&client, std::time::Duration::from_secs(600))
            .await
            .context("deletions were scheduled but have not finished; see system.mutations")?;
        println!("deletions finished");
    }
    Ok(())
}

fn share_link(
    config: &Config,
    site: Option<&str>,
    spec: &veil::stats::share::Spec,
    base_url: Option<&str>,
) -> anyhow::Result<()> {
    use veil::clock::Clock;
    use veil::stats::share;
    let site = match site {
        Some(id) => config
            .sites
            .iter()
            .find(|s| s.id == id)
            .with_context(|| format!("no site `{id}` in the configuration"))?,
        None => &config.sites[0],
    };
    let now = SystemClock.now_secs();
    let (link, token) = share::mint(site, spec, now).map_err(anyhow::Error::msg)?;
    let base = match base_url {
        Some(b) => b.to_string(),
        None => {
            let listen = config.server.listen;
            let ip = match listen.ip() {
                std::net::IpAddr::V4(ip) if ip.is_unspecified() => "127.0.0.1".to_string(),
                std::net::IpAddr::V6(ip) if ip.is_unspecified() => "[::1]".to_string(),
                std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                ip => ip.to_string(),
            };
            format!("http://{ip}:{}", listen.port())
        }
    };
    println!("{}", share::url(&base, &site.id, &token));
    let shows = match link.window {
        share::Window::Any => "any dates".to_string(),
        share::Window::Fixed(r) => format!("{} to {}", r.from_str(), r.to_str()),
        share::Window::Last(n) => format!("the last {n} days"),
    };
    let filters = link.filter_params();
    eprintln!(
        "share link {id} of {site}: read-only, {shows}{filter}{embed}, until {until}\n\
         revoke it: add \"{id}\" to the site's share_revoked (changing share_secret revokes every link of the site)",
        id = link.id_hex(),
        site = site.id,
        filter = if filters.is_empty() { String::new() } else { format!(", only {}", filters.join(" and ")) },
        embed = if link.embed { ", embeddable" } else { "" },
        until = share::format_time(link.expires),
    );
    if link.embed && site.embed_origins.is_empty() {
        eprintln!("note: the site has no embed_origins, so no page may frame this link");
    }
    Ok(())
}

fn geo_check(config: &Config, ips: &[std::net::IpAddr]) -> anyhow::Result<()> {
    anyhow::ensure!(
        !config.geo.paths.is_empty(),
        "config key `geo.paths` is empty: no geo database configured"
    );
    let db = veil::privacy::geo::GeoDb::open(&config.geo.paths)
        .context("cannot open the geo database")?;
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
