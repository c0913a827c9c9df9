//! Day close on a real ClickHouse: a finished day's sketches become plain counters
//! with the same answers, exactly once — rerun, run twice at once, restarted in the
//! middle, or missed while veil was down — and a batch that arrives after its day
//! was closed is added once, never re-opening the day. Also: days are the site's
//! local days (a 23-hour DST day in Warsaw, a half-hour zone), and the v1 → v2
//! migration turns real v1 data into the same answers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use veil::clock::zone::Zone;
use veil::clock::{Clock, ManualClock, SystemClock, DAY_SECS};
use veil::metrics::Metrics;
use veil::model::{Counters, Dim};
use veil::sink::close::{close_due, CloseTiming, Zones};
use veil::sink::row::{new_batch_id, AggRow};
use veil::sink::{write_batch, Batch, Target, Written};
use veil::stats::params::days_from_civil;

use crate::harness::*;

/// Unix seconds of a UTC date and hour.
fn utc(y: i64, m: u32, d: u32, hour: u64) -> u32 {
    (days_from_civil(y, m, d) as u64 * DAY_SECS + hour * 3_600) as u32
}

fn pageviews(n: u64) -> Counters {
    Counters {
        pageviews: n,
        ..Counters::default()
    }
}

/// A window row of `site` in `zone`.
fn row(zone: &Zone, hour: u32, site: &str, dim: Dim, value: &str, n: u64, v: &[u64]) -> AggRow {
    AggRow::new(
        zone,
        hour,
        site.into(),
        dim,
        value.into(),
        &pageviews(n),
        v.to_vec(),
    )
}

async fn insert(db: &TestDb, rows: &[AggRow]) {
    let mut ins = db
        .client
        .insert::<AggRow>("aggregates_in")
        .await
        .expect("insert");
    for r in rows {
        ins.write(r).await.expect("row");
    }
    ins.end().await.expect("insert rows");
}

const NO_WAIT: CloseTiming = CloseTiming {
    grace_secs: 0,
    settle: Duration::ZERO,
};

async fn close_at(db: &TestDb, now: u64) -> Vec<(u16, String)> {
    let clock = ManualClock::at_ms(now * 1000);
    close_due(&db.client, &clock, NO_WAIT, &mut Zones::default())
        .await
        .expect("close")
}

#[derive(Debug, Deserialize, clickhouse::Row)]
struct N {
    n: u64,
}

async fn count(db: &TestDb, sql: &str) -> u64 {
    db.client
        .query(sql)
        .fetch_one::<N>()
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .n
}

#[derive(Debug, Deserialize, clickhouse::Row, PartialEq, Eq, PartialOrd, Ord)]
struct DayRow {
    day: u32,
    pv: u64,
    uv: u64,
}

/// Site totals per local day, the way the stats API reads them.
async fn per_day(db: &TestDb, site: &str, dim: Dim, value: &str) -> Vec<DayRow> {
    use veil::stats::query::{cells, ClosedDays, Grain};
    let scope = every_day(site);
    let mut sql = veil::sink::sql::Sql::new(
        "SELECT toUInt32(date) AS day, sum(pageviews) AS pv, sum(visitors) AS uv FROM ",
    );
    sql.append(cells(
        scope,
        &ClosedDays::Ledger,
        dim,
        Some(value),
        Grain::Day,
    ));
    sql.push(" GROUP BY day ORDER BY day", []);
    sql.query(&db.client)
        .fetch_all::<DayRow>()
        .await
        .expect("per day")
}

