//! The pipeline: one decoded beacon's whole path into the window, and the closing
//! of visits. Routes decode a wire format and call [`Pipeline::ingest`]; the
//! benches call the same function, so what is measured is what runs.
//!
//! ```text
//! Beacon ─▶ spool bound ─▶ client rate ─▶ site + host ─▶ site rate ─▶ privacy boundary ─▶ sessions ─▶ realtime ─▶ window
//!                                                                          (AnonHit)          (visit)
//! ```
//!
//! - [`rate_limit`]: per client (before any work is done) and per site (once the
//!   boundary has checked the beacon's site and page host).
//! - the privacy boundary ([`crate::privacy`]) decides consent and turns the
//!   request into an [`crate::privacy::AnonHit`], which holds nothing identifying.
//! - sessions ([`crate::session`]) attach the hit to its live visit.
//! - [`realtime`]: per-minute pageview rings for `/realtime`.
//! - the window ([`crate::aggregate`]) adds the hit to its hourly cells.
//!
//! [`Pipeline::close_visits`] runs before each flush: visits that timed out (or
//! whose salt day ended) are added to the window as finished visits.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::aggregate::Aggregator;
use crate::beacon::Beacon;
use crate::clock::Clock;
use crate::http::HttpError;
use crate::metrics::Metrics;
use crate::privacy::consent::Decision;
use crate::privacy::{Outcome, Privacy, Refusal, Transport};
use crate::session::Sessions;
use crate::sink::spool::Spool;

pub mod memory;
pub mod rate_limit;
pub mod realtime;

use rate_limit::RateLimits;
use realtime::Realtime;

/// Why a beacon was not ingested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// The privacy boundary refused it (unknown site, hostname not allowed).
    Refused(Refusal),
    /// The client or the site is over its rate.
    RateLimited,
    /// ClickHouse is down and the spool is full: refused rather than lost.
    SpoolFull,
}

impl From<Rejected> for HttpError {
    fn from(r: Rejected) -> HttpError {
        match r {
            Rejected::SpoolFull => HttpError::Unavailable {
                reason: "storage unavailable; retry later".into(),
                retry_after: Some(30),
            },
            Rejected::RateLimited => HttpError::TooManyRequests {
                reason: "rate limit exceeded",
                retry_after: 1,
            },
            Rejected::Refused(e) => HttpError::BadRequest(e.to_string().into()),
        }
    }
}

/// The stages that come from the configuration, replaced together by a reload.
pub struct Rules {
    /// The privacy boundary.
    pub privacy: Privacy,
    /// Rate limits at the gate.
    pub limits: RateLimits,
    /// Realtime pageview counters (read by the stats API).
    pub realtime: Realtime,
}

impl Rules {
    /// The rules of a reloaded configuration: each part's [`Privacy::next`],
    /// [`RateLimits::next`], [`Realtime::next`], so nothing already counted is
    /// lost.
    pub fn next(
        &self,
        config: &crate::config::Config,
    ) -> Result<Rules, crate::config::ConfigError> {
        let privacy = self.privacy.next(config)?;
        let sites = privacy.sites().len();
        Ok(Rules {
            limits: self.limits.next(&config.limits, sites),
            realtime: self.realtime.next(sites),
            privacy,
        })
    }
}

/// The stages a beacon passes, owned together.
pub struct Pipeline {
    /// What the configuration decides (sites, consent, limits), swapped whole by
    /// a reload: a beacon runs under the rules it loaded first, never a mix.
    rules: ArcSwap<Rules>,
    /// Live visits.
    pub sessions: Arc<Sessions>,
    /// The in-memory window.
    pub aggregator: Arc<Aggregator>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Disk spool (when configured): its bound is the pipeline's first gate.
    pub spool: Option<Arc<Spool>>,
    /// The last sweep closed many visits: give memory back once more at the
    /// next one, after the window holding their rows has drained.
    give_back_again: std::sync::atomic::AtomicBool,
    clock: Arc<dyn Clock>,
}

impl Pipeline {
    /// Assembles the stages.
    pub fn new(
        privacy: Privacy,
        limits: RateLimits,
        sessions: Arc<Sessions>,
        aggregator: Arc<Aggregator>,
        metrics: Arc<Metrics>,
        spool: Option<Arc<Spool>>,
        clock: Arc<dyn Clock>,
    ) -> Pipeline {
        let sites = privacy.sites().len();
        Pipeline {
            rules: ArcSwap::from_pointee(Rules {
                privacy,
                limits,
                realtime: Realtime::new(sites),
            }),
            sessions,
            aggregator,
            metrics,
            spool,
            give_back_again: std::sync::atomic::AtomicBool::new(false),
            clock,
        }
    }

    /// The rules in force now. Hold the guard only briefly (one request's
    /// synchronous work), never across an `await`.
    pub fn rules(&self) -> arc_swap::Guard<Arc<Rules>> {
        self.rules.load()
    }

    /// Puts the rules of a reloaded configuration in force (the window's site
    /// table must already know every site they name).
    pub fn set_rules(&self, rules: Arc<Rules>) {
        self.rules.store(rules);
    }

