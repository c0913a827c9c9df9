//! `veil.toml` + `VEIL_*` environment overrides → a validated [`Config`].
//!
//! Every key has a default except the sites. An environment variable
//! `VEIL_SECTION__KEY` overrides `section.key` (`VEIL_CLICKHOUSE__URL`,
//! `VEIL_GEO__PATHS=a.mmdb,b.mmdb`); its value is read as the type the key has, so a
//! password of digits stays a string. Every error names the key (or the variable)
//! it is about, so a bad deployment fails at start with a message an operator can act on.
//!
//! This file holds [`Config`] and its entry points ([`Config::load`],
//! [`Config::from_toml_str`]); the sections are in `sections.rs` (process-wide)
//! and `site.rs` (per site), the checks types cannot express in `validate.rs`, and
//! the environment overlay in `env.rs`.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod env;
pub mod reload;
mod sections;
mod site;
mod validate;

pub use self::sections::{
    ClickHouseConfig, GeoConfig, LimitsConfig, PipelineConfig, ReportsJobConfig,
    RetentionJobConfig, SaltConfig, ServerConfig, SmtpConfig, SmtpTls, SpoolConfig, StatsConfig,
};
pub use self::site::{
    Every, FunnelConfig, GoalConfig, ReportConfig, RetentionConfig, SiteConfig, StepConfig,
    SHARE_SECRET_MIN,
};

use self::env::apply_env;

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
    /// The SMTP server e-mail reports are sent through.
    pub smtp: SmtpConfig,
    /// The scheduled e-mail report job.
    pub reports: ReportsJobConfig,
    /// Limits of the stats API.
    pub stats: StatsConfig,
    /// The sites veil collects for; hits for any other site are refused.
    pub sites: Vec<SiteConfig>,
}

impl Config {
    /// (site id, IANA time zone) of every configured site.
    pub fn site_zones(&self) -> Vec<(String, String)> {
        self.sites
            .iter()
            .map(|s| (s.id.clone(), s.timezone.clone()))
            .collect()
    }

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
    fn client_prefixes_and_edge_timeouts_are_checked() {
        let c = load(
            MINIMAL,
            &[
                ("VEIL_LIMITS__IPV6_PREFIX", "48"),
                ("VEIL_SERVER__MAX_CONNECTIONS_PER_IP", "8"),
                ("VEIL_SERVER__BODY_READ_TIMEOUT_MS", "1500"),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.limits.ipv4_prefix, c.limits.ipv6_prefix),
            (32, 48),
            "IPv4 stays per address"
        );
        assert_eq!(c.server.max_connections_per_ip, 8);
        assert_eq!(c.server.body_read_timeout_ms, 1500);
        for (var, value, key) in [
            ("VEIL_LIMITS__IPV6_PREFIX", "16", "limits.ipv6_prefix"),
            ("VEIL_LIMITS__IPV6_PREFIX", "129", "limits.ipv6_prefix"),
            ("VEIL_LIMITS__IPV4_PREFIX", "33", "limits.ipv4_prefix"),
            ("VEIL_LIMITS__IPV4_PREFIX", "8", "limits.ipv4_prefix"),
            (
                "VEIL_SERVER__BODY_READ_TIMEOUT_MS",
                "0",
                "server.body_read_timeout_ms",
            ),
        ] {
            let e = load(MINIMAL, &[(var, value)]).unwrap_err();
            assert!(e.to_string().contains(key), "{var}={value}: {e}");
        }
    }

    #[test]
    fn site_keys_can_be_set_from_the_environment() {
        let secret = "s".repeat(SHARE_SECRET_MIN);
        let c = load(
            &format!("{MINIMAL}[[sites]]\nid = \"b.example\"\n"),
            &[
                ("VEIL_SITES__1__SHARE_SECRET", secret.as_str()),
                ("VEIL_SITES__1__K", "9"),
                (
                    "VEIL_SITES__0__EMBED_ORIGINS",
                    "https://intranet.example.com",
                ),
            ],
        )
        .unwrap();
        assert_eq!(
            (c.sites[1].share_secret.as_str(), c.sites[1].k),
            (secret.as_str(), 9)
        );
        assert_eq!(c.sites[0].embed_origins, ["https://intranet.example.com"]);
        assert!(c.sites[0].share_secret.is_empty());
        for (var, value, want) in [
            ("VEIL_SITES__1__SHARE_SECRET", "x", "no sites[1]"),
            ("VEIL_SITES__zero__K", "1", "not a site index"),
            ("VEIL_SITES__0__RETENTION", "1", "no site key `retention`"),
            ("VEIL_SITES__0__NOPE", "1", "no site key `nope`"),
            ("VEIL_SITES__0__K", "many", "VEIL_SITES__0__K"),
            ("VEIL_SITES__K", "1", "VEIL_SITES__<index>__KEY"),
        ] {
            let e = load(MINIMAL, &[(var, value)]).unwrap_err().to_string();
            assert!(e.contains(want), "{var}: {e}");
        }
    }

