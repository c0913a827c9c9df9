//! `veil-bench loadgen`: an end-to-end load generator for veil, with baselines.
//!
//! Operators size veil with it and developers see what a change costs. It sends a
//! realistic beacon mix ([`crate::traffic`]) over loopback to a running veil, measures
//! throughput and latency ([`client`], [`histogram`]) and the server's CPU time and
//! peak memory ([`procstat`]), checks that ClickHouse stored exactly what veil
//! accepted ([`check`]), and with `--baselines` runs the same load against a no-work
//! hyper server and nginx's `empty_gif` ([`baseline`]) so veil's number comes with
//! the ceiling it is measured against. `scripts/bench.sh` drives the whole benchmark
//! and `benches/README.md` explains the numbers.
//!
//! Loopback only: the generator forges `X-Forwarded-For` to spread visitors over
//! countries, which is only meaningful (and only polite) against a veil that trusts
//! the local machine.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub mod baseline;
pub mod check;
pub mod client;
pub mod histogram;
pub mod procstat;
mod report;

use report::*;

use crate::traffic::{Traffic, TrafficConfig};
use client::{group, ConnMode, Ledger, LoadSpec, RunResult};
use procstat::Tree;

/// Why a load run could not be done, or what it found wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// A file, socket or process operation failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// A baseline server could not be run.
    #[error("baseline: {0}")]
    Baseline(String),
    /// ClickHouse could not be read.
    #[error("ClickHouse: {0}")]
    ClickHouse(String),
    /// No request was answered.
    #[error("no request to {0} was answered; is it running?")]
    NothingAnswered(String),
    /// ClickHouse holds something other than what was accepted.
    #[error("loss check failed: {0}")]
    Loss(String),
}

/// Parses a duration flag: `20`, `20s`, `500ms` or `2m`.
fn parse_secs(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let (num, scale) = if let Some(ms) = t.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(m) = t.strip_suffix('m') {
        (m, 60.0)
    } else {
        (t.strip_suffix('s').unwrap_or(t), 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a duration (e.g. 20, 20s, 500ms, 2m)"))?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(format!("`{s}` is not a duration"));
    }
    Ok(Duration::from_secs_f64(v * scale))
}

/// What to send, how, and what to check afterwards.
#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// veil's base URL; loopback addresses only (veil must list 127.0.0.1 in
    /// `server.trusted_proxies`, visitors' addresses travel in X-Forwarded-For).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub target: String,
    /// Concurrent connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// A new TCP connection per request (`Connection: close`) instead of keep-alive.
    #[arg(long)]
    pub new_connection: bool,
    /// How long to send after the warm-up (e.g. 20, 20s, 2m). Default 10 s unless
    /// --requests is given.
    #[arg(long, value_parser = parse_secs)]
    pub duration: Option<Duration>,
    /// Stop after this many requests (warm-up included).
    #[arg(long)]
    pub requests: Option<u64>,
    /// Open loop: send this many requests per second on schedule, and measure latency
    /// from each request's scheduled time. Without it: closed loop, maximum throughput.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Warm-up before measuring (sent and checked, not measured).
    #[arg(long, value_parser = parse_secs, default_value = "1")]
    pub warmup: Duration,
    /// Longest wait for one answer.
    #[arg(long, value_parser = parse_secs, default_value = "10")]
    pub timeout: Duration,
    /// Share of hits sent as JSON POSTs to /api/collect (the rest: pixel GETs).
    #[arg(long, default_value_t = 0.3)]
    pub json_share: f64,
    /// Share of hits that are custom events (with props) instead of pageviews.
    #[arg(long, default_value_t = 0.05)]
    pub event_share: f64,
    /// Share of visitors whose User-Agent is a crawler or an HTTP library.
    #[arg(long, default_value_t = 0.1)]
    pub bot_share: f64,
    /// Share of pageviews whose URL carries UTM tags.
    #[arg(long, default_value_t = 0.1)]
    pub utm_share: f64,
    /// Distinct visitors (address + User-Agent); request n comes from visitor
    /// n mod VISITORS, so that many requests reach all of them.
    #[arg(long, default_value_t = 50_000)]
    pub visitors: u64,
    /// Hostile traffic when above 0 (`scripts/flood.sh`): unique referrers of this
    /// many bytes, unique pages and UTM values, pixel pageviews only.
    #[arg(long, default_value_t = 0)]
    pub hostile_bytes: usize,
    /// Distinct pages per site (Zipf-distributed popularity).
    #[arg(long, default_value_t = 2_000)]
    pub pages: usize,
    /// Zipf exponent of page popularity.
    #[arg(long, default_value_t = 1.0)]
    pub zipf_s: f64,
    /// Site ids to report to (all must be configured in veil, preset eu-strict for
    /// the ClickHouse check).
    #[arg(long, value_delimiter = ',', default_value = "bench1,bench2,bench3")]
    pub sites: Vec<String>,
    /// Zipf exponent of site popularity over visitors (0 = every site alike); for
    /// many tenants, e.g. 1,000 sites with 1.0.
    #[arg(long, default_value_t = 0.0)]
    pub site_zipf: f64,
    /// Host of the page URLs (`{site}` = the site id); the site's `hostnames` must allow it.
    #[arg(long, default_value = "{site}.example")]
    pub page_host: String,
    /// Seed of the request mix (same seed, same requests).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Generator runtime threads (1 = a current-thread runtime, the leanest).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// veil's pid: report its CPU time (/proc/PID/stat) and peak RSS (VmHWM).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Check ClickHouse afterwards (HTTP URL, e.g. http://127.0.0.1:18123).
    #[arg(long)]
    pub clickhouse: Option<String>,
    /// veil's database for the check.
    #[arg(long, default_value = "veil")]
    pub database: String,
    /// ClickHouse user for the check.
    #[arg(long, default_value = "default")]
    pub clickhouse_user: String,
    /// ClickHouse password for the check.
    #[arg(
        long,
        env = "VEIL_LOADGEN_CLICKHOUSE_PASSWORD",
        default_value = "",
        hide_env_values = true
    )]
    pub clickhouse_password: String,
    /// Longest wait for veil's flush before the check gives its verdict.
    #[arg(long, value_parser = parse_secs, default_value = "60")]
    pub check_timeout: Duration,
    /// Also run the same load against a bare hyper server and nginx empty_gif (if
    /// installed), each pinned to --server-cpu, and print veil's ratio to each.
    #[arg(long)]
    pub baselines: bool,
    /// With --baselines: skip nginx.
    #[arg(long)]
    pub no_nginx: bool,
    /// CPU list (taskset) for the baseline servers; use the one veil is pinned to.
    #[arg(long, default_value = "0")]
    pub server_cpu: String,
    /// Worker threads of the bare hyper baseline (match veil's server.worker_threads).
    #[arg(long, default_value_t = 1)]
    pub server_threads: usize,
    /// Repeat veil + baselines this many times (noisy machines: compare medians).
    #[arg(long, default_value_t = 1)]
    pub rounds: u32,
    /// Name of the target in the report.
    #[arg(long, default_value = "veil")]
    pub label: String,
    /// Append machine-readable `key=value` lines to this file.
    #[arg(long)]
    pub summary: Option<PathBuf>,
    /// No per-second progress lines.
    #[arg(long)]
    pub quiet: bool,
}

