//! Migrations are idempotent and `serve` refuses an old schema.

use crate::harness::*;

#[tokio::test]
async fn migrate_is_idempotent() {
    let db = TestDb::new("migrate").await;
    let cfg = config(&db);
    let again = veil::sink::schema::migrate(&cfg.clickhouse, &[])
        .await
        .unwrap();
    assert!(again.is_empty());
    assert_eq!(
        veil::sink::schema::current_version(&db.client)
            .await
            .unwrap(),
        veil::sink::schema::latest_version()
    );
    db.drop().await;
}

#[tokio::test]
async fn serve_refuses_an_unmigrated_database() {
    let db = TestDb::new("unmigrated").await;
    let mut cfg = config(&db);
    cfg.clickhouse.database = format!("{}_empty", db.name);
    db.client
        .query(&format!("CREATE DATABASE {}", cfg.clickhouse.database))
        .execute()
        .await
        .unwrap();
    let err = match veil::start(
        cfg.clone(),
        std::sync::Arc::new(veil::clock::SystemClock),
        std::future::pending(),
    )
    .await
    {
        Ok(_) => panic!("started on an empty database"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("veil migrate"), "{err}");
    db.client
        .query(&format!("DROP DATABASE {}", cfg.clickhouse.database))
        .execute()
        .await
        .unwrap();
    db.drop().await;
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, clickhouse::Row)]
struct DayValue {
    day: u32,
    dim: String,
    value: String,
    pv: u64,
    uv: u64,
}

/// What the stats API reads for a site, per local day and (dim, value).
async fn answers(client: &clickhouse::Client, site: &str) -> Vec<DayValue> {
    use veil::stats::query::{cells_of, ClosedDays, Grain};
    let scope = every_day(site);
    let mut sql = veil::sink::sql::Sql::new(
        "SELECT toUInt32(date) AS day, dim, value, sum(pageviews) AS pv, sum(visitors) AS uv FROM ",
    );
    sql.append(cells_of(scope, &ClosedDays::Ledger, None, None, Grain::Day));
    sql.push(" GROUP BY day, dim, value ORDER BY day, dim, value", []);
    sql.query(client).fetch_all::<DayValue>().await.unwrap()
}

#[tokio::test]
async fn v1_data_migrates_to_closed_days_with_the_same_answers() {
    use veil::clock::{Clock, SystemClock, DAY_SECS};
    let name = format!("veil_t{}_v1_upgrade", std::process::id());
    let cfg = veil::config::ClickHouseConfig {
        url: clickhouse_url(),
        database: name.clone(),
        ..Default::default()
    };
    let server = veil::sink::schema::server_client(&cfg);
    server
        .query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute()
        .await
        .unwrap();
    assert_eq!(
        veil::sink::schema::migrate_to(&cfg, &[], 1).await.unwrap(),
        vec![1]
    );
    let client = veil::sink::schema::client(&cfg);
    // Real v1 rows: UTC hours, UTC dates, no zone; a Warsaw site and a UTC site,
    // five days ago around UTC midnight (23:00 UTC is already the next day in
    // Warsaw) and today.
    let now = SystemClock.now_secs();
    let today = now / DAY_SECS;
    let old = (today - 5) * DAY_SECS;
    let mut values = Vec::new();
    for site in ["example.com", "utc.example"] {
        for (hour, page, pv, visitors) in [
            (old - 7_200, "/a", 3, "[1,2]"),
            (old - 3_600, "/a", 2, "[2,3]"),
            (old + 3_600, "/b", 1, "[4]"),
            (today * DAY_SECS, "/a", 4, "[5,6]"),
        ] {
            for (dim, value) in [("total", ""), ("page", page)] {
                values.push(format!(
                    "(toDate({}), toDateTime({hour}, 'UTC'), '{site}', '{dim}', '{value}', 7, 0, {pv}, 0, 0, 0, 0, {visitors})",
                    hour / DAY_SECS
                ));
            }
        }
    }
    client
        .query(&format!(
            "INSERT INTO aggregates_in (date, hour, site, dim, value, batch, hits, pageviews, \
             events, visits, bounces, duration, visitors) VALUES {}",
            values.join(", ")
        ))
        .execute()
        .await
        .unwrap();
    #[derive(Debug, serde::Deserialize, clickhouse::Row)]
    struct V1 {
        day: u32,
        dim: String,
        value: String,
        pv: u64,
        uv: u64,
    }
    let v1 = |tz: &'static str, site: &'static str| {
        let client = client.clone();
        async move {
            client
                .query(
                    "SELECT toUInt32(toDate(hour, ?)) AS day, dim, value, sumMerge(pageviews) AS pv, \
                     uniqCombinedArrayMerge(visitors) AS uv FROM aggregates WHERE site = ? \
                     GROUP BY day, dim, value ORDER BY day, dim, value",
                )
                .bind(tz)
                .bind(site)
                .fetch_all::<V1>()
                .await
                .unwrap()
                .into_iter()
                .map(|r| DayValue {
                    day: r.day,
                    dim: r.dim,
                    value: r.value,
                    pv: r.pv,
                    uv: r.uv,
                })
                .collect::<Vec<_>>()
        }
    };
    let before_waw = v1("Europe/Warsaw", "example.com").await;
    let before_utc = v1("UTC", "utc.example").await;
    assert!(
        before_waw.len() > before_utc.len(),
        "Warsaw splits the night in two days"
    );

    let zones = [("example.com".to_string(), "Europe/Warsaw".to_string())];
    assert_eq!(
        veil::sink::schema::migrate(&cfg, &zones).await.unwrap(),
        vec![2, 3, 4, 5],
        "v1 → v2 (days) → v3 (conversions) → v4 (reports) → v5 (nothing on one server)"
    );
    assert_eq!(answers(&client, "example.com").await, before_waw);
    assert_eq!(answers(&client, "utc.example").await, before_utc);

    #[derive(serde::Deserialize, clickhouse::Row)]
    struct N {
        n: u64,
    }
    let n = |sql: &'static str| {
        let client = client.clone();
        async move { client.query(sql).fetch_one::<N>().await.unwrap().n }
    };
    assert_eq!(
        n("SELECT count() AS n FROM system.tables WHERE database = currentDatabase() AND name = 'aggregates'").await,
        0,
        "v1 sketches are gone"
    );
    assert_eq!(
        n("SELECT count() AS n FROM (SELECT date FROM day_close WHERE site = 'utc.example' GROUP BY date HAVING max(state) = 2)").await,
        2,
        "both past days are closed, today is not"
    );
    // New traffic today lands beside today's converted counts.
    let zone = veil::clock::zone::Zone::new("UTC").unwrap();
    let mut ins = client
        .insert::<veil::sink::row::AggRow>("aggregates_in")
        .await
        .unwrap();
    ins.write(&veil::sink::row::AggRow::new(
        &zone,
        zone.hour_of(now),
        "utc.example".into(),
        veil::model::Dim::Total,
        String::new(),
        &veil::model::Counters {
            pageviews: 2,
            ..Default::default()
        },
        vec![8],
    ))
    .await
    .unwrap();
    ins.end().await.unwrap();
    let today_total = answers(&client, "utc.example")
        .await
        .into_iter()
        .find(|r| u64::from(r.day) == today && r.dim == "total")
        .unwrap();
    assert_eq!((today_total.pv, today_total.uv), (6, 3));
    server
        .query(&format!("DROP DATABASE {name}"))
        .execute()
        .await
        .unwrap();
}
