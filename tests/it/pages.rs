//! The disclosure and opt-out pages over real HTTP, and the opt-out cookie they set
//! keeping a visitor's hits out of ClickHouse.

use crate::harness::*;

async fn http_get(addr: std::net::SocketAddr, target: &str, extra: &str) -> Reply {
    raw(
        addr,
        &format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n{extra}"),
        b"",
    )
    .await
}

/// The form post veil's own page makes (`Sec-Fetch-Site: same-origin`).
async fn post_form(addr: std::net::SocketAddr, body: &str, extra: &str) -> Reply {
    post_form_from(
        addr,
        body,
        &format!("Sec-Fetch-Site: same-origin\r\n{extra}"),
    )
    .await
}

/// A form post whose provenance headers (`Sec-Fetch-Site`, `Origin`, `Referer`)
/// are all in `extra`.
async fn post_form_from(addr: std::net::SocketAddr, body: &str, extra: &str) -> Reply {
    let head = format!(
        "POST /optout HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n{extra}",
        body.len()
    );
    raw(addr, &head, body.as_bytes()).await
}

fn assert_hardened(r: &Reply) {
    assert_eq!(r.header("cache-control"), Some("no-store"), "{r:?}");
    let csp = r.header("content-security-policy").unwrap_or("");
    for directive in [
        "default-src 'none'",
        "style-src 'unsafe-inline'",
        "form-action 'self'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
}

/// Two sites: the harness's English one and a Polish one.
fn two_sites(db: &TestDb) -> veil::config::Config {
    let mut cfg = config(db);
    let mut pl = site("sklep.example", "eu-strict");
    pl.language = "pl".into();
    pl.controller = Some("Sklep <Przykład> Sp. z o.o.".into());
    cfg.sites.push(pl);
    cfg
}

#[tokio::test]
async fn privacy_pages_answer_for_configured_sites_and_refuse_others() {
    let db = TestDb::new("privacy").await;
    let veil = TestVeil::start(two_sites(&db)).await;
    let a = veil.addr;

    let r = http_get(a, "/privacy?site=example.com", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_hardened(&r);
    let html = r.text();
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<h1>Audience measurement on example.com</h1>"));
    assert!(
        html.contains("used to find the country and region")
            && html.contains("at most 20 requests per second"),
        "geo is configured"
    );
    assert!(html.contains("href=\"/optout?site=example.com&amp;lang=en\""));

    let r = http_get(a, "/privacy?site=sklep.example", "").await;
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("<html lang=\"pl\">"), "the site's language");
    assert!(html.contains("Statystyki odwiedzin serwisu sklep.example"));
    assert!(
        html.contains("Sklep &lt;Przykład&gt; Sp. z o.o."),
        "config text is escaped"
    );
    assert!(!html.contains("<Przykład>"));
    let r = http_get(a, "/privacy?site=sklep.example&lang=en", "").await;
    assert!(r.text().contains("<html lang=\"en\">"));

    let r = http_get(a, "/privacy?site=nope.example", "").await;
    assert_eq!((r.status, r.text().as_str()), (404, "unknown site\n"));
    let r = http_get(a, "/privacy", "").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "missing site parameter\n")
    );
    let r = http_get(a, "/privacy?site=example.com&lang=de", "").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (400, "lang must be en or pl\n")
    );

    let r = http_get(a, "/privacy.json?site=example.com", "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let j: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(j["site"], "example.com");
    assert_eq!(j["consent"]["preset"], "eu-exempt-audience");
    assert_eq!(j["retention"]["audience_days"], 730);
    assert_eq!(j["processing"]["ip"]["used_for"][1], "region");
    assert_eq!(j["opt_out_cookie"]["name"], "veil_optout");

    let r = http_get(a, "/privacy.json?site=nope.example", "").await;
    assert_eq!(r.status, 404);
    assert_eq!(r.text(), r#"{"error":"unknown site"}"#);
    let r = http_get(a, "/privacy.json", "").await;
    assert_eq!(r.status, 400);
    let r = raw(
        a,
        &format!("DELETE /privacy?site=example.com HTTP/1.1\r\nHost: {a}\r\n"),
        b"",
    )
    .await;
    assert_eq!(r.status, 405);

    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn the_optout_page_speaks_the_visitors_language() {
    let db = TestDb::new("optout_lang").await;
    let veil = TestVeil::start(two_sites(&db)).await;
    let a = veil.addr;

    let r = http_get(
        a,
        "/optout?site=example.com",
        "Accept-Language: pl-PL,pl;q=0.9,en;q=0.8\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_hardened(&r);
    let html = r.text();
    assert!(html.contains("<html lang=\"pl\">"), "{html}");
    assert!(html.contains("Statystyki odwiedzin: example.com"));
    assert!(html.contains("Sprzeciw nie został zgłoszony."));
    assert!(html.contains("<button type=\"submit\">Zgłaszam sprzeciw wobec pomiaru</button>"));
    assert!(html.contains("name=\"action\" value=\"optout\""));
    assert!(
        html.contains("<meta name=\"viewport\""),
        "readable on a phone"
    );
    assert!(
        !html.contains("<script") && !html.contains("<link") && !html.contains("src="),
        "self-contained"
    );

    let r = http_get(a, "/optout?site=example.com", "").await;
    let html = r.text();
    assert!(
        html.contains("<html lang=\"en\">"),
        "English by default: {html}"
    );
    assert!(html.contains("I object to audience measurement"));

    let r = http_get(
        a,
        "/optout?site=example.com&lang=en",
        "Accept-Language: pl\r\n",
    )
    .await;
    assert!(r.text().contains("<html lang=\"en\">"), "lang= wins");
    let r = http_get(
        a,
        "/optout?site=example.com",
        "Accept-Language: de-DE,de\r\n",
    )
    .await;
    assert!(
        r.text().contains("<html lang=\"en\">"),
        "unsupported: the site's language"
    );
    let r = http_get(
        a,
        "/optout?site=sklep.example",
        "Accept-Language: de-DE,de\r\n",
    )
    .await;
    assert!(
        r.text().contains("<html lang=\"pl\">"),
        "unsupported: the site's language"
    );
    let r = http_get(
        a,
        "/optout?site=sklep.example",
        "Accept-Language: en-GB,en\r\n",
    )
    .await;
    assert!(r.text().contains("<html lang=\"en\">"));

    let r = http_get(a, "/optout?site=nope.example", "").await;
    assert_eq!(r.status, 404);
    let r = http_get(a, "/optout", "").await;
    assert_eq!(r.status, 400);

    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn the_optout_form_sets_and_clears_the_cookie() {
    let db = TestDb::new("optout_form").await;
    let veil = TestVeil::start(two_sites(&db)).await;
    let a = veil.addr;

    let r = post_form(a, "site=example.com&lang=pl&action=optout", "").await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(
        r.header("location"),
        Some("/optout?site=example.com&lang=pl")
    );
    assert_eq!(
        r.header("set-cookie"),
        Some("veil_optout=1; Path=/; Max-Age=157680000; SameSite=Lax; HttpOnly")
    );
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let r = post_form(
        a,
        "site=example.com&lang=en&action=optout",
        "X-Forwarded-Proto: https\r\n",
    )
    .await;
    assert_eq!(
        r.header("set-cookie"),
        Some("veil_optout=1; Path=/; Max-Age=157680000; SameSite=Lax; HttpOnly; Secure")
    );

    // Following the redirect with the cookie shows the current state and the undo button.
    let r = http_get(
        a,
        "/optout?site=example.com&lang=pl",
        "Cookie: other=x; veil_optout=1\r\n",
    )
    .await;
    assert_eq!(r.status, 200);
    let html = r.text();
    assert!(html.contains("Sprzeciw został zgłoszony"), "{html}");
    assert!(html.contains("name=\"action\" value=\"undo\""));
    assert!(html.contains(">Cofam sprzeciw</button>"));
    let r = http_get(a, "/optout?site=example.com", "Cookie: veil_optout=1\r\n").await;
    assert!(r.text().contains(">Withdraw my objection</button>"));

    let r = post_form(
        a,
        "site=example.com&action=undo",
        "Cookie: veil_optout=1\r\n",
    )
    .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/optout?site=example.com"));
    assert_eq!(
        r.header("set-cookie"),
        Some("veil_optout=; Path=/; Max-Age=0; SameSite=Lax; HttpOnly")
    );

    // Bad input gets a short reason and no cookie.
    let bad = [
        (post_form(a, "site=example.com&action=maybe", "").await, 400),
        (
            post_form(a, "site=nope.example&action=optout", "").await,
            404,
        ),
        (post_form(a, "action=optout", "").await, 400),
        (
            post_form(a, "site=example.com&lang=de&action=optout", "").await,
            400,
        ),
    ];
    for (r, status) in bad {
        assert_eq!(r.status, status, "{}", r.text());
        assert_eq!(r.header("set-cookie"), None);
    }
    let body = r#"{"site":"example.com","action":"optout"}"#;
    let head = format!(
        "POST /optout HTTP/1.1\r\nHost: {a}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nSec-Fetch-Site: same-origin\r\n",
        body.len()
    );
    assert_eq!(raw(a, &head, body.as_bytes()).await.status, 415);
    let big = format!("site=example.com&action=optout&pad={}", "x".repeat(4096));
    let r = post_form(a, &big, "").await;
    assert_eq!(
        (r.status, r.text().as_str()),
        (413, "form body too large\n")
    );

    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn only_veils_own_origin_may_change_the_choice() {
    let db = TestDb::new("optout_csrf").await;
    let veil = TestVeil::start(two_sites(&db)).await;
    let a = veil.addr;
    let objected = "Cookie: veil_optout=1\r\n";
    let undo = "site=example.com&action=undo";
    let refused = [
        "Sec-Fetch-Site: cross-site\r\n".to_string(),
        "Sec-Fetch-Site: same-site\r\n".to_string(),
        format!("Sec-Fetch-Site: same-site\r\nOrigin: http://{a}\r\n"),
        "Origin: https://evil.example\r\n".to_string(),
        format!("Origin: http://{a}.evil.example\r\n"),
        format!("Origin: https://{a}\r\n"),
        "Origin: null\r\n".to_string(),
        "Referer: https://evil.example/page\r\n".to_string(),
        format!("Referer: https://evil.example/http://{a}/\r\n"),
        String::new(),
    ];
    for provenance in &refused {
        let r = post_form_from(a, undo, &format!("{provenance}{objected}")).await;
        assert_eq!(r.status, 403, "{provenance:?}: {}", r.text());
        assert_eq!(
            r.header("set-cookie"),
            None,
            "{provenance:?}: objection unchanged"
        );
        assert!(!r.text().is_empty(), "a short reason");
        // The page still shows the objection the cookie holds.
        let page = http_get(a, "/optout?site=example.com&lang=en", objected).await;
        assert!(page.text().contains(">Withdraw my objection</button>"));
    }
    let accepted = [
        "Sec-Fetch-Site: same-origin\r\n".to_string(),
        "Sec-Fetch-Site: none\r\n".to_string(),
        format!("Origin: http://{a}\r\n"),
        format!("Origin: https://{a}\r\nX-Forwarded-Proto: https\r\n"),
        format!("Referer: http://{a}/optout?site=example.com\r\n"),
    ];
    for provenance in &accepted {
        let r = post_form_from(a, undo, &format!("{provenance}{objected}")).await;
        assert_eq!(r.status, 303, "{provenance:?}: {}", r.text());
        assert!(
            r.header("set-cookie")
                .is_some_and(|c| c.starts_with("veil_optout=;")),
            "{provenance:?}"
        );
    }
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn a_configured_public_origin_is_the_one_accepted() {
    let db = TestDb::new("optout_origin").await;
    let mut c = two_sites(&db);
    c.server.public_origin = "https://stats.example".into();
    let veil = TestVeil::start(c).await;
    let a = veil.addr;
    let body = "site=example.com&action=optout";
    let r = post_form_from(a, body, "Origin: https://stats.example\r\n").await;
    assert_eq!(r.status, 303, "{}", r.text());
    let r = post_form_from(a, body, &format!("Origin: http://{a}\r\n")).await;
    assert_eq!(r.status, 403, "the Host no longer counts");
    assert_eq!(r.header("set-cookie"), None);
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn with_the_optout_cookie_only_the_optout_counter_is_stored() {
    let db = TestDb::new("optout_hits").await;
    let mut cfg = config(&db);
    cfg.sites.push(site("objector.example", "us-opt-out"));
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;

    // The cookie exactly as the form sets it.
    let r = post_form(a, "site=objector.example&action=optout", "").await;
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(cookie, "veil_optout=1");
    let with_cookie = format!("Cookie: {cookie}\r\n");

    let q = "s=objector.example&u=https://objector.example/pricing%3Futm_source%3Dnews&r=https://news.example.org/&w=1280&c=analytics,marketing";
    let r = pixel(a, q, "81.2.69.142", CHROME_WIN, &with_cookie).await;
    assert_eq!(r.status, 200);
    let body = r#"{"site":"objector.example","url":"https://objector.example/signup","event":"signup","props":{"plan":"pro"},"consent":["analytics","marketing"]}"#;
    assert_eq!(
        collect(a, body, "216.160.83.56", FIREFOX_LINUX, &with_cookie)
            .await
            .status,
        202
    );
    // Control: the same hit without the cookie is recorded for the other site.
    pixel(
        a,
        "s=example.com&u=https://example.com/pricing",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    veil.stop().await;

    let t = db.totals("objector.example").await;
    let keys: Vec<(&str, &str)> = t.keys().map(|(d, v)| (d.as_str(), v.as_str())).collect();
    assert_eq!(
        keys,
        vec![("decision", "optout")],
        "only the opt-out counter"
    );
    assert_eq!(t[&("decision".to_string(), "optout".to_string())].hits, 2);
    let control = db.totals("example.com").await;
    assert_eq!(get(&control, "total", ""), (1, 1));
    db.drop().await;
}
