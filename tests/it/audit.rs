//! `veil audit` on a real deployment: it passes after a real ingest, and fails —
//! naming the table, the columns and the file, never the leaked values — once a
//! table of raw addresses and User-Agents and a readable salt file appear.

use std::os::unix::fs::PermissionsExt;

use veil::audit::{self, Status};

use crate::harness::*;

const LEAKED_IP: &str = "81.2.69.142";

#[tokio::test]
async fn audit_passes_after_ingest_and_fails_on_a_leak() {
    let db = TestDb::new("auditcmd").await;
    let dir = std::env::temp_dir().join(format!("veil-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let salt_file = dir.join("salt.json");
    let mut cfg = config(&db);
    cfg.salt.state_file = Some(salt_file.clone());
    let mut s = site("example.com", "us-opt-out");
    s.marketing_props = vec!["coupon".into()];
    // Goals and the default pairs are stored: the disclosure must describe them.
    s.goals = vec![veil::config::GoalConfig {
        name: "Purchase".into(),
        event: Some("purchase".into()),
        page: None,
    }];
    cfg.sites = vec![s];

    let veil = TestVeil::start(cfg.clone()).await;
    let a = veil.addr;
    let ips = [LEAKED_IP, "216.160.83.56", "2001:480::1", "89.160.20.128"];
    for (i, ip) in ips.iter().enumerate() {
        let ua = [CHROME_WIN, FIREFOX_LINUX, SAFARI_IPHONE][i % 3];
        let q = "s=example.com&u=https%3A%2F%2Fexample.com%2Fshop%3Futm_source%3Dnews%26utm_campaign%3Dspring&r=https%3A%2F%2Fwww.google.com%2F&w=1280&c=analytics,marketing";
        assert_eq!(pixel(a, q, ip, ua, "").await.status, 200);
        let body = r#"{"site":"example.com","url":"https://example.com/checkout","event":"purchase","props":{"plan":"pro","coupon":"SPRING"},"consent":["analytics","marketing"]}"#;
        assert_eq!(collect(a, body, ip, ua, "").await.status, 202);
    }
    pixel(a, "s=example.com&u=/", "89.160.20.112", GOOGLEBOT, "").await;
    pixel(
        a,
        "s=example.com&u=/",
        "89.160.20.113",
        CHROME_WIN,
        "Sec-GPC: 1\r\n",
    )
    .await;
    veil.stop().await;
    let t = db.totals("example.com").await;
    assert!(get(&t, "total", "").0 >= 4, "the hits were stored: {t:?}");

    let report = audit::run(&cfg).await.expect("audit runs");
    println!("{report}");
    assert!(report.passed(), "{report}");
    let check = |r: &audit::AuditReport, name: &str| {
        r.checks
            .iter()
            .find(|c| c.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name:?} in\n{r}"))
    };
    assert_eq!(check(&report, "salt state file").status, Status::Ok);
    assert_eq!(check(&report, "table aggregates_in").status, Status::Ok);
    assert_eq!(check(&report, "table daily").status, Status::Ok);
    assert_eq!(check(&report, "content daily").status, Status::Ok);
    assert_eq!(check(&report, "site example.com").status, Status::Ok);
    assert!(check(&report, "site example.com")
        .detail
        .contains("us-opt-out"));

    // Now break two promises.
    db.client
        .query("CREATE TABLE leak (ip String, ua String) ENGINE = MergeTree ORDER BY ip")
        .execute()
        .await
        .unwrap();
    db.client
        .query("INSERT INTO leak (ip, ua) VALUES (?, ?)")
        .bind(LEAKED_IP)
        .bind(CHROME_WIN)
        .execute()
        .await
        .unwrap();
    std::fs::set_permissions(&salt_file, std::fs::Permissions::from_mode(0o644)).unwrap();

    let report = audit::run(&cfg).await.expect("audit runs");
    let text = report.to_string();
    println!("{text}");
    assert!(!report.passed());
    let table = check(&report, "table leak");
    assert_eq!(table.status, Status::Fail, "{text}");
    assert!(
        table.detail.contains("`ip`") && table.detail.contains("`ua`"),
        "{text}"
    );
    let content = check(&report, "content leak");
    assert_eq!(content.status, Status::Fail, "{text}");
    assert!(
        content
            .detail
            .contains("column `ip`: 1 of 1 row(s) read hold an IPv4 address"),
        "{text}"
    );
    assert!(
        content
            .detail
            .contains("column `ua`: 1 of 1 row(s) read hold a User-Agent fragment"),
        "{text}"
    );
    let salt = check(&report, "salt state file");
    assert_eq!(salt.status, Status::Fail, "{text}");
    assert!(
        salt.detail.contains(&salt_file.display().to_string()) && salt.detail.contains("0644"),
        "{text}"
    );
    // veil's own tables still pass; only the leak and the file fail.
    let failed: Vec<&str> = report.failures().map(|c| c.name.as_str()).collect();
    assert_eq!(
        failed,
        vec!["table leak", "content leak", "salt state file"],
        "{text}"
    );
    for secret in [
        LEAKED_IP,
        CHROME_WIN,
        "Mozilla/5.0",
        "Chrome/131",
        "AppleWebKit/537",
    ] {
        assert!(!text.contains(secret), "the report shows {secret:?}");
    }

    // Rows of a pair the site does not declare (it did once) warn; a dimension
    // veil does not know fails: the disclosure would not describe either.
    db.client
        .query(
            "INSERT INTO late_daily (date, site, dim, value, part, hits) VALUES \
             (today(), 'example.com', 'page*device', '/x\x1fmobile', 9, 1), \
             (today(), 'example.com', 'fingerprint', 'x', 9, 1)",
        )
        .execute()
        .await
        .unwrap();
    let report = audit::run(&cfg).await.expect("audit runs");
    let site_check = check(&report, "site example.com");
    assert_eq!(site_check.status, Status::Fail, "{report}");
    assert!(
        site_check.detail.contains("veil does not know and the disclosure does not describe: fingerprint")
            && site_check.detail.contains("no longer declares (not in its disclosure; they age out with retention): page*device"),
        "{report}"
    );

    std::fs::remove_dir_all(&dir).unwrap();
    db.drop().await;
}
