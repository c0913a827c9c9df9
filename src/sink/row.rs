//! The row the sink writes: one (site, hour, dimension, value) cell of a flush
//! window, with its counters and the window's distinct visitor hashes, which
//! ClickHouse folds into a sketch (`aggregates_in` → `aggregates`).

use crate::clock::DAY_SECS;
use crate::model::counters::counter_row;
use crate::model::{Counters, Dim};

counter_row! {
    /// One row of `aggregates_in`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct AggRow {
        /// Day number (ClickHouse `Date`).
        pub date: u16,
        /// Start of the hour (ClickHouse `DateTime`).
        pub hour: u32,
        /// Site id.
        pub site: String,
        /// Dimension name.
        pub dim: String,
        /// Dimension value.
        pub value: String,
        /// Id of the batch this row travels in (idempotent retries).
        pub batch: u64,
    } then {
        /// Distinct visitor hashes of the window (folded into a sketch by ClickHouse).
        pub visitors: Vec<u64>,
    }
}

impl AggRow {
    /// The row of one cell (batch id 0 until the flusher assigns one).
    pub fn new(
        hour: u32,
        site: String,
        dim: Dim,
        value: String,
        c: &Counters,
        visitors: Vec<u64>,
    ) -> AggRow {
        let mut row = AggRow {
            date: (u64::from(hour) / DAY_SECS) as u16,
            hour,
            site,
            dim: dim.as_str().to_string(),
            value,
            visitors,
            ..AggRow::default()
        };
        row.set_counters(c);
        row
    }
}

/// A stable 64-bit id for a batch: random, so two veil processes never collide.
pub fn new_batch_id() -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    rand::random::<u64>().hash(&mut h);
    h.finish().max(1)
}
