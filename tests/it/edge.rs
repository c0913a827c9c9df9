//! The network edge under hostile traffic: slow senders, the per-client
//! connection cap, rate limits per IPv6 /64 and a site budget that foreign pages
//! cannot spend. Timeouts are configured short (1 s) and waited for up to ten
//! times as long: nothing here asserts on speed.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::task::JoinSet;

use crate::harness::*;

/// A connection to `addr` from the loopback address `source` (Linux answers on
/// all of 127/8, so tests can be several clients).
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source address"))
        .expect("bind the source address");
    socket.connect(addr).await.expect("connect")
}

/// What became of a connection: the status veil answered, or `None` when it
/// was closed (or reset) without an answer.
async fn outcome(mut s: TcpStream, wait: Duration) -> Result<Option<u16>, &'static str> {
    let mut buf = Vec::new();
    match tokio::time::timeout(wait, s.read_to_end(&mut buf)).await {
        Err(_) => Err("still open"),
        Ok(Err(_)) => Ok(None),
        Ok(Ok(_)) => Ok(String::from_utf8_lossy(&buf)
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())),
    }
}

/// A plain `GET /health` from `source`: its status, or `None` when refused.
async fn health_from(source: &str, addr: SocketAddr) -> Option<u16> {
    let mut s = connect_from(source, addr).await;
    let req = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return None;
    }
    outcome(s, Duration::from_secs(10))
        .await
        .expect("an answer or a close")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_senders_are_cut_off_and_others_still_served() {
    let db = TestDb::new("edge_slow").await;
    let mut cfg = config(&db);
    cfg.server.trusted_proxies = Vec::new();
    cfg.server.max_connections_per_ip = 500;
    cfg.server.header_read_timeout_ms = 1_000;
    cfg.server.body_read_timeout_ms = 1_000;
    let veil = TestVeil::start(cfg).await;
    let addr = veil.addr;

    // 150 opt-out forms (same-origin, so their bodies are read) and 20 beacons
    // whose bodies stall half way, and 10
    // requests whose headers never end.
    let mut stalled = Vec::new();
    for i in 0..180 {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        let head = match i {
            0..150 => format!(
                "POST /optout HTTP/1.1\r\nHost: {addr}\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nsite=exa"
            ),
            150..170 => format!(
                "POST /api/collect HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"s\":\"exa"
            ),
            _ => format!("POST /api/collect HTTP/1.1\r\nHost: {addr}\r\nContent-Ty"),
        };
        s.write_all(head.as_bytes())
            .await
            .expect("send the first part");
        stalled.push(s);
    }
    assert_eq!(
        health_from("127.0.0.1", addr).await,
        Some(200),
        "a normal client is served while 180 connections stall"
    );

    let mut waits = JoinSet::new();
    for (i, s) in stalled.into_iter().enumerate() {
        waits.spawn(async move { (i, outcome(s, Duration::from_secs(10)).await) });
    }
    let mut timed_out = 0;
    while let Some(done) = waits.join_next().await {
        let (i, result) = done.expect("reader task");
        match result {
            Ok(Some(408)) => timed_out += 1,
            Ok(None) => {}
            other => panic!("stalled connection {i}: expected 408 or a close, got {other:?}"),
        }
    }
    assert!(
        timed_out >= 150,
        "the stalled bodies are answered 408 ({timed_out} were)"
    );
    assert_eq!(health_from("127.0.0.1", addr).await, Some(200));
    veil.stop().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_client_cannot_hold_more_than_its_connections() {
    let db = TestDb::new("edge_cap").await;
    let mut cfg = config(&db);
    // Only 127.0.0.1 is a proxy: 127.0.0.2 and 127.0.0.3 are clients.
    cfg.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    cfg.server.max_connections_per_ip = 4;
    // Idle connections stay open for the whole test.
    cfg.server.header_read_timeout_ms = 60_000;
    let veil = TestVeil::start(cfg).await;
    let addr = veil.addr;

    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.3", addr).await);
    }
    // The cap is counted on accept: a request on the fifth is never answered
    // 200, however the kernel orders the 503 and the close.
    let status = health_from("127.0.0.3", addr).await;
    assert!(
        status.is_none() || status == Some(503),
        "a fifth connection from one client is refused, got {status:?}"
    );
    assert_eq!(
        health_from("127.0.0.2", addr).await,
        Some(200),
        "another address is still served"
    );
    // The trusted proxy carries many clients: never capped.
    let mut proxy_conns = Vec::new();
    for _ in 0..8 {
        proxy_conns.push(connect_from("127.0.0.1", addr).await);
    }
    assert_eq!(health_from("127.0.0.1", addr).await, Some(200));

    // A closed connection gives its slot back (once veil has seen the close).
    drop(held.pop());
    let mut served = None;
    for _ in 0..100 {
        served = health_from("127.0.0.3", addr).await;
        if served == Some(200) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(served, Some(200), "the freed slot is usable again");
    drop(held);
    drop(proxy_conns);
    veil.stop().await;
    db.drop().await;
}

fn beacon(url: &str) -> String {
    format!("{{\"site\":\"example.com\",\"url\":\"{url}\"}}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ipv6_64_shares_a_budget() {
    let db = TestDb::new("edge_v6").await;
    let mut cfg = config(&db);
    cfg.limits.per_client_per_sec = 1;
    cfg.limits.per_client_burst = 2;
    let veil = TestVeil::start(cfg).await;
    let hit = beacon("https://example.com/");
    let send = |ip: String| {
        let hit = hit.clone();
        async move { collect(veil.addr, &hit, &ip, CHROME_WIN, "").await.status }
    };
    // Address ::1 spends the /64's burst; a fresh address of the same /64 then
    // finds it spent. The budget refills by one a second, so a stalled machine
    // may let one through: a few tries, each with new addresses.
    let mut shared = false;
    for attempt in 0..5 {
        let first = format!("2001:db8:1:2::{:x}", 0x100 + attempt);
        let mut spent = false;
        for _ in 0..5 {
            if send(first.clone()).await == 429 {
                spent = true;
                break;
            }
        }
        assert!(spent, "one address alone runs out of its budget");
        let sibling = format!("2001:db8:1:2:ffff::{:x}", 0x100 + attempt);
        if send(sibling).await == 429 {
            shared = true;
            break;
        }
    }
    assert!(
        shared,
        "a second address of the same /64 shares the spent budget"
    );
    assert_eq!(
        send("2001:db8:1:3::1".into()).await,
        202,
        "the next /64 is another client"
    );
    veil.stop().await;
    db.drop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_pages_do_not_spend_the_site_budget() {
    let db = TestDb::new("edge_site").await;
    let mut cfg = config(&db);
    cfg.limits.per_client_per_sec = 0;
    cfg.limits.per_site_per_sec = 1;
    cfg.limits.per_site_burst = 3;
    let veil = TestVeil::start(cfg).await;
    let addr = veil.addr;
    for i in 0..20 {
        let r = collect(
            addr,
            &beacon("https://evil.example/spam"),
            &format!("81.2.69.{i}"),
            CHROME_WIN,
            "",
        )
        .await;
        assert_eq!(r.status, 400, "a foreign page is refused: {}", r.text());
    }
    // The site's whole burst is still there for its own pages.
    for i in 0..3 {
        let r = collect(
            addr,
            &beacon("https://example.com/"),
            &format!("216.160.83.{i}"),
            CHROME_WIN,
            "",
        )
        .await;
        assert_eq!(r.status, 202, "own page {i} within the site's burst");
    }
    // And the budget is real: its own pages do spend it.
    let mut limited = false;
    for i in 0..20 {
        let r = collect(
            addr,
            &beacon("https://example.com/"),
            &format!("89.160.20.{i}"),
            CHROME_WIN,
            "",
        )
        .await;
        if r.status == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "the site's own pages spend its budget");
    veil.stop().await;
    db.drop().await;
}
