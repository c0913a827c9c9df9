//! Share links over real HTTP: a valid link reads the site's statistics without a
//! key; expired, revoked (by list or by a new secret), forged and other sites'
//! links are refused; a link's fixed filter and dates are enforced server-side
//! (its answers equal a key holder's for the same filter and dates, and asking
//! for more is 403); embed links may be framed only by the configured origins;
//! and no token ever reaches the logs.

use serde_json::Value;

use veil::config::Config;
use veil::model::Dim;
use veil::stats::auth::hash_key;
use veil::stats::params::{parse_date, DateRange};
use veil::stats::share::{Link, SigningKey, Window};

use crate::harness::*;

const KEY: &str = "share-test-key-0123456789";
const SECRET: &str = "share-test-secret-of-example.com-0123456789";
const OTHER_SECRET: &str = "share-test-secret-of-other.example-01234567";
const OLD_SECRET: &str = "share-test-secret-before-the-rotation-012345";
const REVOKED: u64 = 0x00c0_ffee_0000_0001;
const INTRANET: &str = "https://intranet.example";

fn share_config(db: &TestDb) -> Config {
    let mut c = config(db);
    let mut a = site("example.com", "eu-exempt-audience");
    a.k = 2;
    a.api_keys = vec![hash_key(KEY)];
    a.share_secret = SECRET.into();
    a.share_revoked = vec![format!("{REVOKED:016x}")];
    a.embed_origins = vec![INTRANET.into(), "http://localhost:3000".into()];
    let mut b = site("other.example", "eu-exempt-audience");
    b.k = 2;
    b.api_keys = vec![hash_key(KEY)];
    b.share_secret = OTHER_SECRET.into();
    c.sites = vec![a, b];
    c
}

fn link(id: u64, window: Window, filters: &[(Dim, &str)], embed: bool) -> Link {
    Link {
        id,
        expires: 4_000_000_000,
        window,
        filters: filters.iter().map(|(d, v)| (*d, v.to_string())).collect(),
        embed,
    }
}

fn token(l: &Link, site: &str, secret: &str) -> String {
    l.encode(site, &SigningKey::of(secret).unwrap())
}

async fn get_with(addr: std::net::SocketAddr, path: &str, auth: &str) -> (u16, Value, Reply) {
    let r = raw(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\n{auth}"),
        b"",
    )
    .await;
    let v = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    (r.status, v, r)
}

/// With the API key.
async fn keyed(addr: std::net::SocketAddr, path: &str) -> Value {
    let (s, v, _) = get_with(addr, path, &format!("Authorization: Bearer {KEY}\r\n")).await;
    assert_eq!(s, 200, "{path}: {v}");
    v
}

/// With a share token in the header: (status, answer).
async fn shared(addr: std::net::SocketAddr, path: &str, token: &str) -> (u16, Value) {
    let (s, v, _) = get_with(addr, path, &format!("Authorization: Share {token}\r\n")).await;
    (s, v)
}

