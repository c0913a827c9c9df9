//! The stats API over real HTTP against a real ClickHouse: exact answers from
//! known aggregates (with a time zone boundary and a DST day), k-anonymity that
//! no combination of pages and filters can undo, authentication, CORS, parameter
//! errors, the realtime counter and the OpenAPI document.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use veil::clock::zone::Zone;
use veil::config::{Config, SiteConfig};
use veil::model::{Counters, Dim};
use veil::sink::row::AggRow;
use veil::stats::auth::hash_key;
use veil::stats::params::days_from_civil;

use crate::harness::*;

/// A time after every seeded day (their day close is due).
const FAR_FUTURE: u64 = 1_900_000_000;

pub(crate) const KEY: &str = "stats-test-key-0123456789";

/// Unix seconds of a UTC date and hour.
pub(crate) fn utc(y: i64, m: u32, d: u32, hour: u64) -> u32 {
    (days_from_civil(y, m, d) as u64 * 86_400 + hour * 3_600) as u32
}

pub(crate) struct Cell<'a> {
    pub(crate) hour: u32,
    pub(crate) dim: &'a str,
    pub(crate) value: &'a str,
    pub(crate) c: Counters,
    pub(crate) visitors: &'a [u64],
}

pub(crate) fn cell<'a>(hour: u32, dim: &'a str, value: &'a str, visitors: &'a [u64]) -> Cell<'a> {
    Cell {
        hour,
        dim,
        value,
        c: Counters::default(),
        visitors,
    }
}

pub(crate) fn pv<'a>(
    hour: u32,
    dim: &'a str,
    value: &'a str,
    n: u64,
    visitors: &'a [u64],
) -> Cell<'a> {
    Cell {
        c: Counters {
            pageviews: n,
            ..Counters::default()
        },
        ..cell(hour, dim, value, visitors)
    }
}

