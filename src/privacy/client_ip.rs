//! Which address is the visitor's, and which addresses count as one client.
//!
//! The socket peer, unless the peer is a configured trusted proxy: then the chain
//! of `X-Forwarded-For` (or `Forwarded: for=`) is walked from the right — every
//! header line, in order, since a proxy such as HAProxy (`option forwardfor`)
//! appends a line of its own after whatever the client sent — skipping trusted
//! proxies; the first address that is not one is the client. Believing these
//! headers from anyone, or reading only their first line, would let a client
//! choose the IP that feeds its region, its visitor hash and its rate limits.
//!
//! A hop that does not parse ends the walk: nothing to the left of it is believed,
//! the client is the last (trusted) hop reached. When every hop is trusted the
//! client is the left-most one.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderValue;
use ipnet::IpNet;

/// Trusted proxy networks.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// From validated networks (see `Config::trusted_proxies`).
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies { nets }
    }

    /// Whether `ip` is a configured trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request from `peer` with the given forwarding
    /// headers, each the header's lines joined by `,` (see [`joined_lines`]).
    ///
    /// Both headers present and naming different clients means one of them was
    /// written by the client, and veil cannot tell which: the peer is used.
    pub fn client_ip(
        &self,
        peer: IpAddr,
        x_forwarded_for: Option<&str>,
        forwarded: Option<&str>,
    ) -> IpAddr {
        let peer = peer.to_canonical();
        if self.nets.is_empty() || !self.trusts(peer) {
            return peer;
        }
        let from_xff = x_forwarded_for.map(|v| self.walk(peer, v.split(',').map(parse_addr)));
        let from_fwd = forwarded
            .filter(|v| names_a_client(v))
            .map(|v| self.walk(peer, v.split(',').map(forwarded_for)));
        match (from_xff, from_fwd) {
            (Some(a), Some(b)) if a != b => peer,
            (Some(a), _) | (None, Some(a)) => a,
            (None, None) => peer,
        }
    }

    /// The right-most untrusted hop of `hops` (left to right, as in the header),
    /// reached from the trusted `peer`.
    fn walk(&self, peer: IpAddr, hops: impl DoubleEndedIterator<Item = Option<IpAddr>>) -> IpAddr {
        let mut last = peer;
        for hop in hops.rev() {
            let Some(ip) = hop.map(|ip| ip.to_canonical()) else {
                // A garbled hop: nothing to its left is believed.
                return last;
            };
            if !self.trusts(ip) {
                return ip;
            }
            last = ip;
        }
        last
    }
}

/// Every line of a header joined by `,`, the way RFC 9110 combines repeated
/// fields; borrowed when there is one line. A line that is not UTF-8 becomes an
/// entry that does not parse, so the walk stops there.
pub fn joined_lines<'a>(mut lines: impl Iterator<Item = &'a HeaderValue>) -> Option<Cow<'a, str>> {
    let text = |v: &'a HeaderValue| v.to_str().unwrap_or("\u{fffd}");
    let first = lines.next()?;
    let Some(second) = lines.next() else {
        return Some(Cow::Borrowed(text(first)));
    };
    let mut all = String::from(text(first));
    for line in std::iter::once(second).chain(lines) {
        all.push(',');
        all.push_str(text(line));
    }
    Some(Cow::Owned(all))
}

/// Whether a `Forwarded` value says who any hop's client was: a proxy that only
/// reports `proto=https` does not make the header a client address chain.
fn names_a_client(forwarded: &str) -> bool {
    forwarded.split([',', ';']).any(|kv| {
        kv.split_once('=')
            .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
    })
}

/// The `for=` address of one `Forwarded` element; `None` when it has none
/// (`unknown`, an obfuscated `_name`, garbage or no `for` at all).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
        .and_then(|(_, v)| parse_addr(v.trim().trim_matches('"')))
}

/// Parses `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`,
/// `[2001:db8::1]:443`; anything else (an IPv6 address with a port but no
/// brackets, a port that is not a number) is not an address.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    let is_port = |p: &str| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(is_port);
        return port_ok
            .then(|| host.parse::<Ipv6Addr>().ok().map(IpAddr::V6))
            .flatten();
    }
    let (host, port) = s.rsplit_once(':')?;
    is_port(port)
        .then(|| host.parse::<Ipv4Addr>().ok().map(IpAddr::V4))
        .flatten()
}

