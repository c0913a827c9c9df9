//! Integration tests: real HTTP into veil, real ClickHouse, real MMDB files.
//! One binary (faster to build); each test gets its own database.

mod harness;

mod bad_input;
mod consent;
mod dropin;
mod ingest;
mod privacy_audit;
mod salt;
mod schema;
mod stats;
mod visits;
