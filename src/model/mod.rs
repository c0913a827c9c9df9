//! One model of what is stored: dimensions and data classes ([`dim`]), the
//! counter set ([`counters`]) and what a site declares on top ([`goals`]: pairs,
//! goals, funnels, currencies). Adding a counter touches `counters.rs` and the SQL;
//! adding a dimension touches `dim.rs` (and the code that fills it).

pub mod counters;
pub mod dim;
pub mod goals;

pub use counters::Counters;
pub use dim::{
    DataClass, Dim, PairDef, DEFAULT_PAIRS, DIRECT, DIRECT_CHANNEL, OTHER, PAIRS, PROP_SEP,
    SINGLE_DIMS, UNKNOWN,
};
pub use goals::Conversions;
