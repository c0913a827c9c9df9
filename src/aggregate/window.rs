//! The cells of the flush window: (site, hour, dimension, value) → counters plus
//! the visitor hashes seen in the window. Lookups of existing cells borrow the
//! value (no allocation); only a new cell owns a copy, inline when short.

use std::hash::{BuildHasherDefault, Hasher};

use hashbrown::{Equivalent, HashMap, HashSet};

use crate::model::{Counters, Dim};

/// A cell's key. The value is held inline when it is short (up to 24 bytes:
/// countries, channels, browsers, most paths and hosts), so comparing a probe
/// with a key reads the table's own memory instead of following a pointer to
/// a heap string — one cache miss less per probe, about 17 probes per hit.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct CellKey {
    pub(super) site: u32,
    pub(super) hour: u32,
    pub(super) dim: Dim,
    pub(super) value: compact_str::CompactString,
}

#[derive(Hash)]
struct CellKeyRef<'a> {
    site: u32,
    hour: u32,
    dim: Dim,
    value: &'a str,
}

impl Equivalent<CellKey> for CellKeyRef<'_> {
    fn equivalent(&self, key: &CellKey) -> bool {
        self.site == key.site
            && self.hour == key.hour
            && self.dim == key.dim
            && *self.value == *key.value
    }
}

/// Hashes a visitor id to itself. Visitor ids are keyed BLAKE3 hashes under a
/// daily salt no client knows ([`crate::privacy::salt`]): already uniform and not
/// choosable, so hashing them again for the set (about a dozen sets per hit)
/// buys nothing, and a client cannot aim ids at one bucket.
#[derive(Default, Clone, Copy)]
pub(super) struct VisitorIdHasher(u64);

impl Hasher for VisitorIdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the key is a `u64`); anything else is folded in.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A set of visitor ids with its own hasher.
type IdSet = HashSet<u64, BuildHasherDefault<VisitorIdHasher>>;

/// Visitor ids a cell holds inline before it needs a set of its own.
const INLINE_VISITORS: usize = 4;

/// The visitor ids seen in one cell this window. Most cells of a flush window
/// see a handful of visitors (one page, one referrer, one pair value): those keep
/// the ids in the cell itself, so recording a hit into them is no allocation and
/// no second probe into memory elsewhere — which, with tens of cells per hit in a
/// window far larger than the caches, is where the time goes. A cell that
/// outgrows the inline slots moves to a hash set.
#[derive(Debug)]
pub(super) enum VisitorSet {
    Inline {
        len: u8,
        ids: [u64; INLINE_VISITORS],
    },
    Set(IdSet),
}

impl Default for VisitorSet {
    fn default() -> Self {
        VisitorSet::Inline {
            len: 0,
            ids: [0; INLINE_VISITORS],
        }
    }
}

impl VisitorSet {
    /// Adds `id` (once).
    pub(super) fn insert(&mut self, id: u64) {
        match self {
            VisitorSet::Inline { len, ids } => {
                let n = usize::from(*len);
                if ids[..n].contains(&id) {
                    return;
                }
                if n < INLINE_VISITORS {
                    ids[n] = id;
                    *len += 1;
                    return;
                }
                let mut set =
                    IdSet::with_capacity_and_hasher(2 * INLINE_VISITORS, Default::default());
                set.extend(ids.iter().copied());
                set.insert(id);
                *self = VisitorSet::Set(set);
            }
            VisitorSet::Set(set) => {
                set.insert(id);
            }
        }
    }

    /// Adds every id of `other`.
    pub(super) fn extend(&mut self, other: VisitorSet) {
        match other {
            VisitorSet::Inline { len, ids } => {
                for &id in &ids[..usize::from(len)] {
                    self.insert(id);
                }
            }
            VisitorSet::Set(set) => {
                for id in set {
                    self.insert(id);
                }
            }
        }
    }

    /// The ids, sorted (the order rows carry them in).
    pub(super) fn into_sorted_vec(self) -> Vec<u64> {
        let mut ids: Vec<u64> = match self {
            VisitorSet::Inline { len, ids } => ids[..usize::from(len)].to_vec(),
            VisitorSet::Set(set) => set.into_iter().collect(),
        };
        ids.sort_unstable();
        ids
    }
}

#[derive(Default, Debug)]
pub(super) struct Cell {
    pub(super) counters: Counters,
    pub(super) visitors: VisitorSet,
}

#[derive(Default)]
pub(super) struct Window {
    pub(super) cells: HashMap<CellKey, Cell>,
    /// Reused for the values a hit builds (pairs, props, versions), so that
    /// recording a hit allocates only for new cells. Taken by the
    /// [`Adder`](super::Adder) while it holds the shard's lock.
    pub(super) scratch: String,
}

impl Cell {
    pub(super) fn add(&mut self, c: &Counters, visitor: Option<u64>) {
        self.counters.add(c);
        if let Some(v) = visitor {
            self.visitors.insert(v);
        }
    }
}

impl Window {
    /// Adds to an existing cell; false when the window has no cell for the key yet.
    pub(super) fn add_existing(
        &mut self,
        site: u32,
        hour: u32,
        dim: Dim,
        value: &str,
        c: &Counters,
        visitor: Option<u64>,
    ) -> bool {
        let probe = CellKeyRef {
            site,
            hour,
            dim,
            value,
        };
        match self.cells.get_mut(&probe) {
            Some(cell) => {
                cell.add(c, visitor);
                true
            }
            None => false,
        }
    }

    /// Adds to the cell of the key, creating it (the caller usually knows it is new).
    pub(super) fn insert(
        &mut self,
        site: u32,
        hour: u32,
        dim: Dim,
        value: &str,
        c: &Counters,
        visitor: Option<u64>,
    ) {
        self.cells
            .entry(CellKey {
                site,
                hour,
                dim,
                value: value.into(),
            })
            .or_default()
            .add(c, visitor);
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn a_probe_finds_its_cell_without_a_copy() {
        let key = CellKey {
            site: 1,
            hour: 2,
            dim: Dim::Page,
            value: "/a-path-longer-than-twenty-four-bytes".into(),
        };
        let probe = CellKeyRef {
            site: 1,
            hour: 2,
            dim: Dim::Page,
            value: "/a-path-longer-than-twenty-four-bytes",
        };
        let h = hashbrown::DefaultHashBuilder::default();
        assert_eq!(h.hash_one(&key), h.hash_one(&probe), "same hash");
        let mut w = Window::default();
        w.insert(1, 2, Dim::Page, "/short", &Counters::default(), Some(7));
        w.insert(1, 2, Dim::Page, probe.value, &Counters::default(), Some(7));
        for value in ["/short", probe.value] {
            assert!(w.add_existing(1, 2, Dim::Page, value, &Counters::default(), Some(8)));
        }
        assert_eq!(w.cells.len(), 2);
    }

    #[test]
    fn visitor_sets_spill_from_inline_to_a_set_and_keep_each_id_once() {
        let mut s = VisitorSet::default();
        for id in [5, 3, 5, 9, 1, 3] {
            s.insert(id);
        }
        assert!(matches!(s, VisitorSet::Inline { len: 4, .. }));
        s.insert(7);
        assert!(matches!(s, VisitorSet::Set(_)));
        let mut other = VisitorSet::default();
        other.insert(2);
        other.insert(9);
        s.extend(other);
        assert_eq!(s.into_sorted_vec(), vec![1, 2, 3, 5, 7, 9]);
    }
}
