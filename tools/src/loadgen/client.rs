//! The load engine: `connections` tasks, each owning one HTTP/1.1 client connection
//! (hyper's low-level `client::conn::http1`, no pool), sending [`Hit`]s.
//!
//! - Closed loop (no `rate`): each connection sends its next request as soon as the
//!   previous answer arrived; the result is the server's maximum throughput at that
//!   concurrency.
//! - Open loop (`rate` R/s): request `n` is due at `start + n / R` whatever happened
//!   before; a connection takes the next due request when it is free. Latency is
//!   measured from the *due* time, so a stalled server is charged for every request
//!   it delayed (no coordinated omission); the report also shows how late the
//!   generator itself sent: a pacer thread releases requests as they fall due
//!   (see [`pace`]), so that lag is ~0.1 ms when the generator has its CPU.
//! - `Connection: close` mode opens a new TCP connection per request; latency then
//!   includes connect and handshake.
//!
//! Every answered request is booked in a [`Ledger`] of what veil must store; a
//! request that failed after it may have reached veil goes to a second ledger of
//! uncertain hits, so the loss check can give a range instead of a false alarm.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use super::histogram::Histogram;
use super::procstat::{self, Tree};
use crate::traffic::{Hit, Traffic, Wire};
use veil::privacy::consent::Decision;

/// Keep-alive or one connection per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnMode {
    /// Reuse each connection (HTTP/1.1 keep-alive).
    KeepAlive,
    /// `Connection: close`: connect, one request, close.
    NewConnection,
}

/// One run's parameters.
#[derive(Clone, Debug)]
pub struct LoadSpec {
    /// Name shown in the report (`veil`, `bare hyper`, `nginx`).
    pub label: String,
    /// Server address.
    pub addr: SocketAddr,
    /// `Host` header.
    pub host: String,
    /// Concurrent connections.
    pub connections: usize,
    /// Keep-alive or not.
    pub mode: ConnMode,
    /// Stop sending after warm-up + this long.
    pub duration: Option<Duration>,
    /// Stop after this many requests (warm-up included).
    pub requests: Option<u64>,
    /// Open loop at this many requests per second; `None` = closed loop.
    pub rate: Option<f64>,
    /// Requests that start (are due) earlier are sent and booked but not measured.
    pub warmup: Duration,
    /// Longest wait for one answer.
    pub timeout: Duration,
    /// Seed of the per-connection random generators.
    pub seed: u64,
    /// Print a line per second on stderr.
    pub progress: bool,
    /// Server process (and children) to measure, if known.
    pub server: Option<Tree>,
}

/// Per-site account of what veil must store.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SiteLedger {
    /// `dim = 'total'` pageviews.
    pub pageviews: u64,
    /// `dim = 'total'` events.
    pub events: u64,
    /// `dim = 'decision'` hits by decision (index in [`Decision::ALL`]).
    pub decisions: [u64; Decision::ALL.len()],
}

/// What veil must store, per site index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// One entry per configured site.
    pub sites: Vec<SiteLedger>,
}

impl Ledger {
    /// An empty ledger for `n` sites.
    pub fn new(n: usize) -> Ledger {
        Ledger {
            sites: vec![SiteLedger::default(); n],
        }
    }

    /// Books one hit.
    pub fn book(&mut self, hit: &Hit) {
        let s = &mut self.sites[hit.site];
        s.pageviews += u64::from(hit.expect.pageview);
        s.events += u64::from(hit.expect.event);
        if let Some(i) = Decision::ALL.iter().position(|d| *d == hit.expect.decision) {
            s.decisions[i] += 1;
        }
    }

    /// Adds another ledger.
    pub fn merge(&mut self, other: &Ledger) {
        if self.sites.len() < other.sites.len() {
            self.sites.resize(other.sites.len(), SiteLedger::default());
        }
        for (a, b) in self.sites.iter_mut().zip(&other.sites) {
            a.pageviews += b.pageviews;
            a.events += b.events;
            for (x, y) in a.decisions.iter_mut().zip(b.decisions) {
                *x += y;
            }
        }
    }

    /// Hits booked.
    pub fn hits(&self) -> u64 {
        self.sites.iter().flat_map(|s| s.decisions).sum()
    }
}