/// Yesterday and today of a UTC site and of a Warsaw site, through the window.
fn two_days(now: u32) -> Vec<AggRow> {
    let utc_zone = Zone::new("UTC").unwrap();
    let waw = Zone::new("Europe/Warsaw").unwrap();
    let yesterday = now - DAY_SECS as u32;
    let mut rows = Vec::new();
    for (zone, site) in [(&utc_zone, "utc.example"), (&waw, "example.com")] {
        let y = zone.hour_of(u64::from(yesterday));
        let t = zone.hour_of(u64::from(now));
        rows.push(row(zone, y, site, Dim::Total, "", 5, &[1, 2, 3]));
        rows.push(row(zone, y + 3_600, site, Dim::Total, "", 2, &[3, 4]));
        rows.push(row(zone, y, site, Dim::Page, "/a", 5, &[1, 2, 3]));
        rows.push(row(zone, y + 3_600, site, Dim::Page, "/b", 2, &[3, 4]));
        rows.push(row(zone, t, site, Dim::Total, "", 1, &[9]));
        rows.push(row(zone, t, site, Dim::Page, "/a", 1, &[9]));
    }
    rows
}

/// A closer that staged after another one finished (and dropped the sketches)
/// must not swap its empty stage over the finished day.
#[tokio::test]
async fn a_closer_overtaken_by_another_keeps_the_finished_day() {
    let db = TestDb::new("close_race").await;
    let now = SystemClock.now_secs() as u32;
    let now = now - now % DAY_SECS as u32 + 12 * 3_600;
    insert(&db, &two_days(now)).await;
    let before = per_day(&db, "utc.example", Dim::Total, "").await;
    let yesterday = ((now - DAY_SECS as u32) / DAY_SECS as u32) as u16;
    // The slow closer marks *closing* and waits its settle time; meanwhile the
    // fast one (the mark already there: no wait) finishes the day and drops its
    // sketches. Then the slow one wakes up and finds nothing to stage.
    let slow =
        veil::sink::close::close_day(&db.client, yesterday, "UTC", Duration::from_millis(1_500));
    let fast = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        veil::sink::close::close_day(&db.client, yesterday, "UTC", Duration::ZERO).await
    };
    let (a, b) = tokio::join!(slow, fast);
    a.expect("slow closer");
    b.expect("fast closer");
    assert_eq!(per_day(&db, "utc.example", Dim::Total, "").await, before);
    let hourly = count(
        &db,
        &format!(
            "SELECT sum(pageviews) AS n FROM hourly \
             WHERE site = 'utc.example' AND dim = 'total' AND date = toDate({yesterday})"
        ),
    )
    .await;
    assert_eq!(hourly, 7, "the finished day's hours are kept");
    db.drop().await;
}

#[tokio::test]
async fn closing_keeps_every_answer_and_drops_the_sketches_exactly_once() {
    let db = TestDb::new("close").await;
    let now = SystemClock.now_secs() as u32;
    // Midday, so "yesterday" plus two hours stays yesterday in both zones.
    let now = now - now % DAY_SECS as u32 + 12 * 3_600;
    insert(&db, &two_days(now)).await;
    let before_total = per_day(&db, "utc.example", Dim::Total, "").await;
    let before_a = per_day(&db, "example.com", Dim::Page, "/a").await;
    assert_eq!(before_total.len(), 2);
    assert_eq!(
        (before_total[0].pv, before_total[0].uv),
        (7, 4),
        "yesterday: 4 distinct visitors in two hours"
    );

    // Two veil processes closing at once, and once more afterwards.
    let (a, b) = tokio::join!(close_at(&db, u64::from(now)), close_at(&db, u64::from(now)));
    assert!(
        !a.is_empty() || !b.is_empty(),
        "yesterday's partitions were closed"
    );
    assert!(
        close_at(&db, u64::from(now)).await.is_empty(),
        "nothing left to close"
    );
    assert_eq!(
        per_day(&db, "utc.example", Dim::Total, "").await,
        before_total
    );
    assert_eq!(per_day(&db, "example.com", Dim::Page, "/a").await, before_a);

    // Yesterday is counters only; today still sketches.
    let yesterday = (now - DAY_SECS as u32) / DAY_SECS as u32;
    assert_eq!(
        count(
            &db,
            &format!("SELECT count() AS n FROM open_aggregates WHERE date = toDate({yesterday})")
        )
        .await,
        0,
        "no sketch of a closed day is kept"
    );
    assert!(count(&db, "SELECT count() AS n FROM open_aggregates").await > 0);
    assert_eq!(
        count(
            &db,
            "SELECT count() AS n FROM day_close WHERE state = 2 AND site = 'utc.example'"
        )
        .await
        .min(1),
        1
    );
    // The hourly counters of the closed day add up to the day.
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT sum(pageviews) AS n FROM hourly \
                 WHERE site = 'utc.example' AND dim = 'total' AND date = toDate({yesterday})"
            )
        )
        .await,
        7
    );
    db.drop().await;
}

