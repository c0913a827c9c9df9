//! Visits: counted when they start (live), entry/exit pages, bounces and duration
//! when they end; withdrawal drops the live visit.

use std::sync::Arc;

use veil::clock::{Clock, ManualClock, SystemClock};

use crate::harness::*;

#[tokio::test]
async fn visits_yield_entry_exit_bounce_and_duration() {
    let db = TestDb::new("visits").await;
    let now = SystemClock.now_secs();
    let start = now - now % 3600 + 60;
    let clock = Arc::new(ManualClock::at_ms(start * 1000));
    let veil = TestVeil::start_with_clock(config(&db), clock.clone()).await;
    let a = veil.addr;
    // A: two pages, 90 s apart. B: one page (bounce). C: one page + an event.
    pixel(
        a,
        "s=example.com&u=/&r=https://www.google.com/",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    pixel(a, "s=example.com&u=/", "216.160.83.56", CHROME_WIN, "").await;
    pixel(a, "s=example.com&u=/", "89.160.20.128", FIREFOX_LINUX, "").await;
    clock.advance_ms(90_000);
    pixel(
        a,
        "s=example.com&u=/pricing&r=https://example.com/",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    let r = collect(
        a,
        r#"{"site":"example.com","url":"/","event":"signup"}"#,
        "89.160.20.128",
        FIREFOX_LINUX,
        "",
    )
    .await;
    assert_eq!(r.status, 202);
    veil.stop().await; // closes live visits

    let t = db.totals("example.com").await;
    let total = &t[&("total".into(), "".into())];
    assert_eq!((total.visits, total.bounces, total.duration), (3, 1, 180));
    assert_eq!(total.pageviews, 4);
    let entry = &t[&("entry_page".into(), "/".into())];
    assert_eq!((entry.visits, entry.bounces, entry.visitors), (3, 1, 3));
    assert_eq!(t[&("exit_page".into(), "/pricing".into())].visits, 1);
    assert_eq!(t[&("exit_page".into(), "/".into())].visits, 2);
    assert_eq!(t[&("referrer".into(), "google.com".into())].visits, 1);
    assert_eq!(t[&("country".into(), "GB".into())].visits, 1);
    // The source is the visit's first referrer, for every pageview of the visit.
    let search = &t[&("source".into(), "search".into())];
    assert_eq!((search.visits, search.pageviews), (1, 2));
    assert_eq!(t[&("source".into(), "direct".into())].visits, 2);
    // The self-referral of A's second page is not a referrer.
    assert!(!t.contains_key(&("referrer".into(), "example.com".into())));
    db.drop().await;
}

#[tokio::test]
async fn withdrawing_consent_drops_the_live_visit() {
    let db = TestDb::new("withdraw").await;
    let mut cfg = config(&db);
    cfg.sites = vec![site("example.com", "eu-strict")];
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;
    pixel(
        a,
        "s=example.com&u=/&c=analytics",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    pixel(
        a,
        "s=example.com&u=/b&c=analytics",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!(veil.running.state.pipeline.sessions.live(), 1);
    let r = collect(
        a,
        r#"{"site":"example.com","url":"/c","consent":[]}"#,
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!(r.status, 202);
    assert_eq!(
        veil.running.state.pipeline.sessions.live(),
        0,
        "withdrawal takes effect at once"
    );
    veil.stop().await;
    let t = db.totals("example.com").await;
    let total = &t[&("total".into(), "".into())];
    assert_eq!(
        (total.pageviews, total.visits),
        (2, 1),
        "the pageviews and the visit's start, counted under consent, stay"
    );
    assert_eq!(
        (total.bounces, total.duration),
        (0, 0),
        "nothing is derived from the visit after withdrawal"
    );
    assert!(
        !t.keys().any(|(dim, _)| dim == "exit_page"),
        "no exit page: the visit's end is never recorded"
    );
    assert_eq!(t[&("decision".into(), "denied".into())].hits, 1);
    db.drop().await;
}

#[tokio::test]
async fn a_live_visit_counts_from_its_first_hit_and_its_end_adds_bounce_and_duration() {
    let db = TestDb::new("visits_live").await;
    let now = SystemClock.now_secs();
    let start = now - now % 3600 + 60;
    let clock = Arc::new(ManualClock::at_ms(start * 1000));
    let veil = TestVeil::start_with_clock(config(&db), clock.clone()).await;
    let a = veil.addr;
    pixel(a, "s=example.com&u=/", "81.2.69.142", CHROME_WIN, "").await;
    pixel(a, "s=example.com&u=/", "216.160.83.56", CHROME_WIN, "").await;
    clock.advance_ms(30_000);
    pixel(a, "s=example.com&u=/pricing", "81.2.69.142", CHROME_WIN, "").await;
    // Flushed while both visits are still live: they are counted already.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let t = db.totals("example.com").await;
        let visits = t
            .get(&("total".to_string(), String::new()))
            .map_or(0, |r| r.visits);
        if visits == 2 {
            let entry = &t[&("entry_page".into(), "/".into())];
            assert_eq!((entry.visits, entry.bounces), (2, 0));
            assert!(
                !t.keys().any(|(d, _)| d == "exit_page"),
                "no visit has ended"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "live visits not counted: {visits}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(veil.running.state.pipeline.sessions.live(), 2);
    veil.stop().await; // ends both visits
    let t = db.totals("example.com").await;
    let total = &t[&("total".into(), "".into())];
    assert_eq!(
        (total.visits, total.bounces, total.duration),
        (2, 1, 30),
        "counted once; the end adds the bounce and the duration"
    );
    assert_eq!(t[&("exit_page".into(), "/pricing".into())].visits, 1);
    assert_eq!(t[&("exit_page".into(), "/".into())].visits, 1);
    db.drop().await;
}
