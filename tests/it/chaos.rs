//! Chaos: ClickHouse stops for over 30 s under load, and veil is SIGTERMed mid-load
//! and restarted. Every accepted beacon must be in ClickHouse exactly once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::*;

const OK: &str = r#"{"site":"example.com","url":"https://example.com/chaos"}"#;

/// Sends `n` JSON pageviews from distinct addresses; returns how many got 202.
async fn send(addr: std::net::SocketAddr, n: usize, offset: usize) -> usize {
    let mut accepted = 0;
    for i in 0..n {
        let ip = format!(
            "10.{}.{}.{}",
            (offset + i) / 65_536 % 256,
            (offset + i) / 256 % 256,
            (offset + i) % 256
        );
        if let Ok(Ok(r)) =
            tokio::time::timeout(Duration::from_secs(5), try_collect(addr, &ip)).await
        {
            if r == 202 {
                accepted += 1;
            }
        }
    }
    accepted
}

async fn try_collect(addr: std::net::SocketAddr, ip: &str) -> std::io::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await?;
    let req = format!(
        "POST /api/collect HTTP/1.1\r\nHost: x\r\nUser-Agent: {CHROME_WIN}\r\nX-Forwarded-For: {ip}\r\n{}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{OK}",
        browser_headers("", "cors"),
        OK.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await?;
    let head = String::from_utf8_lossy(&buf);
    Ok(head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0))
}

async fn stored_pageviews(db: &TestDb) -> u64 {
    db.totals("example.com")
        .await
        .get(&("total".to_string(), String::new()))
        .map_or(0, |t| t.pageviews)
}