/// Inserts the cells for every given site.
pub(crate) async fn insert(db: &TestDb, sites: &[&str], cells: &[Cell<'_>]) {
    let mut ins = db
        .client
        .insert::<AggRow>("aggregates_in")
        .await
        .expect("insert");
    for site in sites {
        // Rows carry the site's local date, as veil's window writes them.
        let tz = if *site == "example.com" {
            "Europe/Warsaw"
        } else {
            "UTC"
        };
        let zone = Zone::new(tz).expect("zone");
        for c in cells {
            let dim = Dim::ALL
                .into_iter()
                .find(|d| d.as_str() == c.dim)
                .expect("dimension");
            let mut row = AggRow::new(
                &zone,
                c.hour,
                site.to_string(),
                dim,
                c.value.into(),
                &c.c,
                c.visitors.to_vec(),
            );
            row.batch = 1;
            ins.write(&row).await.expect("write row");
        }
    }
    ins.end().await.expect("insert rows");
}

/// The known data set (k = 2), around 2026-03-29, the day Warsaw moves to
/// summer time:
/// - H1 2026-03-28 10:00 UTC (11:00 in Warsaw, 03-28)
/// - H2 2026-03-28 22:00 UTC (23:00 in Warsaw, 03-28)
/// - H3 2026-03-28 23:00 UTC (00:00 in Warsaw, 03-29: the time zone boundary)
/// - H4 2026-03-29 12:00 UTC (14:00 in Warsaw, summer time)
async fn seed_known(db: &TestDb, sites: &[&str]) {
    let h1 = utc(2026, 3, 28, 10);
    let h2 = utc(2026, 3, 28, 22);
    let h3 = utc(2026, 3, 28, 23);
    let h4 = utc(2026, 3, 29, 12);
    let v1: &[u64] = &[1, 2, 3, 4, 5];
    let cells = vec![
        Cell {
            c: Counters {
                pageviews: 10,
                events: 3,
                visits: 5,
                bounces: 2,
                duration: 500,
                ..Counters::default()
            },
            ..cell(h1, "total", "", v1)
        },
        pv(h1, "page", "/a", 6, &[1, 2, 3]),
        pv(h1, "page", "/b", 3, &[4]),
        pv(h1, "page", "/c", 1, &[5]),
        Cell {
            c: Counters {
                events: 3,
                ..Counters::default()
            },
            ..cell(h1, "event", "signup", &[1, 2, 3])
        },
        Cell {
            c: Counters {
                events: 2,
                ..Counters::default()
            },
            ..cell(h1, "prop", "signup\u{1f}plan\u{1f}free", &[1, 2])
        },
        Cell {
            c: Counters {
                events: 1,
                ..Counters::default()
            },
            ..cell(h1, "prop", "signup\u{1f}plan\u{1f}enterprise", &[3])
        },
        Cell {
            c: Counters {
                pageviews: 8,
                visits: 4,
                bounces: 1,
                duration: 450,
                ..Counters::default()
            },
            ..cell(h1, "country", "PL", &[1, 2, 3, 4])
        },
        Cell {
            c: Counters {
                pageviews: 2,
                visits: 1,
                bounces: 1,
                ..Counters::default()
            },
            ..cell(h1, "country", "IS", &[5])
        },
        Cell {
            c: Counters {
                visits: 4,
                bounces: 1,
                duration: 450,
                ..Counters::default()
            },
            ..cell(h1, "entry_page", "/a", &[1, 2, 3, 4])
        },
        Cell {
            c: Counters {
                visits: 1,
                bounces: 1,
                ..Counters::default()
            },
            ..cell(h1, "entry_page", "/c", &[5])
        },
        Cell {
            c: Counters {
                hits: 12,
                ..Counters::default()
            },
            ..cell(h1, "decision", "analytics", &[])
        },
        Cell {
            c: Counters {
                hits: 3,
                ..Counters::default()
            },
            ..cell(h1, "decision", "gpc", &[])
        },
        Cell {
            c: Counters {
                hits: 2,
                ..Counters::default()
            },
            ..cell(h1, "decision", "bot", &[])
        },
        Cell {
            c: Counters {
                pageviews: 4,
                visits: 2,
                duration: 100,
                ..Counters::default()
            },
            ..cell(h2, "total", "", &[6, 7])
        },
        pv(h2, "page", "/a", 4, &[6, 7]),
        Cell {
            c: Counters {
                hits: 4,
                ..Counters::default()
            },
            ..cell(h2, "decision", "analytics", &[])
        },
        Cell {
            c: Counters {
                pageviews: 5,
                visits: 3,
                bounces: 3,
                ..Counters::default()
            },
            ..cell(h3, "total", "", &[8, 9, 10])
        },
        pv(h3, "page", "/a", 2, &[8]),
        pv(h3, "page", "/d", 3, &[9, 10]),
        Cell {
            c: Counters {
                hits: 5,
                ..Counters::default()
            },
            ..cell(h3, "decision", "analytics", &[])
        },
        Cell {
            c: Counters {
                hits: 1,
                ..Counters::default()
            },
            ..cell(h3, "decision", "denied", &[])
        },
        Cell {
            c: Counters {
                pageviews: 7,
                visits: 2,
                bounces: 1,
                duration: 60,
                ..Counters::default()
            },
            ..cell(h4, "total", "", &[11, 12])
        },
        pv(h4, "page", "/a", 7, &[11, 12]),
        Cell {
            c: Counters {
                hits: 7,
                ..Counters::default()
            },
            ..cell(h4, "decision", "analytics", &[])
        },
    ];
    insert(db, sites, &cells).await;
}

pub(crate) fn stats_site(id: &str, tz: &str, k: u32) -> SiteConfig {
    let mut s = site(id, "eu-exempt-audience");
    s.timezone = tz.into();
    s.k = k;
    s.api_keys = vec![hash_key(KEY)];
    s
}

fn stats_config(db: &TestDb) -> Config {
    let mut c = config(db);
    let mut public = stats_site("public.example", "UTC", 2);
    public.api_keys.clear();
    public.public_dashboard = true;
    c.sites = vec![
        stats_site("example.com", "Europe/Warsaw", 2),
        stats_site("utc.example", "UTC", 2),
        public,
    ];
    c.server.cors_origins = vec!["https://intranet.example".into()];
    c
}

/// GET with the test key (or another `Authorization` / extra headers).
async fn get_with(addr: std::net::SocketAddr, path: &str, extra: &str) -> (u16, Value, Reply) {
    let r = raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}"),
        b"",
    )
    .await;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v, r)
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Value {
    let (status, v, _) = get_with(addr, path, &format!("Authorization: Bearer {KEY}\r\n")).await;
    assert_eq!(status, 200, "{path}: {v}");
    v
}

async fn status(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let (s, v, _) = get_with(addr, path, &format!("Authorization: Bearer {KEY}\r\n")).await;
    (s, v["error"].as_str().unwrap_or("").to_string())
}

