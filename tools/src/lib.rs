//! # veil-bench — tools for measuring veil, kept out of the product
//!
//! None of this runs in production, so it lives in its own crate: the `veil`
//! binary does not carry a load generator, an HTTP client or a data faker, and
//! these tools can change without touching the collector. They use veil only
//! through its library (beacon decoders, configuration, aggregate rows, the
//! ClickHouse client), so they measure and fill the real thing.
//!
//! - [`traffic`]: the realistic beacon mix, shared by the load generator and the
//!   criterion benches in veil's `benches/stages.rs`.
//! - [`loadgen`]: `veil-bench loadgen` and `veil-bench bare-server`, the
//!   end-to-end load generator and its baselines.
//! - [`seed`]: `veil-bench seed`, synthetic aggregates written into ClickHouse.
//! - [`sqlplan`]: `veil-bench sql-plan`, every storage statement over a small data
//!   set, for the check that current ClickHouse runs veil's SQL as 18.16 does.

pub mod loadgen;
pub mod seed;
pub mod sqlplan;
pub mod traffic;
