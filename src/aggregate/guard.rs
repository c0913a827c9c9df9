//! The cardinality guard: bounds the distinct values of each open-ended dimension
//! per site and hour, so visitors' input cannot grow the window or the table
//! without bound.

use std::hash::BuildHasher;
use std::sync::atomic::Ordering;

use hashbrown::{HashMap, HashSet};
use parking_lot::Mutex;

use crate::model::{Dim, OTHER};

/// Hashes of the values seen per (site, hour, dimension).
type SeenValues = HashMap<(u32, u32, Dim), HashSet<u64>>;

/// Bounds the distinct values of each open-ended dimension per site and hour:
/// past `max` new values are folded into `(other)`, so a crawler inventing URLs
/// cannot blow up memory or the table.
pub(super) struct CardinalityGuard {
    max: usize,
    hasher: hashbrown::DefaultHashBuilder,
    shards: Box<[Mutex<SeenValues>]>,
    pub(super) folded: std::sync::atomic::AtomicU64,
}

impl CardinalityGuard {
    pub(super) fn new(max: usize, shards: usize) -> Self {
        CardinalityGuard {
            max,
            hasher: hashbrown::DefaultHashBuilder::default(),
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            folded: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// `value`, or `(other)` when the dimension is full for this site and hour.
    pub(super) fn admit<'v>(&self, site: u32, hour: u32, dim: Dim, value: &'v str) -> &'v str {
        if self.max == 0 || !dim.is_open_ended() {
            return value;
        }
        let vh = self.hasher.hash_one(value);
        let shard = &self.shards
            [(self.hasher.hash_one((site, hour, dim)) % self.shards.len() as u64) as usize];
        let mut map = shard.lock();
        let set = map.entry((site, hour, dim)).or_default();
        if set.len() < self.max || set.contains(&vh) {
            set.insert(vh);
            value
        } else {
            self.folded.fetch_add(1, Ordering::Relaxed);
            OTHER
        }
    }

    /// Forgets hours older than `oldest_hour`.
    pub(super) fn prune(&self, oldest_hour: u32) {
        for shard in self.shards.iter() {
            shard.lock().retain(|(_, hour, _), _| *hour >= oldest_hour);
        }
    }
}
