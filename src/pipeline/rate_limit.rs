//! Rate limits (governor): per client and per site.
//!
//! A limited request is answered (`429` for JSON, the GIF for the pixel) and counted
//! as the site's `rate_limited` decision, never stored. Clients are keyed by a hash of
//! their network ([`ClientPrefix`]: an IPv4 address, an IPv6 /64) under a key that
//! lives only in this process, so the limiter's map holds no IP address and its keys
//! mean nothing outside it. The client limit is checked first, before any work; the
//! site's only once the beacon's page host is one the site allows, so beacons naming
//! a site from foreign pages cannot spend its budget.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use rand::RngCore;

use crate::config::LimitsConfig;
use crate::privacy::client_ip::ClientPrefix;

/// The limiters of one loaded configuration.
pub struct RateLimits {
    key: [u8; 32],
    prefix: ClientPrefix,
    client_quota: Option<Quota>,
    site_quota: Option<Quota>,
    per_client: Option<Arc<DefaultKeyedRateLimiter<u64>>>,
    per_site: Vec<Option<Arc<DefaultDirectRateLimiter>>>,
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
        let client_quota = quota(limits.per_client_per_sec, limits.per_client_burst);
        let site_quota = quota(limits.per_site_per_sec, limits.per_site_burst);
        RateLimits {
            key,
            prefix: ClientPrefix::new(limits.ipv4_prefix, limits.ipv6_prefix),
            client_quota,
            site_quota,
            per_client: client_quota.map(|q| Arc::new(RateLimiter::keyed(q))),
            per_site: (0..sites)
                .map(|_| site_quota.map(|q| Arc::new(RateLimiter::direct(q))))
                .collect(),
        }
    }

    /// The limiters after a configuration reload. A limiter whose quota did not
    /// change is the same limiter, so a reload hands no client or site a fresh
    /// burst; one whose quota changed starts full under the new quota.
    pub fn next(&self, limits: &LimitsConfig, sites: usize) -> RateLimits {
        let mut fresh = RateLimits::new(limits, sites);
        let prefix = ClientPrefix::new(limits.ipv4_prefix, limits.ipv6_prefix);
        if fresh.client_quota == self.client_quota && prefix == self.prefix {
            fresh.key = self.key;
            fresh.per_client = self.per_client.clone();
        }
        if fresh.site_quota == self.site_quota {
            for (i, limiter) in fresh.per_site.iter_mut().enumerate() {
                if let Some(Some(old)) = self.per_site.get(i) {
                    *limiter = Some(old.clone());
                }
            }
        }
        fresh
    }

    /// The limiter key of a client address: a keyed hash of its network.
    fn client_key(&self, ip: IpAddr) -> u64 {
        self.prefix.key(&self.key, ip)
    }

    /// Whether `client` may send another hit (spends one from its budget).
    pub fn allow_client(&self, client: IpAddr) -> bool {
        self.per_client
            .as_ref()
            .is_none_or(|limiter| limiter.check_key(&self.client_key(client)).is_ok())
    }

    /// Whether site index `site` may receive another hit (spends one from its
    /// budget): only for beacons the site's hostnames allow.
    pub fn allow_site(&self, site: u32) -> bool {
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
        let allow = |site, ip: IpAddr| l.allow_client(ip) && l.allow_site(site);
        let a: IpAddr = "81.2.69.142".parse().unwrap();
        let b: IpAddr = "216.160.83.56".parse().unwrap();
        assert!(allow(0, a) && allow(0, a));
        assert!(!allow(0, a), "client burst used up");
        assert!(allow(0, b), "another client still passes");
        assert!(
            !allow(0, "89.160.20.128".parse().unwrap()),
            "site burst used up"
        );
        assert!(
            allow(1, "89.160.20.129".parse().unwrap()),
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
        assert!((0..1000).all(|_| off.allow_client(a) && off.allow_site(0)));
    }

    fn per_client(burst: u32, ipv6_prefix: u8) -> RateLimits {
        let cfg = LimitsConfig {
            per_client_per_sec: 1,
            per_client_burst: burst,
            ipv6_prefix,
            ..Default::default()
        };
        RateLimits::new(&cfg, 1)
    }

    #[test]
    fn ipv6_clients_share_a_budget_per_prefix() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let l = per_client(2, 64);
        assert!(l.allow_client(ip("2001:db8:1:2::1")));
        assert!(l.allow_client(ip("2001:db8:1:2::2")));
        assert!(
            !l.allow_client(ip("2001:db8:1:2:ffff:ffff:ffff:ffff")),
            "a third address of the same /64 finds the budget spent"
        );
        assert!(
            l.allow_client(ip("2001:db8:1:3::1")),
            "the next /64 is another client"
        );
        assert_eq!(l.tracked_clients(), 2);

        let exact = per_client(1, 128);
        assert!(exact.allow_client(ip("2001:db8::1")));
        assert!(exact.allow_client(ip("2001:db8::2")), "per address at /128");

        let v4 = per_client(1, 64);
        assert!(v4.allow_client(ip("81.2.69.142")));
        assert!(v4.allow_client(ip("81.2.69.143")), "IPv4 stays per address");
        assert!(
            !v4.allow_client(ip("::ffff:81.2.69.142")),
            "mapped is the same"
        );
    }
}
