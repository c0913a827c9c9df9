#![no_main]
//! The client address behind trusted proxies (`X-Forwarded-For`, `Forwarded`).
//! Input: one byte choosing the socket peer, then header lines separated by `\n`;
//! a line starting `F:` is a `Forwarded` line, any other an `X-Forwarded-For` line.
//! Trusted: 10.0.0.0/8, 127.0.0.0/8, ::1/128, fd00::/8.
//!
//! Checks: no panic; deterministic; an untrusted peer (or no forwarding header)
//! is the answer whatever the headers say; the answer is canonical (no
//! IPv4-mapped IPv6).
use std::net::IpAddr;

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use veil::privacy::client_ip::{joined_lines, TrustedProxies};

const PEERS: [&str; 8] = [
    "10.0.0.1",
    "127.0.0.1",
    "::1",
    "::ffff:10.1.2.3",
    "fd00::7",
    "203.0.113.9",
    "2001:db8::1",
    "::ffff:198.51.100.4",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let peer: IpAddr = PEERS[usize::from(pick) % PEERS.len()].parse().unwrap();
    let proxies = TrustedProxies::new(
        ["10.0.0.0/8", "127.0.0.0/8", "::1/128", "fd00::/8"]
            .iter()
            .map(|n| n.parse().unwrap())
            .collect(),
    );
    let (mut xff, mut fwd) = (Vec::new(), Vec::new());
    for line in rest.split(|&b| b == b'\n') {
        let (list, line) = match line.strip_prefix(b"F:") {
            Some(l) => (&mut fwd, l),
            None => (&mut xff, line),
        };
        if let Ok(v) = HeaderValue::from_bytes(line) {
            list.push(v);
        }
    }
    let xff = joined_lines(xff.iter());
    let fwd = joined_lines(fwd.iter());
    let ip = proxies.client_ip(peer, xff.as_deref(), fwd.as_deref());
    assert_eq!(ip, proxies.client_ip(peer, xff.as_deref(), fwd.as_deref()));
    assert_eq!(ip, ip.to_canonical(), "not canonical: {ip}");
    let canonical_peer = peer.to_canonical();
    if !proxies.trusts(canonical_peer) || (xff.is_none() && fwd.is_none()) {
        assert_eq!(
            ip, canonical_peer,
            "headers believed from an untrusted peer"
        );
    }
    assert_eq!(
        proxies.client_ip(peer, None, None),
        canonical_peer,
        "no header, not the peer"
    );
});
