//! The same visitor before and after midnight gets two unrelated hashes.

use std::sync::Arc;

use veil::clock::{Clock, ManualClock, SystemClock, DAY_SECS};

use crate::harness::*;

#[tokio::test]
async fn a_visitor_across_midnight_counts_as_two_unlinkable_visitors() {
    let db = TestDb::new("midnight").await;
    let today = SystemClock.now_secs() / DAY_SECS;
    let midnight = (today + 1) * DAY_SECS;
    let clock = Arc::new(ManualClock::at_ms((midnight - 10) * 1000));
    let veil = TestVeil::start_with_clock(config(&db), clock.clone()).await;
    let salts = veil.running.state.pipeline.rules().privacy.salts().clone();

    pixel(
        veil.addr,
        "s=example.com&u=/",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    pixel(
        veil.addr,
        "s=example.com&u=/",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    clock.set_ms((midnight + 10) * 1000);
    salts.tick().unwrap();
    pixel(
        veil.addr,
        "s=example.com&u=/",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    clock.set_ms((midnight + 3_600) * 1000);
    salts.tick().unwrap();
    assert!(
        !salts.holds_day(0, (midnight / DAY_SECS - 1) as u32),
        "yesterday's salt is gone after the grace"
    );
    veil.stop().await;

    let t = db.totals("example.com").await;
    assert_eq!(
        get(&t, "total", ""),
        (3, 2),
        "two days, two unrelated hashes"
    );
    #[derive(serde::Deserialize, clickhouse::Row)]
    struct Day {
        v: u64,
    }
    let per_day = db
        .client
        .query("SELECT uniqCombinedArrayMerge(visitors) AS v FROM open_aggregates WHERE dim = 'total' GROUP BY date ORDER BY date")
        .fetch_all::<Day>()
        .await
        .unwrap();
    assert_eq!(per_day.iter().map(|d| d.v).collect::<Vec<_>>(), vec![1, 1]);
    db.drop().await;
}
