//! Validation of a parsed [`Config`]: what types cannot express (ranges, unique
//! sites, CIDRs, readable geo files, time zones), so a bad deployment fails at start.

use std::collections::HashSet;
use std::path::Path;

use ipnet::IpNet;

use super::{Config, ConfigError};

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

/// An origin as browsers send it: `http(s)://` and a host with an optional port,
/// nothing else (no path, wildcard, space, quote or separator: origins are written
/// into `Access-Control-Allow-Origin` and `frame-ancestors` as they are).
fn check_origin(key: String, origin: &str) -> Result<(), ConfigError> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    let host_port = |r: &str| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
    };
    if rest.is_some_and(host_port) {
        Ok(())
    } else {
        Err(ConfigError::key(
            key,
            format!("`{origin}` is not an origin like `https://intranet.example.com` (scheme and host, no path)"),
        ))
    }
}

/// Whether `id` is a share link id: 16 hex digits.
fn valid_link_id(id: &str) -> bool {
    id.len() == 16 && id.chars().all(|c| c.is_ascii_hexdigit())
}

/// `sites[i].dp_epsilon_per_day` and `sites[i].dp_secret`: ε 0 (off) or within
/// the accepted range, and a secret long enough to key the noise when it is on.
fn validate_dp(i: usize, site: &super::SiteConfig) -> Result<(), ConfigError> {
    use super::site::{DP_EPSILON_MAX, DP_EPSILON_MIN, DP_SECRET_MIN};
    let eps = site.dp_epsilon_per_day;
    if eps == 0.0 {
        return Ok(());
    }
    if !eps.is_finite() || !(DP_EPSILON_MIN..=DP_EPSILON_MAX).contains(&eps) {
        return Err(ConfigError::key(
            format!("sites[{i}].dp_epsilon_per_day"),
            format!("is {eps}; it must be 0 (off) or from {DP_EPSILON_MIN} to {DP_EPSILON_MAX} (1.0 is a common choice)"),
        ));
    }
    let secret_len = site.dp_secret.chars().count();
    if secret_len < DP_SECRET_MIN {
        return Err(ConfigError::key(
            format!("sites[{i}].dp_secret"),
            format!(
                "is {secret_len} characters; with dp_epsilon_per_day set it must have at least {DP_SECRET_MIN} random ones (e.g. `head -c 24 /dev/urandom | base64`), set once and kept"
            ),
        ));
    }
    Ok(())
}

/// Whether `key` is a stored API key hash: `blake3:` and 64 hex digits.
fn valid_key_hash(key: &str) -> bool {
    key.strip_prefix("blake3:")
        .is_some_and(|hex| hex.len() == 64 && hex.chars().all(|c| c.is_ascii_hexdigit()))
}

