//! Pageviews of the last minutes per site, in memory: the realtime counter must
//! not cost a ClickHouse round trip (the aggregates reach ClickHouse only every
//! flush interval anyway).
//!
//! Each site has a ring of one-minute slots. A slot is one `AtomicU64` holding the
//! minute number (high 32 bits) and that minute's count (low 32 bits); a hit
//! bumps it with a compare-and-swap loop, resetting it when the slot still holds
//! an older minute. No lock, no allocation per hit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Minutes kept (the longest window asked is 30).
const SLOTS: usize = 64;

/// One site's ring.
type Ring = [AtomicU64; SLOTS];

/// Per-site minute rings.
pub struct Realtime {
    sites: Box<[Arc<Ring>]>,
}

fn ring() -> Arc<Ring> {
    Arc::new(std::array::from_fn(|_| AtomicU64::new(0)))
}

impl Realtime {
    /// Rings for `sites` sites (by index).
    pub fn new(sites: usize) -> Realtime {
        Realtime {
            sites: (0..sites).map(|_| ring()).collect(),
        }
    }

    /// The rings for `sites` sites after a configuration reload: the same rings
    /// for the sites there were (a reload loses no count), new ones after them.
    pub fn next(&self, sites: usize) -> Realtime {
        Realtime {
            sites: (0..sites)
                .map(|i| self.sites.get(i).cloned().unwrap_or_else(ring))
                .collect(),
        }
    }

    /// Counts one pageview of `site` at Unix time `secs`.
    pub fn record(&self, site: u32, secs: u32) {
        let Some(ring) = self.sites.get(site as usize) else {
            return;
        };
        let minute = secs / 60;
        let slot = &ring[minute as usize % SLOTS];
        let mut cur = slot.load(Ordering::Relaxed);
        loop {
            let (held, count) = ((cur >> 32) as u32, cur as u32);
            let next = if held == minute {
                (u64::from(minute) << 32) | u64::from(count.saturating_add(1))
            } else if held < minute {
                (u64::from(minute) << 32) | 1
            } else {
                return; // a late hit for a minute already overwritten
            };
            match slot.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => cur = now,
            }
        }
    }

    /// Pageviews of `site` in the current minute of `now` and the `minutes - 1`
    /// before it.
    pub fn pageviews(&self, site: u32, now: u32, minutes: u32) -> u64 {
        let Some(ring) = self.sites.get(site as usize) else {
            return 0;
        };
        let current = now / 60;
        let oldest = current.saturating_sub(minutes.saturating_sub(1));
        ring.iter()
            .map(|s| s.load(Ordering::Relaxed))
            .filter(|v| (oldest..=current).contains(&((v >> 32) as u32)))
            .map(|v| u64::from(v as u32))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_roll_over_by_minute() {
        let r = Realtime::new(2);
        let t0 = 1_795_424_400; // a minute boundary
        for i in 0..10 {
            r.record(0, t0 + i);
        }
        r.record(1, t0);
        r.record(0, t0 + 4 * 60 + 5);
        assert_eq!(r.pageviews(0, t0 + 4 * 60 + 10, 5), 11);
        assert_eq!(
            r.pageviews(0, t0 + 5 * 60, 5),
            1,
            "the first minute left the window"
        );
        assert_eq!(r.pageviews(0, t0 + 29 * 60, 30), 11);
        assert_eq!(r.pageviews(1, t0, 5), 1);
        // The slot of t0 is reused 64 minutes later.
        r.record(0, t0 + 64 * 60);
        assert_eq!(r.pageviews(0, t0 + 64 * 60, 30), 1);
        r.record(0, t0); // late hit for an overwritten minute: dropped
        assert_eq!(r.pageviews(0, t0 + 64 * 60, 1), 1);
        assert_eq!(r.pageviews(9, t0, 5), 0);
    }

    #[test]
    fn concurrent_hits_are_all_counted() {
        let r = std::sync::Arc::new(Realtime::new(1));
        let t = 1_795_424_400;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let r = r.clone();
                std::thread::spawn(move || (0..10_000).for_each(|_| r.record(0, t)))
            })
            .collect();
        threads.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(r.pageviews(0, t, 5), 40_000);
    }
}
