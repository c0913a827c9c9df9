//! Consent before storage: a refused hit leaves nothing but its decision counter.

use crate::harness::*;

#[tokio::test]
async fn refusals_store_only_the_decision_counter() {
    let db = TestDb::new("consent").await;
    let mut cfg = config(&db);
    cfg.sites = vec![site("example.com", "eu-strict")];
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;
    let q = "s=example.com&u=https://example.com/secret-page&r=https://news.example.org/";

    // Analytics explicitly denied.
    pixel(
        a,
        &format!("{q}&c=necessary"),
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    let r = collect(
        a,
        r#"{"site":"example.com","url":"https://example.com/secret-page","consent":[]}"#,
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!(r.status, 202);
    // GPC and DNT override granted categories under eu-strict.
    pixel(
        a,
        &format!("{q}&c=analytics,marketing"),
        "216.160.83.56",
        CHROME_WIN,
        "Sec-GPC: 1\r\n",
    )
    .await;
    pixel(
        a,
        &format!("{q}&c=analytics"),
        "216.160.83.56",
        FIREFOX_LINUX,
        "DNT: 1\r\n",
    )
    .await;
    // The opt-out cookie and the tracker's opt-out flag.
    pixel(
        a,
        &format!("{q}&c=analytics"),
        "89.160.20.128",
        CHROME_WIN,
        "Cookie: a=b; veil_optout=1\r\n",
    )
    .await;
    pixel(
        a,
        &format!("{q}&c=analytics&o=1"),
        "89.160.20.128",
        CHROME_WIN,
        "",
    )
    .await;
    veil.stop().await;

    let t = db.totals("example.com").await;
    let dims: Vec<&str> = t.keys().map(|(d, _)| d.as_str()).collect();
    assert!(
        dims.iter().all(|d| *d == "decision"),
        "only decision counters may exist: {dims:?}"
    );
    let hits = |v: &str| {
        t.get(&("decision".to_string(), v.to_string()))
            .map_or(0, |r| r.hits)
    };
    assert_eq!(hits("denied"), 2);
    assert_eq!(hits("gpc"), 1);
    assert_eq!(hits("dnt"), 1);
    assert_eq!(hits("optout"), 2);
    db.drop().await;
}

#[tokio::test]
async fn without_consent_eu_strict_keeps_an_anonymous_count_only() {
    let db = TestDb::new("anon").await;
    let mut cfg = config(&db);
    cfg.sites = vec![site("example.com", "eu-strict")];
    let veil = TestVeil::start(cfg).await;
    for ip in ["81.2.69.142", "216.160.83.56", "89.160.20.128"] {
        pixel(
            veil.addr,
            "s=example.com&u=https://example.com/pricing&r=https://google.com/&w=1280",
            ip,
            CHROME_WIN,
            "",
        )
        .await;
    }
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(
        get(&t, "total", ""),
        (3, 0),
        "no visitor hash without consent"
    );
    assert_eq!(get(&t, "page", "/pricing"), (3, 0));
    assert_eq!(t[&("decision".into(), "anonymous".into())].hits, 3);
    let dims: std::collections::BTreeSet<&str> = t.keys().map(|(d, _)| d.as_str()).collect();
    assert_eq!(
        dims.into_iter().collect::<Vec<_>>(),
        vec!["decision", "page", "total"]
    );
    db.drop().await;
}

#[tokio::test]
async fn a_consent_cookie_grants_what_the_banner_recorded() {
    let db = TestDb::new("cookie").await;
    let mut cfg = config(&db);
    let mut s = site("example.com", "eu-strict");
    s.consent.cookie = Some("cookie_consent".into());
    cfg.sites = vec![s];
    let veil = TestVeil::start(cfg).await;
    pixel(
        veil.addr,
        "s=example.com&u=/",
        "81.2.69.142",
        CHROME_WIN,
        "Cookie: cookie_consent=necessary%2Canalytics\r\n",
    )
    .await;
    pixel(
        veil.addr,
        "s=example.com&u=/",
        "216.160.83.56",
        CHROME_WIN,
        "Cookie: cookie_consent=necessary\r\n",
    )
    .await;
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "total", ""), (1, 1));
    assert_eq!(get(&t, "country", "GB"), (1, 1));
    assert_eq!(t[&("decision".into(), "denied".into())].hits, 1);
    db.drop().await;
}

