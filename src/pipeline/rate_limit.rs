//! Rate limits at the gate (governor): per client and per site.
//!
//! A limited request is answered (`429` for JSON, the GIF for the pixel) and counted
//! as the site's `rate_limited` decision, never stored. Clients are keyed by a hash of
//! their address under a key that lives only in this process, so the limiter's map
//! holds no IP address and its keys mean nothing outside it.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;

use crate::config::LimitsConfig;

/// The limiters of one process.
pub struct RateLimits {
    key: [u8; 32],
    per_client: Option<DefaultKeyedRateLimiter<u64>>,
    per_site: Vec<Option<DefaultDirectRateLimiter>>,
}

fn quota(per_sec: u32, burst: u32) -> Option<Quota> {
    let rate = NonZeroU32::new(per_sec)?;
    let burst = NonZeroU32::new(burst.max(per_sec)).unwrap_or(rate);
    Some(Quota::per_second(rate).allow_burst(burst))
}

impl RateLimits {
    /// Limiters for `sites` sites; a rate of 0 disables that limit.
    pub fn new(limits: &LimitsConfig, sites: usize) -> RateLimits {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        RateLimits {
            key,
            per_client: quota(limits.per_client_per_sec, limits.per_client_burst)
                .map(RateLimiter::keyed),
            per_site: (0..sites)
                .map(|_| {
                    quota(limits.per_site_per_sec, limits.per_site_burst).map(RateLimiter::direct)
                })
                .collect(),
        }
    }

    /// The limiter key of a client address.
    fn client_key(&self, ip: IpAddr) -> u64 {
        let ip16 = match ip.to_canonical() {
            IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
            IpAddr::V6(v6) => v6.octets(),
        };
        let h = blake3::keyed_hash(&self.key, &ip16);
        let mut first = [0u8; 8];
        first.copy_from_slice(&h.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }

    /// Whether a hit from `client` for site index `site` may pass.
    pub fn allow(&self, site: u32, client: IpAddr) -> bool {
        if let Some(limiter) = &self.per_client {
            if limiter.check_key(&self.client_key(client)).is_err() {
                return false;
            }
        }
        match self.per_site.get(site as usize) {
            Some(Some(limiter)) => limiter.check().is_ok(),
            _ => true,
        }
    }

    /// Forgets idle clients so the keyed map does not grow forever.
    pub fn retain_recent(&self) {
        if let Some(limiter) = &self.per_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    /// Clients currently tracked.
    pub fn tracked_clients(&self) -> usize {
        self.per_client.as_ref().map_or(0, |l| l.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_and_sites_are_limited_separately() {
        let cfg = LimitsConfig {
            per_client_per_sec: 2,
            per_client_burst: 2,
            per_site_per_sec: 3,
            per_site_burst: 3,
            ..Default::default()
        };
        let l = RateLimits::new(&cfg, 2);
        let a: IpAddr = "81.2.69.142".parse().unwrap();
        let b: IpAddr = "216.160.83.56".parse().unwrap();
        assert!(l.allow(0, a) && l.allow(0, a));
        assert!(!l.allow(0, a), "client burst used up");
        assert!(l.allow(0, b), "another client still passes");
        assert!(
            !l.allow(0, "89.160.20.128".parse().unwrap()),
            "site burst used up"
        );
        assert!(
            l.allow(1, "89.160.20.129".parse().unwrap()),
            "other site unaffected"
        );
        let off = RateLimits::new(
            &LimitsConfig {
                per_client_per_sec: 0,
                per_site_per_sec: 0,
                ..Default::default()
            },
            1,
        );
        assert!((0..1000).all(|_| off.allow(0, a)));
    }
}