/// Which addresses count as one client for the rate limits and the
/// per-client connection cap: an IPv4 address under a prefix (normally /32),
/// an IPv6 address under a prefix (normally /64, what one home or phone is
/// given, so a client cannot take a fresh budget from each of its 2^64
/// addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientPrefix {
    ipv4: u8,
    ipv6: u8,
}

impl ClientPrefix {
    /// From validated prefix lengths (`limits.ipv4_prefix`, `limits.ipv6_prefix`).
    pub fn new(ipv4: u8, ipv6: u8) -> ClientPrefix {
        ClientPrefix {
            ipv4: ipv4.min(32),
            ipv6: ipv6.min(128),
        }
    }

    /// The network `ip` belongs to as 16 bytes (IPv4 mapped into IPv6), host
    /// bits cleared: equal for every address of one client.
    pub fn network(&self, ip: IpAddr) -> [u8; 16] {
        match ip.to_canonical() {
            IpAddr::V4(v4) => {
                let bits = u32::from(v4) & mask32(self.ipv4);
                Ipv4Addr::from(bits).to_ipv6_mapped().octets()
            }
            IpAddr::V6(v6) => (u128::from(v6) & mask128(self.ipv6)).to_be_bytes(),
        }
    }

    /// A key for `ip`'s network under a process-local `secret`: maps keyed by it
    /// hold no address, and the keys mean nothing outside the process.
    pub fn key(&self, secret: &[u8; 32], ip: IpAddr) -> u64 {
        let h = blake3::keyed_hash(secret, &self.network(ip));
        let mut first = [0u8; 8];
        first.copy_from_slice(&h.as_bytes()[..8]);
        u64::from_le_bytes(first)
    }
}