/// CPU and memory of the server over the measured window.
#[derive(Clone, Debug, Default)]
pub struct ServerUsage {
    /// Pids measured.
    pub pids: Vec<u32>,
    /// CPU seconds used in the window.
    pub cpu_secs: Option<f64>,
    /// Peak RSS (KiB) at the end of the run.
    pub peak_rss_kib: Option<u64>,
    /// RSS (KiB) at the end of the run.
    pub rss_kib: Option<u64>,
    /// CPUs the server may run on.
    pub cpus: Option<String>,
}

/// Everything one run measured.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The spec that was run.
    pub spec: LoadSpec,
    /// Latency from due time (open loop) or send time (closed loop).
    pub latency: Histogram,
    /// Latency from the actual send (equals `latency` in a closed loop).
    pub service: Histogram,
    /// Open loop: how late the generator sent after the due time.
    pub send_lag: Histogram,
    /// Requests answered in the measured window.
    pub measured: u64,
    /// Length of the measured window.
    pub window: Duration,
    /// Requests sent (warm-up included).
    pub sent: u64,
    /// Requests answered with the expected status (warm-up included).
    pub ok: u64,
    /// Failures by kind.
    pub errors: BTreeMap<String, u64>,
    /// Connections opened.
    pub connects: u64,
    /// What veil must store for the accepted hits.
    pub accepted: Ledger,
    /// Hits that failed after they may have reached the server.
    pub uncertain: Ledger,
    /// Generator CPU seconds in the window.
    pub generator_cpu_secs: Option<f64>,
    /// CPUs the generator may run on.
    pub generator_cpus: Option<String>,
    /// Server usage, when a pid was given.
    pub server: Option<ServerUsage>,
}

impl RunResult {
    /// Answered requests per second in the measured window.
    pub fn rps(&self) -> f64 {
        let secs = self.window.as_secs_f64();
        if secs > 0.0 {
            self.measured as f64 / secs
        } else {
            0.0
        }
    }

    /// Total failures.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Open loop: share of measured requests the generator sent more than
    /// [`LATE`] after their scheduled time (0 in a closed loop).
    pub fn late_share(&self) -> f64 {
        let n = self.send_lag.len();
        if n == 0 {
            return 0.0;
        }
        self.send_lag.count_above(LATE.as_nanos() as u64) as f64 / n as f64
    }

    /// Open loop: whether the generator held its schedule — at most
    /// [`HELD_LATE_SHARE`] of the requests sent late and none more than
    /// [`HELD_MAX_LAG`] late. Otherwise the latency from the scheduled time is
    /// partly the generator's own delay, and the rate is beyond what it can
    /// send on its CPUs.
    pub fn held_schedule(&self) -> bool {
        self.late_share() <= HELD_LATE_SHARE
            && self.send_lag.max() <= HELD_MAX_LAG.as_nanos() as u64
    }
}

/// A request sent this long after its scheduled time counts as sent late.
pub const LATE: Duration = Duration::from_millis(1);
/// Most share of late requests for a run whose generator held its schedule.
pub const HELD_LATE_SHARE: f64 = 0.01;
/// Longest lag of any request for a run whose generator held its schedule (the
/// latency target is 5 ms: a generator later than that cannot judge it).
pub const HELD_MAX_LAG: Duration = Duration::from_millis(5);

struct Shared {
    spec: LoadSpec,
    traffic: Arc<Traffic>,
    seq: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
    start: Instant,
    measure_from: Instant,
    end: Option<Instant>,
    /// Open loop: one permit per request that is due (see [`pace`]).
    due: Option<Arc<Semaphore>>,
}

struct Ticket {
    seq: u64,
    due: Option<Instant>,
}

impl Shared {
    async fn ticket(&self) -> Option<Ticket> {
        if let Some(due) = &self.due {
            // Wait until the pacer says another request is due.
            due.acquire().await.ok()?.forget();
        }
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        if self.spec.requests.is_some_and(|max| seq >= max) {
            return None;
        }
        match self.spec.rate {
            Some(rate) => {
                let due = self.start + Duration::from_secs_f64(seq as f64 / rate);
                if self.end.is_some_and(|end| due >= end) {
                    return None;
                }
                Some(Ticket {
                    seq,
                    due: Some(due),
                })
            }
            None => {
                if self.end.is_some_and(|end| Instant::now() >= end) {
                    return None;
                }
                Some(Ticket { seq, due: None })
            }
        }
    }
}

