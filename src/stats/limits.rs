//! What the stats API does to protect itself and the inserts that share its
//! ClickHouse: a throttle on refused credentials per client address, and a cap
//! on the queries one site may have running at once. (The third protection, the
//! `max_execution_time` of every stats query, is a setting of the stats client:
//! see [`super::Stats`].)
//!
//! **Refused credentials.** Every `401` of the API (no key, a wrong key, a bad
//! share link, a site that does not exist — all answered alike) costs the client
//! address one cell of a governor quota of `stats.failed_auth_per_minute`. When the
//! quota is used up the client gets `429` with `Retry-After` for every API request
//! — even one with a right key — until a cell is back, so a key guesser learns
//! nothing from its next guess. Addresses are keyed like the ingest limiter
//! ([`crate::pipeline::rate_limit`]): a keyed hash under a key that lives only in
//! this process, so neither map holds an IP address.
//!
//! **Queries per site.** At most `stats.max_queries_per_site` requests of one site
//! run at once; another waits up to [`SLOT_WAIT`] for a slot (a dashboard asks for
//! several panels at once) and then gets `503` with `Retry-After`. `503`, not
//! `429`: the slots are shared by everyone reading the site, so a full site says
//! the server is busy, not that this client asked too often.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::StatsConfig;
use crate::http::HttpError;
use crate::privacy::client_ip::ClientPrefix;

/// Longest a request waits for one of its site's query slots.
pub const SLOT_WAIT: Duration = Duration::from_secs(5);

/// Blocked addresses kept before the expired ones are swept out.
const SWEEP_AT: usize = 4_096;

/// The stats API's limits of one loaded configuration.
pub struct Limits {
    /// The throttle on refused credentials; a reload that keeps
    /// `failed_auth_per_minute` keeps it (and whom it blocks).
    throttle: Arc<Throttle>,
    /// Query slots by configured site (in the configuration's order).
    slots: Vec<Arc<Semaphore>>,
    /// Which site each slot is, and the slots per site: a reload keeps a site's
    /// semaphore (and the queries holding it) when neither changed.
    slot_sites: Vec<String>,
    slots_per_site: usize,
}

/// Refused credentials per client address.
struct Throttle {
    per_minute: u32,
    key: [u8; 32],
    failures: Option<DefaultKeyedRateLimiter<u64>>,
    /// Addresses whose quota is used up, and until when.
    blocked: Mutex<HashMap<u64, Instant>>,
}

impl Limits {
    /// Limits for the configured sites `sites` (ids, in order).
    pub fn new(config: &StatsConfig, sites: &[&str]) -> Limits {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        let per_site = config.max_queries_per_site.max(1);
        Limits {
            throttle: Arc::new(Throttle {
                per_minute: config.failed_auth_per_minute,
                key,
                failures: NonZeroU32::new(config.failed_auth_per_minute)
                    .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
                blocked: Mutex::new(HashMap::new()),
            }),
            slots: sites
                .iter()
                .map(|_| Arc::new(Semaphore::new(per_site)))
                .collect(),
            slot_sites: sites.iter().map(|s| s.to_string()).collect(),
            slots_per_site: per_site,
        }
    }

    /// The limits after a configuration reload, keeping what did not change.
    pub fn next(&self, config: &StatsConfig, sites: &[&str]) -> Limits {
        let mut fresh = Limits::new(config, sites);
        if fresh.throttle.per_minute == self.throttle.per_minute {
            fresh.throttle = self.throttle.clone();
        }
        if fresh.slots_per_site == self.slots_per_site {
            for (slot, id) in fresh.slots.iter_mut().zip(sites) {
                if let Some(at) = self.slot_sites.iter().position(|s| s == id) {
                    *slot = self.slots[at].clone();
                }
            }
        }
        fresh
    }

    /// The throttle's key of a client: its whole address (not the ingest
    /// limiter's network), hashed under this process's key.
    fn client_key(&self, ip: IpAddr) -> u64 {
        ClientPrefix::new(32, 128).key(&self.throttle.key, ip)
    }

