//! Day close: when a site's day is over, its sketches become plain numbers.
//!
//! A visitor hash is only meaningful within its salt day, and the salt day is the
//! site's local day. After that day has ended, its salt's grace has passed and its
//! last window is flushed ([`CloseTiming`]), veil writes the day's final rows — per
//! (site, day, dimension, value) into `daily` and per (site, hour, dimension,
//! value) into `hourly` — with integer counters, visitors included (the count of
//! the day's merged sketch), and then drops the day's sketches: one partition of
//! `open_aggregates` per (local date, time zone). From then on no visitor hash of
//! that day, not even inside a sketch, is stored anywhere.
//!
//! The steps, and why each is safe to repeat or to run on two nodes at once:
//!
//! 1. mark (site, date) *closing* in `day_close`, then wait `settle` — longer than
//!    an insert can take — so batches written before the mark have landed; the
//!    writer routes batches of a closing or closed day to step 5 instead;
//! 2. fill a staging table per final table with the merged counters and swap it
//!    in with `REPLACE PARTITION` — atomic, so readers see none or all of the day,
//!    and a rerun or a second node closing at once leaves exactly one copy (the
//!    same sketches give the same rows);
//! 3. mark *closed*: from here on readers use `daily`/`hourly` for the day;
//! 4. drop the partition (dropping it twice is harmless).
//! 5. **Late batches** (spool replay after an outage across midnight) for a
//!    closing or closed day never re-open it: their counters are added to `daily`
//!    and `hourly`'s late tables (`late_daily`, `late_hourly`) under their batch id,
//!    which readers count once per id, so a retried batch lands once; their visitors count as new visitors of that day (the day's other
//!    hashes are gone, so they cannot be told apart: visitors may be over-counted
//!    by at most the late batch's visitors; pageviews, events and visits stay exact).
//!
//! A day missed while veil was down is closed at the next start: the closer looks
//! at every open partition, not at a calendar.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clickhouse::{Client, Row};
use serde::Deserialize;

use super::cluster::Layout;
use super::row::AggRow;
use super::sql::{text, Arg, Sql};
use super::SinkError;
use crate::clock::zone::Zone;
use crate::clock::{format_day, Clock};
use crate::model::Counters;

/// When a day may be closed.
#[derive(Clone, Copy, Debug)]
pub struct CloseTiming {
    /// The salt grace after local midnight (hits of the old day may still arrive).
    pub grace_secs: u64,
    /// Wait between marking a day closing and reading its sketches: longer than
    /// any insert (the writer's end timeout) plus a flush interval.
    pub settle: Duration,
}

impl CloseTiming {
    /// The timing of a configuration (`salt.grace_secs`, `pipeline.close_settle_ms`).
    pub fn of(config: &crate::config::Config) -> CloseTiming {
        CloseTiming {
            grace_secs: config.salt.grace_secs,
            settle: Duration::from_millis(config.pipeline.close_settle_ms),
        }
    }

    /// The first second at which local day `day` of `zone` may be closed.
    pub fn due_at(&self, zone: &Zone, day: u32) -> u64 {
        zone.day_start(day + 1) + self.grace_secs + self.settle.as_secs()
    }
}

/// Ledger states of `day_close`.
pub const CLOSING: u8 = 1;
/// The day's final rows are complete; readers use them.
pub const CLOSED: u8 = 2;

#[derive(Row, Deserialize)]
struct OpenPartition {
    date: u16,
    zone: String,
}

#[derive(Row, Deserialize)]
struct State {
    state: u8,
}

/// Time zones by name, built on first use (a partition may name a zone no site
/// uses any more).
#[derive(Default)]
pub struct Zones(HashMap<String, Arc<Zone>>);

impl Zones {
    /// The zone of a name; UTC for a name the time zone database does not know.
    pub fn get(&mut self, name: &str) -> Arc<Zone> {
        if let Some(z) = self.0.get(name) {
            return z.clone();
        }
        let zone = Arc::new(Zone::new(name).unwrap_or_else(|_| Zone::utc()));
        self.0.insert(name.to_string(), zone.clone());
        zone
    }
}

