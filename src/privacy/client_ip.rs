//! Which address is the visitor's.
//!
//! The socket peer, unless the peer is a configured trusted proxy: then the
//! right-most address of `X-Forwarded-For` (or `Forwarded: for=`) that is not itself
//! a trusted proxy. Believing these headers from anyone would let a client choose
//! the IP that feeds its region and visitor hash.

use std::net::IpAddr;

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

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The client address of a request from `peer` with the given forwarding headers.
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
        let from_xff = x_forwarded_for.map(|v| v.split(',').map(str::trim).map(parse_addr));
        let from_fwd = forwarded.map(|v| {
            v.split(',').map(|elem| {
                elem.split(';')
                    .filter_map(|kv| kv.trim().split_once('='))
                    .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                    .and_then(|(_, v)| parse_addr(v.trim_matches('"')))
            })
        });
        let chain: Vec<Option<IpAddr>> = match (from_xff, from_fwd) {
            (Some(x), _) => x.collect(),
            (None, Some(f)) => f.collect(),
            (None, None) => return peer,
        };
        for hop in chain.iter().rev() {
            match hop {
                Some(ip) if self.trusts(*ip) => continue,
                Some(ip) => return ip.to_canonical(),
                // An unparseable hop: stop believing the chain there.
                None => return peer,
            }
        }
        peer
    }
}

/// Parses `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:443`.
fn parse_addr(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse() {
        return Some(ip);
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    s.rsplit_once(':')?.0.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies() -> TrustedProxies {
        TrustedProxies::new(vec![
            "127.0.0.0/8".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ])
    }

    #[test]
    fn untrusted_peer_headers_are_ignored() {
        let peer: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(proxies().client_ip(peer, Some("81.2.69.142"), None), peer);
        assert_eq!(
            TrustedProxies::default().client_ip(peer, Some("1.1.1.1"), None),
            peer
        );
    }

    #[test]
    fn rightmost_untrusted_hop_wins() {
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let p = proxies();
        assert_eq!(
            p.client_ip(peer, Some("6.6.6.6, 81.2.69.142, 10.1.1.1"), None),
            "81.2.69.142".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            p.client_ip(peer, None, Some("for=\"[2001:db8::7]:443\";proto=https")),
            "2001:db8::7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            p.client_ip(
                "::ffff:127.0.0.1".parse().unwrap(),
                Some("81.2.69.142:1234"),
                None
            ),
            "81.2.69.142".parse::<IpAddr>().unwrap()
        );
        assert_eq!(p.client_ip(peer, Some("garbage"), None), peer);
    }
}