#[tokio::test]
async fn a_site_can_tie_data_groups_to_categories_of_its_own() {
    let db = TestDb::new("custom").await;
    let mut cfg = config(&db);
    let mut s = site("example.com", "eu-strict");
    s.consent.categories = vec!["functional".into()];
    s.consent.requires.insert("geo".into(), "functional".into());
    s.consent
        .requires
        .insert("events".into(), "marketing".into());
    cfg.sites = vec![s];
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;
    // Analytics only: no geo, and the event is not stored.
    pixel(
        a,
        "s=example.com&u=/a&c=analytics",
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    let r = collect(
        a,
        r#"{"site":"example.com","url":"/a","event":"signup","consent":["analytics"]}"#,
        "81.2.69.142",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!(r.status, 202);
    // Analytics + functional: geo is stored.
    pixel(
        a,
        "s=example.com&u=/b&c=analytics,functional",
        "216.160.83.56",
        CHROME_WIN,
        "",
    )
    .await;
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "total", ""), (2, 2));
    assert_eq!(get(&t, "country", "US"), (1, 1));
    assert!(
        !t.keys().any(|(d, v)| d == "country" && v != "US"),
        "no geo without the functional category: {t:?}"
    );
    assert!(
        !t.keys().any(|(d, _)| d == "event"),
        "events need marketing consent here"
    );
    assert_eq!(
        get(&t, "browser", "Chrome"),
        (2, 2),
        "other groups unaffected"
    );
    db.drop().await;
}

#[tokio::test]
async fn each_preset_stores_what_it_promises() {
    let db = TestDb::new("presets").await;
    let mut cfg = config(&db);
    cfg.sites = vec![
        site("strict.example", "eu-strict"),
        site("exempt.example", "eu-exempt-audience"),
        site("us.example", "us-opt-out"),
    ];
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;
    for s in ["strict.example", "exempt.example", "us.example"] {
        let q = format!("s={s}&u=https://{s}/?utm_source=news&r=https://www.google.com/");
        pixel(a, &q, "81.2.69.142", CHROME_WIN, "").await;
        pixel(a, &q, "216.160.83.56", CHROME_WIN, "Sec-GPC: 1\r\n").await;
    }
    veil.stop().await;
    let dims = |t: &std::collections::BTreeMap<(String, String), Totals>| {
        t.keys()
            .map(|(d, _)| d.clone())
            .collect::<std::collections::BTreeSet<_>>()
    };
    let hits = |t: &std::collections::BTreeMap<(String, String), Totals>, v: &str| {
        t.get(&("decision".to_string(), v.to_string()))
            .map_or(0, |r| r.hits)
    };

    // eu-strict: anonymous count without consent; GPC is a refusal.
    let t = db.totals("strict.example").await;
    assert_eq!(
        dims(&t).into_iter().collect::<Vec<_>>(),
        vec!["decision", "page", "total"]
    );
    assert_eq!((hits(&t, "anonymous"), hits(&t, "gpc")), (1, 1));
    assert_eq!(get(&t, "total", ""), (1, 0));

    // eu-exempt-audience: audience statistics without consent, no campaigns; GPC objects.
    let t = db.totals("exempt.example").await;
    let d = dims(&t);
    assert!(
        d.contains("country") && d.contains("referrer") && d.contains("browser"),
        "{d:?}"
    );
    assert!(!d.iter().any(|d| d.starts_with("utm_")), "{d:?}");
    assert_eq!((hits(&t, "analytics"), hits(&t, "gpc")), (1, 1));
    assert_eq!(get(&t, "total", ""), (1, 1));

    // us-opt-out: everything by default; GPC turns marketing off but keeps statistics.
    let t = db.totals("us.example").await;
    assert_eq!(
        get(&t, "utm_source", "news"),
        (1, 1),
        "only the visitor without GPC"
    );
    assert_eq!(get(&t, "total", ""), (2, 2));
    assert_eq!((hits(&t, "marketing"), hits(&t, "analytics")), (1, 1));
    db.drop().await;
}