    #[test]
    fn share_keys_are_validated_by_name() {
        for (extra, want) in [
            ("share_secret = \"too short\"\n", "sites[0].share_secret"),
            ("share_revoked = [\"xyz\"]\n", "sites[0].share_revoked[0]"),
            (
                "embed_origins = [\"https://a.example/dash\"]\n",
                "sites[0].embed_origins[0]",
            ),
            (
                "embed_origins = [\"https://a.example;script-src *\"]\n",
                "sites[0].embed_origins[0]",
            ),
        ] {
            let e = load(&format!("{MINIMAL}{extra}"), &[]).unwrap_err();
            assert!(e.to_string().contains(want), "{e}");
        }
        let c = load(
            &format!("{MINIMAL}share_secret = \"{}\"\nshare_revoked = [\"0123456789abcdef\"]\nembed_origins = [\"https://intranet.example.com\", \"http://[::1]:8080\"]\n", "k".repeat(40)),
            &[],
        )
        .unwrap();
        assert_eq!(c.sites[0].share_revoked.len(), 1);
    }

    #[test]
    fn dp_keys_are_off_by_default_and_validated_by_name() {
        let c = load(MINIMAL, &[]).unwrap();
        assert_eq!(c.sites[0].dp_epsilon_per_day, 0.0);
        for (extra, want) in [
            ("dp_epsilon_per_day = -1.0\n", "sites[0].dp_epsilon_per_day"),
            ("dp_epsilon_per_day = 50.0\n", "sites[0].dp_epsilon_per_day"),
            ("dp_epsilon_per_day = 1.0\n", "sites[0].dp_secret"),
            (
                "dp_epsilon_per_day = 1.0\ndp_secret = \"short\"\n",
                "sites[0].dp_secret",
            ),
        ] {
            let e = load(&format!("{MINIMAL}{extra}"), &[]).unwrap_err();
            assert!(e.to_string().contains(want), "{extra}: {e}");
        }
        let secret = "d".repeat(40);
        let c = load(
            &format!("{MINIMAL}dp_epsilon_per_day = 0.5\n"),
            &[("VEIL_SITES__0__DP_SECRET", secret.as_str())],
        )
        .unwrap();
        assert_eq!(c.sites[0].dp_epsilon_per_day, 0.5);
        assert_eq!(c.sites[0].dp_secret, secret);
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

    #[test]
    fn reports_need_smtp_and_valid_addresses() {
        let smtp = "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"veil <reports@example.com>\"\n";
        let site =
            |reports: &str| format!("[[sites]]\nid = \"example.com\"\nreports = [{reports}]\n");
        let weekly = "{ every = \"week\", to = [\"a@example.com\"] }";
        let c = load(
            &format!("{smtp}{}", site(weekly)),
            &[("VEIL_SMTP__PASSWORD", "s3cret")],
        )
        .unwrap();
        assert_eq!(c.sites[0].reports[0].every, Every::Week);
        assert_eq!(c.smtp.password, "s3cret");
        assert_eq!(c.smtp.tls, SmtpTls::Starttls);
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "the password is never shown"
        );
        let c = load(
            &format!("{smtp}{}", site(weekly)),
            &[("VEIL_SMTP__TLS", "tls")],
        )
        .unwrap();
        assert_eq!(c.smtp.tls, SmtpTls::Tls);

        let err = |text: &str| load(text, &[]).unwrap_err().to_string();
        let e = err(&site(weekly));
        assert!(
            e.contains("sites[0].reports") && e.contains("smtp.host"),
            "{e}"
        );
        let e = err(&format!(
            "{smtp}{}",
            site("{ every = \"day\", to = [\"a@example.com\"] }")
        ));
        assert!(e.contains("sites[0].reports[0].every"), "{e}");
        let e = err(&format!(
            "{smtp}{}",
            site("{ every = \"week\", to = [\"a@example.com\", \"not an address\"] }")
        ));
        assert!(e.contains("sites[0].reports[0].to[1]"), "{e}");
        let e = err(&format!("{smtp}{}", site("{ every = \"week\", to = [] }")));
        assert!(e.contains("sites[0].reports[0].to"), "{e}");
        let e = err(&format!(
            "{smtp}{}",
            site("{ every = \"month\", to = [\"a@example.com\"], language = \"de\" }")
        ));
        assert!(e.contains("sites[0].reports[0].language"), "{e}");
        let e = err(&format!(
            "{smtp}{}",
            site(&format!(
                "{weekly}, {{ every = \"week\", to = [\"A@example.com\"], language = \"pl\" }}"
            ))
        ));
        assert!(
            e.contains("sites[0].reports[1]") && e.contains("reports[0]"),
            "{e}"
        );
        let e = err(&format!(
            "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"nobody\"\n{}",
            site(weekly)
        ));
        assert!(e.contains("smtp.from"), "{e}");
        let e = err(&format!("{smtp}tls = \"ssl\"\n{}", site(weekly)));
        assert!(e.contains("smtp.tls"), "{e}");
        let e = err(&format!(
            "{smtp}[reports]\nclaim_settle_ms = 500\n{}",
            site(weekly)
        ));
        assert!(e.contains("reports.claim_settle_ms"), "{e}");
        let e = err(&format!(
            "{smtp}[reports]\nclaim_timeout_secs = 60\n{}",
            site(weekly)
        ));
        assert!(e.contains("reports.claim_timeout_secs"), "{e}");
        let e = err(&format!(
            "{smtp}ca_file = \"/nonexistent.pem\"\n{}",
            site(weekly)
        ));
        assert!(e.contains("smtp.ca_file"), "{e}");
    }
}
