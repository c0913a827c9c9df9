//! Configuration reload without a restart: `SIGHUP`, or a change of the file.
//!
//! A reload reads the whole file again, validates it and builds everything the
//! configuration decides — the privacy boundary's sites (hostnames, consent
//! policies, goals), the rate limits, the stats API's keys and limits, the
//! operator token — next to the running ones, then puts them in force in one
//! step each: the window's site table first (so no hit can name a site the window
//! does not know), then the pipeline's rules, then the [`Loaded`] snapshot the
//! other surfaces read. Every request reads one snapshot when it starts and keeps
//! it to the end, so it runs under one configuration, never a mix; live visits,
//! the window and the salts are not part of a configuration and stay as they are.
//!
//! A file that does not parse or validate changes nothing: the error names the
//! key, is logged, and `veil_config_reloads_failed_total` counts it. Keys that
//! shape once-per-process resources ([`crate::config::reload`]) keep their running
//! value and are named in the log. `/metrics` shows `veil_config_generation`: 1
//! at start, one more per reload that changed something.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::aggregate::WindowSite;
use crate::config::{Config, ConfigError};
use crate::metrics::Metrics;
use crate::model::Conversions;
use crate::privacy::Privacy;
use crate::server::operator::Operator;
use crate::stats::Stats;
use crate::AppState;

/// One loaded configuration, as the stats API, the pages and the operator
/// endpoints read it. Ingest reads the pipeline's [`crate::pipeline::Rules`] of
/// the same generation.
pub struct Loaded {
    /// 1 for the configuration veil started with, one more per reload.
    pub generation: u64,
    /// The configuration in force (restart-only keys at their running values).
    pub config: Arc<Config>,
    /// The query side: keys, limits, the read client.
    pub stats: Stats,
    /// Who may read `/metrics` and the detail of `/ready`.
    pub operator: Operator,
    /// Each configured site's pairs, goals and funnels, in the configuration's
    /// order (the stats API's site index).
    pub conv: Vec<Arc<Conversions>>,
}

impl Loaded {
    /// The first generation, from the configuration veil starts with and the
    /// privacy boundary built from it.
    pub fn first(config: &Config, privacy: &Privacy) -> Loaded {
        Loaded {
            generation: 1,
            config: Arc::new(config.clone()),
            stats: Stats::new(config),
            operator: Operator::new(&config.server.metrics_token),
            conv: conversions(config, privacy),
        }
    }

    /// The next generation, keeping the stats API's throttle and query slots
    /// where their settings did not change.
    fn next(&self, config: Config, privacy: &Privacy) -> Loaded {
        Loaded {
            generation: self.generation + 1,
            stats: self.stats.next(&config),
            operator: Operator::new(&config.server.metrics_token),
            conv: conversions(&config, privacy),
            config: Arc::new(config),
        }
    }
}

/// Every configured site's declarations in the configuration's order: the ones
/// the boundary compiled for the same generation.
fn conversions(config: &Config, privacy: &Privacy) -> Vec<Arc<Conversions>> {
    config
        .sites
        .iter()
        .map(|s| match privacy.site_index(&s.id) {
            Some(i) => privacy.sites()[i as usize].conv.clone(),
            None => Arc::default(),
        })
        .collect()
}

/// A reload that took effect.
#[derive(Debug)]
pub struct Reloaded {
    /// The generation now in force.
    pub generation: u64,
    /// Restart-only keys the file changed (their running values stay).
    pub need_restart: Vec<String>,
    /// Whether anything changed (a file equal to the running configuration
    /// makes no new generation).
    pub changed: bool,
}

/// Puts `file` (a freshly loaded, validated configuration) in force; on error
/// nothing changed. Reloads are serialised: a second one waits for the first.
pub fn apply(state: &AppState, file: Config) -> Result<Reloaded, ConfigError> {
    let result = apply_locked(state, file);
    if result.is_err() {
        Metrics::inc(&state.metrics.config_reloads_failed);
    }
    result
}

fn apply_locked(state: &AppState, file: Config) -> Result<Reloaded, ConfigError> {
    let _one_at_a_time = state.reloading.lock();
    file.validate()?;
    let running = state.loaded();
    let crate::config::reload::ForReload {
        config,
        need_restart,
        unchanged,
    } = crate::config::reload::for_reload(&running.config, file);
    config.validate()?;
    if unchanged {
        // SIGHUP after the watcher already saw the change, or a file touched but
        // not changed: nothing to put in force, no new generation.
        return Ok(Reloaded {
            generation: running.generation,
            need_restart,
            changed: false,
        });
    }
    let rules = Arc::new(state.pipeline.rules().next(&config)?);

    // The window learns every site of the new rules before any hit can carry one:
    // sites keep their index; a removed site keeps its slot and its declarations.
    let sites = rules
        .privacy
        .sites()
        .iter()
        .map(|s| WindowSite::of(s))
        .collect();
    state.pipeline.aggregator.set_sites(sites);
    let next = running.next(config, &rules.privacy);
    state.pipeline.set_rules(rules);
    let generation = next.generation;
    state.set_loaded(next);
    Ok(Reloaded {
        generation,
        need_restart,
        changed: true,
    })
}

/// Loads `path` (with the process's `VEIL_*` overrides, as at start) and applies
/// it, logging the outcome: what `SIGHUP` and the file watcher do.
pub fn reload_file(state: &AppState, path: Option<&std::path::Path>, why: &str) -> bool {
    let outcome = match Config::load(path, std::env::vars()) {
        Ok(file) => apply(state, file),
        Err(e) => {
            Metrics::inc(&state.metrics.config_reloads_failed);
            Err(e)
        }
    };
    match outcome {
        Ok(r) => {
            if !r.need_restart.is_empty() {
                tracing::warn!(
                    keys = %r.need_restart.join(", "),
                    "configuration keys changed that take effect only after a restart; their running values stay"
                );
            }
            let what = match r.changed {
                true => "configuration reloaded",
                false => "configuration unchanged",
            };
            tracing::info!(generation = r.generation, trigger = why, "{what}");
            true
        }
        Err(e) => {
            tracing::error!(error = %e, trigger = why, "configuration reload failed; the running configuration stays");
            false
        }
    }
}

/// What the watcher compares: a file's length and modification time.
fn stamp(path: &std::path::Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

/// Polls `path` every `every` and reloads when its length or modification time
/// changes (a deploy tool rewriting the file needs no signal); stops with `stop`.
pub async fn watch_file(
    state: Arc<AppState>,
    path: PathBuf,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut last = stamp(&path);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
        let now = stamp(&path);
        if now.is_some() && now != last {
            last = now;
            reload_file(&state, Some(&path), "file changed");
        }
    }
}
