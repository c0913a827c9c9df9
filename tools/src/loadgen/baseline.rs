//! The yardsticks veil's throughput is compared with, each run as its own process
//! pinned to the server CPU:
//!
//! - **bare hyper**: this binary's `veil-bench bare-server`, the same hyper 1
//!   HTTP/1.1 server settings and tokio runtime shape as `veil serve` (one task per
//!   connection, header read timeout, keep-alive, connection semaphore, graceful
//!   shutdown) answering `GET /p.gif` with veil's own 43-byte GIF response and
//!   `POST /api/collect` with its `202`, doing no work at all. veil's ratio to it is
//!   the cost of everything veil does per beacon.
//! - **nginx `empty_gif`**: Debian's nginx with one worker, the classic "fastest
//!   pixel server" (`POST /api/collect` is answered with `return 202`).

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::LoadgenError;
use veil::config::ServerConfig;
use veil::http::response::{self, Body};

async fn bare_handle(req: Request<Incoming>, max_body: usize) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET | &Method::HEAD, "/p.gif") => response::gif(),
        (&Method::POST, "/api/collect") => {
            // Read the body as veil does, then answer as veil does.
            match Limited::new(req.into_body(), max_body).collect().await {
                Ok(_) => response::with_cors(response::empty(StatusCode::ACCEPTED)),
                Err(_) => response::error(StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            }
        }
        _ => response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Serves the no-work baseline until `shutdown` resolves, with veil's server settings.
pub async fn serve_bare(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    let cfg = ServerConfig::default();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_millis(cfg.header_read_timeout_ms))
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    let limit = Arc::new(Semaphore::new(cfg.max_connections));
    let graceful = GracefulShutdown::new();
    let max_body = cfg.max_body_bytes;
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, _peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = service_fn(move |req| async move {
            Ok::<_, std::convert::Infallible>(bare_handle(req, max_body).await)
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {},
        _ = tokio::time::sleep(Duration::from_secs(5)) => {},
    }
}

/// `veil-bench bare-server`: binds, prints `listening on ADDR` on stdout, serves
/// until SIGTERM / Ctrl-C, on a runtime shaped like `veil serve`'s.
pub fn bare_server_main(listen: SocketAddr, worker_threads: usize) -> Result<(), LoadgenError> {
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if worker_threads > 0 {
        rt.worker_threads(worker_threads);
    }
    let rt = rt.build().map_err(LoadgenError::Runtime)?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| LoadgenError::Io(format!("cannot listen on {listen}"), e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| LoadgenError::Io("local address".into(), e))?;
        println!("listening on {addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        serve_bare(listener, stop_signal()).await;
        Ok(())
    })
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {},
                _ = tokio::signal::ctrl_c() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A baseline server process this loadgen started (and will stop).
pub struct ServerProcess {
    /// Name in reports.
    pub name: String,
    /// Its address.
    pub addr: SocketAddr,
    /// Main pid.
    pub pid: u32,
    /// Whether `taskset` pinned it.
    pub pinned: bool,
    child: Child,
    dir: Option<PathBuf>,
    nginx: Option<PathBuf>,
}

fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// `nginx`, if installed.
pub fn nginx_binary() -> Option<PathBuf> {
    find_program("nginx")
}

/// A command pinned to `cpu` with `taskset` when there is one.
fn pinned(program: &Path, cpu: Option<&str>) -> (Command, bool) {
    match (cpu, find_program("taskset")) {
        (Some(cpu), Some(taskset)) => {
            let mut c = Command::new(taskset);
            c.arg("-c").arg(cpu).arg(program);
            (c, true)
        }
        _ => (Command::new(program), false),
    }
}

fn wait_for_port(addr: SocketAddr, child: &mut Child, what: &str) -> Result<(), LoadgenError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(LoadgenError::Baseline(format!(
                "{what} exited at start ({status})"
            )));
        }
        if Instant::now() >= deadline {
            return Err(LoadgenError::Baseline(format!(
                "{what} did not listen on {addr} within 10 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn free_port() -> Result<u16, LoadgenError> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| LoadgenError::Io("cannot find a free port".into(), e))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| LoadgenError::Io("cannot find a free port".into(), e))
}

impl ServerProcess {
    /// Starts `veil-bench bare-server` (this executable) pinned to `cpu`.
    pub fn bare(cpu: Option<&str>, worker_threads: usize) -> Result<ServerProcess, LoadgenError> {
        let exe = std::env::current_exe()
            .map_err(|e| LoadgenError::Io("cannot find this executable".into(), e))?;
        let (mut cmd, pinned) = pinned(&exe, cpu);
        cmd.args(["bare-server", "--listen", "127.0.0.1:0", "--worker-threads"])
            .arg(worker_threads.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| LoadgenError::Io("cannot start the bare hyper server".into(), e))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LoadgenError::Baseline(format!(
                "bare hyper server said {line:?}"
            )));
        };
        wait_for_port(addr, &mut child, "bare hyper server")?;
        Ok(ServerProcess {
            name: "bare hyper".into(),
            addr,
            pid: child.id(),
            pinned,
            child,
            dir: None,
            nginx: None,
        })
    }

    /// Starts nginx with a minimal `empty_gif` configuration in a temporary directory,
    /// one worker, pinned to `cpu`. `None` when nginx is not installed.
    pub fn nginx(cpu: Option<&str>) -> Result<Option<ServerProcess>, LoadgenError> {
        let Some(nginx) = nginx_binary() else {
            return Ok(None);
        };
        let port = free_port()?;
        let dir =
            std::env::temp_dir().join(format!("veil-loadgen-nginx-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| LoadgenError::Io(format!("cannot create {}", dir.display()), e))?;
        let d = dir.display();
        let conf = format!(
            "# Written by veil-bench loadgen: nginx's empty_gif as a baseline.\n\
             worker_processes 1;\n\
             daemon off;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
             \x20   access_log off;\n\
             \x20   keepalive_requests 1000000000;\n\
             \x20   keepalive_timeout 75s;\n\
             \x20   client_body_temp_path {d}/body;\n\
             \x20   proxy_temp_path {d}/proxy;\n\
             \x20   fastcgi_temp_path {d}/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/uwsgi;\n\
             \x20   scgi_temp_path {d}/scgi;\n\
             \x20   server {{\n\
             \x20       listen 127.0.0.1:{port};\n\
             \x20       location = /p.gif {{\n\
             \x20           empty_gif;\n\
             \x20           add_header Cache-Control \"no-store, no-cache, must-revalidate, max-age=0\";\n\
             \x20       }}\n\
             \x20       location = /api/collect {{\n\
             \x20           add_header Access-Control-Allow-Origin \"*\";\n\
             \x20           return 202;\n\
             \x20       }}\n\
             \x20   }}\n\
             }}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::write(&conf_path, conf)
            .map_err(|e| LoadgenError::Io(format!("cannot write {}", conf_path.display()), e))?;
        let (mut cmd, pinned) = pinned(&nginx, cpu);
        cmd.arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let mut child = cmd
            .spawn()
            .map_err(|e| LoadgenError::Io(format!("cannot start {}", nginx.display()), e))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if let Err(e) = wait_for_port(addr, &mut child, "nginx") {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
            let _ = std::fs::remove_dir_all(&dir);
            return Err(LoadgenError::Baseline(format!(
                "{e}; nginx error log:\n{log}"
            )));
        }
        Ok(Some(ServerProcess {
            name: "nginx empty_gif".into(),
            addr,
            pid: child.id(),
            pinned,
            child,
            dir: Some(dir),
            nginx: Some(nginx),
        }))
    }

    /// Stops the server and removes its temporary files.
    pub fn stop(mut self) {
        let graceful = match (&self.nginx, &self.dir) {
            // nginx's own stop command reaches the master through its pid file,
            // and the master stops its worker.
            (Some(nginx), Some(dir)) => Command::new(nginx)
                .arg("-p")
                .arg(dir)
                .arg("-e")
                .arg(dir.join("error.log"))
                .arg("-c")
                .arg(dir.join("nginx.conf"))
                .args(["-s", "quit"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success()),
            _ => Command::new("kill")
                .args(["-TERM", &self.pid.to_string()])
                .status()
                .is_ok_and(|s| s.success()),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut exited = false;
        while graceful && Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                exited = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if !exited {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
