//! `veil.toml` + `VEIL_*` environment overrides → a validated [`Config`].
//!
//! Every key has a default except the sites. An environment variable
//! `VEIL_SECTION__KEY` overrides `section.key` (`VEIL_CLICKHOUSE__URL`,
//! `VEIL_GEO__PATHS=a.mmdb,b.mmdb`); its value is read as the type the key has, so a
//! password of digits stays a string. Every error names the key (or the variable)
//! it is about, so a bad deployment fails at start with a message an operator can act on.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::privacy::consent::ConsentConfig;

/// A configuration problem, always naming the key or variable it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message (with line and column).
        message: String,
    },
    /// A key has a wrong type, an unknown name or an invalid value.
    #[error("config key `{key}`: {message}")]
    Key {
        /// Dotted path of the key (`server.listen`, `sites[0].hostnames`).
        key: String,
        /// What is wrong and what is expected.
        message: String,
    },
}

impl ConfigError {
    fn key(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Key {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The whole configuration.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// HTTP server.
    pub server: ServerConfig,
    /// Where aggregates go.
    pub clickhouse: ClickHouseConfig,
    /// IP → country/region database.
    pub geo: GeoConfig,
    /// Daily salts of the visitor hash.
    pub salt: SaltConfig,
    /// In-memory aggregation and batching.
    pub pipeline: PipelineConfig,
    /// Bounds on what one beacon may carry.
    pub limits: LimitsConfig,
    /// The background job that enforces each site's retention.
    pub retention: RetentionJobConfig,
    /// Disk spool for aggregate batches while ClickHouse is unavailable.
    pub spool: SpoolConfig,
    /// The sites veil collects for; hits for any other site are refused.
    pub sites: Vec<SiteConfig>,
}

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
    /// Proxies (CIDRs) whose `X-Forwarded-For` / `Forwarded` headers are believed.
    pub trusted_proxies: Vec<String>,
    /// Worker threads of the runtime; 0 = one per core.
    pub worker_threads: usize,
    /// Origins (`https://intranet.example.com`) whose pages may call the stats API
    /// from a browser (CORS). Empty = only the dashboard veil serves itself.
    pub cors_origins: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_connections: 10_000,
            max_body_bytes: 16 * 1024,
            header_read_timeout_ms: 5_000,
            trusted_proxies: Vec::new(),
            worker_threads: 0,
            cors_origins: Vec::new(),
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
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            url: "http://127.0.0.1:8123".into(),
            database: "veil".into(),
            user: "default".into(),
            password: String::new(),
        }
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
    /// A visit ends after this long without a hit (s).
    pub visit_timeout_secs: u32,
    /// Most live visits held in memory; past it the least recently active are
    /// closed early (and counted).
    pub max_live_visits: usize,
    /// Longest wait between insert retries (ms).
    pub retry_max_backoff_ms: u64,
    /// Time SIGTERM gives in-flight requests and the final flush (ms).
    pub shutdown_deadline_ms: u64,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            flush_interval_ms: 10_000,
            batch_rows: 50_000,
            queue_batches: 64,
            shards: 16,
            ua_cache_entries: 65_536,
            visit_timeout_secs: 1_800,
            max_live_visits: 2_000_000,
            retry_max_backoff_ms: 30_000,
            shutdown_deadline_ms: 30_000,
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

/// One site.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Identifier sent by the beacon (`s=` / `site`), usually the main domain.
    pub id: String,
    /// Hostnames whose pages may report to this site (a leading `*.` allows
    /// subdomains). Empty = only the id itself.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Consent policy.
    #[serde(default)]
    pub consent: ConsentConfig,
    /// Groups with fewer unique visitors are folded into "(other)" by the stats API
    /// (0 disables).
    #[serde(default = "default_k")]
    pub k: u32,
    /// Days each class of stored data is kept for this site.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Count fragment routes (`/app#/settings`) as pages, for single-page apps that
    /// route by fragment.
    #[serde(default)]
    pub hash_routing: bool,
    /// Event prop keys that are marketing data: stored only at the marketing level.
    #[serde(default)]
    pub marketing_props: Vec<String>,
    /// Umami website id this site answers to on `POST /api/send` (drop-in for
    /// Umami's script).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umami_website_id: Option<String>,
    /// Who is responsible for the data (named in the generated disclosure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// Where visitors can ask about their data (named in the disclosure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Default language of the opt-out page and disclosure (`en` or `pl`); the
    /// visitor's `Accept-Language` is preferred when it names one of them.
    #[serde(default = "default_language")]
    pub language: String,
    /// IANA time zone (`Europe/Warsaw`) the stats API and dashboard use for days,
    /// weeks and months: a marketer's "today" is local, storage is UTC hours.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Hashed read-only keys of the stats API for this site (`blake3:HEX`, printed
    /// by `veil hash-key`); the keys themselves are never stored.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// The dashboard and its API calls work without a key (a public statistics page).
    #[serde(default)]
    pub public_dashboard: bool,
}

