//! Test harness: a real ClickHouse (database per test), veil on port 0 in-process,
//! a raw HTTP/1.1 client, and a capture of every log line veil writes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use veil::clock::{Clock, SystemClock};
use veil::config::{Config, SiteConfig};

/// Where the test ClickHouse listens (the test command starts it).
pub fn clickhouse_url() -> String {
    std::env::var("VEIL_TEST_CLICKHOUSE_URL").unwrap_or_else(|_| "http://127.0.0.1:18123".into())
}

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The official-schema MaxMind test database shipped in geo/testdata.
pub fn test_mmdb() -> PathBuf {
    repo().join("geo/testdata/GeoLite2-City-Test.mmdb")
}

/// Browser User-Agents used across tests.
pub const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
pub const FIREFOX_LINUX: &str =
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
pub const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
pub const GOOGLEBOT: &str =
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

// ---- log capture -----------------------------------------------------------

static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the capturing subscriber once (debug level for veil, all fields).
pub fn init_logs() {
    LOGS.get_or_init(|| {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(buf.clone());
        let _ = tracing_subscriber::fmt()
            .with_env_filter("veil=debug,info")
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .try_init();
        buf
    });
}

/// Everything logged so far by any test in this binary.
pub fn logs() -> String {
    LOGS.get()
        .and_then(|b| {
            b.lock()
                .ok()
                .map(|v| String::from_utf8_lossy(&v).into_owned())
        })
        .unwrap_or_default()
}

// ---- ClickHouse --------------------------------------------------------------

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh database, migrated, dropped when the test passes.
pub struct TestDb {
    pub name: String,
    pub client: clickhouse::Client,
}

impl TestDb {
    pub async fn new(tag: &str) -> TestDb {
        Self::on(&clickhouse_url(), tag).await
    }

    /// A fresh migrated database on the server at `url`.
    pub async fn on(url: &str, tag: &str) -> TestDb {
        let name = format!(
            "veil_t{}_{}_{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst),
            tag
        );
        let cfg = veil::config::ClickHouseConfig {
            url: url.to_string(),
            database: name.clone(),
            ..Default::default()
        };
        veil::sink::schema::migrate(&cfg, &[])
            .await
            .unwrap_or_else(|e| panic!("migrating {name} on {} failed (is the test ClickHouse running? use the README's test command): {e}", cfg.url));
        TestDb {
            client: veil::sink::schema::client(&cfg),
            name,
        }
    }

    /// Aggregates of a site over all days, read the way the stats API reads
    /// them (closed days' counters, open days' sketches): (dim, value) → row.
    /// Visitors are the sum of each day's unique visitors.
    pub async fn totals(&self, site: &str) -> BTreeMap<(String, String), Totals> {
        use veil::model::Counters;
        use veil::stats::query::{cells_of, ClosedDays, Grain};
        let scope = every_day(site);
        let mut sql = veil::sink::sql::Sql::new(&format!(
            "SELECT dim, value, {}, sum(visitors) AS visitors FROM ",
            Counters::columns(|c| format!("sum({c}) AS {c}"))
        ));
        sql.append(cells_of(scope, &ClosedDays::Ledger, None, None, Grain::Day));
        sql.push(" GROUP BY dim, value ORDER BY dim, value", []);
        let rows = sql
            .query(&self.client)
            .fetch_all::<Totals>()
            .await
            .expect("query aggregates");
        rows.into_iter()
            .map(|r| ((r.dim.clone(), r.value.clone()), r))
            .collect()
    }

    /// Closes every day that has ended by `now` (no grace, no settle), as
    /// veil's day close would once they are due.
    pub async fn close_days(&self, now: u64) -> Vec<(u16, String)> {
        let clock = veil::clock::ManualClock::at_ms(now * 1000);
        let timing = veil::sink::close::CloseTiming {
            grace_secs: 0,
            settle: std::time::Duration::ZERO,
        };
        veil::sink::close::close_due(
            &self.client,
            &clock,
            timing,
            &mut veil::sink::close::Zones::default(),
        )
        .await
        .expect("day close")
    }