    /// The geo database (shared by every generation of the rules).
    pub fn geo(&self) -> Option<Arc<crate::privacy::geo::GeoDb>> {
        self.rules().privacy.geo().cloned()
    }

    /// The clock hits are timed with.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Whether hits must be refused: ClickHouse is down and the spool is full.
    pub fn spool_full(&self) -> bool {
        self.spool.as_ref().is_some_and(|s| s.is_full())
    }

    /// Runs one decoded beacon through every stage into the window.
    pub fn ingest(&self, beacon: &Beacon<'_>, t: &Transport<'_>) -> Result<(), Rejected> {
        let rules = self.rules.load();
        let Rules {
            privacy,
            limits,
            realtime,
        } = &**rules;
        let m = &self.metrics;
        if self.spool_full() {
            // Memory and disk are both at their bound: refuse rather than lose.
            Metrics::inc(&m.rejected_spool_full);
            return Err(Rejected::SpoolFull);
        }
        // The client's budget first, before any work is done; the site's only for
        // beacons from pages the site allows, so foreign pages cannot spend it.
        let site = privacy.site_index(beacon.site.trim());
        if let Some(site) = site {
            if !limits.allow_client(privacy.client_ip(t)) {
                return Err(self.rate_limited(privacy, beacon, site));
            }
        }
        let admitted = match privacy.admit(beacon, t) {
            Ok(a) => a,
            Err(refusal) => return Err(self.refused(refusal)),
        };
        if !limits.allow_site(admitted.site) {
            return Err(self.rate_limited(privacy, beacon, admitted.site));
        }
        match privacy.process_admitted(beacon, t, admitted) {
            Outcome::Record(hit) => {
                Metrics::inc(&m.beacons_accepted);
                Metrics::inc(&m.beacons_recorded);
                if hit.engagement.is_some() {
                    // Not a pageview: no visit, no realtime, no decision count.
                    self.aggregator.record_engagement(&hit);
                    return Ok(());
                }
                let channel = hit.channel.map(|c| c.as_str());
                let conv = self.aggregator.conversions(hit.site);
                let (visit, closed) = self.sessions.touch(&hit, hit.secs, channel, &conv);
                if hit.event.is_none() {
                    realtime.record(hit.site, hit.secs);
                }
                self.aggregator.record(&hit, visit.as_ref());
                for c in &closed {
                    self.aggregator.record_visit(c);
                }
                Ok(())
            }
            Outcome::Dropped => {
                Metrics::inc(&m.beacons_accepted);
                Ok(())
            }
            Outcome::CountOnly {
                site,
                hour,
                decision,
                forget,
            } => {
                Metrics::inc(&m.beacons_accepted);
                Metrics::inc(&m.beacons_count_only);
                self.aggregator.count_decision(site, hour, decision);
                if let Some(visitor) = forget {
                    self.sessions.forget(visitor);
                }
                Ok(())
            }
        }
    }

    /// Counts a beacon over a rate limit (an engagement report is not a hit of
    /// its own: not counted as a decision).
    fn rate_limited(&self, privacy: &Privacy, beacon: &Beacon<'_>, site: u32) -> Rejected {
        Metrics::inc(&self.metrics.rate_limited);
        if beacon.engagement.is_none() {
            let hour = privacy.current_hour(site);
            self.aggregator
                .count_decision(site, hour, Decision::RateLimited);
        }
        Rejected::RateLimited
    }

    /// Counts a beacon the privacy boundary refused.
    fn refused(&self, refusal: Refusal) -> Rejected {
        match refusal {
            Refusal::UnknownSite => Metrics::inc(&self.metrics.rejected_unknown_site),
            Refusal::HostNotAllowed { site, hour } => {
                Metrics::inc(&self.metrics.rejected_host);
                self.aggregator
                    .count_decision(site, hour, Decision::Invalid);
            }
        }
        Rejected::Refused(refusal)
    }

    /// The metrics, with the counters the sessions and the window keep
    /// themselves copied in (they count where the work is, under their own
    /// locks; `/metrics` reads them here).
    pub fn sync_metrics(&self) -> &Metrics {
        let m = &self.metrics;
        let evicted = self.sessions.evicted.load(Ordering::Relaxed);
        m.visits_evicted.store(evicted, Ordering::Relaxed);
        m.values_folded
            .store(self.aggregator.folded_values(), Ordering::Relaxed);
        m
    }

    /// Closes visits into the window: those that timed out or whose salt day is
    /// gone, or every live visit when `last` (shutdown). Also lets the rate
    /// limiter forget quiet clients, which keeps its map bounded.
    pub fn close_visits(&self, last: bool) {
        let rules = self.rules.load_full();
        let closed = if last {
            self.sessions.close_all()
        } else {
            let now = self.clock.now_secs() as u32;
            self.sessions.sweep(now, |site, start| {
                rules.privacy.holds_visit_salt(site, start)
            })
        };
        for visit in &closed {
            self.aggregator.record_visit(visit);
        }
        let many = closed.len() >= memory::GIVE_BACK_AFTER_VISITS;
        drop(closed);
        if self.give_back_again.swap(many, Ordering::Relaxed) || many {
            memory::give_back();
        }
        rules.limits.retain_recent();
    }
}
