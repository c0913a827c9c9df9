//! The process-wide sections of `veil.toml` (server, ClickHouse, geo, salt,
//! pipeline, limits, spool, retention job), each with the defaults a minimal
//! configuration runs with.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// HTTP server settings.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Largest accepted request body (bytes); larger bodies get `413`.
    pub max_body_bytes: usize,
    /// Time a client has to send its request headers (ms): slow clients cannot hold
    /// connections open.
    pub header_read_timeout_ms: u64,
    /// Time a client has to send a request body (ms), on every `POST`: `408`
    /// after it, so a body trickled byte by byte cannot hold a connection.
    pub body_read_timeout_ms: u64,
    /// Connections one client address (an IPv4 address, an IPv6 /64: see
    /// `limits.ipv4_prefix` / `limits.ipv6_prefix`) may hold open at once; more
    /// are closed on accept. Trusted proxies are exempt: behind a load balancer
    /// every connection comes from its address. 0 = no cap.
    pub max_connections_per_ip: usize,
    /// Proxies (CIDRs) whose `X-Forwarded-For` / `Forwarded` headers are believed.
    pub trusted_proxies: Vec<String>,
    /// Worker threads of the runtime; 0 = one per core.
    pub worker_threads: usize,
    /// Origins (`https://intranet.example.com`) whose pages may call the stats API
    /// from a browser (CORS). Empty = only the dashboard veil serves itself.
    pub cors_origins: Vec<String>,
    /// veil's own origin as browsers see it (`https://stats.example.com`), for the
    /// same-origin check of `POST /optout` when a proxy rewrites `Host`. Empty =
    /// the request's `Host` with the scheme the proxy reports.
    pub public_origin: String,
    /// Bearer token for `/metrics` and the detail of `/ready` (set it from
    /// `VEIL_SERVER__METRICS_TOKEN`). Empty = both are answered in full only to
    /// direct connections from loopback that no proxy forwarded.
    pub metrics_token: String,
    /// How often `veil serve` looks for a changed configuration file (s) and
    /// reloads it; 0 = only on SIGHUP.
    pub config_poll_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_connections: 10_000,
            max_body_bytes: 16 * 1024,
            header_read_timeout_ms: 5_000,
            body_read_timeout_ms: 10_000,
            max_connections_per_ip: 64,
            trusted_proxies: Vec::new(),
            worker_threads: 0,
            cors_origins: Vec::new(),
            public_origin: String::new(),
            metrics_token: String::new(),
            config_poll_secs: 5,
        }
    }
}

/// ClickHouse connection.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClickHouseConfig {
    /// HTTP interface URL.
    pub url: String,
    /// Database holding veil's tables (created by `veil migrate`).
    pub database: String,
    /// User name.
    pub user: String,
    /// Password.
    pub password: String,
    /// A cluster of `<remote_servers>` to run on, or empty for one server (the
    /// default). With a name, `veil migrate` creates sharded, replicated tables
    /// `ON CLUSTER` (sql/cluster/), inserts wait for every shard they reach
    /// (`insert_distributed_sync`) and the day close drops sketches on every
    /// shard. See DESIGN.md, "Scale".
    pub cluster: String,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "veil".into(),
            user: "default".into(),
            password: String::new(),
            cluster: String::new(),
        }
    }
}

impl ClickHouseConfig {
    /// The cluster's name, `None` on one server.
    pub fn cluster(&self) -> Option<&str> {
        Some(self.cluster.as_str()).filter(|c| !c.is_empty())
    }
}

/// Geo database.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GeoConfig {
    /// MMDB files: one combined file, or an IPv4 and an IPv6 file. Empty = no geo.
    #[serde(deserialize_with = "paths_or_list")]
    pub paths: Vec<PathBuf>,
    /// How often to look for a changed file (s); 0 = only on SIGHUP.
    pub reload_poll_secs: u64,
}

impl Default for GeoConfig {
    fn default() -> Self {
        GeoConfig {
            paths: Vec::new(),
            reload_poll_secs: 60,
        }
    }
}