    pub async fn drop(self) {
        let _ = self
            .client
            .query(&format!("DROP DATABASE IF EXISTS {}", self.name))
            .execute()
            .await;
    }
}

/// Metrics of one (dim, value): the counters as the model declares them.
pub type Totals = veil::stats::query::ValueRow;

/// A query scope over every day a test can store (1970 to 2079).
pub fn every_day(site: &str) -> veil::stats::query::Scope<'_> {
    veil::stats::query::Scope {
        site,
        tz: "UTC",
        range: veil::stats::params::DateRange {
            from: 0,
            to: 40_000,
        },
    }
}

/// Looks up (dim, value) or returns zeros.
pub fn get(t: &BTreeMap<(String, String), Totals>, dim: &str, value: &str) -> (u64, u64) {
    t.get(&(dim.to_string(), value.to_string()))
        .map_or((0, 0), |r| (r.pageviews, r.visitors))
}

// ---- veil ------------------------------------------------------------------------

/// A site config for `example.com` with the given consent preset.
pub fn site(id: &str, preset: &str) -> SiteConfig {
    let toml = format!("id = \"{id}\"\nhostnames = [\"{id}\", \"*.{id}\"]\nconsent = {{ preset = \"{preset}\" }}\n");
    toml::from_str(&toml).expect("site config")
}

/// Test configuration: loopback as a trusted proxy (tests choose client IPs with
/// X-Forwarded-For), the MaxMind test database, fast flushes.
pub fn config(db: &TestDb) -> Config {
    let mut c = Config::default();
    c.server.listen = "127.0.0.1:0".parse().unwrap();
    c.server.trusted_proxies = vec!["127.0.0.0/8".into(), "::1/128".into()];
    c.clickhouse.url = clickhouse_url();
    c.clickhouse.database = db.name.clone();
    c.geo.paths = vec![test_mmdb()];
    c.pipeline.flush_interval_ms = 200;
    // Tests close days at once (no writer runs for them concurrently).
    c.pipeline.close_settle_ms = 100;
    c.pipeline.retry_max_backoff_ms = 500;
    c.pipeline.shutdown_deadline_ms = 10_000;
    c.sites = vec![site("example.com", "eu-exempt-audience")];
    c.spool.dir = std::env::temp_dir().join(format!("veil-spool-{}", db.name));
    c
}

/// A ClickHouse server of a test's own (started with scripts/clickhouse.sh on
/// separate ports and data dir), for tests that stop and start it.
pub struct OwnClickHouse {
    pub data_dir: PathBuf,
    pub http_port: u16,
    tcp_port: u16,
    interserver_port: u16,
}

impl OwnClickHouse {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.http_port)
    }

    fn script(&self, cmd: &str) {
        let status = std::process::Command::new("bash")
            .arg(repo().join("scripts/clickhouse.sh"))
            .arg(cmd)
            .env("VEIL_DATA_DIR", &self.data_dir)
            .env("VEIL_CH_HTTP_PORT", self.http_port.to_string())
            .env("VEIL_CH_TCP_PORT", self.tcp_port.to_string())
            .env(
                "VEIL_CH_INTERSERVER_PORT",
                self.interserver_port.to_string(),
            )
            .env("VEIL_CH_MAX_MEMORY", "1000000000")
            .status()
            .expect("run scripts/clickhouse.sh");
        assert!(status.success(), "clickhouse.sh {cmd} failed");
    }

    /// Starts a fresh server; `slot` keeps parallel tests on distinct ports.
    pub fn start(slot: u16) -> OwnClickHouse {
        let base = 28_000 + (std::process::id() % 50) as u16 * 40 + slot * 4;
        let ch = OwnClickHouse {
            data_dir: std::env::temp_dir().join(format!("veil-ch-{}-{slot}", std::process::id())),
            http_port: base,
            tcp_port: base + 1,
            interserver_port: base + 2,
        };
        let _ = std::fs::remove_dir_all(&ch.data_dir);
        ch.script("start");
        ch
    }

    pub fn stop(&self) {
        self.script("stop");
    }

    pub fn resume(&self) {
        self.script("start");
    }
}