/// Pageviews from distinct visitors: 3 from Google on /a, 2 direct on /b, one
/// from Google on /c (below k = 2). Waits until the key sees them.
async fn seed(addr: std::net::SocketAddr) -> String {
    let hits = [
        ("81.2.69.142", CHROME_WIN, "/a", "https://www.google.com/"),
        (
            "81.2.69.143",
            FIREFOX_LINUX,
            "/a",
            "https://www.google.com/",
        ),
        (
            "81.2.69.144",
            SAFARI_IPHONE,
            "/a",
            "https://www.google.com/",
        ),
        ("216.160.83.56", CHROME_WIN, "/b", ""),
        ("216.160.83.57", FIREFOX_LINUX, "/b", ""),
        (
            "216.160.83.58",
            SAFARI_IPHONE,
            "/c",
            "https://www.google.com/",
        ),
    ];
    for (ip, ua, page, referrer) in hits {
        let q = format!("s=example.com&u=https://example.com{page}&r={referrer}");
        assert_eq!(pixel(addr, &q, ip, ua, "").await.status, 200);
    }
    let today = keyed(addr, "/api/v1/site?site=example.com").await["today"]
        .as_str()
        .unwrap()
        .to_string();
    let q = format!("/api/v1/aggregate?site=example.com&from={today}&to={today}");
    for _ in 0..100 {
        if keyed(addr, &q).await["metrics"]["pageviews"] == 6 {
            return today;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the seeded pageviews did not arrive");
}

#[tokio::test]
async fn valid_links_read_without_a_key_and_every_other_link_is_refused() {
    let db = TestDb::new("share_auth").await;
    let veil = TestVeil::start(share_config(&db)).await;
    let a = veil.addr;
    let today = seed(a).await;
    let q = format!("/api/v1/aggregate?site=example.com&from={today}&to={today}");
    let want = keyed(a, &q).await;

    let good = token(&link(7, Window::Any, &[], false), "example.com", SECRET);
    assert_eq!(shared(a, &q, &good).await, (200, want.clone()));
    // The query parameter works too (clients that cannot set headers).
    let (s, v, _) = get_with(a, &format!("{q}&share={good}"), "").await;
    assert_eq!((s, v), (200, want.clone()));
    // /site describes the link.
    let (s, site) = shared(a, "/api/v1/site?site=example.com", &good).await;
    assert_eq!(s, 200);
    assert_eq!(site["share"]["link"], "0000000000000007");
    assert_eq!(site["share"]["endpoints"].as_array().unwrap().len(), 8);
    // Every endpoint the dashboard calls answers as for the key.
    for path in [
        format!("/api/v1/timeseries?site=example.com&from={today}&to={today}"),
        format!("/api/v1/breakdown?site=example.com&from={today}&to={today}&dimension=page"),
        format!("/api/v1/goals?site=example.com&from={today}&to={today}"),
        format!("/api/v1/funnels?site=example.com&from={today}&to={today}"),
        format!("/api/v1/consent?site=example.com&from={today}&to={today}"),
        "/api/v1/realtime?site=example.com".to_string(),
    ] {
        assert_eq!(shared(a, &path, &good).await, (200, keyed(a, &path).await));
    }

    let refused = |status: u16, why: &str| (status, serde_json::json!({ "error": why }));
    let invalid = refused(401, "this share link is not valid for this site");
    // Expired.
    let old = token(
        &Link {
            expires: 1_000_000_000,
            ..link(8, Window::Any, &[], false)
        },
        "example.com",
        SECRET,
    );
    assert_eq!(
        shared(a, &q, &old).await,
        refused(401, "share link expired")
    );
    // Revoked by the site's list.
    let revoked = token(
        &link(REVOKED, Window::Any, &[], false),
        "example.com",
        SECRET,
    );
    assert_eq!(
        shared(a, &q, &revoked).await,
        refused(401, "share link revoked")
    );
    // Signed with the secret the site had before it was rotated.
    let rotated = token(&link(9, Window::Any, &[], false), "example.com", OLD_SECRET);
    assert_eq!(shared(a, &q, &rotated).await, invalid);
    // A link of example.com on other.example, and other.example's on example.com.
    let other_q = q.replace("site=example.com", "site=other.example");
    assert_eq!(shared(a, &other_q, &good).await, invalid);
    let other = token(
        &link(10, Window::Any, &[], false),
        "other.example",
        OTHER_SECRET,
    );
    assert_eq!(shared(a, &other_q, &other).await.0, 200);
    assert_eq!(shared(a, &q, &other).await, invalid);
    // Damaged, empty-looking and oversized tokens.
    let mut damaged = good.clone().into_bytes();
    let last = damaged.len() - 3;
    damaged[last] = if damaged[last] == b'A' { b'B' } else { b'A' };
    let damaged = String::from_utf8(damaged).unwrap();
    for bad in [damaged.as_str(), "x", &"A".repeat(5_000)] {
        assert_eq!(shared(a, &q, bad).await, invalid, "{bad}");
    }
    let (s, _, r) = get_with(a, &q, &format!("Authorization: Share {old}\r\n")).await;
    assert_eq!(
        (s, r.header("www-authenticate")),
        (401, Some("Share realm=\"veil\""))
    );
    // A link is read-only: nothing but GET reaches the API.
    let r = raw(
        a,
        &format!(
            "POST {q} HTTP/1.1\r\nHost: x\r\nAuthorization: Share {good}\r\nContent-Length: 0\r\n"
        ),
        b"",
    )
    .await;
    assert_eq!(r.status, 405);
    // The key path is unchanged: no credential is still 401.
    assert_eq!(get_with(a, &q, "").await.0, 401);

    // No token was ever logged.
    let logs = logs();
    for t in [&good, &old, &revoked, &rotated, &other, &damaged] {
        assert!(!logs.contains(t.as_str()), "a token is in the logs");
    }
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn a_links_filter_and_dates_are_enforced_and_its_answers_equal_the_keys() {
    let db = TestDb::new("share_scope").await;
    let veil = TestVeil::start(share_config(&db)).await;
    let a = veil.addr;
    let today = seed(a).await;
    let day = parse_date(&today).unwrap();
    let yesterday = veil::clock::format_day(day - 1);
    let range = format!("from={today}&to={today}");
    let base = "/api/v1";

    for window in [
        Window::Last(1),
        Window::Fixed(DateRange { from: day, to: day }),
    ] {
        let l = link(11, window, &[(Dim::Source, "search")], false);
        let t = token(&l, "example.com", SECRET);
        let (s, site) = shared(a, &format!("{base}/site?site=example.com"), &t).await;
        assert_eq!(s, 200);
        assert_eq!(
            (&site["share"]["from"], &site["share"]["to"]),
            (&Value::from(today.clone()), &Value::from(today.clone()))
        );
        assert_eq!(
            site["share"]["filters"],
            serde_json::json!(["source:search"])
        );

        // The same answers as the key's with the filter, whether the request names
        // the filter or not (it is forced).
        for (path, filtered) in [
            ("aggregate", ""),
            ("timeseries", ""),
            ("timeseries", "&interval=hour"),
            ("breakdown", "&dimension=page"),
            ("breakdown", "&dimension=source"),
            ("breakdown", "&dimension=page&filter=page:/a"),
        ] {
            let want = keyed(
                a,
                &format!("{base}/{path}?site=example.com&{range}{filtered}&filter=source:search"),
            )
            .await;
            for asked in ["", "&filter=source:search"] {
                let p = format!("{base}/{path}?site=example.com&{range}{filtered}{asked}");
                let (s, mut got) = shared(a, &p, &t).await;
                assert_eq!(s, 200, "{p}: {got}");
                let mut want = want.clone();
                if path == "breakdown" {
                    // A filtered link withholds the whole dimension's `(other)`.
                    assert!(got["other"].is_null(), "{p}: {got}");
                    got["other"] = Value::Null;
                    want["other"] = Value::Null;
                }
                assert_eq!(got, want, "{p}");
            }
        }
        // The page breakdown under the link: /a from search, not /b (direct) nor
        // /c (below k).
        let (_, pages) = shared(
            a,
            &format!("{base}/breakdown?site=example.com&{range}&dimension=page"),
            &t,
        )
        .await;
        let rows: Vec<(&str, u64)> = pages["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["value"].as_str().unwrap(),
                    r["visitors"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(rows, [("/a", 3)]);

        // Asking for more is refused with a reason.
        for (path, why) in [
            (
                format!("aggregate?site=example.com&{range}&filter=source:direct"),
                "this share link is limited to source:search",
            ),
            (
                format!("breakdown?site=example.com&{range}&dimension=source&filter=source:s*"),
                "this share link is limited to source:search",
            ),
            (
                format!("aggregate?site=example.com&from={yesterday}&to={today}&filter=source:search"),
                &format!("this share link shows {today} to {today} only"),
            ),
            (
                format!("timeseries?site=example.com&{range}&compare=previous"),
                &format!("this share link shows {today} to {today} only, and the comparison period lies outside it"),
            ),
            (
                format!("goals?site=example.com&{range}&by=source"),
                "`goals` cannot be narrowed to the filter of this share link",
            ),
            (
                format!("funnels?site=example.com&{range}"),
                "`funnels` cannot be narrowed to the filter of this share link",
            ),
            (
                format!("consent?site=example.com&{range}"),
                "`consent` cannot be narrowed to the filter of this share link",
            ),
            (
                "realtime?site=example.com".to_string(),
                "`realtime` cannot be narrowed to the filter of this share link",
            ),
        ] {
            let (s, v) = shared(a, &format!("{base}/{path}"), &t).await;
            assert_eq!((s, v["error"].as_str()), (403, Some(why)), "{path}");
        }
    }

    // Dates only: goals, funnels and consent work inside them, realtime does not
    // (it is the last minutes, not those dates).
    let dates = token(
        &link(
            12,
            Window::Fixed(DateRange { from: day, to: day }),
            &[],
            false,
        ),
        "example.com",
        SECRET,
    );
    for path in ["goals", "funnels", "consent", "aggregate"] {
        let p = format!("{base}/{path}?site=example.com&{range}");
        assert_eq!(
            shared(a, &p, &dates).await,
            (200, keyed(a, &p).await),
            "{p}"
        );
    }
    let (s, v) = shared(a, &format!("{base}/realtime?site=example.com"), &dates).await;
    assert_eq!(
        (s, v["error"].as_str()),
        (
            403,
            Some("this share link shows fixed dates, not the last minutes")
        )
    );

    let logs = logs();
    assert!(!logs.contains(&dates), "a token is in the logs");
    veil.stop().await;
    db.drop().await;
}

#[tokio::test]
async fn embed_links_may_be_framed_by_the_configured_origins_only() {
    let db = TestDb::new("share_embed").await;
    let veil = TestVeil::start(share_config(&db)).await;
    let a = veil.addr;
    let page = |path: String| async move {
        raw(a, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n"), b"").await
    };
    let forbids_framing = |r: &Reply, what: &str| {
        assert_eq!(r.status, 200, "{what}");
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.ends_with("frame-ancestors 'none'"), "{what}: {csp}");
        assert_eq!(r.header("x-frame-options"), Some("DENY"), "{what}");
        assert!(r.text().contains("data-embed=\"false\""), "{what}");
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"), "{what}");
    };
    forbids_framing(&page("/dashboard/example.com".into()).await, "no link");
    let plain = token(&link(20, Window::Any, &[], false), "example.com", SECRET);
    forbids_framing(
        &page(format!("/dashboard/example.com?share={plain}")).await,
        "a link without the embed flag",
    );
    let embed = token(&link(21, Window::Any, &[], true), "example.com", SECRET);
    let r = page(format!("/dashboard/example.com?share={embed}&lang=pl")).await;
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.ends_with("frame-ancestors https://intranet.example http://localhost:3000"),
        "{csp}"
    );
    assert!(csp.contains("script-src 'self'") && csp.contains("connect-src 'self'"));
    assert_eq!(r.header("x-frame-options"), None);
    assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
    assert!(r.text().contains("data-embed=\"true\""));
    assert!(
        !r.text().contains(&embed),
        "the page does not echo the token"
    );
    // Embed links that are not valid here are served as any page: not framable.
    let revoked = token(
        &link(REVOKED, Window::Any, &[], true),
        "example.com",
        SECRET,
    );
    let forged = token(&link(22, Window::Any, &[], true), "example.com", OLD_SECRET);
    for (t, what) in [(&revoked, "revoked"), (&forged, "forged")] {
        forbids_framing(
            &page(format!("/dashboard/example.com?share={t}")).await,
            what,
        );
    }
    // A site without embed_origins: an embed link still frames nowhere.
    let other = token(
        &link(23, Window::Any, &[], true),
        "other.example",
        OTHER_SECRET,
    );
    let r = page(format!("/dashboard/other.example?share={other}")).await;
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .ends_with("frame-ancestors 'none'"));
    assert_eq!(r.header("x-frame-options"), None);
    // The assets stay unframable.
    let js = page("/dashboard/-/app.js".into()).await;
    assert_eq!(js.header("x-frame-options"), Some("DENY"));

    let logs = logs();
    for t in [&plain, &embed, &revoked, &forged, &other] {
        assert!(!logs.contains(t.as_str()), "a token is in the logs");
    }
    veil.stop().await;
    db.drop().await;
}
