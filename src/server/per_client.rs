//! The per-client connection cap: one client address (an IPv4 address, an IPv6
//! /64 — the networks of [`ClientPrefix`]) may hold at most
//! `server.max_connections_per_ip` connections at once, so a single host cannot
//! take every slot of `server.max_connections` with idle or trickling
//! connections. Trusted proxies are exempt: behind a load balancer every
//! connection comes from its address, and it is the proxy's job to cap its own
//! clients. Counted per socket peer, before any header is read.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rand::RngCore;

use crate::privacy::client_ip::{ClientPrefix, TrustedProxies};

/// Open connections per client network, keyed by a process-local hash (the map
/// holds no address).
pub struct ClientConnections {
    secret: [u8; 32],
    prefix: ClientPrefix,
    trusted: TrustedProxies,
    max: usize,
    open: Mutex<HashMap<u64, usize>>,
}

/// The client of a new connection already holds its cap of connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AtCap;

/// One counted connection; dropping it frees the slot.
pub struct ConnectionSlot {
    owner: Arc<ClientConnections>,
    key: u64,
}

impl ClientConnections {
    /// A cap of `max` connections per client network; 0 = no cap.
    pub fn new(max: usize, prefix: ClientPrefix, trusted: TrustedProxies) -> Arc<Self> {
        let mut secret = [0u8; 32];
        rand::rng().fill_bytes(&mut secret);
        Arc::new(ClientConnections {
            secret,
            prefix,
            trusted,
            max,
            open: Mutex::new(HashMap::new()),
        })
    }

    /// Counts a new connection from `peer`: `Ok(None)` when it is not counted
    /// (no cap, or a trusted proxy), `Err(AtCap)` when its client is at the cap.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Option<ConnectionSlot>, AtCap> {
        if self.max == 0 || self.trusted.trusts(peer) {
            return Ok(None);
        }
        let key = self.prefix.key(&self.secret, peer);
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= self.max {
            return Err(AtCap);
        }
        *n += 1;
        Ok(Some(ConnectionSlot {
            owner: self.clone(),
            key,
        }))
    }

    /// Client networks with a connection open.
    pub fn clients(&self) -> usize {
        self.open.lock().map_or(0, |m| m.len())
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        let mut open = self.owner.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_client_gets_its_cap_and_slots_come_back() {
        let trusted = TrustedProxies::new(vec!["10.0.0.1/32".parse().unwrap()]);
        let cap = ClientConnections::new(2, ClientPrefix::default(), trusted);
        let a = cap.admit(ip("81.2.69.142")).unwrap();
        let b = cap.admit(ip("81.2.69.142")).unwrap();
        assert!(a.is_some() && b.is_some());
        assert_eq!(cap.admit(ip("81.2.69.142")).err(), Some(AtCap));
        assert!(
            cap.admit(ip("81.2.69.143")).unwrap().is_some(),
            "another address"
        );
        // One /64 is one client.
        let _v6 = cap.admit(ip("2001:db8::1")).unwrap();
        let _v6b = cap.admit(ip("2001:db8::2")).unwrap();
        assert_eq!(cap.admit(ip("2001:db8::ffff")).err(), Some(AtCap));
        // The trusted proxy is never counted.
        let proxied: Vec<_> = (0..10).map(|_| cap.admit(ip("10.0.0.1"))).collect();
        assert!(proxied.iter().all(|s| matches!(s, Ok(None))));
        drop(a);
        assert!(
            cap.admit(ip("81.2.69.142")).unwrap().is_some(),
            "a slot came back"
        );
        drop(b);
        let unlimited =
            ClientConnections::new(0, ClientPrefix::default(), TrustedProxies::default());
        assert!((0..100).all(|_| matches!(unlimited.admit(ip("81.2.69.142")), Ok(None))));
    }

    #[test]
    fn the_map_forgets_clients_without_connections() {
        let cap = ClientConnections::new(5, ClientPrefix::default(), TrustedProxies::default());
        let slots: Vec<_> = (0..3)
            .map(|i| cap.admit(ip(&format!("81.2.69.{i}"))))
            .collect();
        assert_eq!(cap.clients(), 3);
        drop(slots);
        assert_eq!(cap.clients(), 0);
    }
}
