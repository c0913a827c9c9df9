//! The cardinality guard: bounds the distinct values of each open-ended dimension
//! per site and hour, so visitors' input cannot grow the window or the table
//! without bound — and so that a flood of junk values cannot take the bound's
//! places from the real ones.
//!
//! How a value gets a named cell in (site, hour, dimension):
//! - while fewer than half the bound's values are named (`open`), at its first
//!   sighting: a site without pressure sees every value by name;
//! - past that, only once a **second visitor** sends it. A first sighting waits in
//!   a small fixed table of pending values (direct-mapped by the value's hash, so
//!   a flood overwrites slots and never grows it) and is counted in `(other)`
//!   meanwhile;
//! - never past the bound itself.
//!
//! So junk values that each come from one visitor (a crawler inventing URLs, a
//! script forging referrers) can take at most the open half; values that real
//! visitors share still get the other half. Every folded hit is counted in
//! `(other)`, so totals stay exact. The cost on the hot path is nil: only a value
//! with no cell in the window yet asks the guard, as before.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::{HashMap, HashSet};
use parking_lot::Mutex;

use crate::model::{Dim, OTHER};

/// Most pending slots per (site, hour, dimension): 16 bytes each.
const MAX_PENDING: usize = 1 << 16;

/// A first sighting: the value's hash and the visitor who sent it (0 = none).
#[derive(Clone, Copy, Default)]
struct Pending {
    value: u64,
    visitor: u64,
}

/// What the guard knows of one (site, hour, dimension).
#[derive(Default)]
struct DimValues {
    /// Hashes of the values with a named cell this hour.
    named: HashSet<u64>,
    /// First sightings waiting for a second visitor; empty until the open half
    /// is used up.
    pending: Box<[Pending]>,
}

/// The guard's state, by (site, hour, dimension).
type SeenValues = HashMap<(u32, u32, Dim), DimValues>;

/// Bounds the distinct values of each open-ended dimension per site and hour:
/// past `max` values (or past `max / 2` for values a single visitor sent) new
/// values are folded into `(other)`.
pub(super) struct CardinalityGuard {
    max: usize,
    /// Seeded at random per process, so nobody can aim values at one pending slot.
    hasher: foldhash::fast::FixedState,
    shards: Box<[Mutex<SeenValues>]>,
    /// Hits folded into `(other)` so far.
    pub(super) folded: AtomicU64,
}

impl CardinalityGuard {
    pub(super) fn new(max: usize, shards: usize) -> Self {
        Self::seeded(max, shards, rand::random())
    }

    /// A guard whose hashing is seeded with `seed` (tests pick one so that
    /// values they send land in distinct pending slots).
    pub(super) fn seeded(max: usize, shards: usize, seed: u64) -> Self {
        CardinalityGuard {
            max,
            hasher: foldhash::fast::FixedState::with_seed(seed),
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            folded: AtomicU64::new(0),
        }
    }

