//! `GET /t.js` over real HTTP: headers, the gzip variant, `304`, `HEAD`.

use std::io::Read;

use crate::harness::*;

const SCRIPT: &str = veil::server::tracker::SCRIPT;

fn gunzip(data: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(data)
        .read_to_string(&mut out)
        .expect("valid gzip");
    out
}

#[tokio::test]
async fn tracker_script_headers_gzip_and_304() {
    let db = TestDb::new("tracker").await;
    let veil = TestVeil::start(config(&db)).await;
    let get = |extra: &str| format!("GET /t.js HTTP/1.1\r\nHost: stats.example.com\r\n{extra}");

    // Identity.
    let r = raw(veil.addr, &get(""), b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("public, max-age=86400"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(
        r.header("content-length"),
        Some(SCRIPT.len().to_string().as_str())
    );
    assert_eq!(r.text(), SCRIPT);
    let etag = r.header("etag").expect("etag").to_string();
    let hex = blake3::hash(SCRIPT.as_bytes()).to_hex().to_string();
    assert_eq!(etag, format!("\"{hex}\""));

    // Gzip, as browsers ask for it.
    let r = raw(
        veil.addr,
        &get("Accept-Encoding: gzip, deflate, br, zstd\r\n"),
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert!(
        r.body.len() < 1229,
        "gzipped t.js is {} bytes",
        r.body.len()
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(gunzip(&r.body), SCRIPT);
    let etag_gz = r.header("etag").expect("etag").to_string();
    assert_ne!(etag_gz, etag, "each content coding has its own strong tag");

    // Revalidation: both tags are current.
    for tag in [&etag, &etag_gz] {
        let r = raw(
            veil.addr,
            &get(&format!(
                "Accept-Encoding: gzip\r\nIf-None-Match: {tag}\r\n"
            )),
            b"",
        )
        .await;
        assert_eq!(r.status, 304, "{tag}");
        assert_eq!(r.header("etag"), Some(etag_gz.as_str()));
        assert_eq!(r.header("cache-control"), Some("public, max-age=86400"));
        assert!(r.body.is_empty());
    }
    let r = raw(veil.addr, &get("If-None-Match: \"stale\"\r\n"), b"").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), SCRIPT);

    // HEAD: the same headers, no body.
    let r = raw(
        veil.addr,
        "HEAD /t.js HTTP/1.1\r\nHost: stats.example.com\r\n",
        b"",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(
        r.header("content-length"),
        Some(SCRIPT.len().to_string().as_str())
    );
    assert!(r.body.is_empty());

    // Other methods.
    let r = raw(
        veil.addr,
        "POST /t.js HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n",
        b"",
    )
    .await;
    assert_eq!(r.status, 405);

    veil.stop().await;
    db.drop().await;
}