fn default_k() -> u32 {
    5
}

fn default_language() -> String {
    "en".into()
}

fn default_timezone() -> String {
    "UTC".into()
}

/// Whether `tz` looks like an IANA zone name (`UTC`, `Europe/Warsaw`,
/// `America/Argentina/Buenos_Aires`, `Etc/GMT+2`) and, where the system has a zone
/// database, names one of its zones. ClickHouse resolves the name itself.
fn valid_timezone(tz: &str) -> bool {
    let shaped = !tz.is_empty()
        && tz.len() <= 64
        && tz.split('/').all(|part| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+'))
        });
    if !shaped {
        return false;
    }
    let zoneinfo = Path::new("/usr/share/zoneinfo");
    tz == "UTC" || !zoneinfo.is_dir() || zoneinfo.join(tz).is_file()
}

/// Whether `key` is a stored API key hash: `blake3:` and 64 hex digits.
fn valid_key_hash(key: &str) -> bool {
    key.strip_prefix("blake3:")
        .is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

/// Retention in days per class of stored data. ClickHouse 18.16 has no TTL, so a
/// daily job drops expired day partitions (and deletes a site's rows of a class whose
/// limit is shorter than the longest one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Audience statistics: pageviews, visitors, visits, pages, referrers, geo,
    /// browser/OS/device, screen, language, events.
    pub audience_days: u32,
    /// Campaign data: UTM dimensions and marketing props.
    pub marketing_days: u32,
    /// Consent decision counters (what was and was not collected).
    pub consent_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            audience_days: 730,
            marketing_days: 365,
            consent_days: 1095,
        }
    }
}

