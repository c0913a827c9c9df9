//! The HTTP server: accept loop, connection limits, graceful shutdown.
//!
//! One task per connection (HTTP/1.1 with keep-alive). A semaphore caps open
//! connections so a flood cannot exhaust file descriptors or memory, and
//! [`per_client`] caps those of one client address so a single host cannot take
//! them all; a header read timeout (and the body read timeout of
//! [`crate::http::body`]) stops slow clients from holding their slot. On shutdown
//! the listener closes first, in-flight requests finish, idle keep-alive
//! connections are closed.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

pub mod operator;
pub mod pages;
pub mod per_client;
pub mod routes;
pub mod same_origin;
pub mod tracker;

use crate::AppState;
use per_client::ClientConnections;

/// What bounds the connections the server holds.
pub struct ConnectionLimits {
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Connections one client address may hold; more are closed on accept.
    pub per_client: Arc<ClientConnections>,
    /// Time a client has to send its request headers.
    pub header_read_timeout: Duration,
}

/// What a connection over its client's cap is told before it is closed (when
/// the socket takes it at once; it is closed either way).
const AT_CAP_ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 37\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections from one client\n";

/// Serves until `shutdown` resolves, then waits up to `drain` for open requests.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    limits: ConnectionLimits,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .max_buf_size(64 * 1024);
    let limit = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
        };
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let peer_ip = peer_ip(peer);
        let slot = match limits.per_client.admit(peer_ip) {
            Ok(slot) => slot,
            Err(per_client::AtCap) => {
                // Never blocks: a client at its cap gets no more of veil's time.
                let _ = stream.try_write(AT_CAP_ANSWER);
                tracing::debug!("connection closed: its client is at its connection cap");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let service = service_fn(move |req| {
            let state = state.clone();
            async move { Ok::<_, std::convert::Infallible>(routes::handle(&state, peer_ip, req).await) }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // Client resets and timeouts are normal for beacons; nothing to log.
            let _ = conn.await;
            drop(slot);
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!("all connections closed"),
        _ = tokio::time::sleep(drain) => tracing::warn!("connections still open at the drain deadline"),
    }
}

fn peer_ip(peer: SocketAddr) -> std::net::IpAddr {
    peer.ip().to_canonical()
}