#[tokio::test]
async fn aggregates_and_timeseries_are_exact_in_the_site_time_zone() {
    for closed in [false, true] {
        let db = TestDb::new(&format!("stats_exact_{}", u8::from(closed))).await;
        seed_known(&db, &["example.com", "utc.example"]).await;
        if closed {
            // The same answers once every day is finalised into counters.
            assert!(!db.close_days(FAR_FUTURE).await.is_empty());
        }
        let veil = TestVeil::start(stats_config(&db)).await;
        let a = veil.addr;
        let q = "/api/v1/aggregate?site=example.com";

        // Local 03-28 in Warsaw = H1 + H2; H3 (23:00 UTC) is already 03-29 there.
        let v = get(a, &format!("{q}&from=2026-03-28&to=2026-03-28")).await;
        assert_eq!(
            v["metrics"],
            json!({"pageviews": 14, "visits": 7, "visitors": 7, "events": 3,
                   "bounce_rate": 0.2857, "visit_duration": 85.7143, "views_per_visit": 2.0,
                   "time_on_page": null, "scroll_depth": null})
        );
        assert_eq!(
            (v["timezone"].as_str(), v["filter"].is_null()),
            (Some("Europe/Warsaw"), true)
        );
        let v = get(
            a,
            &format!("{q}&from=2026-03-29&to=2026-03-29&compare=previous"),
        )
        .await;
        assert_eq!(v["metrics"]["pageviews"], 12);
        assert_eq!(v["metrics"]["visitors"], 5);
        assert_eq!(v["metrics"]["bounce_rate"], 0.8);
        assert_eq!(v["previous"]["pageviews"], 14);
        assert_eq!(
            v["previous_period"],
            json!({"from": "2026-03-28", "to": "2026-03-28"})
        );
        assert_eq!(v["change"]["pageviews"], -0.1429);
        assert_eq!(v["change"]["visitors"], -0.2857);
        // The same rows for a UTC site: 03-28 holds H1, H2 and H3.
        let v = get(
            a,
            "/api/v1/aggregate?site=utc.example&from=2026-03-28&to=2026-03-28",
        )
        .await;
        assert_eq!(v["metrics"]["pageviews"], 19);

        // Days in Warsaw; the 03-29 bucket starts at 23:00 UTC the day before.
        let v = get(
            a,
            "/api/v1/timeseries?site=example.com&from=2026-03-28&to=2026-03-29&interval=day",
        )
        .await;
        let b = v["buckets"].as_array().unwrap();
        assert_eq!(b.len(), 2);
        assert_eq!(
            (b[0]["label"].as_str(), b[0]["pageviews"].as_u64()),
            (Some("2026-03-28"), Some(14))
        );
        assert_eq!(
            (b[1]["label"].as_str(), b[1]["pageviews"].as_u64()),
            (Some("2026-03-29"), Some(12))
        );
        assert_eq!(b[1]["start"], utc(2026, 3, 28, 23));
        assert_eq!(
            (b[0]["visitors"].as_u64(), b[1]["visitors"].as_u64()),
            (Some(7), Some(5))
        );
        // The DST day has 23 local hours and no 02:00.
        let v = get(
            a,
            "/api/v1/timeseries?site=example.com&from=2026-03-29&to=2026-03-29&interval=hour",
        )
        .await;
        let b = v["buckets"].as_array().unwrap();
        assert_eq!(b.len(), 23);
        assert_eq!(b[0]["label"], "2026-03-29 00:00");
        assert_eq!(b[0]["pageviews"], 5);
        assert!(b.iter().all(|x| x["label"] != "2026-03-29 02:00"));
        let two_pm = b.iter().find(|x| x["label"] == "2026-03-29 14:00").unwrap();
        assert_eq!(
            (two_pm["pageviews"].as_u64(), two_pm["start"].as_u64()),
            (Some(7), Some(u64::from(utc(2026, 3, 29, 12))))
        );
        assert_eq!(
            b.iter()
                .map(|x| x["pageviews"].as_u64().unwrap())
                .sum::<u64>(),
            12
        );
        // Weeks start on Monday (2026-03-23), months on the 1st; empty buckets are zeros.
        let v = get(a, "/api/v1/timeseries?site=example.com&from=2026-03-20&to=2026-04-02&interval=week&compare=previous").await;
        let labels: Vec<&str> = v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, vec!["2026-03-16", "2026-03-23", "2026-03-30"]);
        assert_eq!(v["buckets"][1]["pageviews"], 26);
        assert_eq!(v["buckets"][2]["pageviews"], 0);
        assert!(v["previous"].is_array());
        let v = get(
            a,
            "/api/v1/timeseries?site=example.com&from=2026-02-01&to=2026-04-30&interval=month",
        )
        .await;
        let months: Vec<(String, u64)> = v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                (
                    x["label"].as_str().unwrap().to_string(),
                    x["pageviews"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            months,
            vec![
                ("2026-02-01".into(), 0),
                ("2026-03-01".into(), 26),
                ("2026-04-01".into(), 0)
            ]
        );

        // Consent counters.
        let v = get(
            a,
            "/api/v1/consent?site=example.com&from=2026-03-28&to=2026-03-29",
        )
        .await;
        assert_eq!(
            v["decisions"],
            json!({"marketing": 0, "analytics": 28, "anonymous": 0, "denied": 1, "gpc": 3, "dnt": 0,
                   "optout": 0, "bot": 2, "rate_limited": 0, "invalid": 0})
        );
        assert_eq!(v["total"], 34);
        veil.stop().await;
        db.drop().await;
    }
}

