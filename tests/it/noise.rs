//! The differential-privacy mode through a real veil and ClickHouse: every
//! released count is its days' true counts plus each day's keyed noise, the same
//! across repeated and overlapping ranges and across the day close; k applies to
//! the noised visitors; the secret reaches neither the answers, the logs nor
//! ClickHouse.

use serde_json::Value;

use veil::config::Config;
use veil::model::Dim;
use veil::stats::noise::{Cell, Noise, When};
use veil::stats::params::days_from_civil;

use crate::harness::*;
use crate::stats::{insert, pv, stats_site, utc, KEY};

const SITE: &str = "dp.example";
const SECRET: &str = "integration-test dp secret, not for production";
const EPSILON: f64 = 1.0;
const K: u32 = 5;
const FAR_FUTURE: u64 = 1_900_000_000;

fn dim(name: &str) -> Dim {
    Dim::ALL
        .into_iter()
        .find(|d| d.as_str() == name)
        .expect("dimension")
}

/// `n` distinct visitor hashes starting at `from`.
fn hashes(from: u64, n: u64) -> Vec<u64> {
    (from..from + n).collect()
}

/// The seeded days (2026-03-01 to 03), as day numbers.
fn days() -> [u16; 3] {
    let d = days_from_civil(2026, 3, 1) as u16;
    [d, d + 1, d + 2]
}

/// What the API must release for (dim, value) over `on`: Σ (true + noise),
/// clamped at 0, per counter name.
fn expected(dim_name: &str, value: &str, counter: &str, truth: &[(u16, u64)], on: &[u16]) -> u64 {
    let noise = Noise::new(SECRET, EPSILON);
    let sum: i64 = truth
        .iter()
        .filter(|(d, _)| on.contains(d))
        .map(|(d, n)| {
            let cell = Cell {
                site: SITE,
                dim: dim(dim_name),
                value,
                when: When::Day(*d),
            };
            *n as i64 + noise.draw(&cell, counter)
        })
        .sum();
    sum.max(0) as u64
}

fn dp_config(db: &TestDb) -> Config {
    let mut c = config(db);
    let mut site = stats_site(SITE, "UTC", K);
    site.dp_epsilon_per_day = EPSILON;
    site.dp_secret = SECRET.into();
    c.sites = vec![site];
    c
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Value {
    let r = raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"),
        b"",
    )
    .await;
    let v: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    assert_eq!(r.status, 200, "{path}: {v}");
    v
}

