//! CSV export over real HTTP against a real ClickHouse: every table endpoint's
//! CSV is its JSON answer rendered — the same rows in the same order, the same
//! suppression (`(other)`, suppressed buckets, goals and funnel steps) — with RFC
//! 4180 quoting, formula-looking values defused, and the format chosen by
//! `format=` or `Accept`; errors stay JSON.

use serde_json::Value;

use veil::config::{Config, FunnelConfig, GoalConfig, StepConfig};
use veil::model::Counters;

use crate::harness::*;
use crate::stats::{cell, insert, pv, stats_site, utc, Cell, KEY};

const SITE: &str = "utc.example";
const Q: &str = "site=utc.example&from=2026-03-28&to=2026-03-28";
/// A value with a comma, quotes and a line break.
const AWKWARD: &str = "/q,\"x\"\nline";
/// Values a spreadsheet would take for formulas.
const FORMULA: &str = "=HYPERLINK(\"http://x.example\",\"y\")";
const AT: &str = "@SUM(A1)";
const MINUS: &str = "-2+3";

fn export_config(db: &TestDb) -> Config {
    let mut c = config(db);
    let mut s = stats_site(SITE, "UTC", 2);
    let goal = |name: &str, event: Option<&str>, page: Option<&str>| GoalConfig {
        name: name.into(),
        event: event.map(Into::into),
        page: page.map(Into::into),
    };
    s.goals = vec![
        goal("Signup", Some("signup"), None),
        goal("Pricing", None, Some("/pricing")),
        goal("Rare", Some("rare"), None),
    ];
    let step = |event: Option<&str>, page: Option<&str>| StepConfig {
        event: event.map(Into::into),
        page: page.map(Into::into),
    };
    s.funnels = vec![FunnelConfig {
        name: "Checkout".into(),
        steps: vec![
            step(None, Some("/pricing")),
            step(Some("signup"), None),
            step(Some("purchase"), None),
        ],
    }];
    c.sites = vec![s];
    c.server.cors_origins = vec!["https://intranet.example".into()];
    c
}

fn with(c: Counters, base: Cell<'_>) -> Cell<'_> {
    Cell { c, ..base }
}

fn hits(n: u64) -> Counters {
    Counters {
        hits: n,
        ..Counters::default()
    }
}

fn events(n: u64) -> Counters {
    Counters {
        events: n,
        ..Counters::default()
    }
}

fn visits(n: u64) -> Counters {
    Counters {
        visits: n,
        ..Counters::default()
    }
}

/// 2026-03-28 (k = 2) and a little of the day before, for comparisons.
async fn seed(db: &TestDb) {
    let h = utc(2026, 3, 28, 10);
    let h2 = utc(2026, 3, 28, 14);
    let h3 = utc(2026, 3, 28, 16);
    let p = utc(2026, 3, 27, 10);
    let all: &[u64] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    let cells = vec![
        with(
            Counters {
                pageviews: 40,
                visits: 12,
                bounces: 4,
                duration: 1_200,
                events: 5,
                ..Counters::default()
            },
            cell(h, "total", "", all),
        ),
        pv(h, "page", "/a", 10, &[1, 2, 3, 4]),
        pv(h, "page", AWKWARD, 6, &[5, 6, 7]),
        pv(h, "page", FORMULA, 5, &[8, 9]),
        pv(h, "page", AT, 4, &[10, 11]),
        pv(h, "page", MINUS, 3, &[11, 12]),
        pv(h, "page", "/small", 1, &[12]),
        pv(h, "page", "/tiny", 1, &[1]),
        // /a later that day: one visitor (suppressed), then two (suppressed too,
        // so the day's total minus the shown hour does not reveal the first).
        pv(h2, "page", "/a", 1, &[5]),
        pv(h3, "page", "/a", 2, &[6, 7]),
        with(
            events(3),
            cell(h, "prop", "signup\u{1f}plan\u{1f}free", &[1, 2]),
        ),
        with(
            events(2),
            cell(h, "prop", "signup\u{1f}plan\u{1f}=cmd", &[3, 4]),
        ),
        with(events(1), cell(h, "prop", "signup\u{1f}plan\u{1f}x", &[5])),
        with(visits(3), cell(h, "source", "search", &[1, 2, 7])),
        with(visits(3), cell(h, "source", "=evil", &[4, 5, 8])),
        with(hits(5), cell(h, "goal", "Signup", &[1, 2, 3])),
        with(hits(4), cell(h, "goal", "Pricing", &[4, 5])),
        with(hits(1), cell(h, "goal", "Rare", &[6])),
        with(
            hits(3),
            cell(h, "source*goal", "search\u{1f}Signup", &[1, 2]),
        ),
        with(hits(2), cell(h, "source*goal", "direct\u{1f}Signup", &[3])),
        with(
            hits(4),
            cell(h, "source*goal", "=evil\u{1f}Pricing", &[4, 5]),
        ),
        with(
            Counters {
                hits: 2,
                revenue: 12_500,
                ..Counters::default()
            },
            cell(h, "goal*currency", "Signup\u{1f}EUR", &[1, 2]),
        ),
        with(
            visits(5),
            cell(h, "funnel", "Checkout\u{1f}01", &[1, 2, 3, 4, 5]),
        ),
        with(visits(3), cell(h, "funnel", "Checkout\u{1f}02", &[1, 2, 3])),
        with(visits(1), cell(h, "funnel", "Checkout\u{1f}03", &[1])),
        // The day before.
        with(
            Counters {
                pageviews: 20,
                visits: 6,
                ..Counters::default()
            },
            cell(p, "total", "", &[1, 2, 3, 4, 5, 6]),
        ),
        pv(p, "page", "/a", 8, &[1, 2, 3]),
        pv(p, "page", AT, 1, &[4]),
        with(hits(2), cell(p, "goal", "Signup", &[1, 2])),
    ];
    insert(db, &[SITE], &cells).await;
}

/// GET with the key and extra header lines.
async fn get(addr: std::net::SocketAddr, path: &str, extra: &str) -> Reply {
    raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {KEY}\r\n{extra}"),
        b"",
    )
    .await
}