impl Default for ClientPrefix {
    fn default() -> Self {
        ClientPrefix::new(32, 64)
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
            "fd00::/8".parse().unwrap(),
        ])
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const PEER: &str = "127.0.0.1";

    fn xff(chain: &str) -> IpAddr {
        proxies().client_ip(ip(PEER), Some(chain), None)
    }

    fn fwd(chain: &str) -> IpAddr {
        proxies().client_ip(ip(PEER), None, Some(chain))
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let peer = ip("203.0.113.9");
        assert_eq!(proxies().client_ip(peer, Some("81.2.69.142"), None), peer);
        assert_eq!(
            proxies().client_ip(peer, None, Some("for=81.2.69.142")),
            peer
        );
        assert_eq!(
            TrustedProxies::default().client_ip(peer, Some("1.1.1.1"), None),
            peer
        );
        assert_eq!(proxies().client_ip(ip(PEER), None, None), ip(PEER));
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        assert_eq!(xff("6.6.6.6, 81.2.69.142, 10.1.1.1"), ip("81.2.69.142"));
        assert_eq!(xff("81.2.69.142:1234"), ip("81.2.69.142"));
        assert_eq!(
            proxies().client_ip(ip("::ffff:127.0.0.1"), Some("81.2.69.142"), None),
            ip("81.2.69.142")
        );
        assert_eq!(xff("::ffff:81.2.69.142"), ip("81.2.69.142"));
        assert_eq!(xff("2001:db8::7, fd00::1"), ip("2001:db8::7"));
        assert_eq!(xff("[2001:db8::7]:443"), ip("2001:db8::7"));
    }

    #[test]
    fn a_forged_first_line_loses_to_the_line_the_proxy_appended() {
        // What HAProxy's `option forwardfor` sends on: the client's own line
        // first, then the address the proxy saw.
        let headers = [
            HeaderValue::from_static("203.0.113.9"),
            HeaderValue::from_static("81.2.69.142"),
        ];
        let joined = joined_lines(headers.iter()).unwrap();
        assert_eq!(joined, "203.0.113.9,81.2.69.142");
        assert_eq!(xff(&joined), ip("81.2.69.142"));
        let three = [
            HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
            HeaderValue::from_static("81.2.69.142"),
            HeaderValue::from_static("10.0.0.5"),
        ];
        assert_eq!(xff(&joined_lines(three.iter()).unwrap()), ip("81.2.69.142"));
        let one = [HeaderValue::from_static("81.2.69.142")];
        assert!(matches!(joined_lines(one.iter()), Some(Cow::Borrowed(_))));
        assert_eq!(joined_lines(std::iter::empty()), None);
    }

    #[test]
    fn forwarded_elements_with_brackets_ports_and_quotes() {
        assert_eq!(
            fwd("for=\"[2001:db8::7]:443\";proto=https"),
            ip("2001:db8::7")
        );
        assert_eq!(fwd("For=\"[2001:db8::7]\""), ip("2001:db8::7"));
        assert_eq!(
            fwd("for=6.6.6.6, for=81.2.69.142:80;by=10.0.0.1, for=10.2.2.2"),
            ip("81.2.69.142")
        );
        // Two Forwarded lines joined: the appended one is believed.
        let headers = [
            HeaderValue::from_static("for=203.0.113.9"),
            HeaderValue::from_static("for=\"[2001:db8::9]:5000\";proto=https"),
        ];
        assert_eq!(
            fwd(&joined_lines(headers.iter()).unwrap()),
            ip("2001:db8::9")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        assert_eq!(xff("garbage"), ip(PEER));
        assert_eq!(xff("81.2.69.142, garbage"), ip(PEER));
        assert_eq!(xff("81.2.69.142, garbage, 10.1.1.1"), ip("10.1.1.1"));
        assert_eq!(xff("81.2.69.142, , 10.1.1.1"), ip("10.1.1.1"));
        assert_eq!(xff("81.2.69.142,"), ip(PEER));
        assert_eq!(xff("81.2.69.142, \u{fffd}"), ip(PEER));
        // An IPv6 address with a port needs brackets; a port is a number.
        assert_eq!(xff("2001:db8::1:99999x"), ip(PEER));
        assert_eq!(xff("81.2.69.142:http"), ip(PEER));
        assert_eq!(xff("[2001:db8::1]x"), ip(PEER));
        assert_eq!(fwd("for=81.2.69.142, for=unknown"), ip(PEER));
        assert_eq!(fwd("for=81.2.69.142, for=_hidden"), ip(PEER));
        assert_eq!(fwd("for=81.2.69.142, proto=https"), ip(PEER));
    }

    #[test]
    fn all_trusted_hops_give_the_leftmost() {
        assert_eq!(xff("10.9.9.9, 10.1.1.1"), ip("10.9.9.9"));
        assert_eq!(fwd("for=10.9.9.9"), ip("10.9.9.9"));
    }

    #[test]
    fn both_headers_must_agree() {
        let p = proxies();
        let peer = ip(PEER);
        // The proxy appends to X-Forwarded-For; a forged Forwarded disagrees.
        assert_eq!(
            p.client_ip(peer, Some("81.2.69.142"), Some("for=6.6.6.6")),
            peer
        );
        assert_eq!(
            p.client_ip(peer, Some("81.2.69.142"), Some("for=81.2.69.142")),
            ip("81.2.69.142")
        );
        // A Forwarded that names no client (proto only) is not a chain.
        assert_eq!(
            p.client_ip(peer, Some("81.2.69.142"), Some("proto=https")),
            ip("81.2.69.142")
        );
    }

    #[test]
    fn client_prefix_groups_ipv6_by_64_and_ipv4_by_address() {
        let p = ClientPrefix::default();
        assert_eq!(
            p.network(ip("2001:db8:1:2::1")),
            p.network(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(
            p.network(ip("2001:db8:1:2::1")),
            p.network(ip("2001:db8:1:3::1"))
        );
        assert_ne!(p.network(ip("81.2.69.142")), p.network(ip("81.2.69.143")));
        assert_eq!(
            p.network(ip("81.2.69.142")),
            p.network(ip("::ffff:81.2.69.142"))
        );
        let wide = ClientPrefix::new(24, 48);
        assert_eq!(
            wide.network(ip("81.2.69.142")),
            wide.network(ip("81.2.69.1"))
        );
        assert_eq!(
            wide.network(ip("2001:db8:1:2::1")),
            wide.network(ip("2001:db8:1:ff::1"))
        );
        let exact = ClientPrefix::new(32, 128);
        assert_ne!(
            exact.network(ip("2001:db8::1")),
            exact.network(ip("2001:db8::2"))
        );
        // An IPv4 network never equals an IPv6 one.
        assert_ne!(
            ClientPrefix::new(0, 0).network(ip("1.2.3.4")),
            ClientPrefix::new(0, 0).network(ip("2001:db8::1"))
        );
    }
}
