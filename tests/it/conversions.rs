//! What marketers come for, end to end: real beacons over HTTP into a real
//! ClickHouse, read back through the stats API — filters across dimensions
//! (declared pairs), goals and conversion rates by source and campaign, funnels
//! with drop-off, revenue per currency, engagement per page, live visits and
//! comparisons — with exact numbers, before and after the day close.

use std::sync::Arc;

use serde_json::{json, Value};

use veil::clock::{Clock, ManualClock, SystemClock};
use veil::config::{Config, FunnelConfig, GoalConfig, StepConfig};
use veil::stats::auth::hash_key;

use crate::harness::*;

const KEY: &str = "conversions-test-key-0123456789";
const SAFARI_MAC: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";

fn goal(name: &str, event: Option<&str>, page: Option<&str>) -> GoalConfig {
    GoalConfig {
        name: name.into(),
        event: event.map(Into::into),
        page: page.map(Into::into),
    }
}

fn step(event: Option<&str>, page: Option<&str>) -> StepConfig {
    StepConfig {
        event: event.map(Into::into),
        page: page.map(Into::into),
    }
}

fn conversions_config(db: &TestDb) -> Config {
    let mut c = config(db);
    let s = &mut c.sites[0];
    s.k = 2;
    s.api_keys = vec![hash_key(KEY)];
    s.goals = vec![
        goal("Signup", Some("signup"), None),
        goal("Pricing", None, Some("/pricing")),
        goal("Purchase", Some("purchase"), None),
    ];
    s.funnels = vec![FunnelConfig {
        name: "Checkout".into(),
        steps: vec![
            step(None, Some("/pricing")),
            step(Some("signup"), None),
            step(Some("purchase"), None),
        ],
    }];
    c
}

async fn api(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let r = raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n"),
        b"",
    )
    .await;
    (
        r.status,
        serde_json::from_slice(&r.body).unwrap_or(Value::Null),
    )
}

