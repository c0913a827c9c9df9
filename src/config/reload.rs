//! What a configuration reload may change while veil runs, and what needs a
//! restart.
//!
//! Sites (hostnames, consent policies, keys, goals, funnels, retention, reports
//! recipients), `[limits]`, `[stats]` and the server's trusted proxies, CORS
//! origins, public origin and metrics token take effect at once. The rest shapes
//! resources that exist once per process — the listener and its connection
//! bounds, the ClickHouse client, the spool, the salts and their state file, the
//! window's shards and its cardinality bound, the background jobs' timers — so a
//! changed value there is reported by key and the running value stays, as
//! PostgreSQL does with its `postmaster` settings.

use serde_json::Value;

use super::Config;

/// Keys of `[server]` and `[limits]` that need a restart (the other keys of
/// those sections reload).
const RESTART_ONLY_KEYS: [(&str, &str); 9] = [
    ("server", "listen"),
    ("server", "max_connections"),
    ("server", "max_body_bytes"),
    ("server", "header_read_timeout_ms"),
    ("server", "body_read_timeout_ms"),
    ("server", "max_connections_per_ip"),
    ("server", "worker_threads"),
    ("server", "config_poll_secs"),
    ("limits", "max_values_per_dim"),
];

/// Whole sections that need a restart.
const RESTART_ONLY_SECTIONS: [&str; 8] = [
    "clickhouse",
    "geo",
    "salt",
    "pipeline",
    "retention",
    "spool",
    "smtp",
    "reports",
];

/// The configuration to put in force when `file` was loaded while `running`
/// runs ([`ForReload`]).
pub fn for_reload(running: &Config, file: Config) -> ForReload {
    let keep_running = || ForReload {
        config: running.clone(),
        need_restart: vec!["(the whole file)".into()],
        unchanged: true,
    };
    let (Ok(Value::Object(old)), Ok(Value::Object(mut new))) =
        (serde_json::to_value(running), serde_json::to_value(&file))
    else {
        // Both serialize (the file was just parsed into the same type); should
        // that ever fail, nothing restart-only is changed by keeping the
        // running configuration whole.
        return keep_running();
    };
    let mut changed = Vec::new();
    for section in RESTART_ONLY_SECTIONS {
        let (Some(o), Some(n)) = (old.get(section), new.get_mut(section)) else {
            continue;
        };
        changed.extend(changed_keys(section, o, n));
        *n = o.clone();
    }
    for (section, key) in RESTART_ONLY_KEYS {
        let o = old.get(section).and_then(|s| s.get(key));
        let n = new.get_mut(section).and_then(|s| s.get_mut(key));
        if let (Some(o), Some(n)) = (o, n) {
            if o != n {
                changed.push(format!("{section}.{key}"));
                *n = o.clone();
            }
        }
    }
    let unchanged = new == old;
    match serde_json::from_value(Value::Object(new)) {
        Ok(config) => ForReload {
            config,
            need_restart: changed,
            unchanged,
        },
        Err(_) => keep_running(),
    }
}

/// What a reload of a file puts in force.
pub struct ForReload {
    /// The file with every restart-only key set back to its running value.
    pub config: Config,
    /// The dotted names of the restart-only keys the file changed.
    pub need_restart: Vec<String>,
    /// Whether `config` is the running configuration (nothing to put in force).
    pub unchanged: bool,
}

/// Dotted names of the keys of `section` that differ.
fn changed_keys(section: &str, old: &Value, new: &Value) -> Vec<String> {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut keys: Vec<&String> = o.keys().chain(n.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter()
                .filter(|k| o.get(*k) != n.get(*k))
                .map(|k| format!("{section}.{k}"))
                .collect()
        }
        _ if old != new => vec![section.to_string()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Config {
        Config::from_toml_str(text, std::path::Path::new("test.toml"), Vec::new())
            .expect("valid config")
    }

    const BASE: &str = r#"
[server]
listen = "127.0.0.1:8080"
metrics_token = "aaaaaaaaaaaaaaaaaaaa"
[pipeline]
flush_interval_ms = 1000
[limits]
per_site_per_sec = 100
max_values_per_dim = 500
[[sites]]
id = "a.example"
"#;

    #[test]
    fn reloadable_keys_change_and_restart_only_keys_keep_their_running_value() {
        let running = parse(BASE);
        let file = parse(
            &(BASE
                .replace("127.0.0.1:8080", "127.0.0.1:9090")
                .replace("flush_interval_ms = 1000", "flush_interval_ms = 50")
                .replace("per_site_per_sec = 100", "per_site_per_sec = 7")
                .replace("max_values_per_dim = 500", "max_values_per_dim = 9")
                .replace("aaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbb")
                + "[[sites]]\nid = \"b.example\"\n"),
        );
        let r = for_reload(&running, file);
        let (merged, changed) = (r.config, r.need_restart);
        assert_eq!(
            changed,
            [
                "pipeline.flush_interval_ms",
                "server.listen",
                "limits.max_values_per_dim"
            ]
        );
        assert_eq!(merged.server.listen, running.server.listen);
        assert_eq!(merged.pipeline.flush_interval_ms, 1000);
        assert_eq!(merged.limits.max_values_per_dim, 500);
        assert_eq!(merged.limits.per_site_per_sec, 7);
        assert_eq!(merged.server.metrics_token, "bbbbbbbbbbbbbbbbbbbb");
        assert_eq!(merged.sites.len(), 2);
    }

    #[test]
    fn an_unchanged_file_changes_nothing() {
        let running = parse(BASE);
        let r = for_reload(&running, parse(BASE));
        assert!(r.unchanged);
        let (merged, changed) = (r.config, r.need_restart);
        assert!(changed.is_empty());
        assert_eq!(
            serde_json::to_value(&merged).ok(),
            serde_json::to_value(&running).ok()
        );
    }
}
