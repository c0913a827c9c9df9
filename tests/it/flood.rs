//! Hostile traffic (issue #15): a flood of junk values must not take the
//! cardinality bound from the real pages, and a flood of long unique values must
//! leave no memory behind once its visits end.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;
use veil::clock::{Clock, ManualClock};

use crate::harness::*;

/// Sends pixel queries from the given addresses, a few at a time.
async fn flood(a: std::net::SocketAddr, hits: Vec<(String, String)>) {
    let mut tasks = JoinSet::new();
    for chunk in hits.chunks(hits.len().div_ceil(8).max(1)) {
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            for (query, ip) in chunk {
                let r = pixel(a, &query, &ip, CHROME_WIN, "").await;
                assert_eq!(r.status, 200, "{}", r.text());
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("flood task");
    }
}

/// A fresh address per index (a fresh visitor).
fn ip(i: usize) -> String {
    format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255)
}

/// The value of a metric in `/metrics`.
async fn metric(a: std::net::SocketAddr, name: &str) -> u64 {
    let r = raw(a, &format!("GET /metrics HTTP/1.1\r\nHost: {a}\r\n"), b"").await;
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_junk_values_does_not_hide_the_real_pages() {
    let db = TestDb::new("flood_guard").await;
    let v = TestVeil::start(config(&db)).await;
    let a = v.addr;
    // 5,000 junk pages (the whole default bound), each from one fresh visitor,
    // at the start of the hour...
    let junk = (0..5_000)
        .map(|i| (format!("s=example.com&u=/junk/{i}"), ip(i)))
        .collect();
    flood(a, junk).await;
    // ...then 20 real pages, each from the same three visitors.
    for who in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        for p in 0..20 {
            let r = pixel(
                a,
                &format!("s=example.com&u=/real/{p}"),
                who,
                CHROME_WIN,
                "",
            )
            .await;
            assert_eq!(r.status, 200);
        }
    }
    assert!(metric(a, "veil_values_folded_total").await > 0);
    v.stop().await;
    let t = db.totals("example.com").await;
    for p in 0..20 {
        let (pageviews, visitors) = get(&t, "page", &format!("/real/{p}"));
        // The first visitor's view waited for confirmation in `(other)`.
        assert!(pageviews >= 2 && visitors >= 2, "/real/{p}: {pageviews}");
    }
    let pages: u64 = t
        .iter()
        .filter(|((dim, _), _)| dim == "page")
        .map(|(_, r)| r.pageviews)
        .sum();
    assert_eq!(get(&t, "total", "").0, 5_060, "totals exact");
    assert_eq!(pages, 5_060, "folded views are in (other), not lost");
    assert!(get(&t, "page", "(other)").0 >= 2_500);
    let named = t.keys().filter(|(dim, _)| dim == "page").count();
    assert!(named <= 5_001, "the bound holds: {named}");
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_long_values_leaves_no_memory_behind() {
    let db = TestDb::new("flood_memory").await;
    // 10:00 UTC of a fixed day: the visits' timeout passes well inside the day.
    let start = (20_780 * 86_400 + 10 * 3_600) * 1_000;
    let clock = Arc::new(ManualClock::at_ms(start));
    let v = TestVeil::start_with_clock(config(&db), clock.clone() as Arc<dyn Clock>).await;
    let a = v.addr;
    let pad = |c: &str, n: usize| c.repeat(n);
    let hits = (0..2_000)
        .map(|i| {
            // Every other referrer is 30 KB (not a host name: refused at the
            // boundary), the others a unique 200-byte host; pages and campaign
            // values are unique and longer than their bounds.
            let referrer = if i % 2 == 0 {
                format!("https://{i}{}.com/", pad("x", 30_000))
            } else {
                format!("https://{i}.{}.{}.{}.example/", pad("a", 60), pad("b", 60), pad("c", 60))
            };
            let query = format!(
                "s=example.com&c=analytics,marketing&u=%2F{i}%2F{}%3Futm_source%3D{i}{}%26utm_campaign%3D{i}{}&r={referrer}",
                pad("p", 2_000),
                pad("s", 500),
                pad("k", 500),
            );
            (query, ip(i))
        })
        .collect();
    flood(a, hits).await;
    assert_eq!(metric(a, "veil_live_visits").await, 2_000);
    let strings = metric(a, "veil_interned_strings").await;
    let bytes = metric(a, "veil_interned_bytes").await;
    // Pages (512), sources and campaigns (128), 1,000 hosts (~200): bounded at
    // decode, so at most ~1 KB per visit, nothing of the 30 KB referrers.
    assert!(
        strings >= 2_000 * 3 && bytes < 2_000 * 1_200,
        "{strings} strings, {bytes} bytes"
    );
    // The visits time out; the flusher's sweep closes them and gives back
    // every string they held.
    clock.advance_ms(31 * 60 * 1_000);
    let mut live = u64::MAX;
    for _ in 0..300 {
        live = metric(a, "veil_live_visits").await;
        if live == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(live, 0, "visits closed");
    assert_eq!(metric(a, "veil_interned_strings").await, 0);
    assert_eq!(metric(a, "veil_interned_bytes").await, 0);
    v.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "total", "").0, 2_000);
    let longest = |dim: &str| {
        t.keys()
            .filter(|(d, _)| d == dim)
            .map(|(_, v)| v.len())
            .max()
            .unwrap_or(0)
    };
    assert!(longest("referrer") <= 253, "{}", longest("referrer"));
    assert!(longest("page") <= 512 && longest("utm_source") <= 128);
    // The 30 KB referrers were no host: those hits are direct traffic.
    assert_eq!(get(&t, "referrer", veil::model::DIRECT).0, 1_000);
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_text_has_no_controls_and_relative_urls_keep_to_the_hostnames() {
    let db = TestDb::new("flood_text").await;
    let v = TestVeil::start(config(&db)).await;
    let a = v.addr;
    let json = |url: &str| format!(r#"{{"site":"example.com","url":"{url}"}}"#);
    // A relative URL is the page of the request's Origin (else Referer): held to
    // the site's hostnames like an absolute one.
    let evil = "Origin: https://evil.test\r\n";
    assert_eq!(
        collect(a, &json("/stolen"), "192.0.2.9", CHROME_WIN, evil)
            .await
            .status,
        400
    );
    let own = "Origin: https://www.example.com\r\n";
    assert_eq!(
        collect(a, &json("/own"), "192.0.2.9", CHROME_WIN, own)
            .await
            .status,
        202
    );
    assert_eq!(
        collect(a, &json("/server-side"), "192.0.2.9", CHROME_WIN, "")
            .await
            .status,
        202
    );
    let foreign_page = "Referer: https://evil.test/page\r\n";
    pixel(
        a,
        "s=example.com&u=/stolen",
        "192.0.2.9",
        CHROME_WIN,
        foreign_page,
    )
    .await;
    assert_eq!(metric(a, "veil_rejected_host_total").await, 2);
    // Control and bidi characters, also percent-encoded, are removed everywhere.
    let page = "s=example.com&c=analytics,marketing&u=%2Fa%0D%0Ab%E2%80%AE%3Futm_source%3Dx%2500y%E2%80%8F";
    pixel(a, page, "192.0.2.10", CHROME_WIN, "").await;
    let event = r#"{"site":"example.com","url":"/e","event":"sign\u202eup\r\n","props":{"pl\u0000an":"pro\u2066\n"}}"#;
    assert_eq!(
        collect(a, event, "192.0.2.10", CHROME_WIN, "").await.status,
        202
    );
    v.stop().await;
    let t = db.totals("example.com").await;
    for (dim, value) in t.keys() {
        let bad = value
            .chars()
            .any(|c| veil::privacy::text::is_removed(c) && c != veil::model::PROP_SEP);
        assert!(!bad, "{dim}: {value:?}");
    }
    assert_eq!(get(&t, "page", "/ab").0, 1);
    assert_eq!(get(&t, "page", "/own").0, 1);
    assert_eq!(get(&t, "page", "/stolen").0, 0);
    assert_eq!(get(&t, "utm_source", "xy").0, 1);
    assert!(t.contains_key(&("event".into(), "signup".into())));
    db.drop().await;
}