#[tokio::test]
async fn a_close_restarted_in_the_middle_gives_the_same_rows() {
    let db = TestDb::new("close_restart").await;
    let now = SystemClock.now_secs() as u32;
    let now = now - now % DAY_SECS as u32 + 12 * 3_600;
    insert(&db, &two_days(now)).await;
    let before = per_day(&db, "utc.example", Dim::Page, "/a").await;
    let yesterday = (now - DAY_SECS as u32) / DAY_SECS as u32;
    // A crash after the ledger said "closing", with a staging table half filled
    // (a partial row) and a partial copy already in `daily` (as if another node's
    // swap had run for another set of rows).
    let stage = format!("close_stage_daily_{yesterday}_crashed");
    for sql in [
        format!(
            "INSERT INTO day_close (date, site, zone, state, at) \
             VALUES (toDate({yesterday}), 'utc.example', 'UTC', 1, now())"
        ),
        format!("CREATE TABLE {stage} AS daily"),
        format!(
            "INSERT INTO {stage} (date, zone, site, dim, value, pageviews, visitors) \
             VALUES (toDate({yesterday}), 'UTC', 'utc.example', 'page', '/a', 2, 1)"
        ),
        format!(
            "INSERT INTO daily (date, zone, site, dim, value, pageviews, visitors) \
             VALUES (toDate({yesterday}), 'UTC', 'utc.example', 'page', '/a', 2, 1)"
        ),
    ] {
        db.client.query(&sql).execute().await.expect(&sql);
    }
    assert_eq!(
        per_day(&db, "utc.example", Dim::Page, "/a").await,
        before,
        "a day not yet closed is read from its sketches, whatever was half written"
    );
    close_at(&db, u64::from(now)).await;
    assert_eq!(
        per_day(&db, "utc.example", Dim::Page, "/a").await,
        before,
        "the swap replaced whatever the partition held"
    );
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT count() AS n FROM daily WHERE site = 'utc.example' AND dim = 'page' \
                 AND value = '/a' AND date = toDate({yesterday})"
            )
        )
        .await,
        1,
        "one row per key: readers sum them as they are"
    );
    db.drop().await;
}

#[tokio::test]
async fn a_late_batch_is_added_once_and_never_reopens_its_day() {
    let db = TestDb::new("close_late").await;
    let now = SystemClock.now_secs() as u32;
    let now = now - now % DAY_SECS as u32 + 12 * 3_600;
    insert(&db, &two_days(now)).await;
    close_at(&db, u64::from(now)).await;
    let before = per_day(&db, "utc.example", Dim::Total, "").await;

    // A spooled batch of yesterday, replayed after the close (twice: a retry).
    let zone = Zone::new("UTC").unwrap();
    let hour = zone.hour_of(u64::from(now - DAY_SECS as u32));
    let id = new_batch_id();
    let mut late = row(
        &zone,
        hour + 7_200,
        "utc.example",
        Dim::Total,
        "",
        3,
        &[7, 8],
    );
    late.batch = id;
    let batch = Batch {
        id,
        rows: vec![late],
    };
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::at_ms(u64::from(now) * 1000));
    let target = Target::new(db.client.clone(), clock, 0);
    let metrics = Metrics::default();
    let (_tx, mut abandon) = tokio::sync::watch::channel(false);
    for _ in 0..2 {
        let w = write_batch(
            &target,
            &batch,
            &metrics,
            Duration::from_secs(1),
            &mut abandon,
        )
        .await;
        assert_eq!(w, Written::Inserted);
    }
    let after = per_day(&db, "utc.example", Dim::Total, "").await;
    assert_eq!(after.len(), before.len());
    assert_eq!(
        (after[0].pv, after[0].uv),
        (before[0].pv + 3, before[0].uv + 2),
        "counted once; its visitors count as new visitors of that day"
    );
    assert_eq!(after[1], before[1], "today untouched");
    let yesterday = (now - DAY_SECS as u32) / DAY_SECS as u32;
    assert_eq!(
        count(
            &db,
            &format!("SELECT count() AS n FROM open_aggregates WHERE date = toDate({yesterday})")
        )
        .await,
        0,
        "the late batch wrote no sketch"
    );
    db.drop().await;
}