    /// `429` while the client's quota of refused credentials is used up.
    pub fn admit(&self, client: IpAddr) -> Result<(), HttpError> {
        if self.throttle.failures.is_none() {
            return Ok(());
        }
        let key = self.client_key(client);
        let now = Instant::now();
        let Ok(mut blocked) = self.throttle.blocked.lock() else {
            return Ok(());
        };
        match blocked.get(&key) {
            Some(until) if *until > now => Err(too_many(*until - now)),
            Some(_) => {
                blocked.remove(&key);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Counts a refused credential; `Some(429)` when it used up the quota (the
    /// answer instead of the `401`).
    pub fn refused(&self, client: IpAddr) -> Option<HttpError> {
        let limiter = self.throttle.failures.as_ref()?;
        let key = self.client_key(client);
        let not_until = limiter.check_key(&key).err()?;
        let wait = not_until.wait_time_from(limiter.clock().now());
        let now = Instant::now();
        if let Ok(mut blocked) = self.throttle.blocked.lock() {
            if blocked.len() >= SWEEP_AT {
                blocked.retain(|_, until| *until > now);
                limiter.retain_recent();
            }
            blocked.insert(key, now + wait);
        }
        Some(too_many(wait))
    }

    /// One of the site's query slots, waiting up to [`SLOT_WAIT`]; `503` when none
    /// frees up in time.
    pub async fn slot(&self, site: usize) -> Result<OwnedSemaphorePermit, HttpError> {
        let Some(sem) = self.slots.get(site) else {
            return Err(HttpError::Internal("no query slots for this site".into()));
        };
        match tokio::time::timeout(SLOT_WAIT, sem.clone().acquire_owned()).await {
            Ok(Ok(permit)) => Ok(permit),
            _ => Err(HttpError::Unavailable {
                reason: "too many statistics queries for this site are running; try again shortly"
                    .into(),
                retry_after: Some(1),
            }),
        }
    }
}

fn too_many(wait: Duration) -> HttpError {
    HttpError::TooManyRequests {
        reason: "too many refused credentials from this address; try again later",
        retry_after: wait.as_secs_f64().ceil().max(1.0) as u32,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(failed: u32, slots: usize) -> StatsConfig {
        StatsConfig {
            failed_auth_per_minute: failed,
            max_queries_per_site: slots,
            ..StatsConfig::default()
        }
    }

    #[test]
    fn refused_credentials_block_only_their_address() {
        let l = Limits::new(&config(3, 1), &["a"]);
        let a: IpAddr = "81.2.69.142".parse().unwrap();
        let b: IpAddr = "216.160.83.56".parse().unwrap();
        for _ in 0..3 {
            assert!(l.admit(a).is_ok());
            assert!(l.refused(a).is_none(), "within the quota: the 401 stands");
        }
        let e = l.refused(a).expect("quota used up");
        assert_eq!(e.status().as_u16(), 429);
        let blocked = l.admit(a).expect_err("blocked, whatever the key");
        assert!(
            matches!(blocked, HttpError::TooManyRequests { retry_after, .. } if retry_after >= 1)
        );
        assert!(l.admit(b).is_ok(), "another address is not affected");
        let off = Limits::new(&config(0, 1), &["a"]);
        assert!((0..100).all(|_| off.refused(a).is_none() && off.admit(a).is_ok()));
    }

    #[tokio::test]
    async fn a_full_site_answers_503() {
        let l = Limits::new(&config(0, 2), &["a", "b"]);
        let _one = l.slot(0).await.unwrap();
        let _two = l.slot(0).await.unwrap();
        assert!(l.slot(1).await.is_ok(), "other sites have their own slots");
        tokio::time::pause();
        let e = l.slot(0).await.expect_err("full");
        assert_eq!(e.status().as_u16(), 503);
    }
}