fn named(v: &Value) -> Vec<String> {
    v["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["value"].as_str().unwrap_or("").to_string())
        .collect()
}

#[tokio::test]
async fn released_counts_are_noised_per_day_and_cell_and_k_applies_to_the_noise() {
    let db = TestDb::new("stats_dp").await;
    let [d1, d2, d3] = days();
    let hour = |day: u32| utc(2026, 3, day, 12);
    // Per day: 60 site visitors (100 pageviews); /big 50 visitors; /small one
    // visitor a day; utm_content `recipient-17` k − 1 visitors on the first day.
    let site_visitors = [hashes(0, 60), hashes(1_000, 60), hashes(2_000, 60)];
    let big = [hashes(0, 50), hashes(1_000, 50), hashes(2_000, 50)];
    let small = [vec![55], vec![1_055], vec![2_055]];
    let recipient = hashes(0, u64::from(K) - 1);
    let mut cells = Vec::new();
    for (i, day) in [1, 2, 3].into_iter().enumerate() {
        cells.push(pv(hour(day), "total", "", 100, &site_visitors[i]));
        cells.push(pv(hour(day), "page", "/big", 90, &big[i]));
        cells.push(pv(hour(day), "page", "/small", 1, &small[i]));
    }
    cells.push(pv(hour(1), "utm_content", "recipient-17", 4, &recipient));
    insert(&db, &[SITE], &cells).await;

    let total_visitors = [(d1, 60), (d2, 60), (d3, 60)];
    let total_pageviews = [(d1, 100), (d2, 100), (d3, 100)];
    let big_visitors = [(d1, 50), (d2, 50), (d3, 50)];
    let small_visitors = [(d1, 1), (d2, 1), (d3, 1)];
    let all = [d1, d2, d3];

    for closed in [false, true] {
        if closed {
            // The same noise once the days are finalised into counters.
            assert!(!db.close_days(FAR_FUTURE).await.is_empty());
        }
        let veil = TestVeil::start(dp_config(&db)).await;
        let a = veil.addr;
        let q = |path: &str| format!("/api/v1/{path}site={SITE}");

        let site = get(a, &q("site?")).await;
        assert_eq!(site["noised"], true);
        assert_eq!(site["dp_epsilon_per_day"].as_f64(), Some(EPSILON));

        // The site's totals: the sum of the noised days.
        let range = q("aggregate?from=2026-03-01&to=2026-03-03&");
        let agg = get(a, &range).await;
        assert_eq!(agg["noised"], true);
        let m = &agg["metrics"];
        assert_eq!(
            m["visitors"].as_u64(),
            Some(expected("total", "", "visitors", &total_visitors, &all))
        );
        assert_eq!(
            m["pageviews"].as_u64(),
            Some(expected("total", "", "pageviews", &total_pageviews, &all))
        );
        // The noise is there (at this secret, the released numbers are not the
        // true 180 and 300).
        assert_ne!(
            (m["visitors"].as_u64(), m["pageviews"].as_u64()),
            (Some(180), Some(300))
        );
        // Asking again, and asking overlapping ranges, gives the same noise:
        // the range is the sum of its days (no clamping at these sizes).
        assert_eq!(get(a, &range).await["metrics"], *m);
        let mut by_days = 0;
        for (day, d) in [(1, d1), (2, d2), (3, d3)] {
            let one = get(
                a,
                &q(&format!("aggregate?from=2026-03-0{day}&to=2026-03-0{day}&")),
            )
            .await;
            let v = one["metrics"]["visitors"].as_u64().unwrap();
            assert_eq!(v, expected("total", "", "visitors", &total_visitors, &[d]));
            by_days += v;
        }
        assert_eq!(m["visitors"].as_u64(), Some(by_days));
        let first_two = get(a, &q("aggregate?from=2026-03-01&to=2026-03-02&")).await;
        assert_eq!(
            first_two["metrics"]["visitors"].as_u64(),
            Some(expected(
                "total",
                "",
                "visitors",
                &total_visitors,
                &[d1, d2]
            ))
        );
        let series = get(
            a,
            &q("timeseries?from=2026-03-01&to=2026-03-03&interval=day&"),
        )
        .await;
        assert_eq!(series["noised"], true);
        let buckets: u64 = series["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["visitors"].as_u64().unwrap())
            .sum();
        assert_eq!(buckets, by_days, "daily buckets add up to the range");

        // Hourly buckets are cells of their own; hours without data stay 0.
        let hours = get(
            a,
            &q("timeseries?from=2026-03-02&to=2026-03-02&interval=hour&"),
        )
        .await;
        let buckets = hours["buckets"].as_array().unwrap();
        assert_eq!(buckets.len(), 24);
        let noon = hour(2);
        let cell = Cell {
            site: SITE,
            dim: Dim::Total,
            value: "",
            when: When::Hour(noon),
        };
        let want = (60 + Noise::new(SECRET, EPSILON).draw(&cell, "visitors")).max(0) as u64;
        for b in buckets {
            let at_noon = b["start"].as_u64() == Some(u64::from(noon));
            let v = b["visitors"].as_u64();
            assert_eq!(v, Some(if at_noon { want } else { 0 }), "{b}");
        }

        // Breakdowns: k on the noised visitors of the range, named iff ≥ k.
        let pages = get(
            a,
            &q("breakdown?from=2026-03-01&to=2026-03-03&dimension=page&"),
        )
        .await;
        assert_eq!(pages["noised"], true);
        let big_noised = expected("page", "/big", "visitors", &big_visitors, &all);
        assert_eq!(pages["rows"][0]["value"], "/big");
        assert_eq!(pages["rows"][0]["visitors"].as_u64(), Some(big_noised));
        let small_noised = expected("page", "/small", "visitors", &small_visitors, &all);
        assert_eq!(
            named(&pages).contains(&"/small".to_string()),
            small_noised >= u64::from(K),
            "/small has {small_noised} noised visitors: {pages}"
        );
        if small_noised < u64::from(K) {
            assert_eq!(pages["other"]["visitors"].as_u64(), Some(small_noised));
        }
        // A single group answers only where the breakdown names it.
        let big_alone = get(
            a,
            &q("aggregate?from=2026-03-01&to=2026-03-03&filter=page:/big&"),
        )
        .await;
        assert_eq!(big_alone["metrics"]["visitors"].as_u64(), Some(big_noised));

        // k − 1 visitors on a per-recipient value: named only when the noise
        // carries them to k, and then with a noised count.
        let recipient_noised =
            expected("utm_content", "recipient-17", "visitors", &[(d1, 4)], &all);
        let utm = get(
            a,
            &q("breakdown?from=2026-03-01&to=2026-03-03&dimension=utm_content&"),
        )
        .await;
        assert_eq!(
            named(&utm).contains(&"recipient-17".to_string()),
            recipient_noised >= u64::from(K),
            "{recipient_noised}: {utm}"
        );
        veil.stop().await;
    }

    // The secret is in no log line and in no query ClickHouse logged.
    assert!(!logs().contains(SECRET));
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Count {
        n: u64,
    }
    let logged = db
        .client
        .query("SELECT toUInt64(count()) AS n FROM system.query_log WHERE position(query, ?) > 0 AND position(query, 'position(query') = 0")
        .bind(SECRET)
        .fetch_one::<Count>()
        .await;
    // The query log may be off on the test server; when it is on, it is clean.
    if let Ok(c) = logged {
        assert_eq!(c.n, 0);
    }
    db.drop().await;
}