/// Daily salts.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SaltConfig {
    /// Seconds after midnight UTC that yesterday's salt is kept (late beacons,
    /// visits crossing midnight) before it is wiped.
    pub grace_secs: u64,
    /// Optional file (mode 0600) so a restart keeps today's salt; empty = memory only.
    pub state_file: Option<PathBuf>,
}

impl Default for SaltConfig {
    fn default() -> Self {
        SaltConfig {
            grace_secs: 3_600,
            state_file: None,
        }
    }
}

/// Aggregation and the ClickHouse writer.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineConfig {
    /// How often the in-memory window is written (ms): also the most a hard kill loses.
    pub flush_interval_ms: u64,
    /// Most rows in one insert.
    pub batch_rows: usize,
    /// Batches waiting for ClickHouse before the flusher waits too.
    pub queue_batches: usize,
    /// Shards of the aggregation window (fewer lock collisions).
    pub shards: usize,
    /// Parsed User-Agents kept in memory (by hash, never the string).
    pub ua_cache_entries: usize,
    /// Count a browser User-Agent as a bot when the request's headers give a
    /// script away (no `Accept-Language`; Chromium without fetch metadata from an
    /// https page: `privacy::agent::signals`). Off for sites that send events
    /// from their own servers.
    pub bot_header_signals: bool,
    /// A visit ends after this long without a hit (s).
    pub visit_timeout_secs: u32,
    /// Most live visits held in memory; past it the least recently active are
    /// closed early (and counted).
    pub max_live_visits: usize,
    /// Most bytes of strings (pages, referrers, campaign values) the live visits
    /// hold; past it the least recently active visits are closed early (and
    /// counted), which gives their strings back.
    pub max_interned_bytes: usize,
    /// Longest wait between insert retries (ms).
    pub retry_max_backoff_ms: u64,
    /// Time SIGTERM gives in-flight requests and the final flush (ms).
    pub shutdown_deadline_ms: u64,
    /// Day close: the wait between marking a day *closing* and reading its
    /// sketches (ms). It must exceed the longest insert (60 s) plus a flush
    /// interval, so no batch written before the mark is missed; see `sink::close`.
    pub close_settle_ms: u64,
    /// How often veil looks for days to close (s).
    pub close_interval_secs: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            flush_interval_ms: 10_000,
            batch_rows: 50_000,
            queue_batches: 64,
            shards: 16,
            ua_cache_entries: 65_536,
            bot_header_signals: true,
            visit_timeout_secs: 1_800,
            max_live_visits: 2_000_000,
            max_interned_bytes: 256 << 20,
            retry_max_backoff_ms: 30_000,
            shutdown_deadline_ms: 30_000,
            close_settle_ms: 90_000,
            close_interval_secs: 60,
        }
    }
}

/// Bounds on event names and props.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Props kept per event; more are dropped.
    pub max_props: usize,
    /// Longest event name (bytes); longer names are cut.
    pub max_event_name: usize,
    /// Longest prop key (bytes).
    pub max_prop_key: usize,
    /// Longest prop value (bytes).
    pub max_prop_value: usize,
    /// Longest page path kept (bytes).
    pub max_path: usize,
    /// Distinct values kept per open-ended dimension (page, referrer, UTM, event,
    /// prop, region, versions) per site and hour; more fold into `(other)`. 0 = no bound.
    pub max_values_per_dim: usize,
    /// Hits per second one client (address) may send; 0 = no limit.
    pub per_client_per_sec: u32,
    /// Burst a client may send at once.
    pub per_client_burst: u32,
    /// Hits per second one site may receive; 0 = no limit.
    pub per_site_per_sec: u32,
    /// Burst a site may receive at once.
    pub per_site_burst: u32,
    /// IPv4 addresses under one prefix of this length are one client for the
    /// per-client rate limit and connection cap (16..=32).
    pub ipv4_prefix: u8,
    /// IPv6 addresses under one prefix of this length are one client (32..=128):
    /// a home or a phone is given a whole /64, so keying by address would give
    /// one client 2^64 budgets.
    pub ipv6_prefix: u8,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_props: 10,
            max_event_name: 64,
            max_prop_key: 64,
            max_prop_value: 256,
            max_path: 512,
            max_values_per_dim: 5_000,
            per_client_per_sec: 20,
            per_client_burst: 100,
            per_site_per_sec: 0,
            per_site_burst: 0,
            ipv4_prefix: 32,
            ipv6_prefix: 64,
        }
    }
}

