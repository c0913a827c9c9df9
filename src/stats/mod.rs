//! The query side: what marketers may see of the aggregates.
//!
//! Everything shown goes through [`kanon`], so no small group of visitors is ever
//! singled out.

pub mod kanon;
