//! Privacy audit: after ingesting from known IPs, User-Agents, query strings and
//! cookies, none of them appears in any column of any veil table, nor in the logs.

use crate::harness::*;

const IPS: [&str; 4] = [
    "81.2.69.142",
    "216.160.83.56",
    "2001:480::1",
    "89.160.20.128",
];
const SECRETS: [&str; 4] = [
    "secret-email-alice",
    "search-term-bob",
    "cookie-value-carol",
    "sessid-dave",
];

fn needles() -> Vec<String> {
    let mut n: Vec<String> = IPS.iter().map(|s| s.to_string()).collect();
    // Other spellings of the same addresses.
    n.extend(
        [
            "2001:0480:0000",
            "2001:480:0:0",
            "::ffff:81.2.69.142",
            "81.2.69.0",
        ]
        .map(String::from),
    );
    for ua in [CHROME_WIN, FIREFOX_LINUX, SAFARI_IPHONE] {
        n.push(ua.to_string());
    }
    n.extend(
        [
            "Mozilla/5.0",
            "AppleWebKit",
            "KHTML",
            "Gecko/",
            "Win64",
            "x86_64",
            "iPhone OS",
        ]
        .map(String::from),
    );
    n.extend(SECRETS.iter().map(|s| s.to_string()));
    n
}

#[tokio::test]
async fn no_ip_ua_query_or_cookie_reaches_clickhouse_or_the_logs() {
    let db = TestDb::new("audit").await;
    let mut cfg = config(&db);
    let mut s = site("example.com", "eu-strict");
    s.consent.cookie = Some("consent".into());
    cfg.sites = vec![s];
    let veil = TestVeil::start(cfg).await;
    let a = veil.addr;
    for (i, ip) in IPS.iter().enumerate() {
        let ua = [CHROME_WIN, FIREFOX_LINUX, SAFARI_IPHONE][i % 3];
        let q = "s=example.com&u=https%3A%2F%2Fexample.com%2Fa%3Femail%3Dsecret-email-alice%26utm_source%3Dx&r=https%3A%2F%2Fwww.google.com%2Fsearch%3Fq%3Dsearch-term-bob&w=1280&c=analytics,marketing";
        pixel(
            a,
            q,
            ip,
            ua,
            "Cookie: sess=cookie-value-carol; consent=analytics\r\n",
        )
        .await;
        let body = r#"{"site":"example.com","url":"https://example.com/b?sid=sessid-dave","referrer":"https://www.google.com/search?q=search-term-bob","event":"signup","props":{"plan":"pro"},"consent":["analytics"]}"#;
        assert_eq!(
            collect(a, body, ip, ua, "Cookie: sess=cookie-value-carol\r\n")
                .await
                .status,
            202
        );
    }
    // Refused and invalid hits must not leak either.
    collect(
        a,
        r#"{"site":"example.com","url":"https://evil.example/?x=secret-email-alice"}"#,
        IPS[0],
        CHROME_WIN,
        "",
    )
    .await;
    pixel(
        a,
        "s=example.com&u=/&c=necessary",
        IPS[1],
        CHROME_WIN,
        "Sec-GPC: 1\r\n",
    )
    .await;
    veil.stop().await;

    let t = db.totals("example.com").await;
    assert_eq!(get(&t, "total", "").0, 4, "the hits were stored");

    let tables: Vec<String> = db
        .client
        .query("SELECT name FROM system.tables WHERE database = currentDatabase()")
        .fetch_all::<TableName>()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert!(
        tables.contains(&"open_aggregates".to_string()),
        "{tables:?}"
    );
    let needles = needles();
    for table in &tables {
        let mut cursor = db
            .client
            .query(&format!("SELECT * FROM {table}"))
            .fetch_bytes("TabSeparated")
            .unwrap();
        let dump = cursor.collect().await.unwrap();
        let text = String::from_utf8_lossy(&dump);
        for n in &needles {
            assert!(!text.contains(n.as_str()), "table {table} contains {n:?}");
        }
    }
    let logs = logs();
    assert!(!logs.is_empty(), "log capture works");
    for n in &needles {
        assert!(!logs.contains(n.as_str()), "logs contain {n:?}");
    }
    db.drop().await;
}

#[derive(serde::Deserialize, clickhouse::Row)]
struct TableName {
    name: String,
}