impl Drop for OwnClickHouse {
    fn drop(&mut self) {
        self.script("stop");
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub struct TestVeil {
    pub running: veil::Running,
    pub addr: std::net::SocketAddr,
}

impl TestVeil {
    pub async fn start(config: Config) -> TestVeil {
        Self::start_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn start_with_clock(config: Config, clock: Arc<dyn Clock>) -> TestVeil {
        init_logs();
        let running = veil::start(config, clock, std::future::pending())
            .await
            .expect("veil starts");
        let addr = running.addr;
        TestVeil { running, addr }
    }

    /// Graceful stop: everything accepted is in ClickHouse afterwards.
    pub async fn stop(self) {
        tokio::time::timeout(Duration::from_secs(30), self.running.shutdown())
            .await
            .expect("veil stops within 30 s");
    }
}

// ---- raw HTTP ----------------------------------------------------------------------

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends one raw request (must contain its own headers; `Connection: close` is
/// added) and reads the whole reply.
pub async fn raw(addr: std::net::SocketAddr, head: &str, body: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let mut req = head.trim_end_matches("\r\n").as_bytes().to_vec();
    req.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    req.extend_from_slice(body);
    s.write_all(&req).await.expect("send");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("reply within 10 s")
        .expect("read");
    parse_reply(&buf)
}

fn parse_reply(buf: &[u8]) -> Reply {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&buf[..split]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        body: buf[split + 4..].to_vec(),
    }
}

/// A pixel request from `ip` (via X-Forwarded-For) with `ua`.
pub async fn pixel(
    addr: std::net::SocketAddr,
    query: &str,
    ip: &str,
    ua: &str,
    extra: &str,
) -> Reply {
    let mut head = format!(
        "GET /p.gif?{query} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {ua}\r\nX-Forwarded-For: {ip}\r\n{}",
        browser_headers(extra, "no-cors")
    );
    head.push_str(extra);
    raw(addr, &head, b"").await
}

/// The headers a browser sends with every beacon (languages, fetch metadata)
/// that `extra` does not set itself: veil takes a browser UA without them for a
/// script.
/// Pixels say `pl-PL` (a Polish visitor), JSON beacons `en-US`.
pub fn browser_headers(extra: &str, mode: &str) -> String {
    let set = |name: &str| {
        extra
            .lines()
            .any(|l| l.to_ascii_lowercase().starts_with(&format!("{name}:")))
    };
    let mut out = String::new();
    if !set("accept-language") {
        let language = if mode == "no-cors" {
            "pl-PL,pl;q=0.9"
        } else {
            "en-US,en;q=0.9"
        };
        out.push_str(&format!("Accept-Language: {language}\r\n"));
    }
    if !set("sec-fetch-mode") {
        out.push_str(&format!("Sec-Fetch-Mode: {mode}\r\n"));
    }
    out
}

/// A JSON POST to /api/collect from `ip` with `ua`.
pub async fn collect(
    addr: std::net::SocketAddr,
    json: &str,
    ip: &str,
    ua: &str,
    extra: &str,
) -> Reply {
    let head = format!(
        "POST /api/collect HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: {ua}\r\nX-Forwarded-For: {ip}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}{extra}",
        json.len(),
        browser_headers(extra, "cors")
    );
    raw(addr, &head, json.as_bytes()).await
}

/// Skips (or, under CI, fails) a test that lacks a tool `scripts/test.sh`
/// installs with `install` (a function of scripts/lib.sh).
pub fn missing_tool(what: &str, test: &str, install: &str) {
    let msg = format!(
        "{what}; the {test} test is SKIPPED (scripts/test.sh installs it: \
         `source scripts/lib.sh; {install}`)"
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("{msg}");
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
