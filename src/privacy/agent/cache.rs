//! The [`AgentParser`](super::AgentParser) cache: one shard of agents keyed by a UA hash,
//! evicted by CLOCK (second chance) so popular UAs survive a flood of one-off ones.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use super::Agent;

// ---------------------------------------------------------------------------------------------
// Cache shard: CLOCK over a slot vector, indexed by a hash map from key to slot.
// ---------------------------------------------------------------------------------------------

/// The keys are already uniform 64-bit hashes, so the map only needs to remix them: the shard
/// index used the top bits, which hashbrown would otherwise also use for its control bytes.
#[derive(Default)]
struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not reached (only u64 keys), but keep it correct.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = key.rotate_left(32).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct Slot {
    key: u64,
    agent: Arc<Agent>,
    referenced: bool,
}

#[derive(Default)]
pub(super) struct Shard {
    index: HashMap<u64, usize, BuildHasherDefault<KeyHasher>>,
    slots: Vec<Slot>,
    hand: usize,
}

impl Shard {
    /// Number of agents held (for [`AgentParser::cache_len`](super::AgentParser::cache_len)).
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn get(&mut self, key: u64) -> Option<Arc<Agent>> {
        let i = *self.index.get(&key)?;
        let slot = self.slots.get_mut(i)?;
        slot.referenced = true;
        Some(Arc::clone(&slot.agent))
    }

    /// Inserts `agent` under `key` and returns the agent now cached for `key` (an earlier one
    /// if another thread got there first, so equal UAs keep sharing one `Arc`).
    pub(super) fn insert(&mut self, key: u64, agent: Arc<Agent>, capacity: usize) -> Arc<Agent> {
        if let Some(existing) = self.get(key) {
            return existing;
        }
        if self.slots.len() < capacity {
            self.index.insert(key, self.slots.len());
            self.slots.push(Slot {
                key,
                agent: Arc::clone(&agent),
                referenced: false,
            });
            return agent;
        }
        // Full: advance the hand, clearing reference bits, to the first unreferenced slot.
        // Terminates within one sweep plus one step.
        let len = self.slots.len();
        if len == 0 {
            return agent;
        }
        loop {
            let hand = self.hand % len;
            self.hand = (hand + 1) % len;
            let Some(slot) = self.slots.get_mut(hand) else {
                return agent;
            };
            if slot.referenced {
                slot.referenced = false;
                continue;
            }
            let old_key = slot.key;
            slot.key = key;
            slot.agent = Arc::clone(&agent);
            self.index.remove(&old_key);
            self.index.insert(key, hand);
            return agent;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::corpus;
    use super::super::AgentParser;
    use super::*;

    #[test]
    fn cache_hit_returns_same_arc() {
        let p = AgentParser::new(1024);
        let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        let a = p.parse(ua);
        let b = p.parse(ua);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(p.cache_len(), 1);
        // Uncached parsers still agree on the labels.
        assert_eq!(*a, *AgentParser::new(0).parse(ua));
        assert_eq!(AgentParser::new(0).cache_len(), 0);
    }

    #[test]
    fn cache_stays_within_bound() {
        for cap in [1usize, 3, 16, 17, 100, 1000] {
            let p = AgentParser::new(cap);
            assert!(
                p.cache_capacity() <= cap && p.cache_capacity() > 0,
                "cap {cap}"
            );
            for i in 0..5_000 {
                let ua = format!("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{i}.0.0.0 Safari/537.36");
                let a = p.parse(&ua);
                assert_eq!(&*a.browser_version, i.to_string());
                assert!(p.cache_len() <= cap, "cap {cap}: {}", p.cache_len());
            }
            assert_eq!(p.cache_len(), p.cache_capacity(), "cap {cap}");
        }
    }

    #[test]
    fn clock_keeps_hot_entries_under_churn() {
        let p = AgentParser::new(256);
        let hot = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        let first = p.parse(hot);
        for i in 0..20_000 {
            let _ = p.parse(&format!("curl/{i}"));
            if i % 8 == 0 {
                // Used between every pass of the hand: must never be evicted.
                assert!(Arc::ptr_eq(&first, &p.parse(hot)), "evicted at {i}");
            }
        }
    }

    #[test]
    fn concurrent_parsing_is_consistent() {
        let p = Arc::new(AgentParser::new(128));
        let lines: Vec<&str> = corpus().into_iter().map(|(_, ua)| ua).collect();
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let p = Arc::clone(&p);
                let lines = lines.clone();
                std::thread::spawn(move || {
                    for round in 0..5 {
                        for (i, ua) in lines.iter().enumerate() {
                            if (i + t + round) % 3 == 0 {
                                let a = p.parse(ua);
                                assert_eq!(*a, p.parse_uncached(ua));
                            }
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("thread");
        }
        assert!(p.cache_len() <= 128);
    }
}