/// Named values of a breakdown answer.
fn names(v: &Value) -> Vec<String> {
    v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["value"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn breakdowns_fold_small_groups_and_no_overlap_isolates_one() {
    for closed in [false, true] {
        let db = TestDb::new(&format!("stats_kanon_{}", u8::from(closed))).await;
        seed_known(&db, &["example.com"]).await;
        if closed {
            // The same answers once every day is finalised into counters.
            assert!(!db.close_days(FAR_FUTURE).await.is_empty());
        }
        let veil = TestVeil::start(stats_config(&db)).await;
        let a = veil.addr;
        let base = "/api/v1/breakdown?site=example.com&from=2026-03-28&to=2026-03-29";

        let full = get(a, &format!("{base}&dimension=page")).await;
        // /a: 8 visitors, 19 pageviews; /d: exactly k = 2; /b and /c (1 visitor each) folded.
        assert_eq!(names(&full), vec!["/a", "/d"]);
        assert_eq!(
            full["rows"][0],
            json!({"value": "/a", "visitors": 8, "pageviews": 19, "events": 0,
                   "time_on_page": null, "scroll_depth": null})
        );
        assert_eq!(full["rows"][1]["visitors"], 2);
        assert_eq!(
            full["other"],
            json!({"value": "(other)", "visitors": 2, "pageviews": 4, "events": 0, "groups": 2,
                   "time_on_page": null, "scroll_depth": null})
        );
        assert_eq!(
            (
                full["k"].as_u64(),
                full["total_rows"].as_u64(),
                full["sort"].as_str()
            ),
            (Some(2), Some(2), Some("pageviews"))
        );
        let total: u64 = full["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["pageviews"].as_u64().unwrap())
            .sum::<u64>()
            + full["other"]["pageviews"].as_u64().unwrap();
        assert_eq!(total, 26, "totals stay exact");

        // Every page size, page number, sort and same-dimension filter: no row below k,
        // the same (other), and named rows only ever from the full answer.
        let full_names: BTreeSet<String> = names(&full).into_iter().collect();
        let mut seen = BTreeSet::new();
        for extra in [
            "&limit=1&page=1",
            "&limit=1&page=2",
            "&limit=1&page=3",
            "&limit=2",
            "&sort=visitors",
            "&filter=page:/b*",
            "&filter=page:/b",
            "&filter=page:/c",
            "&filter=page:*c*",
            "&filter=page:/d",
            "&filter=page:*a",
            "&filter=page:/*&limit=1&page=2",
            "&filter=page:/a&filter=page:/b",
        ] {
            let v = get(a, &format!("{base}&dimension=page{extra}")).await;
            assert_eq!(v["other"], full["other"], "(other) never changes ({extra})");
            for r in v["rows"].as_array().unwrap() {
                assert!(r["visitors"].as_u64().unwrap() >= 2, "{extra}: {r}");
                assert!(
                    full_names.contains(r["value"].as_str().unwrap()),
                    "{extra}: {r}"
                );
                seen.insert(r["value"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(seen, full_names);
        let v = get(a, &format!("{base}&dimension=page&limit=1&page=2")).await;
        assert_eq!(
            (names(&v), v["total_rows"].as_u64()),
            (vec!["/d".to_string()], Some(2))
        );
        let v = get(a, &format!("{base}&dimension=page&filter=page:/b*")).await;
        assert!(
            names(&v).is_empty(),
            "a filter naming a small group finds nothing: {v}"
        );

        // A small group cannot be asked for alone either.
        let (s, e) = status(
            a,
            "/api/v1/aggregate?site=example.com&from=2026-03-28&to=2026-03-29&filter=page:/b",
        )
        .await;
        assert_eq!(s, 404, "{e}");
        let (s, _) = status(
            a,
            "/api/v1/timeseries?site=example.com&from=2026-03-28&to=2026-03-29&filter=page:/b",
        )
        .await;
        assert_eq!(s, 404);
        let (s, _) = status(
            a,
            "/api/v1/aggregate?site=example.com&from=2026-03-28&to=2026-03-29&filter=page:(other)",
        )
        .await;
        assert_eq!(s, 404);
        // A shown group's own numbers, and its series with small buckets suppressed.
        let v = get(
            a,
            "/api/v1/aggregate?site=example.com&from=2026-03-28&to=2026-03-29&filter=page:/a",
        )
        .await;
        assert_eq!(
            v["metrics"],
            json!({"visitors": 8, "pageviews": 19, "events": 0, "time_on_page": null, "scroll_depth": null})
        );
        assert_eq!(v["filter"], "page:/a");
        let v = get(a, "/api/v1/timeseries?site=example.com&from=2026-03-28&to=2026-03-29&interval=day&filter=page:/a").await;
        assert_eq!(v["buckets"][0]["pageviews"], 10);
        assert_eq!(v["buckets"][1]["visitors"], 3);
        let v = get(a, "/api/v1/timeseries?site=example.com&from=2026-03-29&to=2026-03-29&interval=hour&filter=page:/a").await;
        let b = v["buckets"].as_array().unwrap();
        let hidden: Vec<&str> = b
            .iter()
            .filter(|x| x["suppressed"] == true)
            .map(|x| x["label"].as_str().unwrap())
            .collect();
        // 00:00 has one visitor; 14:00 (2 visitors) is suppressed with it, so the
        // group total minus the shown buckets reveals nothing.
        assert_eq!(hidden, vec!["2026-03-29 00:00", "2026-03-29 14:00"]);
        assert!(b
            .iter()
            .filter(|x| x["suppressed"] == true)
            .all(|x| x.get("pageviews").is_none()));

        // Other dimensions: visit metrics where visits are recorded, props decoded.
        let v = get(
            a,
            "/api/v1/breakdown?site=example.com&from=2026-03-28&to=2026-03-28&dimension=country",
        )
        .await;
        assert_eq!(
            v["rows"],
            json!([{"value": "PL", "visitors": 4, "pageviews": 8, "visits": 4,
            "bounce_rate": 0.25, "visit_duration": 112.5, "views_per_visit": 2.0}])
        );
        assert_eq!(v["other"]["visitors"], 1);
        let v = get(
            a,
            "/api/v1/breakdown?site=example.com&from=2026-03-28&to=2026-03-28&dimension=entry_page",
        )
        .await;
        assert_eq!(
            (v["sort"].as_str(), v["rows"][0]["visits"].as_u64()),
            (Some("visits"), Some(4))
        );
        assert!(v["rows"][0].get("pageviews").is_none());
        let v = get(
            a,
            "/api/v1/breakdown?site=example.com&from=2026-03-28&to=2026-03-28&dimension=prop",
        )
        .await;
        assert_eq!(
            v["rows"],
            json!([{"event": "signup", "key": "plan", "value": "free", "visitors": 2, "events": 2}])
        );
        assert_eq!(
            v["other"],
            json!({"value": "(other)", "visitors": 1, "events": 1, "groups": 1})
        );
        let v = get(a, "/api/v1/breakdown?site=example.com&from=2026-03-28&to=2026-03-28&dimension=prop&event=other").await;
        assert!(names(&v).is_empty());
        assert_eq!(
            v["other"]["events"], 1,
            "(other) is not narrowed by the event either"
        );
        let v = get(
            a,
            "/api/v1/breakdown?site=example.com&from=2026-03-28&to=2026-03-28&dimension=event",
        )
        .await;
        assert_eq!(
            v["rows"],
            json!([{"value": "signup", "visitors": 3, "events": 3}])
        );
        assert!(v["other"].is_null());
        veil.stop().await;
        db.drop().await;
    }
}

#[tokio::test]
async fn keys_cors_and_bad_parameters_get_clear_answers() {
    let db = TestDb::new("stats_auth").await;
    seed_known(&db, &["public.example"]).await;
    let veil = TestVeil::start(stats_config(&db)).await;
    let a = veil.addr;
    let path = "/api/v1/aggregate?site=example.com&from=2026-03-28&to=2026-03-29";

    let (s, v, r) = get_with(a, path, "").await;
    assert_eq!(s, 401, "{v}");
    assert_eq!(r.header("www-authenticate"), Some("Bearer realm=\"veil\""));
    let (s, _, _) = get_with(a, path, "Authorization: Bearer not-the-key\r\n").await;
    assert_eq!(s, 401);
    let (s, _, _) = get_with(
        a,
        "/api/v1/aggregate?site=utc.example&from=2026-03-28&to=2026-03-29",
        "",
    )
    .await;
    assert_eq!(s, 401, "every site needs its own key");
    assert_eq!(status(a, path).await.0, 200);
    let (s, v, _) = get_with(
        a,
        "/api/v1/aggregate?site=public.example&from=2026-03-28&to=2026-03-29",
        "",
    )
    .await;
    assert_eq!(
        (s, v["metrics"]["pageviews"].as_u64()),
        (200, Some(26)),
        "public dashboard: no key"
    );

    // CORS only for listed origins.
    let (_, _, r) = get_with(
        a,
        path,
        &format!("Authorization: Bearer {KEY}\r\nOrigin: https://intranet.example\r\n"),
    )
    .await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://intranet.example")
    );
    let (_, _, r) = get_with(
        a,
        path,
        &format!("Authorization: Bearer {KEY}\r\nOrigin: https://evil.example\r\n"),
    )
    .await;
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = raw(a, &format!("OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: https://intranet.example\r\nAccess-Control-Request-Headers: authorization\r\n"), b"").await;
    assert_eq!(r.status, 204);
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("Authorization")
    );

    let b = "/api/v1/breakdown?site=example.com&from=2026-03-01&to=2026-03-29";
    for (url, param) in [
        ("/api/v1/aggregate?from=2026-03-01&to=2026-03-02", "`site`"),
        ("/api/v1/aggregate?site=example.com&to=2026-03-02", "`from`"),
        (
            "/api/v1/aggregate?site=example.com&from=2026-02-30&to=2026-03-02",
            "`from`",
        ),
        (
            "/api/v1/aggregate?site=example.com&from=2026-03-02&to=2026-03-01",
            "`to`",
        ),
        (
            "/api/v1/aggregate?site=example.com&from=2020-01-01&to=2026-03-01",
            "`to`",
        ),
        (
            "/api/v1/aggregate?site=example.com&from=2026-03-01&to=2026-03-02&compare=last-year",
            "`compare`",
        ),
        (
            "/api/v1/timeseries?site=example.com&from=2026-03-01&to=2026-03-02&interval=year",
            "`interval`",
        ),
        (
            "/api/v1/timeseries?site=example.com&from=2026-01-01&to=2026-03-02&interval=hour",
            "`interval`",
        ),
        (&format!("{b}&dimension=nope"), "`dimension`"),
        (b, "`dimension`"),
        (&format!("{b}&dimension=page&limit=0"), "`limit`"),
        (&format!("{b}&dimension=page&limit=5000"), "`limit`"),
        (&format!("{b}&dimension=page&page=x"), "`page`"),
        (
            &format!("{b}&dimension=entry_page&sort=pageviews"),
            "`sort`",
        ),
        (&format!("{b}&dimension=page&event=signup"), "`event`"),
        (&format!("{b}&dimension=page&filter=nonsense"), "`filter`"),
        (
            "/api/v1/aggregate?site=example.com&from=2026-03-01&to=2026-03-02&filter=page:/a*",
            "`filter`",
        ),
    ] {
        let (s, e) = status(a, url).await;
        assert_eq!(s, 400, "{url}: {e}");
        assert!(e.contains(param), "{url}: {e} should name {param}");
    }
    // A filter on another dimension needs the declared pair of the two.
    let (s, e) = status(a, &format!("{b}&dimension=page&filter=device:mobile")).await;
    assert_eq!(s, 400);
    assert!(
        e.contains("page × device is not a stored pair (declare the pair `page*device`"),
        "{e}"
    );
    assert!(
        e.contains("this site stores page*source, page*country"),
        "{e}"
    );
    let (s, e) = status(a, "/api/v1/aggregate?site=example.com&from=2026-03-01&to=2026-03-02&filter=page:/a&filter=device:mobile").await;
    assert!(s == 400 && e.contains("cannot be filtered by"), "{e}");
    let (s, e) = status(a, &format!("{b}&dimension=browser&filter=screen:x")).await;
    assert!(s == 400 && e.contains("veil cannot store that pair"), "{e}");
    assert_eq!(
        status(
            a,
            "/api/v1/aggregate?site=nope.example&from=2026-03-01&to=2026-03-02"
        )
        .await
        .0,
        401,
        "an unknown site is refused like a known one without its key"
    );
    assert_eq!(status(a, "/api/v1/nothing?site=example.com").await.0, 404);
    let r = raw(
        a,
        "POST /api/v1/aggregate HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n",
        b"",
    )
    .await;
    assert_eq!(r.status, 405);
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn realtime_counts_live_hits_from_memory() {
    let db = TestDb::new("stats_realtime").await;
    let veil = TestVeil::start(stats_config(&db)).await;
    let a = veil.addr;
    for (ip, ua, page) in [
        ("81.2.69.142", CHROME_WIN, "/"),
        ("81.2.69.142", CHROME_WIN, "/pricing"),
        ("216.160.83.56", FIREFOX_LINUX, "/"),
    ] {
        pixel(a, &format!("s=example.com&u={page}"), ip, ua, "").await;
    }
    let r = collect(
        a,
        r#"{"site":"example.com","url":"/","event":"signup"}"#,
        "216.160.83.56",
        FIREFOX_LINUX,
        "",
    )
    .await;
    assert_eq!(r.status, 202);
    pixel(a, "s=utc.example&u=/", "81.2.69.142", CHROME_WIN, "").await;
    let v = get(a, "/api/v1/realtime?site=example.com").await;
    assert_eq!(
        v,
        json!({"site": "example.com",
               "last_5_minutes": {"visitors": 2, "pageviews": 3},
               "last_30_minutes": {"visitors": 2, "pageviews": 3}})
    );
    let v = get(a, "/api/v1/realtime?site=utc.example").await;
    assert_eq!(v["last_5_minutes"]["pageviews"], 1);
    veil.stop().await;
    db.drop().await;
}

/// Every `405` veil gives — the stats API, the dashboard, the beacon endpoints,
/// the pages and the probes — carries `Allow` (RFC 9110), and each method it
/// lists is really answered there (not with 405).
#[tokio::test]
async fn stats_and_every_other_405_carries_allow() {
    let db = TestDb::new("stats_allow").await;
    let veil = TestVeil::start(stats_config(&db)).await;
    let a = veil.addr;
    let send = |method: &str, path: &str| {
        let head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n");
        async move { raw(a, &head, b"").await }
    };
    let api = "GET, HEAD, OPTIONS";
    for (method, path, allow) in [
        ("POST", "/api/v1/aggregate?site=example.com", api),
        ("DELETE", "/api/v1/openapi.json", api),
        ("PUT", "/api/v1/nothing", api),
        ("POST", "/dashboard/example.com", "GET, HEAD"),
        ("DELETE", "/dashboard/-/app.js", "GET, HEAD"),
        ("POST", "/p.gif", "GET, HEAD"),
        ("DELETE", "/t.js", "GET, HEAD"),
        ("GET", "/api/collect", "POST, OPTIONS"),
        ("PUT", "/api/event", "POST, OPTIONS"),
        ("GET", "/api/send", "POST, OPTIONS"),
        ("POST", "/health", "GET"),
        ("HEAD", "/ready", "GET"),
        ("DELETE", "/metrics", "GET"),
        ("POST", "/privacy", "GET, HEAD"),
        ("PUT", "/privacy.json", "GET, HEAD"),
        ("DELETE", "/optout", "GET, HEAD, POST"),
    ] {
        let r = send(method, path).await;
        assert_eq!(r.status, 405, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
        let bare = path.split('?').next().unwrap();
        for m in allow.split(", ") {
            let r = send(m, &format!("{bare}?site=example.com")).await;
            assert_ne!(r.status, 405, "{m} {bare} is listed in Allow");
        }
    }
    // OPTIONS on the API says the same.
    let r = send("OPTIONS", "/api/v1/site?site=example.com").await;
    assert_eq!((r.status, r.header("allow")), (204, Some(api)));
    veil.stop().await;
    db.drop().await;
}

/// Resolves `$ref` and merges `allOf`: the keys an object schema requires.
fn required(doc: &Value, schema: &Value) -> (Vec<String>, Value) {
    let schema = resolve(doc, schema);
    let mut keys: Vec<String> = schema["required"]
        .as_array()
        .map(|a| a.iter().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default();
    let mut props = schema["properties"].clone();
    if let Some(parts) = schema["allOf"].as_array() {
        for p in parts {
            let (k, pr) = required(doc, p);
            keys.extend(k);
            if let (Some(into), Some(from)) = (props.as_object_mut(), pr.as_object()) {
                for (name, v) in from {
                    into.entry(name.clone()).or_insert(v.clone());
                }
            } else if props.is_null() {
                props = pr;
            }
        }
    }
    (keys, props)
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

/// Checks `value` has every key `schema` requires, recursing into documented
/// object properties and array items.
fn check_shape(doc: &Value, schema: &Value, value: &Value, at: &str) {
    if value.is_null() {
        return;
    }
    let (keys, props) = required(doc, schema);
    for k in &keys {
        assert!(
            value.get(k).is_some(),
            "{at}: documented key `{k}` missing in {value}"
        );
    }
    let Some(props) = props.as_object() else {
        return;
    };
    for (name, sub) in props {
        let Some(v) = value.get(name) else { continue };
        let sub = resolve(doc, sub);
        if let Some(items) = sub.get("items") {
            for (i, item) in v.as_array().into_iter().flatten().enumerate().take(3) {
                check_shape(doc, items, item, &format!("{at}.{name}[{i}]"));
            }
        } else if v.is_object() {
            check_shape(doc, sub, v, &format!("{at}.{name}"));
        }
    }
}

#[tokio::test]
async fn every_documented_path_answers_with_the_documented_shape() {
    let db = TestDb::new("stats_openapi").await;
    seed_known(&db, &["example.com"]).await;
    let veil = TestVeil::start(stats_config(&db)).await;
    let a = veil.addr;
    let doc = get(a, "/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 7);
    // Values for the parameters, so every call is valid and finds data.
    let value_of = |name: &str, path: &str| -> Option<String> {
        Some(match name {
            "site" => "example.com".into(),
            "from" => "2026-03-28".into(),
            "to" => "2026-03-29".into(),
            "dimension" => "page".into(),
            "compare" => "previous".into(),
            "interval" => "day".into(),
            "filter" if path.ends_with("breakdown") => "page:/*".into(),
            "filter" => "page:/a".into(),
            "limit" => "5".into(),
            "page" => "1".into(),
            "sort" => "visitors".into(),
            _ => return None,
        })
    };
    let mut csv_paths = Vec::new();
    for (path, item) in paths {
        let op = &item["get"];
        let mut query = Vec::new();
        for p in op["parameters"].as_array().into_iter().flatten() {
            let p = match p["$ref"].as_str() {
                Some(r) => {
                    &doc["components"]["parameters"]
                        [r.trim_start_matches("#/components/parameters/")]
                }
                None => p,
            };
            let name = p["name"].as_str().unwrap();
            if let Some(v) = value_of(name, path) {
                query.push(format!("{name}={v}"));
            }
        }
        let url = format!("{path}?{}", query.join("&"));
        let v = get(a, &url).await;
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{path} documents its 200 answer");
        check_shape(&doc, schema, &v, path);
        // A path documented with a CSV answer gives one for the same query.
        if op["responses"]["200"]["content"]["text/csv"].is_object() {
            csv_paths.push(path.trim_start_matches("/api/v1/"));
            let documented = op["parameters"].as_array().into_iter().flatten();
            assert!(
                documented
                    .into_iter()
                    .any(|p| p["$ref"] == "#/components/parameters/format"),
                "{path} documents `format`"
            );
            let auth = format!("Authorization: Bearer {KEY}\r\n");
            let (status, _, r) = get_with(a, &format!("{url}&format=csv"), &auth).await;
            assert_eq!(status, 200, "{path} as CSV: {}", r.text());
            assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
        }
        for code in ["400", "401", "429", "503"] {
            if path.ends_with("openapi.json") {
                continue;
            }
            assert!(op["responses"][code].is_object(), "{path} documents {code}");
        }
    }
    csv_paths.sort_unstable();
    let mut tables = veil::stats::export::TABLE_ENDPOINTS.to_vec();
    tables.sort_unstable();
    assert_eq!(
        csv_paths, tables,
        "the paths documented with CSV are the table endpoints"
    );
    // The documented dimensions are the ones the API accepts.
    let dims: Vec<&str> = doc["components"]["parameters"]["dimension"]["schema"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(dims, veil::stats::params::dimension_names());
    // The bounds and enums the document states are the server's.
    let params = &doc["components"]["parameters"];
    let sorts: Vec<&str> = params["sort"]["schema"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    let all: Vec<&str> = veil::stats::params::Sort::ALL
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(sorts, all);
    assert_eq!(
        params["limit"]["schema"]["maximum"],
        veil::stats::params::MAX_LIMIT
    );
    for name in ["filter", "groupFilter"] {
        let pattern = params[name]["schema"]["items"]["pattern"].as_str().unwrap();
        assert!(
            pattern.starts_with(&format!("^({}):", dims.join("|"))),
            "{name}: {pattern}"
        );
    }
    for name in ["from", "to"] {
        assert_eq!(params[name]["schema"]["format"], "date");
        assert!(params[name]["schema"]["pattern"]
            .as_str()
            .unwrap()
            .starts_with("^2[01][0-9]{2}-"));
    }
    // Every path documents its 405 and the `Allow` it carries.
    let not_allowed = &doc["components"]["responses"]["MethodNotAllowed"];
    assert!(not_allowed["headers"]["Allow"].is_object());
    for (path, item) in paths {
        assert_eq!(
            item["get"]["responses"]["405"]["$ref"], "#/components/responses/MethodNotAllowed",
            "{path}"
        );
    }
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn comparisons_with_the_previous_period_and_a_year_earlier() {
    let db = TestDb::new("stats_compare").await;
    seed_known(&db, &["utc.example"]).await;
    // The same dates a year earlier: 2025-03-28.
    let y = utc(2025, 3, 28, 10);
    insert(
        &db,
        &["utc.example"],
        &[
            pv(y, "total", "", 5, &[21, 22, 23]),
            pv(y, "page", "/a", 4, &[21, 22]),
            pv(y, "page", "/b", 1, &[23]),
        ],
    )
    .await;
    // Closed a year ago, open now: both stores answer.
    db.close_days(u64::from(utc(2025, 3, 30, 0))).await;
    let veil = TestVeil::start(stats_config(&db)).await;
    let a = veil.addr;
    let q = "site=utc.example&from=2026-03-28&to=2026-03-28";

    let v = get(a, &format!("/api/v1/aggregate?{q}&compare=year")).await;
    assert_eq!(v["comparison"], "year");
    assert_eq!(
        v["previous_period"],
        json!({"from": "2025-03-28", "to": "2025-03-28"})
    );
    assert_eq!(v["previous"]["pageviews"], 5);
    assert_eq!(v["previous"]["visitors"], 3);
    let v = get(a, &format!("/api/v1/aggregate?{q}&compare=previous")).await;
    assert_eq!(v["comparison"], "previous");
    assert_eq!(
        v["previous_period"],
        json!({"from": "2026-03-27", "to": "2026-03-27"})
    );
    assert_eq!(v["previous"]["pageviews"], 0);

    let v = get(
        a,
        &format!("/api/v1/timeseries?{q}&interval=day&compare=year"),
    )
    .await;
    assert_eq!(v["previous"][0]["label"], "2025-03-28");
    assert_eq!(v["previous"][0]["pageviews"], 5);

    // Breakdown: previous numbers only for values that range names (k = 2):
    // /a had 2 visitors a year ago, /b only 1 (folded there, so null).
    let v = get(
        a,
        &format!("/api/v1/breakdown?{q}&dimension=page&compare=year"),
    )
    .await;
    assert_eq!(v["comparison"], "year");
    let row = |name: &str| {
        v["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["value"] == name)
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(row("/a")["previous"]["pageviews"], 4);
    assert_eq!(row("/a")["previous"]["visitors"], 2);
    assert!(v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["value"] == "/a" || r["previous"].is_null()));
    let (s, e) = status(a, &format!("/api/v1/aggregate?{q}&compare=decade")).await;
    assert_eq!(s, 400);
    assert!(e.contains("`year`"), "{e}");
    veil.stop().await;
    db.drop().await;
}