impl RetentionConfig {
    /// The longest limit: partitions older than this hold nothing any class keeps.
    pub fn max_days(&self) -> u32 {
        self.audience_days
            .max(self.marketing_days)
            .max(self.consent_days)
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

impl Config {
    /// Reads `path` (if given), applies `VEIL_*` overrides from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let text = match path {
            Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
                path: p.to_path_buf(),
                source,
            })?,
            None => String::new(),
        };
        Self::from_toml_str(&text, path.unwrap_or(Path::new("<none>")), env)
    }

    /// Parses TOML text, applies overrides and validates; `origin` names the source
    /// in messages.
    pub fn from_toml_str(
        text: &str,
        origin: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Syntax {
            path: origin.to_path_buf(),
            message: e.to_string(),
        })?;
        apply_env(&mut table, env)?;
        let config: Config =
            serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
                let key = e.path().to_string();
                ConfigError::key(key, e.into_inner().message().to_string())
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what types cannot: values in range, unique sites, parseable CIDRs.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let positive = [
            ("server.max_connections", self.server.max_connections as u64),
            ("server.max_body_bytes", self.server.max_body_bytes as u64),
            (
                "server.header_read_timeout_ms",
                self.server.header_read_timeout_ms,
            ),
            (
                "pipeline.flush_interval_ms",
                self.pipeline.flush_interval_ms,
            ),
            ("pipeline.batch_rows", self.pipeline.batch_rows as u64),
            ("pipeline.queue_batches", self.pipeline.queue_batches as u64),
            ("pipeline.shards", self.pipeline.shards as u64),
            (
                "pipeline.retry_max_backoff_ms",
                self.pipeline.retry_max_backoff_ms,
            ),
            ("limits.max_path", self.limits.max_path as u64),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::key(key, "must be greater than 0"));
            }
        }
        self.trusted_proxies()?;
        let url = &self.clickhouse.url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::key(
                "clickhouse.url",
                format!("`{url}` is not an http:// or https:// URL"),
            ));
        }
        if self.clickhouse.database.is_empty()
            || !self
                .clickhouse
                .database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ConfigError::key(
                "clickhouse.database",
                "must be a non-empty name of letters, digits and `_`",
            ));
        }
        if self.geo.paths.len() > 2 {
            return Err(ConfigError::key(
                "geo.paths",
                "give one combined MMDB file, or one IPv4 and one IPv6 file",
            ));
        }
        for (i, p) in self.geo.paths.iter().enumerate() {
            if !p.is_file() {
                return Err(ConfigError::key(
                    format!("geo.paths[{i}]"),
                    format!("{} is not a readable file", p.display()),
                ));
            }
        }
        for (i, origin) in self.server.cors_origins.iter().enumerate() {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"));
            if !rest.is_some_and(|r| !r.is_empty() && !r.contains(['/', ' ', '*'])) {
                return Err(ConfigError::key(
                    format!("server.cors_origins[{i}]"),
                    format!("`{origin}` is not an origin like `https://intranet.example.com` (scheme and host, no path)"),
                ));
            }
        }
        if self.sites.is_empty() {
            return Err(ConfigError::key(
                "sites",
                "at least one [[sites]] entry is needed; hits for unknown sites are refused",
            ));
        }
        let mut seen = HashSet::new();
        for (i, site) in self.sites.iter().enumerate() {
            if site.id.is_empty() || site.id.len() > 128 {
                return Err(ConfigError::key(
                    format!("sites[{i}].id"),
                    "must be 1 to 128 characters",
                ));
            }
            if !seen.insert(site.id.as_str()) {
                return Err(ConfigError::key(
                    format!("sites[{i}].id"),
                    format!("`{}` is configured twice", site.id),
                ));
            }
            if site.language != "en" && site.language != "pl" {
                return Err(ConfigError::key(
                    format!("sites[{i}].language"),
                    format!("`{}` is not supported; use `en` or `pl`", site.language),
                ));
            }
            if let Err((key, message)) = site.consent.validate() {
                return Err(ConfigError::key(
                    format!("sites[{i}].consent.{key}"),
                    message,
                ));
            }
            if !valid_timezone(&site.timezone) {
                return Err(ConfigError::key(
                    format!("sites[{i}].timezone"),
                    format!(
                        "`{}` is not a known IANA time zone (like `UTC` or `Europe/Warsaw`)",
                        site.timezone
                    ),
                ));
            }
            for (j, key) in site.api_keys.iter().enumerate() {
                if !valid_key_hash(key) {
                    return Err(ConfigError::key(
                        format!("sites[{i}].api_keys[{j}]"),
                        "must be a key hash `blake3:<64 hex digits>` as printed by `veil hash-key`, never the key itself",
                    ));
                }
            }
            let r = &site.retention;
            for (name, days) in [
                ("audience_days", r.audience_days),
                ("marketing_days", r.marketing_days),
                ("consent_days", r.consent_days),
            ] {
                if days == 0 {
                    return Err(ConfigError::key(
                        format!("sites[{i}].retention.{name}"),
                        "must be at least 1 day",
                    ));
                }
            }
            for (j, h) in site.hostnames.iter().enumerate() {
                let bare = h.strip_prefix("*.").unwrap_or(h);
                if bare.is_empty() || bare.contains(['/', ':', ' ']) {
                    return Err(ConfigError::key(
                        format!("sites[{i}].hostnames[{j}]"),
                        format!("`{h}` is not a hostname (no scheme, port or path)"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The parsed trusted-proxy networks.
    pub fn trusted_proxies(&self) -> Result<Vec<IpNet>, ConfigError> {
        self.server
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let net = s
                    .parse::<IpNet>()
                    .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        ConfigError::key(
                            format!("server.trusted_proxies[{i}]"),
                            format!("`{s}` is not an IP address or CIDR"),
                        )
                    })?;
                if net.prefix_len() == 0 {
                    return Err(ConfigError::key(
                        format!("server.trusted_proxies[{i}]"),
                        "trusting every address lets any client forge its IP",
                    ));
                }
                Ok(net)
            })
            .collect()
    }
}

/// Applies `VEIL_SECTION__KEY=value` overrides, typed by the default configuration.
fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let defaults = toml::Table::try_from(Config::default())
        .map_err(|e| ConfigError::key("<defaults>", e.to_string()))?;
    let mut vars: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with("VEIL_") && k.contains("__"))
        .collect();
    vars.sort();
    for (var, raw) in vars {
        let path: Vec<String> = var["VEIL_".len()..]
            .split("__")
            .map(|p| p.to_ascii_lowercase())
            .collect();
        let [section, key] = path.as_slice() else {
            return Err(ConfigError::key(var, "expected VEIL_SECTION__KEY"));
        };
        let Some(default) = defaults
            .get(section)
            .and_then(|s| s.as_table())
            .and_then(|s| s.get(key))
            .or_else(|| {
                // Optional keys have no default value; they are strings or paths.
                (section == "salt" && key == "state_file").then_some(&EMPTY_STRING)
            })
        else {
            return Err(ConfigError::key(
                var,
                format!("no configuration key `{section}.{key}`"),
            ));
        };
        let value = typed_like(default, &raw).ok_or_else(|| {
            ConfigError::key(
                var.clone(),
                format!("`{raw}` is not a valid {}", default.type_str()),
            )
        })?;
        let section_table = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(section_table) = section_table.as_table_mut() else {
            return Err(ConfigError::key(section.clone(), "must be a table"));
        };
        section_table.insert(key.clone(), value);
    }
    Ok(())
}

static EMPTY_STRING: toml::Value = toml::Value::String(String::new());

