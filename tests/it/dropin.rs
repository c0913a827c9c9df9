//! Drop-in endpoints: the payloads Plausible's and Umami's official scripts send.

use crate::harness::*;

async fn post(
    addr: std::net::SocketAddr,
    path: &str,
    ctype: &str,
    body: &str,
    ip: &str,
    extra: &str,
) -> Reply {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: {CHROME_WIN}\r\nX-Forwarded-For: {ip}\r\n{}Content-Type: {ctype}\r\nContent-Length: {}\r\n{extra}",
        browser_headers(extra, "cors"),
        body.len()
    );
    raw(addr, &head, body.as_bytes()).await
}

#[tokio::test]
async fn plausible_and_umami_scripts_can_point_at_veil() {
    let db = TestDb::new("dropin").await;
    let mut cfg = config(&db);
    let mut umami_site = site("shop.example", "eu-exempt-audience");
    umami_site.umami_website_id = Some("4fb7fa4c-5b46-438d-94b3-3a8fb9a4f7e3".into());
    cfg.sites = vec![
        site("example.com", "eu-exempt-audience"),
        umami_site,
        site("strict.example", "eu-strict"),
    ];
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;

    // Plausible: text/plain JSON, as its script sends it.
    let r = post(a, "/api/event", "text/plain", r#"{"n":"pageview","v":28,"u":"https://www.example.com/blog/post?utm_source=x","d":"example.com","r":"https://news.ycombinator.com/","h":0}"#, "81.2.69.142", "").await;
    assert_eq!((r.status, r.text().as_str()), (202, "ok"));
    let r = post(a, "/api/event", "text/plain", r#"{"n":"Signup","u":"https://example.com/pricing","d":"example.com","r":null,"p":{"plan":"pro"}}"#, "81.2.69.142", "").await;
    assert_eq!(r.status, 202);
    let r = post(a, "/api/event", "text/plain", r#"{"n":"engagement","u":"https://example.com/pricing","d":"example.com","sd":80,"e":5400}"#, "81.2.69.142", "").await;
    assert_eq!(r.status, 202);
    // Plausible's revenue goals send `$`.
    let r = post(a, "/api/event", "text/plain", r#"{"n":"Purchase","u":"https://example.com/pricing","d":"example.com","$":{"amount":"49.90","currency":"EUR"}}"#, "81.2.69.142", "").await;
    assert_eq!(r.status, 202);
    // The domain may be one of a site's hostnames.
    let r = post(
        a,
        "/api/event",
        "text/plain",
        r#"{"n":"pageview","u":"https://blog.example.com/","d":"blog.example.com"}"#,
        "216.160.83.56",
        "",
    )
    .await;
    assert_eq!(r.status, 202, "{}", r.text());
    let r = post(
        a,
        "/api/event",
        "text/plain",
        r#"{"n":"pageview","u":"https://x.example/","d":"unknown.example"}"#,
        "216.160.83.56",
        "",
    )
    .await;
    assert_eq!(r.status, 400);

    // Umami: JSON envelope; the website id maps to the site.
    let umami = r#"{"type":"event","payload":{"website":"4fb7fa4c-5b46-438d-94b3-3a8fb9a4f7e3","screen":"1920x1080","language":"en-US","title":"Shop","hostname":"shop.example","url":"https://shop.example/cart","referrer":"","vid":"visitor-uuid-123","id":"alice@example.com"}}"#;
    let r = post(
        a,
        "/api/send",
        "application/json",
        umami,
        "89.160.20.128",
        "",
    )
    .await;
    assert_eq!((r.status, r.text().as_str()), (200, "{}"));
    let ev = r#"{"type":"event","payload":{"website":"4fb7fa4c-5b46-438d-94b3-3a8fb9a4f7e3","hostname":"shop.example","url":"/cart","name":"checkout","data":{"items":3,"revenue":12.5,"currency":"USD"}}}"#;
    assert_eq!(
        post(a, "/api/send", "application/json", ev, "89.160.20.128", "")
            .await
            .status,
        200
    );
    let id = r#"{"type":"identify","payload":{"website":"4fb7fa4c-5b46-438d-94b3-3a8fb9a4f7e3","id":"alice@example.com"}}"#;
    assert_eq!(
        post(a, "/api/send", "application/json", id, "89.160.20.128", "")
            .await
            .status,
        200
    );
    let bad = r#"{"type":"event","payload":{"website":"00000000-0000-0000-0000-000000000000","url":"https://shop.example/"}}"#;
    assert_eq!(
        post(a, "/api/send", "application/json", bad, "89.160.20.128", "")
            .await
            .status,
        400
    );

    // Consent rules apply on these paths too.
    let strict = r#"{"n":"pageview","u":"https://strict.example/","d":"strict.example"}"#;
    post(a, "/api/event", "text/plain", strict, "81.2.69.142", "").await;
    post(
        a,
        "/api/event",
        "text/plain",
        strict,
        "81.2.69.142",
        "Sec-GPC: 1\r\n",
    )
    .await;
    veil.stop().await;

    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "total", "").0, 2);
    assert_eq!(get(&t, "page", "/blog/post"), (1, 1));
    assert_eq!(get(&t, "referrer", "news.ycombinator.com"), (1, 1));
    assert_eq!(t[&("event".into(), "Signup".into())].events, 1);
    let total = &t[&("total".into(), "".into())];
    assert_eq!(total.events, 2, "engagement pings are not events");
    assert_eq!(
        (total.engagements, total.engaged_ms, total.scroll_depth),
        (1, 5_400, 80),
        "but time on page and scroll depth"
    );
    assert_eq!(t[&("page".into(), "/pricing".into())].engaged_ms, 5_400);
    assert_eq!(t[&("currency".into(), "EUR".into())].revenue, 49_900);
    assert_eq!(
        t[&("event*currency".into(), "Purchase\u{1f}EUR".into())].revenue,
        49_900
    );
    let shop = db.totals("shop.example").await;
    assert_eq!(get(&shop, "page", "/cart"), (1, 1));
    assert_eq!(get(&shop, "screen", ">=1920"), (1, 1));
    assert_eq!(shop[&("event".into(), "checkout".into())].events, 1);
    assert_eq!(shop[&("currency".into(), "USD".into())].revenue, 12_500);
    assert!(
        !shop
            .keys()
            .any(|(d, v)| d == "prop" && v.contains("revenue")),
        "Umami's revenue is revenue, not a prop"
    );
    let strict = db.totals("strict.example").await;
    assert_eq!(
        get(&strict, "total", ""),
        (1, 0),
        "anonymous count without consent"
    );
    assert_eq!(strict[&("decision".into(), "gpc".into())].hits, 1);
    db.drop().await;
}
