//! The row the sink writes: one (site, hour, dimension, value) cell of a flush
//! window, with its counters and the window's distinct visitor hashes, which
//! ClickHouse folds into a sketch (`aggregates_in` → `open_aggregates`).

use crate::clock::zone::Zone;
use crate::model::counters::counter_row;
use crate::model::{Counters, Dim};

counter_row! {
    /// One row of `aggregates_in`.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct AggRow {
        /// The site's local date (day number, ClickHouse `Date`): the salt day.
        pub date: u16,
        /// The site's time zone (IANA name): with `date`, the partition the
        /// sketch lands in and the day close that finalises it.
        pub zone: String,
        /// Start of the site's local hour (ClickHouse `DateTime`).
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
    /// The row of one cell of a site in `zone` (batch id 0 until the flusher
    /// assigns one); its date is the local day the hour belongs to.
    pub fn new(
        zone: &Zone,
        hour: u32,
        site: String,
        dim: Dim,
        value: String,
        c: &Counters,
        visitors: Vec<u64>,
    ) -> AggRow {
        let mut row = AggRow {
            date: zone.day_of(u64::from(hour)) as u16,
            zone: zone.name().to_string(),
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

counter_row! {
    /// One row of `late_daily`: a late batch's addition to a closed day (part =
    /// batch id), or v1 data converted at upgrade (part 1).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct LateDailyRow {
        /// Local date.
        pub date: u16,
        /// Site id.
        pub site: String,
        /// Dimension name.
        pub dim: String,
        /// Dimension value.
        pub value: String,
        /// The late batch's id (1: converted from v1).
        pub part: u64,
    } then {
        /// Unique visitors (a count: no hash is stored).
        pub visitors: u64,
    }
}

counter_row! {
    /// One row of `late_hourly`: as [`LateDailyRow`], per local hour.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct LateHourlyRow {
        /// Local date.
        pub date: u16,
        /// Start of the local hour.
        pub hour: u32,
        /// Site id.
        pub site: String,
        /// Dimension name.
        pub dim: String,
        /// Dimension value.
        pub value: String,
        /// The late batch's id (1: converted from v1).
        pub part: u64,
    } then {
        /// Unique visitors in the hour (a count).
        pub visitors: u64,
    }
}

impl AggRow {
    /// This window row as a late addition to a closed day: its counters, and its
    /// distinct visitors as a count, under the batch's id.
    pub fn late(&self) -> (LateDailyRow, LateHourlyRow) {
        let c = self.counters();
        let visitors = self.visitors.len() as u64;
        let mut daily = LateDailyRow {
            date: self.date,
            site: self.site.clone(),
            dim: self.dim.clone(),
            value: self.value.clone(),
            part: self.batch,
            visitors,
            ..LateDailyRow::default()
        };
        daily.set_counters(&c);
        let mut hourly = LateHourlyRow {
            date: self.date,
            hour: self.hour,
            site: self.site.clone(),
            dim: self.dim.clone(),
            value: self.value.clone(),
            part: self.batch,
            visitors,
            ..LateHourlyRow::default()
        };
        hourly.set_counters(&c);
        (daily, hourly)
    }
}