/// Parses `http://HOST:PORT[/...]`; only loopback hosts are accepted.
pub fn parse_target(target: &str) -> Result<(SocketAddr, String), LoadgenError> {
    let rest = target.strip_prefix("http://").ok_or_else(|| {
        LoadgenError::Usage(format!(
            "--target `{target}`: only http:// URLs are supported"
        ))
    })?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (h, p.parse::<u16>().ok()),
        _ => (authority, Some(80)),
    };
    let port = port.ok_or_else(|| LoadgenError::Usage(format!("--target `{target}`: bad port")))?;
    let ip: IpAddr = match host.trim_start_matches('[').trim_end_matches(']') {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h.parse().map_err(|_| {
            LoadgenError::Usage(format!(
                "--target `{target}`: give an IP address or localhost"
            ))
        })?,
    };
    if !ip.is_loopback() {
        return Err(LoadgenError::Usage(format!(
            "--target `{target}`: veil-bench loadgen only sends to loopback addresses (127.0.0.0/8, ::1)"
        )));
    }
    Ok((SocketAddr::new(ip, port), authority.to_string()))
}

/// Runs the load described by `a` (and the baselines and loss check it asks for).
pub fn run_load(a: LoadArgs) -> Result<(), LoadgenError> {
    let (addr, host) = parse_target(&a.target)?;
    if a.sites.is_empty() || a.sites.iter().any(String::is_empty) {
        return Err(LoadgenError::Usage(
            "--sites: give at least one site id".into(),
        ));
    }
    for (name, v) in [
        ("--json-share", a.json_share),
        ("--event-share", a.event_share),
        ("--bot-share", a.bot_share),
        ("--utm-share", a.utm_share),
    ] {
        if !(0.0..=1.0).contains(&v) {
            return Err(LoadgenError::Usage(format!(
                "{name} must be between 0 and 1"
            )));
        }
    }
    if a.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
        return Err(LoadgenError::Usage(
            "--rate must be a positive number of requests per second".into(),
        ));
    }
    if a.connections == 0 || a.visitors == 0 || a.rounds == 0 {
        return Err(LoadgenError::Usage(
            "--connections, --visitors and --rounds must be at least 1".into(),
        ));
    }
    let duration = match (a.duration, a.requests) {
        (None, None) => Some(Duration::from_secs(10)),
        (d, _) => d,
    };
    let traffic = Arc::new(Traffic::new(TrafficConfig {
        sites: a.sites.clone(),
        site_zipf_s: a.site_zipf,
        page_host: a.page_host.clone(),
        pages: a.pages,
        zipf_s: a.zipf_s,
        visitors: a.visitors,
        json_share: a.json_share,
        event_share: a.event_share,
        bot_share: a.bot_share,
        utm_share: a.utm_share,
        hostile_bytes: a.hostile_bytes,
    }));
    let rt = if a.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.threads)
            .enable_all()
            .build()
    }
    .map_err(LoadgenError::Runtime)?;
    let ch = a
        .clickhouse
        .as_ref()
        .map(|url| veil::config::ClickHouseConfig {
            url: url.clone(),
            database: a.database.clone(),
            user: a.clickhouse_user.clone(),
            password: a.clickhouse_password.clone(),
            ..Default::default()
        });

    rt.block_on(async move {
        let before = match &ch {
            Some(cfg) => Some(check::stored(cfg, &a.sites).await?),
            None => None,
        };
        let spec = LoadSpec {
            label: a.label.clone(),
            addr,
            host,
            connections: a.connections,
            mode: if a.new_connection { ConnMode::NewConnection } else { ConnMode::KeepAlive },
            duration,
            requests: a.requests,
            rate: a.rate,
            warmup: a.warmup,
            timeout: a.timeout,
            seed: a.seed,
            progress: !a.quiet,
            server: a.server_pid.map(|pid| Tree { pid }),
        };
        println!(
            "veil-bench loadgen: {} site(s), {} visitors, {} pages (Zipf s={}), {:.0} % JSON, {:.0} % events, {:.0} % bot visitors; generator on CPUs {}",
            a.sites.len(),
            group(a.visitors),
            group(a.pages as u64),
            a.zipf_s,
            a.json_share * 100.0,
            a.event_share * 100.0,
            a.bot_share * 100.0,
            procstat::cpus_allowed(std::process::id()).unwrap_or_else(|| "?".into())
        );
        let mut accepted = Ledger::new(a.sites.len());
        let mut uncertain = Ledger::new(a.sites.len());
        let mut table: Vec<Row> = vec![Row::new(&a.label)];
        let mut pinned_note = None;
        for round in 1..=a.rounds {
            if a.rounds > 1 {
                println!("\n# round {round} of {}", a.rounds);
            }
            let r = client::run(spec.clone(), traffic.clone()).await;
            print!("{}", report(&r));
            append_summary(&a.summary, &summary_line(&r, "target"))?;
            if r.ok == 0 {
                return Err(LoadgenError::NothingAnswered(a.target.clone()));
            }
            accepted.merge(&r.accepted);
            uncertain.merge(&r.uncertain);
            table[0].add(r);
            if !a.baselines {
                continue;
            }
            let mut servers = vec![baseline::ServerProcess::bare(Some(&a.server_cpu), a.server_threads)?];
            if !a.no_nginx {
                match baseline::ServerProcess::nginx(Some(&a.server_cpu))? {
                    Some(n) => servers.push(n),
                    None if round == 1 => println!("\n(nginx is not installed: no nginx baseline)"),
                    None => {}
                }
            }
            for server in servers {
                pinned_note = Some(if server.pinned {
                    format!("baseline servers pinned to CPU {} with taskset", a.server_cpu)
                } else {
                    "taskset not found: baseline servers NOT pinned".to_string()
                });
                let mut bspec = spec.clone();
                bspec.label = server.name.clone();
                bspec.addr = server.addr;
                bspec.host = server.addr.to_string();
                bspec.server = Some(Tree { pid: server.pid });
                let r = client::run(bspec, traffic.clone()).await;
                print!("{}", report(&r));
                append_summary(&a.summary, &summary_line(&r, "baseline"))?;
                let name = server.name.clone();
                server.stop();
                match table.iter_mut().find(|t| t.name == name) {
                    Some(t) => t.add(r),
                    None => {
                        let mut row = Row::new(&name);
                        row.add(r);
                        table.push(row);
                    }
                }
            }
        }

        if table.len() > 1 {
            print!("{}", comparison(&table, &a, &spec, pinned_note.as_deref()));
            let veil_rps = median(table[0].rps.clone());
            let veil_cap = median(table[0].capacity.clone());
            for row in &table[1..] {
                let (rps, cap) = (median(row.rps.clone()), median(row.capacity.clone()));
                let mut line = format!(
                    "ratio baseline={} target_rps={veil_rps:.0} baseline_rps={rps:.0} ratio={:.3}",
                    row.name.replace(' ', "_"),
                    if rps > 0.0 { veil_rps / rps } else { 0.0 }
                );
                if veil_cap > 0.0 && cap > 0.0 {
                    let _ = write!(
                        line,
                        " target_per_cpu_s={veil_cap:.0} baseline_per_cpu_s={cap:.0} cpu_ratio={:.3}",
                        veil_cap / cap
                    );
                }
                append_summary(&a.summary, &line)?;
            }
        }

        if let (Some(cfg), Some(before)) = (&ch, &before) {
            println!(
                "\n## ClickHouse check ({} / {}): waiting up to {:.0} s for veil's flush",
                cfg.url,
                cfg.database,
                a.check_timeout.as_secs_f64()
            );
            let out = check::wait_and_compare(cfg, &a.sites, before, &accepted, &uncertain, a.check_timeout).await?;
            let (pv, ev, dec) = out.expected;
            if out.mismatches.is_empty() {
                println!(
                    "no loss: {} pageviews, {} events and {} decision counts ({} counters over {} sites) stored exactly as accepted; flush seen after {:.1} s",
                    group(pv),
                    group(ev),
                    group(dec),
                    out.compared,
                    a.sites.len(),
                    out.waited.as_secs_f64()
                );
                if uncertain.hits() > 0 {
                    println!("({} hits failed after they may have reached veil; they were allowed either way)", group(uncertain.hits()));
                }
                append_summary(&a.summary, &format!("check result=no-loss pageviews={pv} events={ev} decisions={dec}"))?;
            } else {
                println!("LOSS or excess after {:.0} s:", out.waited.as_secs_f64());
                for m in &out.mismatches {
                    let diff = m.stored - i128::from(m.expected);
                    println!(
                        "  {} {}: accepted {}{}, stored {} ({}{})",
                        m.site,
                        m.counter,
                        group(m.expected),
                        if m.uncertain > 0 { format!(" (+{} uncertain)", m.uncertain) } else { String::new() },
                        m.stored,
                        if diff < 0 { "missing " } else { "excess +" },
                        diff.abs()
                    );
                }
                let totals: Vec<String> = check::summary(&out.mismatches).iter().map(|(k, v)| format!("{k} {v:+}")).collect();
                // What is stored, summed like the expected totals, for scripts' tables.
                let sum = |want: &dyn Fn(&str) -> bool| -> i128 {
                    out.mismatches.iter().filter(|m| want(&m.counter)).map(|m| m.stored - i128::from(m.expected)).sum()
                };
                let stored = (
                    i128::from(pv) + sum(&|c| c == "pageviews"),
                    i128::from(ev) + sum(&|c| c == "events"),
                    i128::from(dec) + sum(&|c| c.starts_with("decision")),
                );
                append_summary(
                    &a.summary,
                    &format!(
                        "check result=loss pageviews={pv} events={ev} decisions={dec} stored_pageviews={} stored_events={} stored_decisions={} {}",
                        stored.0,
                        stored.1,
                        stored.2,
                        totals.join(" ").replace(' ', "_")
                    ),
                )?;
                return Err(LoadgenError::Loss(totals.join(", ")));
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_loopback() {
        let (addr, host) = parse_target("http://127.0.0.1:8080").unwrap();
        assert_eq!(addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(host, "127.0.0.1:8080");
        assert_eq!(parse_target("http://localhost:9/x").unwrap().0.port(), 9);
        assert_eq!(
            parse_target("http://[::1]:81").unwrap().0,
            "[::1]:81".parse().unwrap()
        );
        assert!(parse_target("http://10.0.0.1:80").is_err());
        assert!(parse_target("https://127.0.0.1:443").is_err());
        assert!(parse_target("http://example.com:80").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_secs("20").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_secs("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_secs("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_secs("2m").unwrap(), Duration::from_secs(120));
        assert!(parse_secs("-1").is_err());
        assert!(parse_secs("soon").is_err());
    }

    #[test]
    fn medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![1.0, 2.0]), 1.5);
        assert_eq!(median(vec![]), 0.0);
    }
}