#[tokio::test]
async fn a_clickhouse_outage_loses_and_duplicates_nothing() {
    let ch = OwnClickHouse::start(0);
    let db = TestDb::on(&ch.url(), "outage").await;
    let mut cfg = config(&db);
    cfg.clickhouse.url = ch.url();
    cfg.limits.per_client_per_sec = 0;
    cfg.pipeline.retry_max_backoff_ms = 1_000;
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;

    let mut accepted = send(a, 200, 0).await;
    ch.stop();
    let down_at = Instant::now();
    // Keep sending while ClickHouse is down, for more than 30 s.
    let mut i = 0;
    while down_at.elapsed() < Duration::from_secs(31) {
        accepted += send(a, 20, 10_000 + i * 20).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let ready = raw(a, "GET /ready HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(
        ready.status,
        200,
        "still accepting while spooling: {}",
        ready.text()
    );
    assert!(ready.text().contains("\"degraded\""), "{}", ready.text());
    let spooled = veil
        .running
        .state
        .pipeline
        .spool
        .as_ref()
        .map_or(0, |s| s.len());
    assert!(spooled > 0, "batches went to the spool");
    ch.resume();
    accepted += send(a, 200, 50_000).await;
    // The spool drains by itself once ClickHouse is back.
    let t0 = Instant::now();
    while veil
        .running
        .state
        .pipeline
        .spool
        .as_ref()
        .is_some_and(|s| !s.is_empty())
    {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "spool did not drain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    veil.stop().await;
    let stored = stored_pageviews(&db).await;
    eprintln!("outage: sent and accepted {accepted}, stored {stored}, spooled batches {spooled}");
    assert_eq!(stored, accepted as u64);
    db.drop().await;
}

/// A config file for a veil process of the test's own: a free loopback port, no
/// client rate limit (the load comes from one machine), then `tweak`.
fn process_config(
    db: &TestDb,
    tweak: impl FnOnce(&mut veil::config::Config),
) -> (std::net::SocketAddr, std::path::PathBuf) {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut cfg = config(db);
    cfg.server.listen = addr;
    cfg.limits.per_client_per_sec = 0;
    tweak(&mut cfg);
    let path = std::env::temp_dir().join(format!("veil-{}.toml", db.name));
    std::fs::write(&path, toml::to_string(&cfg).unwrap()).unwrap();
    (addr, path)
}

fn spawn_veil(config_path: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["serve", "--config"])
        .arg(config_path)
        .env("VEIL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start veil")
}

async fn wait_ready(addr: std::net::SocketAddr) {
    let t0 = Instant::now();
    loop {
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr)).await
        {
            return;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "veil did not come up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn sigterm_mid_load_and_restart_lose_nothing() {
    let db = TestDb::new("sigterm").await;
    let (addr, path) = process_config(&db, |_| {});

    let mut accepted = 0;
    for round in 0..2 {
        let mut child = spawn_veil(&path);
        wait_ready(addr).await;
        let load = tokio::spawn(send(addr, 400, round * 1_000));
        tokio::time::sleep(Duration::from_millis(300)).await;
        // SIGTERM while the load is running.
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        accepted += load.await.unwrap();
        let status = tokio::task::spawn_blocking(move || child.wait())
            .await
            .unwrap()
            .unwrap();
        assert!(status.success(), "veil exits 0 after SIGTERM: {status:?}");
    }
    let stored = stored_pageviews(&db).await;
    eprintln!("sigterm: accepted {accepted}, stored {stored}");
    assert!(accepted > 0);
    assert_eq!(stored, accepted as u64);
    let _ = std::fs::remove_file(&path);
    db.drop().await;
}

#[tokio::test]
async fn a_full_spool_refuses_json_hits_with_503_until_it_drains() {
    let ch = OwnClickHouse::start(1);
    let db = TestDb::on(&ch.url(), "spoolfull").await;
    let mut cfg = config(&db);
    cfg.clickhouse.url = ch.url();
    cfg.limits.per_client_per_sec = 0;
    cfg.spool.max_bytes = 1;
    cfg.pipeline.retry_max_backoff_ms = 500;
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;
    ch.stop();
    let mut accepted = send(a, 5, 0).await;
    // The first flush spools one batch; the spool is then at its bound.
    let t0 = Instant::now();
    while !veil.running.state.spool_full() {
        assert!(t0.elapsed() < Duration::from_secs(20), "spool never filled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = collect(a, OK, "10.9.9.9", CHROME_WIN, "").await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("retry-after"), Some("30"));
    let p = pixel(a, "s=example.com&u=/", "10.9.9.9", CHROME_WIN, "").await;
    assert_eq!(
        (p.status, p.body.len()),
        (200, 43),
        "the pixel still answers"
    );
    let ready = raw(a, "GET /ready HTTP/1.1\r\nHost: x", b"").await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    ch.resume();
    let t0 = Instant::now();
    while veil.running.state.spool_full() {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "spool did not drain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    accepted += send(a, 5, 100).await;
    veil.stop().await;
    assert_eq!(stored_pageviews(&db).await, accepted as u64);
    db.drop().await;
}

#[tokio::test]
async fn a_hard_kill_loses_at_most_the_last_flush_window() {
    let db = TestDb::new("sigkill").await;
    let (addr, path) = process_config(&db, |c| c.pipeline.flush_interval_ms = 1_000);

    let mut child = spawn_veil(&path);
    wait_ready(addr).await;
    let before = send(addr, 200, 0).await;
    // Two flush intervals: everything sent so far is in ClickHouse.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let in_window = send(addr, 100, 1_000).await;
    Command::new("kill")
        .args(["-KILL", &child.id().to_string()])
        .status()
        .unwrap();
    let _ = tokio::task::spawn_blocking(move || child.wait()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stored = stored_pageviews(&db).await;
    let lost = (before + in_window) as u64 - stored;
    eprintln!(
        "sigkill: accepted {before} + {in_window} in the last window, stored {stored}, lost {lost}"
    );
    assert!(
        stored >= before as u64,
        "a hard kill lost hits older than the flush window"
    );
    assert!(
        lost <= in_window as u64,
        "lost more than the last flush window"
    );
    let _ = std::fs::remove_file(&path);
    db.drop().await;
}