    /// `value`, or `(other)` when it may not (yet) have a named cell for this
    /// site and hour. `visitor` is the hit's visitor hash (`None`: anonymous
    /// counts and engagement reports, for which any second sighting confirms).
    pub(super) fn admit<'v>(
        &self,
        site: u32,
        hour: u32,
        dim: Dim,
        value: &'v str,
        visitor: Option<u64>,
    ) -> &'v str {
        if self.max == 0 || !dim.is_open_ended() {
            return value;
        }
        let vh = self.hasher.hash_one(value) | 1; // 0 marks an empty slot
        let shard = &self.shards
            [(self.hasher.hash_one((site, hour, dim)) % self.shards.len() as u64) as usize];
        let mut map = shard.lock();
        let seen = map.entry((site, hour, dim)).or_default();
        if seen.named.contains(&vh) {
            return value;
        }
        let open = (self.max / 2).max(1);
        if seen.named.len() < open
            || (seen.named.len() < self.max && seen.confirms(vh, visitor, self.max))
        {
            seen.named.insert(vh);
            return value;
        }
        self.folded.fetch_add(1, Ordering::Relaxed);
        OTHER
    }

    /// Values with a named cell, and pending slots in use (for metrics and tests).
    pub(super) fn sizes(&self) -> (usize, usize) {
        self.shards.iter().fold((0, 0), |(n, p), shard| {
            let map = shard.lock();
            let named: usize = map.values().map(|d| d.named.len()).sum();
            let pending: usize = map
                .values()
                .map(|d| d.pending.iter().filter(|s| s.value != 0).count())
                .sum();
            (n + named, p + pending)
        })
    }

    /// Forgets hours older than `oldest_hour`.
    pub(super) fn prune(&self, oldest_hour: u32) {
        for shard in self.shards.iter() {
            shard.lock().retain(|(_, hour, _), _| *hour >= oldest_hour);
        }
    }

    /// The pending slot `value` takes (tests check their values do not share one).
    #[cfg(test)]
    pub(super) fn pending_slot(&self, value: &str) -> usize {
        let vh = self.hasher.hash_one(value) | 1;
        (vh.rotate_left(32) as usize) % CardinalityGuard::pending_slots(self.max)
    }

    /// Pending slots per (site, hour, dimension) for a bound of `max`.
    fn pending_slots(max: usize) -> usize {
        max.clamp(64, MAX_PENDING)
    }
}

impl DimValues {
    /// Whether this sighting of `vh` is a second visitor's: then the value is
    /// confirmed (and leaves the pending table). Otherwise it becomes (or stays)
    /// the slot's first sighting.
    /// `max` is the bound, which sizes the pending table.
    fn confirms(&mut self, vh: u64, visitor: Option<u64>, max: usize) -> bool {
        if self.pending.is_empty() {
            self.pending =
                vec![Pending::default(); CardinalityGuard::pending_slots(max)].into_boxed_slice();
        }
        let len = self.pending.len();
        let slot = &mut self.pending[(vh.rotate_left(32) as usize) % len];
        let by = visitor.unwrap_or(0);
        if slot.value == vh {
            if visitor.is_none() || slot.visitor != by {
                *slot = Pending::default();
                return true;
            }
            return false;
        }
        *slot = Pending {
            value: vh,
            visitor: by,
        };
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_of_single_visitor_values_takes_only_the_open_half() {
        let g = CardinalityGuard::new(100, 2);
        for i in 0..10_000u64 {
            let junk = format!("/junk/{i}");
            g.admit(0, 0, Dim::Page, &junk, Some(i + 1_000_000));
        }
        assert_eq!(g.sizes().0, 50, "junk holds the open half only");
        for p in 0..20 {
            let page = format!("/real/{p}");
            let first = g.admit(0, 0, Dim::Page, &page, Some(1));
            assert_eq!(first, OTHER, "a first sighting waits");
            assert_eq!(
                g.admit(0, 0, Dim::Page, &page, Some(1)),
                OTHER,
                "same visitor"
            );
            assert_eq!(g.admit(0, 0, Dim::Page, &page, Some(2)), page);
            assert_eq!(g.admit(0, 0, Dim::Page, &page, Some(3)), page);
        }
        assert_eq!(g.sizes().0, 70);
        // Another site, hour or dimension has its own bound.
        assert_eq!(g.admit(0, 3_600, Dim::Page, "/x", Some(1)), "/x");
        assert_eq!(g.admit(1, 0, Dim::Page, "/x", Some(1)), "/x");
        assert_eq!(g.admit(0, 0, Dim::Referrer, "x.com", Some(1)), "x.com");
    }

    #[test]
    fn the_bound_holds_for_confirmed_values_and_anonymous_hits_confirm_by_repetition() {
        let g = CardinalityGuard::new(4, 1);
        let mut named = 0;
        for i in 0..1_000u64 {
            let v = format!("/p{i}");
            for visitor in [None, None] {
                named += usize::from(g.admit(0, 0, Dim::Page, &v, visitor) != OTHER);
            }
        }
        assert_eq!(g.sizes().0, 4, "never past the bound");
        assert!(named >= 4);
        g.prune(3_600);
        assert_eq!(g.sizes(), (0, 0), "old hours are forgotten");
    }
}