fn typed_like(default: &toml::Value, raw: &str) -> Option<toml::Value> {
    Some(match default {
        toml::Value::Integer(_) => toml::Value::Integer(raw.trim().parse().ok()?),
        toml::Value::Float(_) => toml::Value::Float(raw.trim().parse().ok()?),
        toml::Value::Boolean(_) => toml::Value::Boolean(match raw.trim() {
            "1" | "true" | "yes" | "on" => true,
            "0" | "false" | "no" | "off" => false,
            _ => return None,
        }),
        toml::Value::Array(_) => toml::Value::Array(
            raw.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| toml::Value::String(s.to_string()))
                .collect(),
        ),
        _ => toml::Value::String(raw.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[[sites]]\nid = \"example.com\"\n";

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_toml_str(
            text,
            Path::new("test.toml"),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn minimal_config_gets_defaults() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.server.listen.port(), 8080);
        assert_eq!(c.sites[0].k, 5);
        assert_eq!(c.pipeline.flush_interval_ms, 10_000);
    }

    #[test]
    fn env_overrides_are_typed_by_the_key() {
        let c = load(
            MINIMAL,
            &[
                ("VEIL_CLICKHOUSE__PASSWORD", "1234"),
                ("VEIL_SERVER__MAX_CONNECTIONS", "7"),
                ("VEIL_SERVER__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1"),
                ("VEIL_SALT__STATE_FILE", "/tmp/salt"),
            ],
        )
        .unwrap();
        assert_eq!(c.clickhouse.password, "1234");
        assert_eq!(c.server.max_connections, 7);
        assert_eq!(c.trusted_proxies().unwrap().len(), 2);
        assert_eq!(c.salt.state_file, Some(PathBuf::from("/tmp/salt")));
    }

    #[test]
    fn errors_name_the_key() {
        let e = load(&format!("{MINIMAL}[server]\nlisten = \"nope\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("server.listen"), "{e}");
        let e = load(&format!("{MINIMAL}[server]\nlisen = 1\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("lisen"), "{e}");
        let e = load(MINIMAL, &[("VEIL_SERVER__MAX_CONNECTIONS", "many")]).unwrap_err();
        assert!(
            e.to_string().contains("VEIL_SERVER__MAX_CONNECTIONS"),
            "{e}"
        );
        let e = load(MINIMAL, &[("VEIL_SERVER__NOPE", "1")]).unwrap_err();
        assert!(e.to_string().contains("server.nope"), "{e}");
        let e = load(MINIMAL, &[("VEIL_PIPELINE__BATCH_ROWS", "0")]).unwrap_err();
        assert!(e.to_string().contains("pipeline.batch_rows"), "{e}");
        let e = load("", &[]).unwrap_err();
        assert!(e.to_string().contains("`sites`"), "{e}");
        let e = load(&format!("{MINIMAL}[[sites]]\nid = \"example.com\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("sites[1].id"), "{e}");
        let e = load(MINIMAL, &[("VEIL_SERVER__TRUSTED_PROXIES", "0.0.0.0/0")]).unwrap_err();
        assert!(e.to_string().contains("trusted_proxies[0]"), "{e}");
        let e = load(MINIMAL, &[("VEIL_GEO__PATHS", "/nonexistent.mmdb")]).unwrap_err();
        assert!(e.to_string().contains("geo.paths[0]"), "{e}");
        let e = load(
            "[[sites]]\nid = \"a\"\nconsent = { preset = \"lax\" }\n",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("sites[0].consent.preset"), "{e}");
        let e = load(&format!("{MINIMAL}timezone = \"Not a zone\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("sites[0].timezone"), "{e}");
        let e = load(&format!("{MINIMAL}timezone = \"../../etc/passwd\"\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("sites[0].timezone"), "{e}");
        let e = load(&format!("{MINIMAL}api_keys = [\"secret\"]\n"), &[]).unwrap_err();
        assert!(e.to_string().contains("sites[0].api_keys[0]"), "{e}");
        let e = load(
            MINIMAL,
            &[("VEIL_SERVER__CORS_ORIGINS", "https://a.example/x")],
        )
        .unwrap_err();
        assert!(e.to_string().contains("server.cors_origins[0]"), "{e}");
    }

    #[test]
    fn stats_keys_have_defaults_and_accept_valid_values() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.sites[0].timezone, "UTC");
        assert!(c.sites[0].api_keys.is_empty() && !c.sites[0].public_dashboard);
        let hash = format!("blake3:{}", "ab".repeat(32));
        let c = load(
            &format!("{MINIMAL}timezone = \"Europe/Warsaw\"\napi_keys = [\"{hash}\"]\npublic_dashboard = true\n"),
            &[("VEIL_SERVER__CORS_ORIGINS", "https://intranet.example.com,http://localhost:3000")],
        )
        .unwrap();
        assert_eq!(c.sites[0].timezone, "Europe/Warsaw");
        assert_eq!(c.server.cors_origins.len(), 2);
    }
}
