//! What a load run prints: the per-run report, the one-line summary, and the
//! comparison table of veil against the baselines.

use super::*;

pub(super) fn ms(ns: u64) -> String {
    let m = ns as f64 / 1e6;
    if m < 10.0 {
        format!("{m:.2} ms")
    } else if m < 100.0 {
        format!("{m:.1} ms")
    } else {
        format!("{m:.0} ms")
    }
}

pub(super) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

pub(super) fn describe(spec: &LoadSpec) -> String {
    let mode = match spec.mode {
        ConnMode::KeepAlive => "keep-alive",
        ConnMode::NewConnection => "Connection: close",
    };
    let lp = match spec.rate {
        Some(r) => format!("open loop at {} req/s", group(r as u64)),
        None => "closed loop".into(),
    };
    let length = match (spec.duration, spec.requests) {
        (Some(d), Some(n)) => format!("{:.0} s or {} requests", d.as_secs_f64(), group(n)),
        (Some(d), None) => format!("{:.0} s", d.as_secs_f64()),
        (None, Some(n)) => format!("{} requests", group(n)),
        (None, None) => "unbounded".into(),
    };
    format!(
        "{mode}, {lp}, {} connections, {length} (after {:.0} s warm-up)",
        spec.connections,
        spec.warmup.as_secs_f64()
    )
}

/// The human report of one run.
pub fn report(r: &RunResult) -> String {
    let mut s = String::new();
    let spec = &r.spec;
    let _ = writeln!(s, "\n## {} — {}", spec.label, describe(spec));
    let _ = writeln!(
        s,
        "  requests/s   {}   ({} answered in the {:.2} s window; {} sent in all, {} connections opened)",
        group(r.rps() as u64),
        group(r.measured),
        r.window.as_secs_f64(),
        group(r.sent),
        group(r.connects)
    );
    let l = &r.latency;
    let from = if spec.rate.is_some() {
        "from scheduled send time"
    } else {
        "from send"
    };
    let _ = writeln!(
        s,
        "  latency      p50 {}  p90 {}  p99 {}  p99.9 {}  max {}  ({from})",
        ms(l.quantile(0.5)),
        ms(l.quantile(0.9)),
        ms(l.quantile(0.99)),
        ms(l.quantile(0.999)),
        ms(l.max())
    );
    if spec.rate.is_some() {
        let _ = writeln!(
            s,
            "  service      p50 {}  p99 {}  (from actual send); generator sent late by p50 {} p99 {} max {}; {:.2} % sent > 1 ms late{}",
            ms(r.service.quantile(0.5)),
            ms(r.service.quantile(0.99)),
            ms(r.send_lag.quantile(0.5)),
            ms(r.send_lag.quantile(0.99)),
            ms(r.send_lag.max()),
            100.0 * r.late_share(),
            if r.held_schedule() {
                ""
            } else {
                " — the generator did NOT hold its schedule: the latency above is partly the generator's"
            }
        );
    }
    if r.errors.is_empty() {
        let _ = writeln!(s, "  errors       none");
    } else {
        let list: Vec<String> = r
            .errors
            .iter()
            .map(|(k, v)| format!("{k}: {}", group(*v)))
            .collect();
        let _ = writeln!(s, "  errors       {}", list.join(", "));
    }
    let secs = r.window.as_secs_f64().max(1e-9);
    if let Some(u) = &r.server {
        let mut line = format!("  server       pids {:?}", u.pids);
        if let Some(c) = &u.cpus {
            let _ = write!(line, " on CPUs {c}");
        }
        if let Some(cpu) = u.cpu_secs {
            let _ = write!(
                line,
                "; CPU {cpu:.2} s = {:.0} % of one core, {:.1} µs per request",
                100.0 * cpu / secs,
                1e6 * cpu / r.measured.max(1) as f64
            );
        }
        if let Some(p) = u.peak_rss_kib {
            let _ = write!(line, "; peak RSS {}", mib(p));
        }
        if let Some(p) = u.rss_kib {
            let _ = write!(line, " (now {})", mib(p));
        }
        let _ = writeln!(s, "{line}");
    }
    if let Some(g) = r.generator_cpu_secs {
        let _ = writeln!(
            s,
            "  generator    CPU {:.0} % of one core{}",
            100.0 * g / secs,
            r.generator_cpus
                .as_deref()
                .map(|c| format!(" on CPUs {c}"))
                .unwrap_or_default()
        );
        let server_pct = r
            .server
            .as_ref()
            .and_then(|u| u.cpu_secs)
            .map(|c| 100.0 * c / secs);
        if 100.0 * g / secs > 90.0 && server_pct.is_some_and(|p| p < 85.0) {
            let _ = writeln!(
                s,
                "  WARNING      the generator was saturated and the server was not: this number is the generator's limit, not the server's"
            );
        }
    }
    s
}

