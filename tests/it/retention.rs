//! Retention on a real ClickHouse: expired partitions are dropped, each site's
//! expired classes are deleted, nothing else is touched, and a second run is a no-op.

use std::collections::BTreeSet;
use std::time::Duration;

use veil::clock::{day_of, format_day, Clock, SystemClock, DAY_SECS};
use veil::config::{Config, RetentionConfig};
use veil::model::{DataClass, Dim};
use veil::retention::{self, BATCHES_RETENTION_DAYS};
use veil::sink::row::AggRow;

use crate::harness::*;

/// Like an e-commerce shop: short audience and campaign retention, consent
/// counters kept as evidence for three years.
const SHOP: &str = "shop.example";
/// Default retention (730 / 365 / 1095 days).
const BLOG: &str = "blog.example";

/// Ages (days before today) with data; around every limit: 14/15, 60/61,
/// 365/366, 730/731, 1095/1096.
const AGES: [u32; 16] = [
    0, 1, 14, 15, 60, 61, 100, 365, 366, 730, 731, 800, 1095, 1096, 1200, 1500,
];

/// One (dim, value) of each class.
const CELLS: [(&str, &str); 6] = [
    ("total", ""),
    ("page", "/cart"),
    ("country", "PL"),
    ("utm_source", "newsletter"),
    ("marketing_prop", "purchase\u{1f}coupon\u{1f}SPRING"),
    ("decision", "analytics"),
];

fn class_of(dim: &str) -> DataClass {
    Dim::ALL
        .iter()
        .find(|d| d.as_str() == dim)
        .map(|d| d.class())
        .expect("known dim")
}

fn shop_retention() -> RetentionConfig {
    RetentionConfig {
        audience_days: 60,
        marketing_days: 14,
        consent_days: 1095,
    }
}

fn retention_config(db: &TestDb) -> Config {
    let mut cfg = config(db);
    let mut shop = site(SHOP, "eu-strict");
    shop.retention = shop_retention();
    cfg.sites = vec![shop, site(BLOG, "eu-exempt-audience")];
    cfg
}

fn limit(site: &str, class: DataClass) -> u32 {
    let r = if site == SHOP {
        shop_retention()
    } else {
        RetentionConfig::default()
    };
    retention::class_days(&r, class)
}

async fn insert_history(db: &TestDb, today: u32, ages: &[u32]) {
    let mut insert = db.client.insert::<AggRow>("aggregates_in").await.unwrap();
    for (i, age) in ages.iter().enumerate() {
        let day = today - age;
        for s in [SHOP, BLOG] {
            for (dim, value) in CELLS {
                insert
                    .write(&AggRow {
                        date: day as u16,
                        zone: "UTC".into(),
                        hour: day * DAY_SECS as u32 + 10 * 3600,
                        site: s.into(),
                        dim: dim.into(),
                        value: value.into(),
                        batch: 1000 + i as u64,
                        hits: 1,
                        pageviews: u64::from(dim != "decision"),
                        visitors: if dim == "decision" {
                            vec![]
                        } else {
                            vec![u64::from(day)]
                        },
                        ..AggRow::default()
                    })
                    .await
                    .unwrap();
            }
        }
    }
    insert.end().await.unwrap();
    // Retention works on finalised days: close them all (today's too).
    db.close_days(u64::from(today + 2) * DAY_SECS).await;
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct Cell {
    site: String,
    dim: String,
    day: u32,
    pageviews: u64,
}

/// (site, dim, age) of every stored cell; checks the counters survived intact.
async fn stored(db: &TestDb, today: u32) -> BTreeSet<(String, String, u32)> {
    stored_in(db, today, "daily").await
}

/// [`stored`] of one table of closed days (`daily` or `hourly`).
async fn stored_in(db: &TestDb, today: u32, table: &str) -> BTreeSet<(String, String, u32)> {
    let cells = db
        .client
        .query(&format!(
            "SELECT site, dim, toUInt32(date) AS day, sum(pageviews) AS pageviews \
             FROM {table} GROUP BY site, dim, day"
        ))
        .fetch_all::<Cell>()
        .await
        .unwrap();
    cells
        .into_iter()
        .map(|c| {
            assert_eq!(c.pageviews, u64::from(c.dim != "decision"), "{c:?}");
            (c.site, c.dim, today - c.day)
        })
        .collect()
}

#[derive(Debug, serde::Deserialize, clickhouse::Row)]
struct Part {
    day: u32,
}

/// The dates of a table's partitions (one date each).
async fn partition_days(db: &TestDb, table: &str) -> Vec<u32> {
    db.client
        .query(
            "SELECT toUInt32(min_date) AS day FROM system.parts WHERE database = currentDatabase() \
             AND active AND table = ? GROUP BY day ORDER BY day",
        )
        .bind(table)
        .fetch_all::<Part>()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.day)
        .collect()
}