#[derive(Default)]
struct WorkerOut {
    latency: Histogram,
    service: Histogram,
    send_lag: Histogram,
    measured: u64,
    last_done: Option<Instant>,
    sent: u64,
    ok: u64,
    errors: BTreeMap<String, u64>,
    connects: u64,
    accepted: Ledger,
    uncertain: Ledger,
}

/// How one attempt failed.
enum Failure {
    /// Nothing reached the server.
    NotSent(String),
    /// The request may have reached the server.
    MaybeSent(String),
    /// The server answered with another status.
    Status(StatusCode),
}

type Sender = http1::SendRequest<Full<Bytes>>;

async fn connect(addr: SocketAddr) -> Result<Sender, Failure> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| Failure::NotSent(format!("connect: {}", e.kind())))?;
    let _ = stream.set_nodelay(true);
    let (sender, conn) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| Failure::NotSent(format!("handshake: {e}")))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

fn request(host: &HeaderValue, hit: &Hit, close: bool) -> Request<Full<Bytes>> {
    let (method, body) = match hit.wire {
        Wire::Pixel => (Method::GET, Bytes::new()),
        Wire::Json => (Method::POST, hit.body.clone().unwrap_or_default()),
    };
    let mut req = Request::new(Full::new(body));
    *req.method_mut() = method;
    if let Ok(uri) = hit.target.parse() {
        *req.uri_mut() = uri;
    }
    let h = req.headers_mut();
    h.insert(header::HOST, host.clone());
    if let Ok(v) = HeaderValue::from_str(hit.user_agent) {
        h.insert(header::USER_AGENT, v);
    }
    if let Ok(v) = HeaderValue::from_str(&hit.forwarded_for) {
        h.insert("x-forwarded-for", v);
    }
    if let Ok(v) = HeaderValue::from_str(hit.accept_language) {
        h.insert(header::ACCEPT_LANGUAGE, v);
    }
    if hit.gpc {
        h.insert("sec-gpc", HeaderValue::from_static("1"));
    }
    // What a browser sends with a beacon from an https page (fetch metadata: veil
    // takes a Chromium UA without it for a script).
    h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
    match hit.wire {
        Wire::Pixel => {
            h.insert("sec-fetch-mode", HeaderValue::from_static("no-cors"));
            h.insert("sec-fetch-dest", HeaderValue::from_static("image"));
            h.insert(
                header::ACCEPT,
                HeaderValue::from_static("image/avif,image/webp,image/png,image/*;q=0.8,*/*;q=0.5"),
            );
        }
        Wire::Json => {
            h.insert("sec-fetch-mode", HeaderValue::from_static("cors"));
            h.insert("sec-fetch-dest", HeaderValue::from_static("empty"));
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
    }
    if close {
        h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    req
}

async fn exchange(
    sender: &mut Sender,
    req: Request<Full<Bytes>>,
    wire: Wire,
) -> Result<(), Failure> {
    if sender.ready().await.is_err() {
        return Err(Failure::NotSent("connection closed by server".into()));
    }
    let resp = sender.send_request(req).await.map_err(|e| {
        if e.is_canceled() {
            Failure::NotSent(format!("http: {e}"))
        } else {
            Failure::MaybeSent(format!("http: {e}"))
        }
    })?;
    let status = resp.status();
    resp.into_body()
        .collect()
        .await
        .map_err(|e| Failure::MaybeSent(format!("body: {e}")))?;
    let want = match wire {
        Wire::Pixel => StatusCode::OK,
        Wire::Json => StatusCode::ACCEPTED,
    };
    if status == want {
        Ok(())
    } else {
        Err(Failure::Status(status))
    }
}

async fn worker(shared: Arc<Shared>) -> WorkerOut {
    let spec = &shared.spec;
    let host = HeaderValue::from_str(&spec.host).unwrap_or(HeaderValue::from_static("localhost"));
    let close = spec.mode == ConnMode::NewConnection;
    let mut out = WorkerOut {
        accepted: Ledger::new(shared.traffic.config().sites.len()),
        uncertain: Ledger::new(shared.traffic.config().sites.len()),
        ..Default::default()
    };
    let mut conn: Option<Sender> = None;
    while let Some(ticket) = shared.ticket().await {
        // The hit depends on the seed and its sequence number alone, not on which
        // connection sends it: the same seed and --requests give the same traffic
        // whatever the timing (scripts/cluster.sh compares 3 nodes with 1).
        let mut rng =
            SmallRng::seed_from_u64(spec.seed ^ ticket.seq.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let hit = shared.traffic.hit(ticket.seq, &mut rng);
        let send_at = Instant::now();
        let t0 = ticket.due.unwrap_or(send_at);
        out.sent += 1;
        let attempt = async {
            // A keep-alive connection the server closed while idle is replaced once.
            for _ in 0..2 {
                if conn.is_none() {
                    out.connects += 1;
                    conn = Some(connect(spec.addr).await?);
                }
                let Some(sender) = conn.as_mut() else {
                    continue;
                };
                match exchange(sender, request(&host, &hit, close), hit.wire).await {
                    Err(Failure::NotSent(_)) if !close => conn = None,
                    other => return other,
                }
            }
            Err(Failure::NotSent("connection closed by server twice".into()))
        };
        let result = match tokio::time::timeout(spec.timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(Failure::MaybeSent("timeout".into())),
        };
        let done = Instant::now();
        match result {
            Ok(()) => {
                out.ok += 1;
                out.accepted.book(&hit);
                shared.answered.fetch_add(1, Ordering::Relaxed);
                if t0 >= shared.measure_from {
                    out.latency.record(done - t0);
                    out.service.record(done - send_at);
                    if ticket.due.is_some() {
                        out.send_lag.record(send_at.saturating_duration_since(t0));
                    }
                    out.measured += 1;
                    out.last_done = Some(out.last_done.map_or(done, |l| l.max(done)));
                }
            }
            Err(f) => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                let kind = match f {
                    Failure::NotSent(k) => k,
                    Failure::MaybeSent(k) => {
                        out.uncertain.book(&hit);
                        k
                    }
                    Failure::Status(s) => format!("status {}", s.as_u16()),
                };
                *out.errors.entry(kind).or_default() += 1;
                conn = None;
            }
        }
        if close {
            conn = None;
        }
    }
    out
}

/// Number of open-loop requests due before `end` (or at all, with `requests`).
fn open_loop_total(rate: f64, start: Instant, end: Option<Instant>, requests: Option<u64>) -> u64 {
    let by_time = end.map_or(u64::MAX, |e| {
        (e.saturating_duration_since(start).as_secs_f64() * rate).ceil() as u64
    });
    by_time.min(requests.unwrap_or(u64::MAX))
}

/// The open-loop pacer, on its own OS thread: releases one permit per request as
/// its due time passes, then one extra permit per connection so that every worker
/// wakes up and sees the end. An OS thread sleeps with ~0.1 ms precision where
/// tokio's timer rounds up to whole milliseconds, and a sleeping pacer does not
/// steal CPU the way spinning until each due time would on a shared machine.
fn pace(sem: Arc<Semaphore>, rate: f64, start: Instant, total: u64, connections: usize) {
    let mut given: u64 = 0;
    while given < total {
        let now = Instant::now();
        let due = if now < start {
            0
        } else {
            (((now - start).as_secs_f64() * rate).floor() as u64 + 1).min(total)
        };
        if due > given {
            sem.add_permits((due - given).min(Semaphore::MAX_PERMITS as u64 / 2) as usize);
            given = due;
        }
        if given < total {
            let next = start + Duration::from_secs_f64(given as f64 / rate);
            let wait = next.saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
    }
    sem.add_permits(connections);
}

fn usage_now(tree: &Tree) -> (Option<f64>, Option<f64>) {
    (
        tree.cpu_seconds(),
        procstat::cpu_seconds(std::process::id()),
    )
}

/// Runs one load and measures it. Must be called inside a tokio runtime.
pub async fn run(spec: LoadSpec, traffic: Arc<Traffic>) -> RunResult {
    let start = Instant::now() + Duration::from_millis(20);
    let measure_from = start + spec.warmup;
    let end = spec.duration.map(|d| measure_from + d);
    let shared = Arc::new(Shared {
        traffic,
        seq: AtomicU64::new(0),
        answered: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        start,
        measure_from,
        end,
        due: spec.rate.map(|_| Arc::new(Semaphore::new(0))),
        spec: spec.clone(),
    });
    if let (Some(rate), Some(sem)) = (spec.rate, &shared.due) {
        let total = open_loop_total(rate, start, end, spec.requests);
        let (sem, connections) = (sem.clone(), spec.connections.max(1));
        std::thread::spawn(move || pace(sem, rate, start, total, connections));
    }
    tokio::time::sleep_until(start.into()).await;

    // CPU counters at the start of the measured window, read by a side task.
    let (mark_tx, mark_rx) = tokio::sync::oneshot::channel();
    let mark_tree = spec.server.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let server = mark_tree.as_ref().and_then(|t| t.cpu_seconds());
        let me = procstat::cpu_seconds(std::process::id());
        let _ = mark_tx.send((server, me, Instant::now()));
    });

    let progress = spec.progress.then(|| {
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let (mut last_ok, mut last_err) = (0, 0);
            loop {
                tick.tick().await;
                let ok = shared.answered.load(Ordering::Relaxed);
                let err = shared.failed.load(Ordering::Relaxed);
                eprintln!(
                    "  {:>5.1}s  {:>9} req/s  errors {:>6}  (answered {ok}, failed {err})",
                    shared.start.elapsed().as_secs_f64(),
                    group(ok - last_ok),
                    err - last_err,
                );
                (last_ok, last_err) = (ok, err);
            }
        })
    });

    let workers: Vec<_> = (0..spec.connections.max(1))
        .map(|_| tokio::spawn(worker(shared.clone())))
        .collect();
    let mut outs = Vec::with_capacity(workers.len());
    for w in workers {
        if let Ok(o) = w.await {
            outs.push(o);
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    let (server_end, me_end) = spec.server.as_ref().map_or((None, None), usage_now);
    let me_end = me_end.or_else(|| procstat::cpu_seconds(std::process::id()));
    let mark = mark_rx.await.ok();

    let sites = shared.traffic.config().sites.len();
    let mut r = RunResult {
        latency: Histogram::new(),
        service: Histogram::new(),
        send_lag: Histogram::new(),
        measured: 0,
        window: Duration::ZERO,
        sent: 0,
        ok: 0,
        errors: BTreeMap::new(),
        connects: 0,
        accepted: Ledger::new(sites),
        uncertain: Ledger::new(sites),
        generator_cpu_secs: None,
        generator_cpus: procstat::cpus_allowed(std::process::id()),
        server: None,
        spec: spec.clone(),
    };
    let mut last_done = None;
    for o in outs {
        r.latency.merge(&o.latency);
        r.service.merge(&o.service);
        r.send_lag.merge(&o.send_lag);
        r.measured += o.measured;
        r.sent += o.sent;
        r.ok += o.ok;
        r.connects += o.connects;
        for (k, v) in o.errors {
            *r.errors.entry(k).or_default() += v;
        }
        r.accepted.merge(&o.accepted);
        r.uncertain.merge(&o.uncertain);
        last_done = match (last_done, o.last_done) {
            (Some(a), Some(b)) => Some(std::cmp::max(a, b)),
            (a, b) => a.or(b),
        };
    }
    r.window = last_done.map_or(Duration::ZERO, |l| {
        l.saturating_duration_since(measure_from)
    });
    if let Some((server_start, me_start, _)) = mark {
        r.generator_cpu_secs = me_start.zip(me_end).map(|(a, b)| b - a);
        if let Some(tree) = &spec.server {
            r.server = Some(ServerUsage {
                pids: tree.pids(),
                cpu_secs: server_start.zip(server_end).map(|(a, b)| b - a),
                peak_rss_kib: tree.peak_rss_kib(),
                rss_kib: tree
                    .pids()
                    .into_iter()
                    .filter_map(procstat::rss_kib)
                    .reduce(|a, b| a + b),
                cpus: tree.cpus_allowed(),
            });
        }
    }
    r
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
    }
}
