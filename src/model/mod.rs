//! One model of what is stored: dimensions and data classes ([`dim`]) and the
//! counter set ([`counters`]). Adding a counter touches `counters.rs` and the SQL;
//! adding a dimension touches `dim.rs` (and the code that fills it).

pub mod counters;
pub mod dim;

pub use counters::Counters;
pub use dim::{DataClass, Dim, DIRECT, DIRECT_CHANNEL, OTHER, PROP_SEP, UNKNOWN};