async fn json(addr: std::net::SocketAddr, path: &str) -> Value {
    let r = get(addr, path, "").await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).expect("JSON")
}

/// The CSV answer as (header, records), after checking its headers.
async fn fetch_csv(addr: std::net::SocketAddr, path: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let r = get(addr, path, "").await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert_eq!(r.header("content-type"), Some("text/csv; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    let disposition = r.header("content-disposition").unwrap_or("");
    assert!(
        disposition.starts_with("attachment; filename=\"utc.example-"),
        "{disposition}"
    );
    assert!(r.body.ends_with(b"\r\n"), "records end with CRLF");
    parse(&r.body)
}

fn parse(body: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let mut rd = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body);
    let mut all: Vec<Vec<String>> = rd
        .records()
        .map(|r| r.expect("CSV record").iter().map(str::to_string).collect())
        .collect();
    assert!(!all.is_empty(), "a header record");
    let header = all.remove(0);
    (header, all)
}

/// A cell as the documentation says: numbers as in JSON, `null` empty, text
/// that looks like a formula behind a `'`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.starts_with(['=', '+', '-', '@', '\t', '\r']) => format!("'{s}"),
        Value::String(s) => s.clone(),
        other => panic!("not a cell: {other}"),
    }
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// A breakdown's records from its JSON: its rows, then `(other)`.
fn breakdown_records(a: &Value, header: &[String]) -> Vec<Vec<String>> {
    let record = |r: &Value, other: bool| {
        header
            .iter()
            .map(|c| match (c.as_str(), c.strip_prefix("previous_")) {
                ("other", _) => other.to_string(),
                (_, Some(m)) => text(&r["previous"][m]),
                _ => text(&r[c.as_str()]),
            })
            .collect::<Vec<_>>()
    };
    let mut out: Vec<Vec<String>> = a["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| record(r, false))
        .collect();
    if !a["other"].is_null() {
        out.push(record(&a["other"], true));
    }
    out
}

fn timeseries_records(a: &Value, header: &[String]) -> Vec<Vec<String>> {
    let buckets = a["buckets"].as_array().unwrap();
    (0..buckets.len())
        .map(|i| {
            header
                .iter()
                .map(|c| match c.strip_prefix("previous_") {
                    Some("suppressed") if a["previous"].is_null() => "true".into(),
                    Some(m) => text(&a["previous"][i][m]),
                    None => text(&buckets[i][c.as_str()]),
                })
                .collect()
        })
        .collect()
}

fn aggregate_records(a: &Value, header: &[String]) -> Vec<Vec<String>> {
    vec![header
        .iter()
        .map(|c| {
            if let Some(m) = c.strip_prefix("previous_") {
                text(&a["previous"][m])
            } else if let Some(m) = c.strip_prefix("change_") {
                text(&a["change"][m])
            } else {
                text(&a["metrics"][c.as_str()])
            }
        })
        .collect()]
}

fn goal_records(a: &Value, header: &[String]) -> Vec<Vec<String>> {
    let by = a["by"].as_str();
    let mut out = Vec::new();
    for g in a["goals"].as_array().unwrap() {
        let own = |c: &str| -> String {
            match (c, c.strip_prefix("previous_")) {
                ("goal", _) => text(&g["name"]),
                ("goal_event", _) => text(&g["event"]),
                ("goal_page", _) => text(&g["page"]),
                ("revenue", _) => g["revenue"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| format!("{} {}", text(&r["currency"]), text(&r["amount"])))
                    .collect::<Vec<_>>()
                    .join("; "),
                (_, Some(m)) => text(&g["previous"][m]),
                _ if Some(c) == by => String::new(),
                _ => text(&g[c]),
            }
        };
        out.push(header.iter().map(|c| own(c)).collect());
        for r in g["by"].as_array().into_iter().flatten() {
            out.push(
                header
                    .iter()
                    .map(|c| match c.as_str() {
                        "goal" | "goal_event" | "goal_page" => own(c),
                        "suppressed" => "false".into(),
                        "completions" | "visitors" | "conversion_rate" => text(&r[c.as_str()]),
                        c if Some(c) == by => text(&r["value"]),
                        _ => String::new(),
                    })
                    .collect(),
            );
        }
    }
    out
}

fn funnel_records(a: &Value, header: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for f in a["funnels"].as_array().unwrap() {
        for s in f["steps"].as_array().unwrap() {
            out.push(
                header
                    .iter()
                    .map(|c| match c.as_str() {
                        "funnel" => text(&f["name"]),
                        c => text(&s[c]),
                    })
                    .collect(),
            );
        }
    }
    out
}

/// Where a column is.
fn col(header: &[String], name: &str) -> usize {
    header
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {header:?}"))
}

#[tokio::test]
async fn csv_answers_are_the_json_answers_rendered() {
    let db = TestDb::new("export_tables").await;
    seed(&db).await;
    let veil = TestVeil::start(export_config(&db)).await;
    let a = veil.addr;
    let page_metrics = [
        "visitors",
        "pageviews",
        "events",
        "time_on_page",
        "scroll_depth",
    ];

    // Breakdowns: rows in the JSON's order, then (other), marked.
    for extra in ["", "&limit=2&page=2", "&sort=visitors", "&compare=previous"] {
        let path = format!("/api/v1/breakdown?{Q}&dimension=page{extra}");
        let j = json(a, &path).await;
        let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
        let mut want = vec!["value"];
        want.extend(page_metrics);
        let previous: Vec<String> = page_metrics
            .iter()
            .map(|m| format!("previous_{m}"))
            .collect();
        let mut want = strs(&want);
        if extra.contains("compare") {
            want.extend(previous);
        }
        want.extend(strs(&["other", "groups"]));
        assert_eq!(header, want, "{extra}");
        assert_eq!(records, breakdown_records(&j, &header), "{extra}");
        let last = records.last().unwrap();
        assert_eq!(last[0], "(other)");
        assert_eq!(last[col(&header, "other")], "true");
        assert_eq!(last[col(&header, "groups")], "2", "/small and /tiny");
        assert_eq!(last[col(&header, "visitors")], "2");
        assert!(!records.iter().any(|r| r[0] == "/small" || r[0] == "/tiny"));
    }
    let path = format!("/api/v1/breakdown?{Q}&dimension=page");
    let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
    let values: Vec<&str> = records.iter().map(|r| r[0].as_str()).collect();
    let defused = [format!("'{FORMULA}"), format!("'{AT}"), format!("'{MINUS}")];
    assert_eq!(
        values,
        [
            "/a",
            AWKWARD,
            &defused[0],
            &defused[1],
            &defused[2],
            "(other)"
        ]
    );
    assert_eq!(records[0][col(&header, "pageviews")], "13");
    // Compared: previous numbers only where the previous day names the value.
    let (header, records) = fetch_csv(a, &format!("{path}&compare=previous&format=csv")).await;
    assert_eq!(records[0][col(&header, "previous_pageviews")], "8");
    assert_eq!(records[3][0], format!("'{AT}"));
    assert_eq!(
        records[3][col(&header, "previous_pageviews")],
        "",
        "below k the day before"
    );

    // A property breakdown: event, key and value.
    let path = format!("/api/v1/breakdown?{Q}&dimension=prop");
    let j = json(a, &path).await;
    let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
    assert_eq!(
        header,
        strs(&["event", "key", "value", "visitors", "events", "other", "groups"])
    );
    assert_eq!(records, breakdown_records(&j, &header));
    assert_eq!(
        records,
        [
            strs(&["signup", "plan", "free", "2", "3", "false", ""]),
            strs(&["signup", "plan", "'=cmd", "2", "2", "false", ""]),
            strs(&["", "", "(other)", "1", "1", "true", "1"]),
        ]
    );

    // A group's time series: the suppressed hours are empty cells.
    for extra in ["", "&compare=previous"] {
        let path = format!("/api/v1/timeseries?{Q}&interval=hour&filter=page:/a{extra}");
        let j = json(a, &path).await;
        let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
        let mut want = vec!["label", "start"];
        want.extend(page_metrics);
        want.push("suppressed");
        let mut want = strs(&want);
        if !extra.is_empty() {
            let prev: Vec<String> = want.iter().map(|c| format!("previous_{c}")).collect();
            want.extend(prev);
        }
        assert_eq!(header, want);
        assert_eq!(records.len(), 24);
        assert_eq!(records, timeseries_records(&j, &header));
        let s = col(&header, "suppressed");
        let v = col(&header, "visitors");
        assert_eq!(
            (records[10][v].as_str(), records[10][s].as_str()),
            ("4", "false")
        );
        for hour in [14, 16] {
            assert_eq!(records[hour][s], "true", "hour {hour}");
            assert_eq!(records[hour][v], "", "hour {hour}");
            assert_eq!(records[hour][col(&header, "pageviews")], "");
        }
        assert_eq!(records[12][v], "0", "an empty hour is shown");
        if !extra.is_empty() {
            assert_eq!(records[10][col(&header, "previous_pageviews")], "8");
            assert_eq!(
                records[10][col(&header, "previous_label")],
                "2026-03-27 10:00"
            );
        }
    }
    // The site's daily series, compared.
    let path = format!("/api/v1/timeseries?{Q}&interval=day&compare=previous");
    let j = json(a, &path).await;
    let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
    assert_eq!(
        &header[..4],
        &strs(&["label", "start", "visitors", "pageviews"])[..]
    );
    assert_eq!(records, timeseries_records(&j, &header));

    // Aggregates: one record, with the comparison's numbers and changes.
    for extra in ["", "&compare=previous", "&filter=page:/a"] {
        let path = format!("/api/v1/aggregate?{Q}{extra}");
        let j = json(a, &path).await;
        let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
        assert_eq!(records, aggregate_records(&j, &header), "{extra}");
        assert_eq!(header[0], "visitors");
    }
    let (header, records) = fetch_csv(
        a,
        &format!("/api/v1/aggregate?{Q}&compare=previous&format=csv"),
    )
    .await;
    assert_eq!(
        &header[..8],
        &strs(&[
            "visitors",
            "pageviews",
            "visits",
            "bounce_rate",
            "visit_duration",
            "views_per_visit",
            "events",
            "time_on_page"
        ])[..]
    );
    assert_eq!(records[0][col(&header, "pageviews")], "40");
    assert_eq!(records[0][col(&header, "previous_pageviews")], "20");
    assert_eq!(records[0][col(&header, "change_pageviews")], "1.0");

    // Goals: a goal below k is suppressed, numbers empty.
    let path = format!("/api/v1/goals?{Q}");
    let j = json(a, &path).await;
    let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
    assert_eq!(
        header,
        strs(&[
            "goal",
            "goal_event",
            "goal_page",
            "suppressed",
            "completions",
            "visitors",
            "conversion_rate",
            "revenue"
        ])
    );
    assert_eq!(records, goal_records(&j, &header));
    assert_eq!(
        records,
        [
            strs(&["Signup", "signup", "", "false", "5", "3", "0.25", "EUR 12.5"]),
            strs(&["Pricing", "", "/pricing", "false", "4", "2", "0.1667", ""]),
            strs(&["Rare", "rare", "", "true", "", "", "", ""]),
        ]
    );
    // By source, compared: each goal, then its named sources.
    let path = format!("/api/v1/goals?{Q}&by=source&compare=previous");
    let j = json(a, &path).await;
    let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
    assert_eq!(&header[..3], &strs(&["goal", "source", "goal_event"])[..]);
    assert_eq!(
        &header[8..],
        &strs(&[
            "revenue",
            "previous_suppressed",
            "previous_completions",
            "previous_visitors",
            "previous_conversion_rate"
        ])[..]
    );
    assert_eq!(records, goal_records(&j, &header));
    let firsts: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        firsts,
        [
            ("Signup", ""),
            ("Signup", "search"),
            ("Pricing", ""),
            ("Pricing", "'=evil"),
            ("Rare", ""),
        ],
        "direct×Signup has one visitor: not named"
    );
    assert_eq!(records[0][col(&header, "previous_completions")], "2");
    assert_eq!(records[2][col(&header, "previous_suppressed")], "true");
    assert_eq!(records[1][col(&header, "conversion_rate")], "0.6667");

    // Funnels: the last step has one visitor and is suppressed.
    let path = format!("/api/v1/funnels?{Q}");
    let j = json(a, &path).await;
    let (header, records) = fetch_csv(a, &format!("{path}&format=csv")).await;
    assert_eq!(
        header,
        strs(&[
            "funnel",
            "step",
            "label",
            "event",
            "page",
            "suppressed",
            "visits",
            "visitors",
            "conversion_rate",
            "dropoff",
            "dropoff_rate"
        ])
    );
    assert_eq!(records, funnel_records(&j, &header));
    assert_eq!(
        records[0],
        strs(&["Checkout", "1", "/pricing", "", "/pricing", "false", "5", "5", "1.0", "2", "0.4"])
    );
    assert_eq!(records[2][col(&header, "suppressed")], "true");
    assert_eq!(records[2][col(&header, "visits")], "");

    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn csv_quoting_negotiation_headers_and_errors() {
    let db = TestDb::new("export_http").await;
    seed(&db).await;
    let veil = TestVeil::start(export_config(&db)).await;
    let a = veil.addr;
    let path = format!("/api/v1/breakdown?{Q}&dimension=page");

    // RFC 4180 on the wire: CRLF record ends, quotes doubled, the line break kept
    // inside its quoted field; formulas behind a `'`.
    let r = get(a, &format!("{path}&format=csv"), "").await;
    let body = r.text();
    assert!(body.starts_with(
        "value,visitors,pageviews,events,time_on_page,scroll_depth,other,groups\r\n/a,7,13,0,,,false,\r\n"
    ), "{body}");
    assert!(
        body.contains("\r\n\"/q,\"\"x\"\"\nline\",3,6,0,,,false,\r\n"),
        "{body}"
    );
    assert!(
        body.contains("\r\n\"'=HYPERLINK(\"\"http://x.example\"\",\"\"y\"\")\",2,5,"),
        "{body}"
    );
    assert!(body.contains("\r\n'@SUM(A1),2,4,"), "{body}");
    assert!(body.contains("\r\n'-2+3,2,3,"), "{body}");
    assert!(body.ends_with("\r\n(other),2,2,0,,,true,2\r\n"), "{body}");
    assert_eq!(
        r.header("content-disposition"),
        Some("attachment; filename=\"utc.example-breakdown-page-2026-03-28-2026-03-28.csv\"")
    );
    let vary: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("vary"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(vary.contains(&"Accept"), "{vary:?}");
    let goals = get(a, &format!("/api/v1/goals?{Q}&format=csv"), "").await;
    assert_eq!(
        goals.header("content-disposition"),
        Some("attachment; filename=\"utc.example-goals-2026-03-28-2026-03-28.csv\"")
    );

    // `Accept: text/csv` gives the same body; JSON whenever it is not preferred;
    // `format` wins.
    let csv_type = Some("text/csv; charset=utf-8");
    let json_type = Some("application/json");
    for (accept, query, want) in [
        ("text/csv", "", csv_type),
        ("application/json;q=0.5, text/csv", "", csv_type),
        ("text/csv;q=0.5, application/json", "", json_type),
        ("*/*", "", json_type),
        ("text/csv, application/json", "", json_type),
        ("text/csv", "&format=json", json_type),
        ("application/json", "&format=csv", csv_type),
    ] {
        let r = get(
            a,
            &format!("{path}{query}"),
            &format!("Accept: {accept}\r\n"),
        )
        .await;
        assert_eq!(r.status, 200, "{accept} {query}");
        assert_eq!(r.header("content-type"), want, "{accept} {query}");
        if want == csv_type {
            assert_eq!(r.text(), body, "{accept} {query}");
        }
    }

    // CORS as for JSON, and the file name readable across origins.
    let origin = "Origin: https://intranet.example\r\n";
    let j = get(a, &path, origin).await;
    let c = get(a, &format!("{path}&format=csv"), origin).await;
    for name in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "cache-control",
    ] {
        assert!(j.header(name).is_some(), "{name}");
        assert_eq!(c.header(name), j.header(name), "{name}");
    }
    assert_eq!(
        c.header("access-control-expose-headers"),
        Some("Content-Disposition")
    );
    let evil = get(
        a,
        &format!("{path}&format=csv"),
        "Origin: https://evil.example\r\n",
    )
    .await;
    assert_eq!(evil.header("access-control-allow-origin"), None);

    // Errors stay JSON, with their status.
    let error = |r: &Reply| -> String {
        assert_eq!(r.header("content-type"), json_type, "{}", r.text());
        let v: Value = serde_json::from_slice(&r.body).expect("JSON error");
        v["error"].as_str().unwrap_or("").to_string()
    };
    let r = get(a, &format!("{path}&format=xml"), "").await;
    assert_eq!(r.status, 400);
    assert!(error(&r).contains("`format`"));
    let only = "CSV is available for aggregate, timeseries, breakdown, goals and funnels";
    for endpoint in [
        "site?site=utc.example",
        "realtime?site=utc.example",
        &format!("consent?{Q}"),
        "openapi.json?x=1",
    ] {
        let r = get(a, &format!("/api/v1/{endpoint}&format=csv"), "").await;
        assert_eq!(r.status, 400, "{endpoint}");
        assert!(error(&r).contains(only), "{endpoint}");
        let r = get(a, &format!("/api/v1/{endpoint}"), "Accept: text/csv\r\n").await;
        assert_eq!(r.status, 400, "{endpoint}");
        assert!(error(&r).contains(only), "{endpoint}");
        let r = get(
            a,
            &format!("/api/v1/{endpoint}"),
            "Accept: text/csv, application/json;q=0.1\r\n",
        )
        .await;
        assert_eq!(r.status, 200, "{endpoint}: JSON is acceptable");
        assert_eq!(r.header("content-type"), json_type);
    }
    let r = get(a, &format!("/api/v1/breakdown?{Q}&format=csv"), "").await;
    assert_eq!(r.status, 400);
    assert!(error(&r).contains("`dimension`"));
    let r = get(
        a,
        &format!("/api/v1/aggregate?{Q}&filter=page:/small&format=csv"),
        "",
    )
    .await;
    assert_eq!(r.status, 404, "a group below k is not shown in CSV either");
    error(&r);
    let r = get(
        a,
        &format!("/api/v1/timeseries?{Q}&filter=page:/tiny"),
        "Accept: text/csv\r\n",
    )
    .await;
    assert_eq!(r.status, 404);
    error(&r);
    let r = raw(
        a,
        &format!("GET {path}&format=csv HTTP/1.1\r\nHost: x\r\n"),
        b"",
    )
    .await;
    assert_eq!(r.status, 401);
    error(&r);

    veil.stop().await;
    db.drop().await;
}
