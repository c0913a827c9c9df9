//! The cells of the flush window: (site, hour, dimension, value) → counters plus
//! the visitor hashes seen in the window. Lookups of existing cells borrow the
//! value (no allocation); only a new cell owns a copy.

use hashbrown::{Equivalent, HashMap, HashSet};

use crate::model::{Counters, Dim};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(super) struct CellKey {
    pub(super) site: u32,
    pub(super) hour: u32,
    pub(super) dim: Dim,
    pub(super) value: Box<str>,
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

#[derive(Default, Debug)]
pub(super) struct Cell {
    pub(super) counters: Counters,
    pub(super) visitors: HashSet<u64>,
}

#[derive(Default)]
pub(super) struct Window {
    pub(super) cells: HashMap<CellKey, Cell>,
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
