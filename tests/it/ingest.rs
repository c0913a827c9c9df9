//! The whole path: pixel and JSON beacons → exact hourly aggregates in ClickHouse.

use std::time::{Duration, Instant};

use crate::harness::*;

#[tokio::test]
async fn pixel_and_json_beacons_become_exact_aggregates() {
    let db = TestDb::new("ingest").await;
    let mut cfg = config(&db);
    cfg.sites = vec![site("example.com", "eu-strict")];
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;

    let r = pixel(a, "s=example.com&u=https://example.com/pricing&r=https://www.google.com/search%3Fq%3Dx&w=1280&c=analytics", "81.2.69.142", CHROME_WIN, "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 43);
    assert_eq!(r.header("content-type"), Some("image/gif"));
    assert!(r.header("cache-control").unwrap().contains("no-store"));
    pixel(
        a,
        "s=example.com&u=https://example.com/&w=1280&c=analytics",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    pixel(
        a,
        "s=example.com&u=https://www.example.com/pricing/&w=1920&c=analytics",
        "216.160.83.56",
        FIREFOX_LINUX,
        "",
    )
    .await;
    let r = collect(a, r#"{"site":"example.com","url":"https://example.com/","width":390,"consent":["analytics"]}"#, "2001:480::1", SAFARI_IPHONE, "").await;
    assert_eq!(r.status, 202, "{}", r.text());
    let r = collect(a, r#"{"site":"example.com","url":"https://example.com/docs","width":390,"event":"signup","props":{"plan":"pro"},"consent":"analytics"}"#, "89.160.20.128", SAFARI_IPHONE, "").await;
    assert_eq!(r.status, 202, "{}", r.text());
    pixel(
        a,
        "s=example.com&u=https://example.com/&c=analytics",
        "66.249.66.1",
        GOOGLEBOT,
        "",
    )
    .await;

    veil.stop().await;
    let t = db.totals("example.com").await;

    assert_eq!(
        get(&t, "total", ""),
        (4, 4),
        "pageviews and unique visitors"
    );
    assert_eq!(t[&("total".into(), "".into())].events, 1);
    assert_eq!(get(&t, "page", "/pricing"), (2, 2));
    assert_eq!(get(&t, "page", "/"), (2, 2));
    assert_eq!(get(&t, "referrer", "google.com"), (1, 1));
    // Visitors include the event-only visit (its referrer is direct too).
    assert_eq!(get(&t, "referrer", "(direct)"), (3, 4));
    assert_eq!(get(&t, "country", "GB"), (2, 1));
    assert_eq!(get(&t, "country", "US"), (2, 2));
    assert_eq!(get(&t, "region", "GB-ENG"), (2, 1));
    assert_eq!(get(&t, "region", "US-WA"), (1, 1));
    assert_eq!(get(&t, "region", "US-CA"), (1, 1));
    assert_eq!(get(&t, "browser", "Chrome"), (2, 1));
    assert_eq!(get(&t, "browser", "Firefox"), (1, 1));
    // Visit rows count visitors too: the event-only iPhone visitor has a visit.
    assert_eq!(get(&t, "browser", "Safari"), (1, 2));
    assert_eq!(get(&t, "os", "Windows"), (2, 1));
    assert_eq!(get(&t, "os", "Linux"), (1, 1));
    assert_eq!(get(&t, "os", "iOS"), (1, 2));
    assert_eq!(get(&t, "device", "desktop"), (3, 2));
    assert_eq!(get(&t, "device", "mobile"), (1, 2));
    assert_eq!(get(&t, "screen", "1200-1439"), (2, 1));
    assert_eq!(
        get(&t, "language", "pl"),
        (3, 2),
        "pixel requests send pl-PL"
    );
    assert_eq!(get(&t, "country", "SE"), (0, 1));
    assert_eq!(t[&("total".into(), "".into())].visits, 4);
    let ev = &t[&("event".into(), "signup".into())];
    assert_eq!((ev.events, ev.visitors), (1, 1));
    let prop = &t[&("prop".into(), "signup\u{1f}plan\u{1f}pro".into())];
    assert_eq!(prop.events, 1);
    assert_eq!(t[&("decision".into(), "analytics".into())].hits, 5);
    assert_eq!(t[&("decision".into(), "bot".into())].hits, 1);
    assert!(
        !t.keys().any(|(d, _)| d.starts_with("utm_")),
        "UTM needs marketing consent"
    );
    db.drop().await;
}

#[tokio::test]
async fn aggregates_arrive_within_the_flush_interval_without_shutdown() {
    let db = TestDb::new("flush").await;
    let veil = TestVeil::start(config(&db)).await;
    for i in 0..10 {
        let ip = format!("81.2.69.{}", 140 + i % 3);
        let r = pixel(
            veil.addr,
            "s=example.com&u=/landing?utm_source=news",
            &ip,
            FIREFOX_LINUX,
            "",
        )
        .await;
        assert_eq!(r.status, 200);
    }
    let started = Instant::now();
    loop {
        let t = db.totals("example.com").await;
        if get(&t, "total", "") == (10, 3) {
            assert_eq!(get(&t, "page", "/landing"), (10, 3));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "not flushed in time: {t:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn marketing_consent_adds_campaign_dimensions() {
    let db = TestDb::new("utm").await;
    let mut cfg = config(&db);
    cfg.sites = vec![site("example.com", "eu-strict")];
    let veil = TestVeil::start(cfg).await;
    let q = "s=example.com&u=https%3A%2F%2Fexample.com%2F%3Futm_source%3DNewsletter%26utm_campaign%3Dblack-friday%26id%3D7";
    pixel(
        veil.addr,
        &format!("{q}&c=analytics,marketing"),
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    pixel(
        veil.addr,
        &format!("{q}&c=analytics"),
        "216.160.83.56",
        CHROME_WIN,
        "",
    )
    .await;
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "utm_source", "newsletter"), (1, 1));
    assert_eq!(get(&t, "utm_campaign", "black-friday"), (1, 1));
    assert_eq!(
        get(&t, "page", "/"),
        (2, 2),
        "the query string is not part of the page"
    );
    assert_eq!(t[&("decision".into(), "marketing".into())].hits, 1);
    db.drop().await;
}

#[tokio::test]
async fn health_ready_and_metrics_answer() {
    let db = TestDb::new("ready").await;
    let veil = TestVeil::start(config(&db)).await;
    let h = raw(veil.addr, "GET /health HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!((h.status, h.text().as_str()), (200, "ok\n"));
    let r = raw(veil.addr, "GET /ready HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("\"geo\":true"));
    pixel(
        veil.addr,
        "s=example.com&u=/",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    let m = raw(veil.addr, "GET /metrics HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(m.status, 200);
    assert!(
        m.text().contains("veil_beacons_recorded_total 1"),
        "{}",
        m.text()
    );
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn a_bare_pixel_takes_its_page_from_the_referer_header() {
    let db = TestDb::new("referer").await;
    let veil = TestVeil::start(config(&db)).await;
    pixel(
        veil.addr,
        "s=example.com",
        "81.2.69.142",
        CHROME_WIN,
        "Referer: https://example.com/blog/post?id=7\r\n",
    )
    .await;
    pixel(veil.addr, "s=example.com", "81.2.69.142", CHROME_WIN, "").await;
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "page", "/blog/post").0, 1);
    assert_eq!(get(&t, "page", "/").0, 1);
    db.drop().await;
}
