#![no_main]
//! Page URL and referrer reduction (`veil::privacy::url`) and the percent-decoding
//! and truncation under them. Input: two bytes of `max_path` (1–1024) and the
//! hash-routing flag, then the URL.
//!
//! Checks: no panic; deterministic; a page path starts with `/`, has no `?`, no
//! `//`, a `#` only with hash routing, and at most `max_path` bytes; host and UTM
//! values lower case, UTM values at most 128 bytes; a referrer host has no `/`,
//! `?`, `#`, upper case or leading `www.`; `truncate` cuts to a prefix of at most
//! `max` bytes; a host matches itself.
use libfuzzer_sys::fuzz_target;
use veil::privacy::url::{host_matches, parse_page, percent_decode, referrer_host, truncate};

fuzz_target!(|data: &[u8]| {
    let (head, rest) = data.split_at(data.len().min(2));
    let n = head.iter().fold(0usize, |n, &b| n << 8 | usize::from(b));
    let max_path = n % 1024 + 1;
    let hash = n & 0x8000 != 0;
    let s = veil_fuzz::text(rest);

    let p = parse_page(&s, max_path, hash);
    assert_eq!(p, parse_page(&s, max_path, hash), "not deterministic");
    assert!(p.path.starts_with('/'), "{p:?}");
    assert!(!p.path.contains('?'), "{p:?}");
    assert!(!p.path.contains("//"), "{p:?}");
    assert!(hash || !p.path.contains('#'), "{p:?}");
    assert!(
        p.path.len() <= max_path,
        "path over {max_path} bytes: {p:?}"
    );
    assert!(!p.host.chars().any(|c| c.is_ascii_uppercase()), "{p:?}");
    for u in p.utm.iter().flatten() {
        assert!(
            u.len() <= 128 && !u.chars().any(|c| c.is_ascii_uppercase()),
            "{p:?}"
        );
    }

    if let Some(h) = referrer_host(&s) {
        assert!(!h.is_empty() && !h.contains(['/', '?', '#']), "{h:?}");
        assert!(
            !h.starts_with("www.") && !h.chars().any(|c| c.is_ascii_uppercase()),
            "{h:?}"
        );
        assert!(host_matches(&h, &h), "{h:?} does not match itself");
    }

    for plus in [false, true] {
        let d = percent_decode(&s, plus);
        assert!(d.len() <= s.len() * 3 + 3);
    }
    let t = truncate(&s, max_path);
    assert!(t.len() <= max_path && s.starts_with(t));
});