async fn ok(addr: std::net::SocketAddr, path: &str) -> Value {
    let (status, v) = api(addr, path).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

/// A visitor: client address and browser.
struct Who(&'static str, &'static str);

const V1: Who = Who("81.2.69.142", CHROME_WIN); // GB, from Google, spring campaign
const V2: Who = Who("81.2.69.142", FIREFOX_LINUX); // GB, from Google, spring campaign
const V3: Who = Who("81.2.69.142", SAFARI_IPHONE); // GB, direct, mobile
const V4: Who = Who("216.160.83.56", CHROME_WIN); // US, direct
const V5: Who = Who("216.160.83.56", FIREFOX_LINUX); // US, from Google
const V6: Who = Who("89.160.20.128", SAFARI_MAC); // SE, direct

async fn view(a: std::net::SocketAddr, who: &Who, query: &str) {
    let r = pixel(a, &format!("s=example.com&{query}"), who.0, who.1, "").await;
    assert_eq!(r.status, 200, "{query}");
}

async fn send(a: std::net::SocketAddr, who: &Who, json: &str) {
    let r = collect(a, json, who.0, who.1, "").await;
    assert_eq!(r.status, 202, "{json}: {}", r.text());
}

/// The traffic: six visitors, four reach /pricing, three sign up after it, two
/// buy (19.99 + 5.01 EUR), one signs up without the funnel's first step.
async fn traffic(a: std::net::SocketAddr, clock: &ManualClock) {
    let google = "r=https%3A%2F%2Fwww.google.com%2F";
    let spring = "u=%2F%3Futm_campaign%3Dspring%26utm_source%3Dnews&c=analytics,marketing";
    view(a, &V1, &format!("{spring}&{google}")).await;
    view(a, &V2, &format!("{spring}&{google}")).await;
    view(a, &V3, "u=/pricing").await;
    view(a, &V4, "u=/").await;
    view(a, &V5, &format!("u=/blog&{google}")).await;
    view(a, &V6, "u=/pricing").await;
    clock.advance_ms(30_000);
    for who in [&V1, &V2] {
        view(a, who, "u=/pricing&c=analytics,marketing").await;
    }
    view(a, &V6, "u=/other").await;
    clock.advance_ms(30_000);
    let signup = r#"{"site":"example.com","url":"/pricing","event":"signup","consent":["analytics","marketing"]}"#;
    for who in [&V1, &V2, &V3] {
        send(a, who, signup).await;
    }
    send(
        a,
        &V5,
        r#"{"site":"example.com","url":"/blog","event":"signup"}"#,
    )
    .await;
    send(a, &V1, r#"{"site":"example.com","url":"/pricing","event":"purchase","consent":["analytics","marketing"],"revenue":{"amount":"19.99","currency":"EUR"}}"#).await;
    send(a, &V2, r#"{"site":"example.com","url":"/pricing","event":"purchase","consent":["analytics","marketing"],"revenue":{"amount":5.01,"currency":"eur"}}"#).await;
    // Revenue in a currency the site does not list is not stored (the event is).
    send(a, &V2, r#"{"site":"example.com","url":"/pricing","event":"tip","consent":["analytics","marketing"],"revenue":{"amount":3,"currency":"XAU"}}"#).await;
    // Engagement: time on page and scroll depth, no pageview.
    send(
        a,
        &V1,
        r#"{"site":"example.com","url":"/pricing","engagement":{"time_ms":30000,"scroll":80}}"#,
    )
    .await;
    send(
        a,
        &V2,
        r#"{"site":"example.com","url":"/pricing","engagement":{"time_ms":20000,"scroll":60}}"#,
    )
    .await;
    send(
        a,
        &V4,
        r#"{"site":"example.com","url":"/","engagement":{"time_ms":10000,"scroll":50}}"#,
    )
    .await;
}

fn rows(v: &Value) -> Vec<(String, Value)> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["value"].as_str().unwrap().to_string(), r.clone()))
        .collect()
}

fn row<'a>(v: &'a Value, value: &str) -> &'a Value {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["value"] == value)
        .unwrap_or_else(|| panic!("no row {value} in {v}"))
}

