//! Bad input gets a clear status and the server keeps serving.

use crate::harness::*;

#[tokio::test]
async fn bad_requests_get_clear_answers_and_nothing_accepted_is_lost() {
    let db = TestDb::new("bad").await;
    let veil = TestVeil::start(config(&db)).await;
    let a = veil.addr;
    let ok = r#"{"site":"example.com","url":"https://example.com/"}"#;
    assert_eq!(
        collect(a, ok, "81.2.69.142", CHROME_WIN, "").await.status,
        202
    );

    let big = format!(
        r#"{{"site":"example.com","url":"/","props":{{"x":"{}"}}}}"#,
        "a".repeat(20_000)
    );
    let r = collect(a, &big, "81.2.69.142", CHROME_WIN, "").await;
    assert_eq!(
        (r.status, r.text().contains("too large")),
        (413, true),
        "{}",
        r.text()
    );

    let r = collect(a, "{not json", "81.2.69.142", CHROME_WIN, "").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("malformed JSON"));

    let head = "POST /api/collect HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 3";
    let r = raw(a, head, b"a=b").await;
    assert_eq!(r.status, 415, "{}", r.text());

    let head = "POST /api/collect HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4";
    let r = raw(a, head, b"\"\xff\xfe\"").await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("UTF-8"), "{}", r.text());

    let r = collect(
        a,
        r#"{"url":"https://example.com/"}"#,
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!((r.status, r.text().contains("missing site")), (400, true));
    let r = collect(
        a,
        r#"{"site":"nope.example","url":"https://nope.example/"}"#,
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!((r.status, r.text().contains("unknown site")), (400, true));
    let r = collect(
        a,
        r#"{"site":"example.com","url":"https://evil.example/"}"#,
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!(
        (r.status, r.text().contains("host not allowed")),
        (400, true)
    );

    // The pixel always answers with the GIF, whatever it was sent.
    for q in [
        "",
        "s=",
        "s=unknown.example&u=/",
        "s=%FF&u=%&w=x",
        "s=example.com&u=https://evil.example/",
    ] {
        let r = pixel(a, q, "81.2.69.142", CHROME_WIN, "").await;
        assert_eq!((r.status, r.body.len()), (200, 43), "query {q:?}");
    }
    assert_eq!(
        raw(a, "GET /nope HTTP/1.1\r\nHost: x", b"").await.status,
        404
    );
    assert_eq!(
        raw(a, "DELETE /p.gif HTTP/1.1\r\nHost: x", b"")
            .await
            .status,
        405
    );
    let r = raw(
        a,
        "OPTIONS /api/collect HTTP/1.1\r\nHost: x\r\nOrigin: https://example.com",
        b"",
    )
    .await;
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));

    // Still serving, and the accepted hits are all there.
    assert_eq!(
        collect(a, ok, "81.2.69.142", CHROME_WIN, "").await.status,
        202
    );
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "total", "").0, 2);
    assert_eq!(
        t[&("decision".into(), "invalid".into())].hits,
        2,
        "host mismatches are counted"
    );
    assert!(
        db.totals("unknown.example").await.is_empty(),
        "unknown sites create no rows"
    );
    db.drop().await;
}

#[tokio::test]
async fn rate_limited_hits_are_answered_and_counted_not_stored() {
    let db = TestDb::new("ratelimit").await;
    let mut cfg = config(&db);
    cfg.limits.per_client_per_sec = 1;
    cfg.limits.per_client_burst = 2;
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;
    let ok = r#"{"site":"example.com","url":"https://example.com/"}"#;
    let statuses: Vec<u16> = four_statuses(a, ok).await;
    assert_eq!(statuses, vec![202, 202, 429, 429]);
    let r = collect(a, ok, "81.2.69.142", CHROME_WIN, "").await;
    assert_eq!(r.header("retry-after"), Some("1"));
    let p = pixel(a, "s=example.com&u=/", "81.2.69.142", CHROME_WIN, "").await;
    assert_eq!(
        (p.status, p.body.len()),
        (200, 43),
        "the pixel still answers"
    );
    assert_eq!(
        collect(a, ok, "216.160.83.56", CHROME_WIN, "").await.status,
        202,
        "other clients pass"
    );
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "total", "").0, 3);
    assert_eq!(t[&("decision".into(), "rate_limited".into())].hits, 4);
    db.drop().await;
}

async fn four_statuses(a: std::net::SocketAddr, body: &str) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..4 {
        out.push(collect(a, body, "81.2.69.142", CHROME_WIN, "").await.status);
    }
    out
}

#[tokio::test]
async fn slow_clients_cannot_hold_the_server() {
    use tokio::io::AsyncWriteExt;
    let db = TestDb::new("slow").await;
    let mut cfg = config(&db);
    cfg.server.header_read_timeout_ms = 500;
    cfg.server.max_connections = 64;
    let veil = TestVeil::start(cfg).await;
    // 40 connections that never finish their headers.
    let mut idle = Vec::new();
    for _ in 0..40 {
        let mut s = tokio::net::TcpStream::connect(veil.addr).await.unwrap();
        s.write_all(b"GET /p.gif?s=example.com HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        idle.push(s);
    }
    // Others are served meanwhile.
    let r = pixel(
        veil.addr,
        "s=example.com&u=/",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!(r.status, 200);
    // After the header timeout the slow connections are closed by veil.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let mut closed = 0;
    for mut s in idle {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(
            std::time::Duration::from_secs(2),
            tokio::io::AsyncReadExt::read(&mut s, &mut buf),
        )
        .await
        {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 40, "every slow connection was cut");
    veil.stop().await;
    db.drop().await;
}
