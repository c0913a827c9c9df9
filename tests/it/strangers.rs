//! What a stranger on the internet gets from veil's HTTP surface (issue #15):
//! `/metrics` and the detail of `/ready` only for the operator, `nosniff` on every
//! answer, no way to tell which site ids exist, a throttle on refused
//! credentials, query slots per site, and the query time limit's answer.

use serde_json::Value;

use veil::config::Config;
use veil::http::HttpError;
use veil::stats::auth::hash_key;
use veil::stats::share::{Link, SigningKey, Window};

use crate::harness::*;

const KEY: &str = "strangers-test-key-0123456789";
const SECRET: &str = "strangers-test-share-secret-0123456789-abcdef";
const TOKEN: &str = "metrics-token-0123456789";

fn private_config(db: &TestDb) -> Config {
    let mut c = config(db);
    let mut s = site("example.com", "eu-exempt-audience");
    s.api_keys = vec![hash_key(KEY)];
    s.share_secret = SECRET.into();
    let mut other = site("other.example", "eu-exempt-audience");
    other.api_keys = vec![hash_key(KEY)];
    c.sites = vec![s, other];
    c
}

async fn get(addr: std::net::SocketAddr, path: &str, extra: &str) -> Reply {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}"),
        b"",
    )
    .await
}

