//! Configuration reload without a restart: under load, a reload adds a site,
//! changes a consent preset and rotates an API key; no request fails, no hit is
//! lost, a live visit stays one visit, and a broken file changes nothing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use veil::stats::auth::hash_key;

use crate::harness::*;

const OLD_KEY: &str = "old-key-0123456789abcdef";
const NEW_KEY: &str = "new-key-fedcba9876543210";

fn first_config(db: &TestDb) -> veil::config::Config {
    let mut c = config(db);
    let mut main = site("example.com", "eu-exempt-audience");
    main.api_keys = vec![hash_key(OLD_KEY)];
    c.sites = vec![
        main,
        site("strict.example", "eu-strict"),
        site("visit.example", "eu-exempt-audience"),
    ];
    c
}

/// The first configuration with a new site, `strict.example` on `us-opt-out`
/// and `example.com`'s key rotated.
fn second_config(db: &TestDb) -> veil::config::Config {
    let mut c = first_config(db);
    c.sites[0].api_keys = vec![hash_key(NEW_KEY)];
    c.sites[1] = site("strict.example", "us-opt-out");
    // The new site comes first in the file: the others keep their place in the
    // window anyway.
    c.sites.insert(0, site("new.example", "eu-exempt-audience"));
    c
}

async fn metric(addr: std::net::SocketAddr, name: &str) -> Option<u64> {
    let r = raw(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n", b"").await;
    r.text()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

async fn site_api(addr: std::net::SocketAddr, key: &str) -> u16 {
    raw(
        addr,
        &format!("GET /api/v1/site?site=example.com HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"),
        b"",
    )
    .await
    .status
}

#[tokio::test]
async fn a_reload_under_load_adds_a_site_changes_consent_and_rotates_a_key_losing_nothing() {
    let db = TestDb::new("reload").await;
    let veil = TestVeil::start(first_config(&db)).await;
    let a = veil.addr;
    assert_eq!(metric(a, "veil_config_generation").await, Some(1));
    assert_eq!(site_api(a, OLD_KEY).await, 200);

    // Load: four senders, each from its own addresses, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let (sent, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let senders: Vec<_> = (0..4u64)
        .map(|n| {
            let (stop, sent, failed) = (stop.clone(), sent.clone(), failed.clone());
            tokio::spawn(async move {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ip = format!("81.2.{}.{}", 69 + n, i % 250 + 1);
                    let q = format!("s=example.com&u=https://example.com/p{}", i % 7);
                    let r = pixel(a, &q, &ip, CHROME_WIN, "").await;
                    sent.fetch_add(1, Ordering::Relaxed);
                    if r.status != 200 {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    i += 1;
                }
            })
        })
        .collect();

    // Before: a visit starts, strict.example counts anonymously, new.example
    // does not exist.
    let visit = |path: &'static str| {
        pixel(
            a,
            if path == "/a" {
                "s=visit.example&u=https://visit.example/a"
            } else {
                "s=visit.example&u=https://visit.example/b"
            },
            "89.160.20.112",
            FIREFOX_LINUX,
            "",
        )
    };
    assert_eq!(visit("/a").await.status, 200);
    let strict = "s=strict.example&u=https://strict.example/?utm_source=news";
    assert_eq!(
        pixel(a, strict, "216.160.83.56", CHROME_WIN, "")
            .await
            .status,
        200
    );
    let new = "s=new.example&u=https://new.example/";
    let refused = collect(
        a,
        r#"{"site":"new.example","url":"https://new.example/"}"#,
        "216.160.83.57",
        CHROME_WIN,
        "",
    )
    .await;
    assert_eq!(refused.status, 400, "unknown site before the reload");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let reloaded = veil
        .running
        .reload(second_config(&db))
        .expect("the new configuration is valid");
    assert_eq!(reloaded.generation, 2);
    assert!(
        reloaded.need_restart.is_empty(),
        "{:?}",
        reloaded.need_restart
    );
    tokio::time::sleep(Duration::from_millis(300)).await;

    // After: the same visit goes on, strict.example stores audience and
    // campaigns, new.example is collected, the key is rotated.
    assert_eq!(visit("/b").await.status, 200);
    assert_eq!(
        pixel(a, strict, "216.160.83.58", CHROME_WIN, "")
            .await
            .status,
        200
    );
    assert_eq!(
        pixel(a, new, "216.160.83.59", CHROME_WIN, "").await.status,
        200
    );
    assert_eq!(metric(a, "veil_config_generation").await, Some(2));
    assert_eq!(site_api(a, OLD_KEY).await, 401, "the old key is gone");
    assert_eq!(site_api(a, NEW_KEY).await, 200, "the new key works");

    stop.store(true, Ordering::Relaxed);
    for s in senders {
        s.await.expect("sender");
    }
    let sent = sent.load(Ordering::Relaxed);
    assert_eq!(failed.load(Ordering::Relaxed), 0, "no request failed");
    assert!(sent > 50, "the load ran ({sent} hits)");
    veil.stop().await;

    let t = db.totals("example.com").await;
    assert_eq!(
        get(&t, "total", "").0,
        sent,
        "every hit under load stored once"
    );
    let t = db.totals("visit.example").await;
    let total = &t[&("total".to_string(), String::new())];
    assert_eq!(
        (total.pageviews, total.visits),
        (2, 1),
        "one visit across the reload"
    );
    let t = db.totals("strict.example").await;
    let hits = |v: &str| {
        t.get(&("decision".to_string(), v.to_string()))
            .map_or(0, |r| r.hits)
    };
    assert_eq!(hits("anonymous"), 1, "eu-strict before");
    assert_eq!(hits("marketing"), 1, "us-opt-out after");
    assert_eq!(
        get(&t, "utm_source", "news"),
        (1, 1),
        "campaigns only after"
    );
    assert_eq!(get(&db.totals("new.example").await, "total", ""), (1, 1));
    db.drop().await;
}

#[tokio::test]
async fn a_broken_file_keeps_the_running_configuration_and_a_changed_file_reloads_itself() {
    let db = TestDb::new("reload_file").await;
    let dir = std::env::temp_dir().join(format!("veil-reload-{}", db.name));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("veil.toml");
    let first = first_config(&db);
    let text = toml::to_string(&first).expect("config as TOML");
    std::fs::write(&path, &text).expect("write config");
    let veil = TestVeil::start(first.clone()).await;
    let a = veil.addr;
    let state = veil.running.state.clone();
    tokio::spawn(veil::reload::watch_file(
        state.clone(),
        path.clone(),
        Duration::from_millis(100),
        std::future::pending::<()>(),
    ));

    // A key with a wrong value: refused, named, nothing changes.
    let broken = text.replace("preset = \"eu-strict\"", "preset = \"eu-lax\"");
    assert_ne!(broken, text);
    std::fs::write(&path, &broken).expect("write broken config");
    assert!(!veil::reload::reload_file(&state, Some(&path), "test"));
    let err = veil::config::Config::load(Some(&path), Vec::new()).expect_err("invalid");
    assert!(err.to_string().contains("sites[1]"), "{err}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(metric(a, "veil_config_generation").await, Some(1));
    assert!(metric(a, "veil_config_reloads_failed_total").await >= Some(1));
    assert_eq!(site_api(a, OLD_KEY).await, 200, "still the running keys");
    assert!(logs().contains("configuration reload failed"));

    // A new time zone needs a restart: refused with the key.
    let mut tokyo = second_config(&db);
    tokyo.sites[0].timezone = "Asia/Tokyo".into();
    let err = veil.running.reload(tokyo).expect_err("a new zone");
    assert!(err.to_string().contains("sites[0].timezone"), "{err}");

    // A valid file: the watcher puts it in force, and restart-only keys are
    // named and keep their running value.
    let mut second = second_config(&db);
    second.pipeline.flush_interval_ms = 999;
    std::fs::write(&path, toml::to_string(&second).expect("TOML")).expect("write");
    let mut generation = None;
    for _ in 0..50 {
        generation = metric(a, "veil_config_generation").await;
        if generation == Some(2) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(generation, Some(2), "the watcher reloaded the changed file");
    assert_eq!(site_api(a, NEW_KEY).await, 200);
    assert_eq!(state.config().pipeline.flush_interval_ms, 200);
    assert!(logs().contains("pipeline.flush_interval_ms"));
    veil.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    db.drop().await;
}