#[derive(serde::Deserialize, clickhouse::Row)]
struct N {
    n: u64,
}

async fn mutations(db: &TestDb) -> u64 {
    db.client
        .query("SELECT count() AS n FROM system.mutations WHERE database = currentDatabase()")
        .fetch_one::<N>()
        .await
        .unwrap()
        .n
}

#[tokio::test]
async fn expired_data_is_dropped_and_deleted_per_site_and_class() {
    let db = TestDb::new("retention").await;
    let cfg = retention_config(&db);
    let today = day_of(SystemClock.now_secs());
    insert_history(&db, today, &AGES).await;

    let all = stored(&db, today).await;
    assert_eq!(all.len(), AGES.len() * 2 * CELLS.len(), "history stored");

    // A dry run reports the work and changes nothing.
    let plan = retention::plan(&db.client, &cfg, today).await.unwrap();
    println!("{plan}");
    assert!(plan.dry_run);
    assert_eq!(stored(&db, today).await, all, "dry run changed nothing");
    assert_eq!(mutations(&db).await, 0, "dry run scheduled nothing");

    let report = retention::enforce(&db.client, &cfg, today).await.unwrap();
    println!("{report}");
    retention::wait_for_mutations(&db.client, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        plan.dropped, report.dropped,
        "the dry run predicted the drops"
    );
    assert_eq!(
        plan.deletions, report.deletions,
        "the dry run predicted the deletions"
    );

    // Partitions: daily (and hourly) older than the longest limit (1095 days), batches
    // older than a week.
    assert_eq!(report.partition_days, 1095);
    let dropped_aggregates: Vec<u32> = report
        .dropped
        .iter()
        .filter(|p| p.table == "daily")
        .map(|p| today - p.day)
        .collect();
    assert_eq!(dropped_aggregates, vec![1500, 1200, 1096]);
    let dropped_batches: BTreeSet<u32> = report
        .dropped
        .iter()
        .filter(|p| p.table == "batches")
        .map(|p| today - p.day)
        .collect();
    let old_batches: BTreeSet<u32> = AGES
        .iter()
        .copied()
        .filter(|a| *a > BATCHES_RETENTION_DAYS)
        .collect();
    assert_eq!(dropped_batches, old_batches);
    let oldest = partition_days(&db, "daily")
        .await
        .into_iter()
        .min()
        .unwrap();
    assert_eq!(
        today - oldest,
        1095,
        "system.parts: nothing older than the longest limit"
    );
    let batch_ages: BTreeSet<u32> = partition_days(&db, "batches")
        .await
        .iter()
        .map(|d| today - d)
        .collect();
    assert_eq!(
        batch_ages,
        BTreeSet::from([0, 1]),
        "batches: only the last week"
    );

    // Deletions: one per (site, class) whose limit is shorter than 1095 days.
    let scheduled: BTreeSet<(String, &str, u32)> = report
        .deletions
        .iter()
        .map(|d| (d.site.clone(), d.class.as_str(), today - d.keep_from))
        .collect();
    assert_eq!(
        scheduled,
        BTreeSet::from([
            (SHOP.to_string(), "audience", 60),
            (SHOP.to_string(), "marketing", 14),
            (BLOG.to_string(), "audience", 730),
            (BLOG.to_string(), "marketing", 365),
        ])
    );

    // Exactly the cells within their own limit are left, for both sites.
    let expected: BTreeSet<(String, String, u32)> = AGES
        .iter()
        .flat_map(|&age| {
            [SHOP, BLOG].into_iter().flat_map(move |s| {
                CELLS
                    .iter()
                    .filter(move |(dim, _)| age <= limit(s, class_of(dim)) && age <= 1095)
                    .map(move |(dim, _)| (s.to_string(), dim.to_string(), age))
            })
        })
        .collect();
    let left = stored(&db, today).await;
    assert_eq!(left, expected);
    // Spelled out: the shop's campaign data is gone after 14 days, its audience
    // after 60, but its consent counters stay for 1095 days; the blog's data
    // of the same ages is untouched by the shop's deletions.
    let has = |s: &str, dim: &str, age: u32| left.contains(&(s.to_string(), dim.to_string(), age));
    assert!(has(SHOP, "utm_source", 14) && !has(SHOP, "utm_source", 15));
    assert!(has(SHOP, "marketing_prop", 14) && !has(SHOP, "marketing_prop", 15));
    assert!(has(SHOP, "page", 60) && !has(SHOP, "page", 61) && !has(SHOP, "total", 100));
    assert!(
        has(SHOP, "decision", 800) && has(SHOP, "decision", 1095) && !has(SHOP, "decision", 1096)
    );
    assert!(has(BLOG, "page", 100) && has(BLOG, "utm_source", 365) && has(BLOG, "total", 730));
    assert!(
        !has(BLOG, "utm_source", 366) && !has(BLOG, "total", 731) && has(BLOG, "decision", 1095)
    );
    for s in [SHOP, BLOG] {
        let ages = |class: DataClass| -> Vec<u32> {
            let mut v: Vec<u32> = left
                .iter()
                .filter(|(site, dim, _)| site == s && class_of(dim) == class)
                .map(|(_, _, a)| *a)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            v.sort_unstable();
            v
        };
        println!(
            "{s}: audience ages kept {:?}; marketing {:?}; consent {:?}",
            ages(DataClass::Audience),
            ages(DataClass::Marketing),
            ages(DataClass::Consent)
        );
    }

    // A second run finds nothing: no drops, no new mutations.
    let before = mutations(&db).await;
    assert_eq!(
        before,
        4 * retention::DAY_TABLES.len() as u64,
        "one mutation per scheduled deletion, in each table of closed days"
    );
    assert_eq!(
        stored_in(&db, today, "hourly").await,
        expected,
        "hourly keeps exactly what daily keeps"
    );
    let again = retention::enforce(&db.client, &cfg, today).await.unwrap();
    println!("{again}");
    assert!(again.is_noop(), "{again}");
    assert_eq!(mutations(&db).await, before, "no new mutation");
    assert_eq!(stored(&db, today).await, expected);
    println!(
        "retention test on {}: {} cells before, {} after",
        format_day(today),
        all.len(),
        expected.len()
    );
    db.drop().await;
}

#[tokio::test]
async fn serve_runs_retention_at_start() {
    let db = TestDb::new("retention_job").await;
    let cfg = retention_config(&db);
    let today = day_of(SystemClock.now_secs());
    insert_history(&db, today, &[0, 1200]).await;
    assert!(partition_days(&db, "daily").await.contains(&(today - 1200)));

    let veil = TestVeil::start(cfg).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let days = partition_days(&db, "daily").await;
        if !days.contains(&(today - 1200)) {
            assert!(days.contains(&today), "today's partition stays");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the retention job did not run"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    veil.stop().await;
    assert!(logs().contains("retention: partition dropped"));
    db.drop().await;
}