/// The stats API's protection of itself and of the inserts sharing ClickHouse.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatsConfig {
    /// Refused credentials (`401`) one client address may cause per minute before
    /// it gets `429`; 0 = no limit.
    pub failed_auth_per_minute: u32,
    /// Stats queries one site may have running at once; more get `503`.
    pub max_queries_per_site: usize,
    /// Longest a stats query may run in ClickHouse (`max_execution_time`, s).
    pub query_timeout_secs: u64,
}

impl Default for StatsConfig {
    fn default() -> Self {
        StatsConfig {
            failed_auth_per_minute: 30,
            max_queries_per_site: 4,
            query_timeout_secs: 10,
        }
    }
}

/// The disk spool.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpoolConfig {
    /// Directory of spooled batches; empty = no spool (retry in memory only).
    pub dir: PathBuf,
    /// Most bytes on disk; when reached, JSON hits get `503` until it drains.
    pub max_bytes: u64,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            dir: PathBuf::from("spool"),
            max_bytes: 1 << 30,
        }
    }
}

/// The retention job.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionJobConfig {
    /// Run the job inside `veil serve`.
    pub enabled: bool,
    /// How often it runs (s).
    pub interval_secs: u64,
}

impl Default for RetentionJobConfig {
    fn default() -> Self {
        RetentionJobConfig {
            enabled: true,
            interval_secs: 3_600,
        }
    }
}

fn paths_or_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<PathBuf>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect(),
        OneOrMany::Many(v) => v,
    })
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or a trusted network only).
    None,
    /// Plain connection upgraded with STARTTLS, which the server must offer
    /// (usually port 587).
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// The SMTP server scheduled e-mail reports are sent through.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpConfig {
    /// Host name (also the name the server's certificate must carry); empty =
    /// no SMTP, and then no site may have `reports`.
    pub host: String,
    /// Port.
    pub port: u16,
    /// `none`, `starttls` or `tls`.
    pub tls: SmtpTls,
    /// User name for SMTP AUTH; empty = no authentication.
    pub user: String,
    /// Password for SMTP AUTH (never logged, masked by `veil check-config`).
    pub password: String,
    /// The sender, `reports@example.com` or `veil <reports@example.com>`.
    pub from: String,
    /// Longest wait for the server, per command (s).
    pub timeout_secs: u64,
    /// A PEM file of extra CA certificates to trust (a private CA); empty = the
    /// system's certificates only.
    pub ca_file: PathBuf,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            host: String::new(),
            port: 587,
            tls: SmtpTls::Starttls,
            user: String::new(),
            password: String::new(),
            from: String::new(),
            timeout_secs: 30,
            ca_file: PathBuf::new(),
        }
    }
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    ""
                } else {
                    "********"
                },
            )
            .field("from", &self.from)
            .field("timeout_secs", &self.timeout_secs)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// The scheduled e-mail report job (the reports themselves are per site).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportsJobConfig {
    /// Run the job inside `veil serve` (when some site has `reports`).
    pub enabled: bool,
    /// How often it looks for due reports (s); it also looks once at start.
    pub interval_secs: u64,
    /// Wait between claiming a report in the ledger and reading the claims back
    /// (ms): longer than one second (the ledger's clock) plus the longest insert.
    pub claim_settle_ms: u64,
    /// A claim this old without `sent` is taken to have crashed and may be taken
    /// again (s): longer than a whole send can take.
    pub claim_timeout_secs: u64,
}

impl Default for ReportsJobConfig {
    fn default() -> Self {
        ReportsJobConfig {
            enabled: true,
            interval_secs: 3_600,
            claim_settle_ms: 5_000,
            claim_timeout_secs: 900,
        }
    }
}
