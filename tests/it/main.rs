//! Integration tests: real HTTP into veil, real ClickHouse, real MMDB files.
//! One binary (faster to build); each test gets its own database.

mod harness;

mod audit;
mod bad_input;
mod chaos;
mod close;
mod consent;
mod conversions;
mod dropin;
mod export;
mod flood;
mod ingest;
mod pages;
mod privacy_audit;
mod reports;
mod retention;
mod salt;
mod schema;
mod share;
mod stats;
mod tracker;
mod visits;