impl Config {
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
                "server.body_read_timeout_ms",
                self.server.body_read_timeout_ms,
            ),
            (
                "pipeline.flush_interval_ms",
                self.pipeline.flush_interval_ms,
            ),
            ("pipeline.batch_rows", self.pipeline.batch_rows as u64),
            ("pipeline.queue_batches", self.pipeline.queue_batches as u64),
            ("pipeline.shards", self.pipeline.shards as u64),
            (
                "pipeline.max_interned_bytes",
                self.pipeline.max_interned_bytes as u64,
            ),
            (
                "pipeline.retry_max_backoff_ms",
                self.pipeline.retry_max_backoff_ms,
            ),
            ("limits.max_path", self.limits.max_path as u64),
            (
                "pipeline.close_interval_secs",
                self.pipeline.close_interval_secs,
            ),
            (
                "stats.max_queries_per_site",
                self.stats.max_queries_per_site as u64,
            ),
            ("stats.query_timeout_secs", self.stats.query_timeout_secs),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(ConfigError::key(key, "must be greater than 0"));
            }
        }
        let prefixes = [
            ("limits.ipv4_prefix", self.limits.ipv4_prefix, 16..=32),
            ("limits.ipv6_prefix", self.limits.ipv6_prefix, 32..=128),
        ];
        for (key, len, range) in prefixes {
            if !range.contains(&len) {
                return Err(ConfigError::key(
                    key,
                    format!(
                        "must be a prefix length from {} to {}",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        self.trusted_proxies()?;
        self.validate_smtp()?;
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
        if !self
            .clickhouse
            .cluster
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(ConfigError::key(
                "clickhouse.cluster",
                "must be empty (one server) or a cluster name of letters, digits and `_`",
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
            check_origin(format!("server.cors_origins[{i}]"), origin)?;
        }
        if !self.server.public_origin.is_empty() {
            check_origin(
                "server.public_origin".into(),
                self.server.public_origin.trim_end_matches('/'),
            )?;
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
            let secret_len = site.share_secret.chars().count();
            if secret_len > 0 && secret_len < super::site::SHARE_SECRET_MIN {
                return Err(ConfigError::key(
                    format!("sites[{i}].share_secret"),
                    format!(
                        "is {secret_len} characters; it must have at least {} random ones (e.g. `head -c 24 /dev/urandom | base64`), or be empty for no share links",
                        super::site::SHARE_SECRET_MIN
                    ),
                ));
            }
            validate_dp(i, site)?;
            for (j, id) in site.share_revoked.iter().enumerate() {
                if !valid_link_id(id) {
                    return Err(ConfigError::key(
                        format!("sites[{i}].share_revoked[{j}]"),
                        format!("`{id}` is not a link id (16 hex digits, as `veil share-link` prints it)"),
                    ));
                }
            }
            for (j, origin) in site.embed_origins.iter().enumerate() {
                check_origin(format!("sites[{i}].embed_origins[{j}]"), origin)?;
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
            if let Err((key, message)) = crate::model::Conversions::compile(site) {
                return Err(ConfigError::key(format!("sites[{i}].{key}"), message));
            }
            self.validate_reports(i, site)?;
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

    /// `[smtp]` and `[reports]`: checked whenever a host is set, so a typo shows
    /// at start and not on the first report day.
    fn validate_smtp(&self) -> Result<(), ConfigError> {
        let smtp = &self.smtp;
        let job = &self.reports;
        for (key, value) in [
            ("reports.interval_secs", job.interval_secs),
            ("reports.claim_timeout_secs", job.claim_timeout_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::key(key, "must be greater than 0"));
            }
        }
        if job.claim_settle_ms < 2_000 {
            return Err(ConfigError::key(
                "reports.claim_settle_ms",
                "must be at least 2000: claims are stamped in whole seconds, and the wait must \
                 cover one second plus the longest insert",
            ));
        }
        if smtp.host.is_empty() {
            return Ok(());
        }
        if smtp.host.contains(['/', ' ', ':']) && smtp.host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(ConfigError::key(
                "smtp.host",
                format!(
                    "`{}` is not a host name (no scheme, port or path)",
                    smtp.host
                ),
            ));
        }
        if smtp.port == 0 {
            return Err(ConfigError::key("smtp.port", "must be greater than 0"));
        }
        if smtp.timeout_secs == 0 {
            return Err(ConfigError::key(
                "smtp.timeout_secs",
                "must be greater than 0",
            ));
        }
        if let Err(e) = smtp.from.parse::<lettre::message::Mailbox>() {
            return Err(ConfigError::key(
                "smtp.from",
                format!(
                    "`{}` is not an e-mail address (`reports@example.com` or `veil <reports@example.com>`): {e}",
                    smtp.from
                ),
            ));
        }
        if !smtp.ca_file.as_os_str().is_empty() && !smtp.ca_file.is_file() {
            return Err(ConfigError::key(
                "smtp.ca_file",
                format!("{} is not a readable file", smtp.ca_file.display()),
            ));
        }
        // A claim must outlive the settle and a whole send (connect, EHLO,
        // STARTTLS, AUTH, MAIL, RCPT, DATA: each may take the timeout).
        let send = job.claim_settle_ms / 1_000 + 8 * smtp.timeout_secs;
        if job.claim_timeout_secs <= send {
            return Err(ConfigError::key(
                "reports.claim_timeout_secs",
                format!(
                    "must exceed the longest send, claim_settle_ms + 8 × smtp.timeout_secs = {send} s: \
                     a claim taken again while its sender is still sending sends twice"
                ),
            ));
        }
        Ok(())
    }

    /// `sites[i].reports`.
    fn validate_reports(
        &self,
        i: usize,
        site: &crate::config::SiteConfig,
    ) -> Result<(), ConfigError> {
        if site.reports.is_empty() {
            return Ok(());
        }
        if self.smtp.host.is_empty() {
            return Err(ConfigError::key(
                format!("sites[{i}].reports"),
                "reports need an SMTP server: set `smtp.host` and `smtp.from`",
            ));
        }
        let mut seen: Vec<(crate::config::Every, Vec<String>)> = Vec::new();
        for (j, r) in site.reports.iter().enumerate() {
            let key = format!("sites[{i}].reports[{j}]");
            if r.to.is_empty() {
                return Err(ConfigError::key(
                    format!("{key}.to"),
                    "needs at least one recipient",
                ));
            }
            let mut addresses = Vec::new();
            for (n, to) in r.to.iter().enumerate() {
                match to.parse::<lettre::message::Mailbox>() {
                    Ok(m) => addresses.push(m.email.to_string().to_lowercase()),
                    Err(e) => {
                        return Err(ConfigError::key(
                            format!("{key}.to[{n}]"),
                            format!("`{to}` is not an e-mail address: {e}"),
                        ))
                    }
                }
            }
            if let Some(lang) = &r.language {
                if lang != "en" && lang != "pl" {
                    return Err(ConfigError::key(
                        format!("{key}.language"),
                        format!("`{lang}` is not supported; use `en` or `pl`"),
                    ));
                }
            }
            addresses.sort();
            addresses.dedup();
            if let Some(m) = seen
                .iter()
                .position(|(e, a)| *e == r.every && *a == addresses)
            {
                return Err(ConfigError::key(
                    key,
                    format!(
                        "sends the same `{}` report to the same recipients as reports[{m}]",
                        r.every.as_str()
                    ),
                ));
            }
            seen.push((r.every, addresses));
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
