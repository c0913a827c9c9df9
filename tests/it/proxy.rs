//! veil behind a real HAProxy (`mode http`, `option forwardfor`): HAProxy appends
//! an `X-Forwarded-For` line of its own after whatever the client sent, so a
//! client that forges the header must still be known by the address HAProxy saw.
//!
//! HAProxy is started per test from a config in a temporary directory, on a free
//! loopback port. Without `haproxy` the test says so and skips — except under
//! `CI=true`, where it fails (`scripts/test.sh` installs it: `ensure_haproxy`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

use crate::harness::*;

/// The `haproxy` binary: on `PATH` or where Debian puts it.
fn haproxy_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|p| p.is_file())
}

fn missing(what: &str) {
    missing_tool(what, "HAProxy", "ensure_haproxy");
}

/// A running `haproxy` in front of `backend`; stopped on drop.
struct HaProxy {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl HaProxy {
    fn start(binary: &Path, tag: &str, backend: std::net::SocketAddr) -> HaProxy {
        let dir = std::env::temp_dir().join(format!("veil-haproxy-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("haproxy dir");
        let port = free_port();
        let config = format!(
            "global\n\
             \x20   maxconn 256\n\
             defaults\n\
             \x20   mode http\n\
             \x20   option forwardfor\n\
             \x20   timeout connect 5s\n\
             \x20   timeout client 30s\n\
             \x20   timeout server 30s\n\
             frontend edge\n\
             \x20   bind 127.0.0.1:{port}\n\
             \x20   default_backend veil\n\
             backend veil\n\
             \x20   server veil {backend}\n"
        );
        let path = dir.join("haproxy.cfg");
        std::fs::write(&path, config).expect("write haproxy.cfg");
        let check = Command::new(binary)
            .args(["-c", "-f"])
            .arg(&path)
            .output()
            .expect("run haproxy -c");
        assert!(
            check.status.success(),
            "haproxy rejects its config: {}",
            String::from_utf8_lossy(&check.stderr)
        );
        let log = std::fs::File::create(dir.join("haproxy.log")).expect("haproxy log");
        let child = Command::new(binary)
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start haproxy");
        HaProxy { child, dir, port }
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Waits until HAProxy accepts connections (it binds right after starting).
    async fn wait_ready(&mut self) {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("haproxy.log")).unwrap_or_default();
                panic!("haproxy exited with {status}: {log}");
            }
            if tokio::net::TcpStream::connect(self.addr()).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("haproxy does not listen on {} after 10 s", self.addr());
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A JSON beacon through HAProxy from the loopback address `source`, with a
/// forged `X-Forwarded-For`; the status.
async fn collect_via(proxy: std::net::SocketAddr, source: &str, forged: &str) -> u16 {
    let socket = TcpSocket::new_v4().expect("socket");
    socket
        .bind(format!("{source}:0").parse().expect("source"))
        .expect("bind the source address");
    let mut s = socket.connect(proxy).await.expect("connect to haproxy");
    let body = r#"{"site":"example.com","url":"https://example.com/"}"#;
    let req = format!(
        "POST /api/collect HTTP/1.1\r\nHost: example.com\r\nUser-Agent: {CHROME_WIN}\r\nX-Forwarded-For: {forged}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("send");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .expect("an answer within 10 s")
        .expect("read");
    String::from_utf8_lossy(&buf)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status in {:?}", String::from_utf8_lossy(&buf)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_forwarded_for_through_haproxy_does_not_choose_the_client() {
    let Some(binary) = haproxy_binary() else {
        missing("haproxy is not installed");
        return;
    };
    let db = TestDb::new("haproxy").await;
    let mut cfg = config(&db);
    // HAProxy connects from 127.0.0.1, the only trusted proxy; the client comes
    // from 127.0.0.2, which HAProxy reports in the line it appends. (A client on
    // the proxy's own address could not be told from the proxy.)
    cfg.server.trusted_proxies = vec!["127.0.0.1/32".into()];
    cfg.limits.per_client_per_sec = 1;
    cfg.limits.per_client_burst = 2;
    let veil = TestVeil::start(cfg).await;
    let mut proxy = HaProxy::start(&binary, "forged", veil.addr);
    proxy.wait_ready().await;

    // Each request forges a fresh address: if veil believed it, every request
    // would find a fresh budget. The client's real budget is 2 and refills by
    // one a second, so twenty requests run out of it however slow the machine.
    let mut statuses = Vec::new();
    for i in 0..20 {
        let status = collect_via(proxy.addr(), "127.0.0.2", &format!("203.0.113.{i}")).await;
        statuses.push(status);
        if status == 429 {
            break;
        }
    }
    assert_eq!(
        statuses[0], 202,
        "the first beacon is accepted: {statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&429),
        "forged addresses share the real client's budget: {statuses:?}"
    );
    // Another real client behind the same proxy has a budget of its own.
    assert_eq!(
        collect_via(proxy.addr(), "127.0.0.3", "203.0.113.1").await,
        202
    );
    drop(proxy);
    veil.stop().await;
    db.drop().await;
}