#[tokio::test]
async fn metrics_and_ready_detail_need_the_token_when_one_is_set() {
    let db = TestDb::new("edge_token").await;
    let mut c = config(&db);
    c.server.metrics_token = TOKEN.into();
    let veil = TestVeil::start(c).await;
    let a = veil.addr;
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");

    let r = get(a, "/metrics", "").await;
    assert_eq!(r.status, 401, "{}", r.text());
    assert_eq!(
        r.header("www-authenticate"),
        Some("Bearer realm=\"veil-metrics\"")
    );
    assert!(
        !r.text().contains("veil_"),
        "no counter leaks: {}",
        r.text()
    );
    let r = get(a, "/metrics", "Authorization: Bearer wrong\r\n").await;
    assert_eq!(r.status, 401);
    let r = get(a, "/metrics", &auth).await;
    assert_eq!(r.status, 200);
    assert!(r.text().contains("veil_clickhouse_up"), "{}", r.text());

    // Anyone: the status and one word; the operator: the detail.
    let r = get(a, "/ready", "").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    let r = get(a, "/ready", &auth).await;
    assert_eq!(r.status, 200);
    let v: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        (v["status"].as_str(), v["geo"].as_bool()),
        (Some("ok"), Some(true))
    );
    let r = get(a, "/health", "").await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn without_a_token_only_direct_local_connections_see_the_detail() {
    let db = TestDb::new("edge_local").await;
    let veil = TestVeil::start(config(&db)).await;
    let a = veil.addr;
    let relayed = "X-Forwarded-For: 81.2.69.142\r\n";
    let r = get(a, "/metrics", "").await;
    assert_eq!(r.status, 200, "a scraper on the same host");
    let r = get(a, "/metrics", relayed).await;
    assert_eq!(r.status, 403, "relayed by a proxy from the internet");
    assert!(r.text().contains("server.metrics_token"), "{}", r.text());
    let r = get(a, "/metrics", "Forwarded: for=81.2.69.142\r\n").await;
    assert_eq!(r.status, 403);
    let r = get(a, "/ready", relayed).await;
    assert_eq!((r.status, r.text().as_str()), (200, "ok\n"));
    let r = get(a, "/ready", "").await;
    assert!(r.text().contains("\"spool_full\":false"), "{}", r.text());
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn every_answer_forbids_mime_sniffing() {
    let db = TestDb::new("edge_nosniff").await;
    let veil = TestVeil::start(private_config(&db)).await;
    let a = veil.addr;
    let requests = [
        "GET /p.gif?s=example.com&u=/ HTTP/1.1\r\nHost: x".to_string(),
        "GET /t.js HTTP/1.1\r\nHost: x".to_string(),
        "GET /health HTTP/1.1\r\nHost: x".to_string(),
        "GET /ready HTTP/1.1\r\nHost: x".to_string(),
        "GET /metrics HTTP/1.1\r\nHost: x".to_string(),
        "GET /nothing-here HTTP/1.1\r\nHost: x".to_string(),
        "DELETE /health HTTP/1.1\r\nHost: x".to_string(),
        "POST /api/collect HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 0".to_string(),
        "OPTIONS /api/collect HTTP/1.1\r\nHost: x".to_string(),
        "GET /privacy?site=example.com HTTP/1.1\r\nHost: x".to_string(),
        "GET /optout?site=example.com HTTP/1.1\r\nHost: x".to_string(),
        "POST /optout HTTP/1.1\r\nHost: x\r\nContent-Length: 0".to_string(),
        "GET /api/v1/openapi.json HTTP/1.1\r\nHost: x".to_string(),
        "GET /api/v1/aggregate?site=example.com HTTP/1.1\r\nHost: x".to_string(),
        format!(
            "GET /api/v1/site?site=example.com&format=csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}"
        ),
        "GET /dashboard/example.com HTTP/1.1\r\nHost: x".to_string(),
        "GET /dashboard/-/app.js HTTP/1.1\r\nHost: x".to_string(),
    ];
    for head in &requests {
        let r = raw(a, head, b"").await;
        assert_eq!(
            r.header("x-content-type-options"),
            Some("nosniff"),
            "{head}: {}",
            r.status
        );
    }
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn an_unknown_site_is_refused_exactly_like_a_private_one() {
    let db = TestDb::new("edge_enum").await;
    let mut c = private_config(&db);
    c.stats.failed_auth_per_minute = 0;
    let veil = TestVeil::start(c).await;
    let a = veil.addr;
    let forged = Link {
        id: 7,
        expires: 4_000_000_000,
        window: Window::Any,
        filters: Vec::new(),
        embed: false,
    }
    .encode("nope.example", &SigningKey::of(SECRET).unwrap());
    let credentials = [
        String::new(),
        "Authorization: Bearer wrong-key\r\n".to_string(),
        format!("Authorization: Bearer {KEY}-not\r\n"),
        "Authorization: Share not-a-token\r\n".to_string(),
        format!("Authorization: Share {forged}\r\n"),
    ];
    for endpoint in veil::stats::ENDPOINTS {
        for cred in &credentials {
            let known = get(a, &format!("/api/v1/{endpoint}?site=example.com"), cred).await;
            let unknown = get(a, &format!("/api/v1/{endpoint}?site=nope.example"), cred).await;
            let what = format!("{endpoint} with {cred:?}");
            assert_eq!(known.status, 401, "{what}: {}", known.text());
            assert_eq!(
                (
                    unknown.status,
                    unknown.text(),
                    unknown.header("www-authenticate")
                ),
                (known.status, known.text(), known.header("www-authenticate")),
                "{what}"
            );
        }
        let r = get(
            a,
            &format!("/api/v1/{endpoint}?site=nope.example&share=x"),
            "",
        )
        .await;
        assert_eq!(r.status, 401, "share= in the query too");
    }
    // The dashboard page of a site that does not exist is that of a private one.
    let known = get(a, "/dashboard/other.example", "").await;
    let unknown = get(a, "/dashboard/nope.example", "").await;
    assert_eq!((known.status, unknown.status), (200, 200));
    assert_eq!(
        unknown.text().replace("nope.example", "other.example"),
        known.text()
    );
    // A key holder still reads the site.
    let r = get(
        a,
        "/api/v1/site?site=example.com",
        &format!("Authorization: Bearer {KEY}\r\n"),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn refused_credentials_throttle_only_their_address() {
    let db = TestDb::new("edge_throttle").await;
    let mut c = private_config(&db);
    c.stats.failed_auth_per_minute = 3;
    let veil = TestVeil::start(c).await;
    let a = veil.addr;
    let from =
        |ip: &str, key: &str| format!("X-Forwarded-For: {ip}\r\nAuthorization: Bearer {key}\r\n");
    let path = "/api/v1/site?site=example.com";
    let attacker = "81.2.69.142";
    for site in ["example.com", "nope.example", "other.example"] {
        let r = get(
            a,
            &format!("/api/v1/site?site={site}"),
            &from(attacker, "guess"),
        )
        .await;
        assert_eq!(r.status, 401, "{site}: {}", r.text());
    }
    // Over the quota: 429 for an unknown site and a known one alike.
    let mut answers = Vec::new();
    for site in ["nope.example", "example.com"] {
        let r = get(
            a,
            &format!("/api/v1/site?site={site}"),
            &from(attacker, "guess"),
        )
        .await;
        assert_eq!(r.status, 429, "{site}: {}", r.text());
        let retry: u32 = r.header("retry-after").unwrap_or("").parse().unwrap_or(0);
        assert!((1..=60).contains(&retry), "Retry-After {retry}");
        let v: Value = serde_json::from_slice(&r.body).unwrap();
        answers.push(v);
    }
    assert_eq!(
        answers[0], answers[1],
        "same shape for unknown and known sites"
    );
    let r = get(a, path, &from(attacker, KEY)).await;
    assert_eq!(r.status, 429, "even the right key: a guess learns nothing");
    // Another address is not affected.
    let r = get(a, path, &from("216.160.83.56", KEY)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // The OpenAPI document stays readable.
    let r = get(a, "/api/v1/openapi.json", &from(attacker, "guess")).await;
    assert_eq!(r.status, 200);
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn a_site_with_all_query_slots_taken_answers_503() {
    let db = TestDb::new("edge_slots").await;
    let mut c = private_config(&db);
    c.stats.max_queries_per_site = 2;
    let veil = TestVeil::start(c).await;
    let a = veil.addr;
    let auth = format!("Authorization: Bearer {KEY}\r\n");
    let loaded = veil.running.state.loaded();
    let limits = &loaded.stats.limits;
    let held = [limits.slot(0).await.unwrap(), limits.slot(0).await.unwrap()];
    let r = get(a, "/api/v1/site?site=example.com", &auth).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(
        r.text().contains("too many statistics queries"),
        "{}",
        r.text()
    );
    let r = get(a, "/api/v1/site?site=other.example", &auth).await;
    assert_eq!(
        r.status,
        200,
        "another site has its own slots: {}",
        r.text()
    );
    drop(held);
    let r = get(a, "/api/v1/site?site=example.com", &auth).await;
    assert_eq!(r.status, 200, "{}", r.text());
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn a_query_over_the_time_limit_is_a_503() {
    let db = TestDb::new("edge_timeout").await;
    let mut c = config(&db);
    c.stats.query_timeout_secs = 1;
    // The client of the stats API, built as veil builds it.
    let stats = veil::stats::Stats::new(&c);
    let run = stats
        .client
        .query("SELECT sum(number) FROM system.numbers")
        .fetch_one::<u64>();
    let e = tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("ClickHouse stops the query at max_execution_time")
        .expect_err("an endless query cannot finish");
    assert_eq!(
        veil::sink::error_code::exception_code(&e),
        Some(veil::sink::error_code::TIMEOUT_EXCEEDED),
        "{e}"
    );
    let e = HttpError::from(e);
    assert_eq!(e.status().as_u16(), 503);
    assert!(e.to_string().contains("max_execution_time"), "{e}");
    db.drop().await;
}