#[tokio::test]
async fn veil_closes_days_it_missed_when_it_starts() {
    let db = TestDb::new("close_missed").await;
    let now = SystemClock.now_secs() as u32;
    let zone = Zone::new("UTC").unwrap();
    let old = zone.hour_of(u64::from(now) - 3 * DAY_SECS);
    insert(
        &db,
        &[row(&zone, old, "example.com", Dim::Total, "", 4, &[1, 2])],
    )
    .await;
    let before = per_day(&db, "example.com", Dim::Total, "").await;
    let veil = TestVeil::start(config(&db)).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while count(&db, "SELECT count() AS n FROM open_aggregates").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the missed day was not closed at start"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(per_day(&db, "example.com", Dim::Total, "").await, before);
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn local_days_a_23_hour_dst_day_and_a_half_hour_zone_close_whole() {
    let db = TestDb::new("close_zones").await;
    let waw = Zone::new("Europe/Warsaw").unwrap();
    let kol = Zone::new("Asia/Kolkata").unwrap();
    // 2026-03-29 in Warsaw: 23 local hours, 22:00 UTC on 03-28 to 22:00 UTC on 03-29.
    let dst = days_from_civil(2026, 3, 29) as u32;
    let (start, end) = waw.day_bounds(dst);
    assert_eq!(end - start, 23 * 3_600);
    let mut rows = Vec::new();
    let mut h = start;
    while h < end {
        rows.push(row(&waw, h as u32, "example.com", Dim::Total, "", 1, &[h]));
        h += 3_600;
    }
    // Kolkata: an hour either side of local midnight (18:30 UTC) is two days.
    let ist = utc(2026, 3, 28, 18) + 1_800;
    rows.push(row(
        &kol,
        ist - 3_600,
        "in.example",
        Dim::Total,
        "",
        1,
        &[1],
    ));
    rows.push(row(&kol, ist, "in.example", Dim::Total, "", 1, &[1]));
    insert(&db, &rows).await;
    close_at(&db, u64::from(utc(2026, 4, 2, 0))).await;

    let waw_days = per_day(&db, "example.com", Dim::Total, "").await;
    assert_eq!(
        waw_days,
        vec![DayRow {
            day: dst,
            pv: 23,
            uv: 23
        }],
        "one local day of 23 hours"
    );
    assert_eq!(
        count(
            &db,
            "SELECT count() AS n FROM (SELECT hour FROM hourly WHERE site = 'example.com' \
             AND dim = 'total' GROUP BY hour)"
        )
        .await,
        23
    );
    let kol_days: BTreeMap<u32, u64> = per_day(&db, "in.example", Dim::Total, "")
        .await
        .into_iter()
        .map(|d| (d.day, d.uv))
        .collect();
    assert_eq!(
        kol_days.into_iter().collect::<Vec<_>>(),
        vec![(dst - 1, 1), (dst, 1)],
        "the same hash on two local days counts on each"
    );
    db.drop().await;
}