/// Closes every open (date, zone) partition whose day is due; returns the
/// (date, zone) pairs closed.
pub async fn close_due(
    client: &Client,
    clock: &dyn Clock,
    timing: CloseTiming,
    zones: &mut Zones,
) -> Result<Vec<(u16, String)>, SinkError> {
    close_due_on(client, &Layout::Single, clock, timing, zones).await
}

/// [`close_due`] in a [`Layout`] (one server or a cluster).
pub async fn close_due_on(
    client: &Client,
    layout: &Layout,
    clock: &dyn Clock,
    timing: CloseTiming,
    zones: &mut Zones,
) -> Result<Vec<(u16, String)>, SinkError> {
    let open = client
        .query("SELECT date, zone FROM open_aggregates GROUP BY date, zone ORDER BY date, zone")
        .fetch_all::<OpenPartition>()
        .await?;
    let now = clock.now_secs();
    let mut closed = Vec::new();
    for p in open {
        let zone = zones.get(&p.zone);
        if now < timing.due_at(&zone, u32::from(p.date)) {
            continue;
        }
        close_day_on(client, layout, p.date, &p.zone, timing.settle).await?;
        closed.push((p.date, p.zone));
    }
    Ok(closed)
}

/// The day-close task: closes due days at start (days missed while veil was down)
/// and then every `every`, until `stop` resolves. Errors are logged and retried
/// on the next round: a day is closed late, never lost.
pub async fn run_closer(
    client: Client,
    layout: Layout,
    clock: Arc<dyn Clock>,
    timing: CloseTiming,
    every: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut zones = Zones::default();
    loop {
        match close_due_on(&client, &layout, clock.as_ref(), timing, &mut zones).await {
            Ok(closed) if !closed.is_empty() => {
                tracing::info!(days = closed.len(), "day close finished")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "day close failed; retrying next round"),
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// The counters of a sketch row, merged, as select items.
fn merged_counters() -> String {
    Counters::columns(|c| format!("sumMerge({c}) AS {c}"))
}

/// The tables a close finalises into, each with the hour column its rows carry.
const FINAL_TABLES: [(&str, &str); 2] = [("daily", ""), ("hourly", "hour, ")];

/// The prefix of the staging tables a close fills before swapping them in (the
/// audit knows them as veil's).
pub const STAGE_PREFIX: &str = "close_stage_";

/// The writes that finalise one (local date, zone) partition once the ledger says
/// *closing*: for `daily` and `hourly`, create a staging table like it, fill it
/// with the partition's merged counters, swap it in with `REPLACE PARTITION`
/// (atomic: readers see no row or every row, and a rerun or a second node leaves
/// one copy), drop it. `token` makes the staging names unique to this attempt, so
/// two closers never share one.
fn finalise_steps(layout: &Layout, day: &str, zone: &str, token: &str) -> Vec<(String, Sql)> {
    let counters = Counters::NAMES.join(", ");
    let mut out = Vec::new();
    for (table, hour) in FINAL_TABLES {
        let stage = format!("{STAGE_PREFIX}{table}_{}_{token}", day.replace('-', ""));
        out.push((
            format!("stage {table}"),
            Sql::new(&layout.create_stage(&stage, table)),
        ));
        let mut fill = Sql::new(&format!(
            "INSERT INTO {stage} (date, zone, {hour}site, dim, value, {counters}, visitors) \
             SELECT date, zone, {hour}site, dim, value, {}, \
             uniqCombinedArrayMerge(visitors) AS visitors FROM open_aggregates \
             WHERE date = toDate(?) AND zone = ? GROUP BY date, zone, {hour}site, dim, value",
            merged_counters()
        ));
        fill.args.extend([text(day), text(zone)]);
        out.push((format!("fill {table}"), fill));
        let mut swap = Sql::new(&format!(
            "ALTER TABLE {table} REPLACE PARTITION (?, ?) FROM {stage}"
        ));
        swap.args.extend([text(day), text(zone)]);
        out.push((format!("replace {table}"), swap));
        out.push((
            format!("unstage {table}"),
            Sql::new(&format!("DROP TABLE IF EXISTS {stage}")),
        ));
    }
    out
}

/// The drop of the partition's sketches: the last step (on a cluster, on every
/// shard's local table).
fn drop_sketches(layout: &Layout, day: &str, zone: &str) -> Sql {
    let mut drop = Sql::new(&format!(
        "{} DROP PARTITION (?, ?)",
        layout.alter_sharded("open_aggregates")
    ));
    drop.args.extend([text(day), text(zone)]);
    drop
}

/// Every write of closing one (local date, zone) partition, named, in order: mark
/// closing, finalise `daily` and `hourly`, mark closed, drop the sketches.
/// [`close_day`] sends exactly these (skipping what the ledger says is done,
/// waiting `settle` after the first, with a random staging token).
pub fn close_day_statements(date: u16, zone: &str, token: &str) -> Vec<(String, Sql)> {
    close_day_statements_on(&Layout::Single, date, zone, token)
}

/// [`close_day_statements`] in a [`Layout`].
pub fn close_day_statements_on(
    layout: &Layout,
    date: u16,
    zone: &str,
    token: &str,
) -> Vec<(String, Sql)> {
    let day = format_day(u32::from(date));
    let mut out = vec![("closing".to_string(), mark(&day, zone, CLOSING))];
    out.extend(finalise_steps(layout, &day, zone, token));
    out.push(("closed".to_string(), mark(&day, zone, CLOSED)));
    out.push((
        "drop partition".to_string(),
        drop_sketches(layout, &day, zone),
    ));
    out
}

/// Closes one (local date, zone) partition: the steps of the module docs.
pub async fn close_day(
    client: &Client,
    date: u16,
    zone: &str,
    settle: Duration,
) -> Result<(), SinkError> {
    close_day_on(client, &Layout::Single, date, zone, settle).await
}

/// [`close_day`] in a [`Layout`]. On a cluster every step reads through the
/// `Distributed` and everywhere-replicated tables; only the staging table is
/// the server's own, so the steps of one close go to one server (veil's
/// ClickHouse URL must keep a client on one server, e.g. HAProxy `balance
/// source`); a close cut off by a fail-over leaves a stray staging table and is
/// done again next round.
pub async fn close_day_on(
    client: &Client,
    layout: &Layout,
    date: u16,
    zone: &str,
    settle: Duration,
) -> Result<(), SinkError> {
    let day = format_day(u32::from(date));
    let state = ledger_state(client, &day, zone).await?;
    if state < CLOSED {
        if state < CLOSING {
            mark(&day, zone, CLOSING).query(client).execute().await?;
            tokio::time::sleep(settle).await;
        }
        let token = format!("{:016x}", rand::random::<u64>());
        let mut overtaken = false;
        for (name, sql) in finalise_steps(layout, &day, zone, &token) {
            // Another closer may have finished (and dropped the sketches) while
            // this one staged: then this stage may be partial, and swapping it in
            // would replace the finished day with it. A closer marks *closed*
            // before it drops, so a stage filled before the ledger says closed
            // was filled from every sketch.
            if name.starts_with("replace ") && ledger_state(client, &day, zone).await? >= CLOSED {
                overtaken = true;
            }
            if overtaken && !name.starts_with("unstage ") {
                continue;
            }
            sql.query(client).execute().await?;
        }
        if !overtaken {
            mark(&day, zone, CLOSED).query(client).execute().await?;
            // A reader that looked up the closed days just before the mark reads
            // this day from its sketches: keep them until such a query is done,
            // or it would see the day empty.
            tokio::time::sleep(settle).await;
        }
    }
    drop_sketches(layout, &day, zone)
        .query(client)
        .execute()
        .await?;
    tracing::info!(date = %day, zone, "day closed: sketches finalised and dropped");
    Ok(())
}

/// The ledger's state of a (local date, zone) partition (0 when it has none).
async fn ledger_state(client: &Client, day: &str, zone: &str) -> Result<u8, SinkError> {
    Ok(client
        .query(
            "SELECT toUInt8(max(state)) AS state FROM day_close \
             WHERE date = toDate(?) AND zone = ?",
        )
        .bind(day)
        .bind(zone)
        .fetch_one::<State>()
        .await?
        .state)
}

/// Records `state` for every site that has sketches in the (date, zone) partition.
fn mark(day: &str, zone: &str, state: u8) -> Sql {
    let mut sql = Sql::new(
        "INSERT INTO day_close (date, site, zone, state, at) \
         SELECT date, site, zone, toUInt8(?) AS state, now() AS at FROM open_aggregates \
         WHERE date = toDate(?) AND zone = ? GROUP BY date, site, zone",
    );
    sql.args
        .extend([Arg::Num(u64::from(state)), text(day), text(zone)]);
    sql
}

#[derive(Row, Deserialize)]
struct SiteDay {
    site: String,
    date: u16,
}

/// Of the (site, date) pairs of a batch's rows, those whose day is closing or
/// closed (a late batch). Only rows whose day ended at least `grace_secs` ago can
/// be late, so the ledger is asked about nothing else.
pub async fn late_days(
    client: &Client,
    rows: &[AggRow],
    now: u64,
    grace_secs: u64,
    zones: &mut Zones,
) -> Result<Vec<(String, u16)>, SinkError> {
    let mut candidates: Vec<(&str, u16)> = rows
        .iter()
        .filter(|r| zones.get(&r.zone).day_start(u32::from(r.date) + 1) + grace_secs <= now)
        .map(|r| (r.site.as_str(), r.date))
        .collect();
    candidates.sort_unstable();
    candidates.dedup();
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let mut late = Vec::new();
    for (site, date) in candidates {
        let found = client
            .query(
                "SELECT site, date FROM day_close WHERE site = ? AND date = toDate(?) \
                 GROUP BY site, date HAVING max(state) >= ?",
            )
            .bind(site)
            .bind(format_day(u32::from(date)))
            .bind(CLOSING)
            .fetch_all::<SiteDay>()
            .await?;
        late.extend(found.into_iter().map(|d| (d.site, d.date)));
    }
    Ok(late)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_is_due_after_its_end_grace_and_settle() {
        let t = CloseTiming {
            grace_secs: 3_600,
            settle: Duration::from_secs(120),
        };
        let utc = Zone::new("UTC").unwrap();
        let waw = Zone::new("Europe/Warsaw").unwrap();
        let day = 20_780; // 2026-11-23
        assert_eq!(t.due_at(&utc, day), 20_781 * 86_400 + 3_720);
        assert_eq!(t.due_at(&waw, day), 20_781 * 86_400 - 3_600 + 3_720);
        let mut zones = Zones::default();
        assert_eq!(zones.get("Nowhere/Else").name(), "UTC");
        assert_eq!(zones.get("Europe/Warsaw").name(), "Europe/Warsaw");
    }

    #[test]
    fn the_close_statements_stage_and_swap_each_final_table_in_order() {
        let steps = close_day_statements(20_780, "Europe/Warsaw", "t0");
        let names: Vec<&str> = steps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "closing",
                "stage daily",
                "fill daily",
                "replace daily",
                "unstage daily",
                "stage hourly",
                "fill hourly",
                "replace hourly",
                "unstage hourly",
                "closed",
                "drop partition"
            ]
        );
        let s: Vec<String> = steps.iter().map(|(_, q)| q.inline()).collect();
        assert!(s[0].starts_with("INSERT INTO day_close") && s[0].contains("toUInt8(1)"));
        assert_eq!(s[1], "CREATE TABLE close_stage_daily_20261123_t0 AS daily");
        assert!(s[2].starts_with("INSERT INTO close_stage_daily_20261123_t0 (date, zone, site,"));
        assert!(s[2].contains("WHERE date = toDate('2026-11-23') AND zone = 'Europe/Warsaw'"));
        assert_eq!(
            s[3],
            "ALTER TABLE daily REPLACE PARTITION ('2026-11-23', 'Europe/Warsaw') FROM close_stage_daily_20261123_t0"
        );
        assert!(
            s[6].starts_with("INSERT INTO close_stage_hourly_20261123_t0 (date, zone, hour, site,")
        );
        assert!(s[9].starts_with("INSERT INTO day_close") && s[9].contains("toUInt8(2)"));
        assert_eq!(
            s[10],
            "ALTER TABLE open_aggregates DROP PARTITION ('2026-11-23', 'Europe/Warsaw')"
        );
    }
}