pub(super) fn summary_line(r: &RunResult, kind: &str) -> String {
    let secs = r.window.as_secs_f64().max(1e-9);
    let l = &r.latency;
    let mut s = format!(
        "run kind={kind} label={} mode={} loop={} connections={} rps={:.0} measured={} window_s={:.3} p50_us={} p90_us={} p99_us={} p999_us={} max_us={} errors={}",
        r.spec.label.replace(' ', "_"),
        if r.spec.mode == ConnMode::KeepAlive { "keepalive" } else { "close" },
        r.spec.rate.map_or("closed".to_string(), |x| format!("open@{x:.0}")),
        r.spec.connections,
        r.rps(),
        r.measured,
        secs,
        l.quantile(0.5) / 1000,
        l.quantile(0.9) / 1000,
        l.quantile(0.99) / 1000,
        l.quantile(0.999) / 1000,
        l.max() / 1000,
        r.error_count(),
    );
    if let Some(u) = &r.server {
        if let Some(c) = u.cpu_secs {
            let _ = write!(
                s,
                " server_cpu_pct={:.0} server_cpu_us_per_req={:.2}",
                100.0 * c / secs,
                1e6 * c / r.measured.max(1) as f64
            );
        }
        if let Some(p) = u.peak_rss_kib {
            let _ = write!(s, " peak_rss_kib={p}");
        }
    }
    if let Some(g) = r.generator_cpu_secs {
        let _ = write!(s, " generator_cpu_pct={:.0}", 100.0 * g / secs);
    }
    if r.spec.rate.is_some() {
        let _ = write!(
            s,
            " service_p99_us={} lag_p99_us={} lag_max_us={} late_pct={:.3} held={}",
            r.service.quantile(0.99) / 1000,
            r.send_lag.quantile(0.99) / 1000,
            r.send_lag.max() / 1000,
            100.0 * r.late_share(),
            u8::from(r.held_schedule())
        );
    }
    s
}

pub(super) fn append_summary(path: &Option<PathBuf>, line: &str) -> Result<(), LoadgenError> {
    let Some(path) = path else { return Ok(()) };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| LoadgenError::Io(format!("cannot open {}", path.display()), e))?;
    writeln!(f, "{line}")
        .map_err(|e| LoadgenError::Io(format!("cannot write {}", path.display()), e))
}

pub(super) fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// One server's results over the rounds.
pub(super) struct Row {
    pub(super) name: String,
    pub(super) rps: Vec<f64>,
    /// Requests per CPU-second of the server: its single-core capacity when it is
    /// CPU-bound, and unaffected by how much of the core it was given.
    pub(super) capacity: Vec<f64>,
    last: Option<RunResult>,
}

impl Row {
    pub(super) fn new(name: &str) -> Row {
        Row {
            name: name.to_string(),
            rps: Vec::new(),
            capacity: Vec::new(),
            last: None,
        }
    }

    pub(super) fn add(&mut self, r: RunResult) {
        self.rps.push(r.rps());
        if let Some(cpu) = r
            .server
            .as_ref()
            .and_then(|u| u.cpu_secs)
            .filter(|c| *c > 0.0)
        {
            self.capacity.push(r.measured as f64 / cpu);
        }
        self.last = Some(r);
    }
}

pub(super) fn comparison(
    table: &[Row],
    a: &LoadArgs,
    spec: &LoadSpec,
    pinned_note: Option<&str>,
) -> String {
    let mut s = String::new();
    let veil_rps = median(table[0].rps.clone());
    let veil_cap = median(table[0].capacity.clone());
    let _ = writeln!(
        s,
        "\n## Comparison ({} round(s), medians; {})",
        a.rounds,
        describe(spec)
    );
    if let Some(note) = pinned_note {
        let _ = writeln!(
            s,
            "{note}; generator on CPUs {}",
            procstat::cpus_allowed(std::process::id()).unwrap_or_else(|| "?".into())
        );
    }
    let _ = writeln!(
        s,
        "\n| server | requests/s | p50 | p99 | server CPU µs/request | requests per server CPU-second | {0} ÷ server (requests/s) | {0} ÷ server (per CPU-second) |",
        a.label
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for row in table {
        let (rps, cap) = (median(row.rps.clone()), median(row.capacity.clone()));
        let (p50, p99) = row
            .last
            .as_ref()
            .map_or((String::new(), String::new()), |r| {
                (ms(r.latency.quantile(0.5)), ms(r.latency.quantile(0.99)))
            });
        let per_req = if cap > 0.0 {
            format!("{:.1}", 1e6 / cap)
        } else {
            "-".into()
        };
        let cap_s = if cap > 0.0 {
            group(cap as u64)
        } else {
            "-".into()
        };
        let ratio = if rps > 0.0 {
            format!("{:.2}", veil_rps / rps)
        } else {
            "-".into()
        };
        let cap_ratio = if cap > 0.0 && veil_cap > 0.0 {
            format!("{:.2}", veil_cap / cap)
        } else {
            "-".into()
        };
        let _ = writeln!(
            s,
            "| {} | {} | {p50} | {p99} | {per_req} | {cap_s} | {ratio} | {cap_ratio} |",
            row.name,
            group(rps as u64)
        );
    }
    let _ = writeln!(
        s,
        "\nrequests/s depends on how much CPU the server got; on a shared machine compare the per-CPU-second columns."
    );
    s
}
