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
mod edge;
mod export;
mod flood;
mod ingest;
mod noise;
mod pages;
mod privacy_audit;
mod proxy;
mod reload;
mod reports;
mod retention;
mod salt;
mod schema;
mod share;
mod stats;
mod strangers;
mod tracker;
mod visits;