/// Every answer checked, with the numbers the traffic implies.
async fn check_answers(a: std::net::SocketAddr, day: &str) {
    let range = format!("site=example.com&from={day}&to={day}");
    // Live visits: counted when they start.
    let agg = ok(a, &format!("/api/v1/aggregate?{range}")).await;
    assert_eq!(agg["metrics"]["visitors"], 6, "{agg}");
    assert_eq!(agg["metrics"]["visits"], 6);
    assert_eq!(agg["metrics"]["pageviews"], 9);

    // Filters across dimensions through the declared pairs.
    let b = ok(
        a,
        &format!("/api/v1/breakdown?{range}&dimension=page&filter=source:search"),
    )
    .await;
    assert_eq!(b["pair"], "page*source");
    let pages: Vec<String> = rows(&b).into_iter().map(|r| r.0).collect();
    assert_eq!(
        pages,
        ["/", "/pricing"],
        "/blog has one visitor: folded. {b}"
    );
    assert_eq!(row(&b, "/")["pageviews"], 2);
    assert_eq!(row(&b, "/pricing")["visitors"], 2);
    // The pair's (other), whole: /blog·search, /·direct and /other·direct.
    assert_eq!(b["other"]["visitors"], 3);
    let by_page = ok(
        a,
        &format!("/api/v1/breakdown?{range}&dimension=source&filter=page:/pricing"),
    )
    .await;
    assert_eq!(row(&by_page, "search")["pageviews"], 2);
    assert_eq!(row(&by_page, "direct")["visitors"], 2);
    let gb = ok(
        a,
        &format!("/api/v1/breakdown?{range}&dimension=page&filter=country:GB&filter=page:/pri*"),
    )
    .await;
    assert_eq!(rows(&gb).len(), 1, "{gb}");
    assert_eq!(row(&gb, "/pricing")["visitors"], 3);
    let both = ok(
        a,
        &format!("/api/v1/aggregate?{range}&filter=source:search&filter=page:/pricing"),
    )
    .await;
    assert_eq!(both["pair"], "page*source");
    assert_eq!(
        (&both["metrics"]["pageviews"], &both["metrics"]["visitors"]),
        (&Value::from(2), &Value::from(2))
    );
    let series = ok(
        a,
        &format!(
            "/api/v1/timeseries?{range}&interval=day&filter=page:/pricing&filter=source:direct"
        ),
    )
    .await;
    assert_eq!(series["buckets"][0]["pageviews"], 2, "{series}");
    let (status, e) = api(
        a,
        &format!("/api/v1/breakdown?{range}&dimension=page&filter=device:mobile"),
    )
    .await;
    let msg = e["error"].as_str().unwrap_or("");
    assert_eq!(status, 400);
    assert!(
        msg.contains("page*device") && msg.contains("page*source, page*country"),
        "{msg}"
    );

    // Goals and conversion.
    let g = ok(a, &format!("/api/v1/goals?{range}&by=source")).await;
    assert_eq!(g["visitors"], 6);
    let goal = |name: &str| -> Value {
        g["goals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == name)
            .cloned()
            .unwrap()
    };
    let signup = goal("Signup");
    assert_eq!(
        (&signup["completions"], &signup["visitors"]),
        (&4.into(), &4.into())
    );
    assert_eq!(signup["conversion_rate"], 0.6667);
    let search = &signup["by"][0];
    assert_eq!(
        (&search["value"], &search["visitors"]),
        (&"search".into(), &3.into())
    );
    assert_eq!(search["conversion_rate"], 1.0, "all three search visitors");
    assert_eq!(
        signup["by"].as_array().unwrap().len(),
        1,
        "direct: 1 (folded)"
    );
    assert_eq!(goal("Pricing")["completions"], 4);
    let purchase = goal("Purchase");
    assert_eq!(purchase["conversion_rate"], 0.3333);
    assert_eq!(purchase["revenue"][0]["currency"], "EUR");
    assert_eq!(purchase["revenue"][0]["amount"], 25.0);
    let campaign = ok(a, &format!("/api/v1/goals?{range}&by=utm_campaign")).await;
    let spring = &campaign["goals"][0]["by"][0];
    assert_eq!(
        (
            &spring["value"],
            &spring["completions"],
            &spring["conversion_rate"]
        ),
        (&"spring".into(), &2.into(), &1.0.into())
    );
    let (status, e) = api(a, &format!("/api/v1/goals?{range}&by=browser")).await;
    assert_eq!(status, 400, "browser*goal is not declared");
    let e = e["error"].as_str().unwrap_or_default();
    assert!(
        e.starts_with("parameter `by`: goals cannot be broken down by `browser`")
            && e.contains("declare the pair `browser*goal`"),
        "{e}"
    );

    // Funnel with drop-off.
    let f = ok(a, &format!("/api/v1/funnels?{range}")).await;
    let steps = f["funnels"][0]["steps"].as_array().unwrap();
    let visits: Vec<u64> = steps.iter().filter_map(|s| s["visits"].as_u64()).collect();
    assert_eq!(visits, [4, 3, 2], "{f}");
    assert_eq!(steps[0]["dropoff"], 1);
    assert_eq!(steps[1]["dropoff_rate"], 0.3333);
    assert_eq!(steps[2]["conversion_rate"], 0.5);
    assert_eq!(steps[2]["dropoff"], Value::Null);

    // Revenue per currency, per event and per source.
    let cur = ok(a, &format!("/api/v1/breakdown?{range}&dimension=currency")).await;
    assert_eq!(rows(&cur).len(), 1, "XAU is not listed: {cur}");
    assert_eq!(row(&cur, "EUR")["revenue"], 25.0);
    let by_source = ok(
        a,
        &format!("/api/v1/breakdown?{range}&dimension=source&filter=currency:EUR"),
    )
    .await;
    assert_eq!(row(&by_source, "search")["revenue"], 25.0);
    let by_event = ok(
        a,
        &format!("/api/v1/breakdown?{range}&dimension=event&filter=currency:EUR"),
    )
    .await;
    assert_eq!(row(&by_event, "purchase")["events"], 2);

    // Engagement per page.
    let pages = ok(a, &format!("/api/v1/breakdown?{range}&dimension=page")).await;
    let pricing = row(&pages, "/pricing");
    assert_eq!(
        (&pricing["time_on_page"], &pricing["scroll_depth"]),
        (&25.0.into(), &70.0.into())
    );
    assert_eq!(row(&pages, "/")["time_on_page"], 10.0);
    assert_eq!(agg["metrics"]["time_on_page"], 20.0);

    let consent = ok(a, &format!("/api/v1/consent?{range}")).await;
    assert_eq!(
        (&consent["decisions"]["gpc"], &consent["decisions"]["bot"]),
        (&0.into(), &0.into()),
        "{consent}"
    );

    // Comparisons: the period before has nothing.
    let prev = ok(a, &format!("/api/v1/goals?{range}&compare=previous")).await;
    assert_eq!(prev["goals"][0]["previous"]["suppressed"], true);
    let prev = ok(
        a,
        &format!("/api/v1/breakdown?{range}&dimension=page&filter=source:search&compare=year"),
    )
    .await;
    assert_eq!(row(&prev, "/")["previous"], Value::Null);
}

#[tokio::test]
async fn pairs_goals_funnels_revenue_and_engagement_end_to_end() {
    let db = TestDb::new("conversions").await;
    let now = SystemClock.now_secs();
    // Mid-hour of the current UTC day, so the whole visit stays in one day.
    let start = now - now % 86_400 + 12 * 3_600;
    let clock = Arc::new(ManualClock::at_ms(start * 1000));
    let cfg = conversions_config(&db);
    let veil = TestVeil::start_with_clock(cfg.clone(), clock.clone()).await;
    traffic(veil.addr, &clock).await;
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let site = ok(veil.addr, "/api/v1/site?site=example.com").await;
    let day = veil::clock::format_day((start / 86_400) as u32);
    assert!(site["cross_filters"]["page"]
        .as_array()
        .unwrap()
        .contains(&"source".into()));
    assert_eq!(site["goals"][1]["page"], "/pricing");
    // The sort keys of each dimension and declared pair, and they are accepted.
    let sorts = &site["sorts"];
    assert_eq!(sorts["entry_page"], json!(["visitors", "visits"]));
    assert_eq!(sorts["page"], json!(["pageviews", "visitors", "events"]));
    assert_eq!(sorts["goal"], json!(["visitors", "completions"]));
    assert_eq!(sorts["source*goal"], json!(["visitors", "completions"]));
    let range = format!("site=example.com&from={day}&to={day}");
    for sort in ["visitors", "completions"] {
        ok(
            veil.addr,
            &format!("/api/v1/breakdown?{range}&dimension=source&filter=goal:Signup&sort={sort}"),
        )
        .await;
    }
    let (status, _) = api(
        veil.addr,
        &format!("/api/v1/breakdown?{range}&dimension=entry_page&sort=pageviews"),
    )
    .await;
    assert_eq!(status, 400);
    // While the visits are live (open day, sketches).
    check_answers(veil.addr, &day).await;
    veil.stop().await;

    // After a restart (visits closed at shutdown) and after the day close.
    let veil = TestVeil::start_with_clock(cfg.clone(), clock.clone()).await;
    check_answers(veil.addr, &day).await;
    veil.stop().await;
    assert!(!db.close_days(1_900_000_000).await.is_empty());
    let veil = TestVeil::start_with_clock(cfg, clock).await;
    check_answers(veil.addr, &day).await;
    veil.stop().await;
    db.drop().await;
}
