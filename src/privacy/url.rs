//! Page URLs and referrers reduced to what the aggregates need.
//!
//! The full URL never goes further than this module: a page becomes its host (to
//! check against the site's hostnames) and a normalised path, with the query string
//! dropped except for the five UTM keys; a referrer becomes its host only.

/// The five campaign keys kept from a page's query string, in this order.
pub const UTM_KEYS: [&str; 5] = [
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
];

/// A page URL cut down to what veil keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Page {
    /// Lower-case host without port, or empty for a relative URL.
    pub host: String,
    /// Normalised path: starts with `/`, no trailing slash (except `/`), no query.
    pub path: String,
    /// UTM values by [`UTM_KEYS`] position.
    pub utm: [Option<String>; 5],
}

/// Splits `scheme://host:port/path?query#fragment` into (host, rest). Accepts
/// relative URLs (`/pricing`) with an empty host.
fn split_host(url: &str) -> (&str, &str) {
    let url = url.trim();
    // The first `://` (a byte scan for `:`: cheaper than a substring search on
    // every page and referrer).
    let scheme_end = url
        .bytes()
        .enumerate()
        .filter(|&(_, b)| b == b':')
        .map(|(i, _)| i)
        .find(|&i| url.as_bytes()[i + 1..].starts_with(b"//"));
    let after_scheme = match scheme_end {
        Some(i)
            if url[..i]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.') =>
        {
            &url[i + 3..]
        }
        _ if url.starts_with("//") => &url[2..],
        _ => return ("", url),
    };
    let end = after_scheme
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..end];
    // Drop credentials and port.
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let host = if authority.starts_with('[') {
        authority.split(']').next().map_or(authority, |h| &h[1..])
    } else {
        authority.split(':').next().unwrap_or(authority)
    };
    (host, &after_scheme[end..])
}

fn lower(s: &str) -> String {
    let s = s.trim_end_matches('.');
    s.to_ascii_lowercase()
}

pub use crate::http::query::percent_decode;

pub use super::text::truncate;

/// Longest campaign (`utm_*`) value kept (bytes).
pub const MAX_UTM: usize = 128;

/// Parses a page URL: host, normalised path, UTM keys. `max_path` bounds the path.
/// With `hash_routing` a fragment route (`#/settings`, `#!/settings`) is part of the
/// page, for single-page apps that route by fragment; otherwise fragments are dropped.
pub fn parse_page(url: &str, max_path: usize, hash_routing: bool) -> Page {
    let (host, rest) = split_host(url);
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let route = fragment
        .strip_prefix('!')
        .unwrap_or(fragment)
        .split('?')
        .next()
        .filter(|r| hash_routing && r.starts_with('/'));
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    let mut utm: [Option<String>; 5] = Default::default();
    if let Some(query) = query {
        for (k, v) in crate::http::query::pairs(query) {
            if let Some(i) = UTM_KEYS.iter().position(|u| k.eq_ignore_ascii_case(u)) {
                let v = super::text::clean(v.trim(), MAX_UTM);
                if !v.is_empty() && utm[i].is_none() {
                    utm[i] = Some(v.to_ascii_lowercase());
                }
            }
        }
    }
    let mut path = normalise_path(path, max_path);
    // The route only where `#` and at least its `/` fit: a bare `#` would be one
    // byte over `max_path` and a page of its own (found by fuzz/ target `url`).
    let room = max_path.saturating_sub(path.len() + 1);
    if let Some(route) = route.filter(|_| room > 0) {
        let route = normalise_path(route, max_path);
        path.push('#');
        path.push_str(truncate(&route, room));
    }
    Page {
        host: lower(host),
        path,
        utm,
    }
}

/// `/Pricing/` → `/Pricing`, `` → `/`, `//a///b` → `/a/b`; percent-escapes decoded;
/// control and bidi characters removed ([`super::text::is_removed`]), also when they
/// were percent-encoded.
fn normalise_path(path: &str, max_path: usize) -> String {
    if is_normal(path, max_path) {
        return path.to_string();
    }
    let decoded = percent_decode(path, false);
    let mut out = String::with_capacity(decoded.len() + 1);
    for seg in decoded.split('/') {
        let start = out.len();
        out.push('/');
        // An encoded `?` or `#` stays encoded: a decoded one would read as a query
        // string or a fragment that veil promises not to keep.
        for c in seg.chars().filter(|c| !super::text::is_removed(*c)) {
            match c {
                '?' => out.push_str("%3F"),
                '#' => out.push_str("%23"),
                c => out.push(c),
            }
        }
        if out.len() == start + 1 {
            // An empty segment, or one of removed characters only.
            out.truncate(start);
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    let cut = truncate(&out, max_path.max(1));
    if cut.len() < out.len() {
        out.truncate(cut.len());
    }
    out
}

/// Whether `path` is already what [`normalise_path`] makes of it — the usual
/// case, checked in one byte scan: it starts with `/`, fits `max_path`, has no
/// empty segment or trailing `/` (except `/` itself), and is printable ASCII
/// without `%`, `?` or `#` (nothing to decode, escape or remove).
fn is_normal(path: &str, max_path: usize) -> bool {
    let b = path.as_bytes();
    if b.first() != Some(&b'/') || b.len() > max_path.max(1) {
        return false;
    }
    if b.len() == 1 {
        return true;
    }
    if b[b.len() - 1] == b'/' {
        return false;
    }
    let mut prev = 0u8;
    for &c in b {
        if !(0x20..0x7f).contains(&c)
            || matches!(c, b'%' | b'?' | b'#')
            || (c == b'/' && prev == b'/')
        {
            return false;
        }
        prev = c;
    }
    true
}

/// The host of a referrer URL (lower case, no `www.`), or `None` when empty, not an
/// absolute URL, or not a valid host name ([`is_host_name`]): such a referrer is
/// treated as none (the hit is direct traffic unless its campaign says otherwise),
/// so forged referrers cannot store arbitrary text or length.
pub fn referrer_host(referrer: &str) -> Option<String> {
    let (host, _) = split_host(referrer);
    if host.is_empty() || host.len() > MAX_HOST + 1 {
        return None;
    }
    let host = lower(host);
    // Every leading `www.` (`www.www.example.com` too, found by fuzz/ target `url`).
    let mut bare = host.as_str();
    while let Some(rest) = bare.strip_prefix("www.") {
        bare = rest;
    }
    is_host_name(bare).then(|| bare.to_string())
}

/// Longest host name (DNS: 253 characters).
pub const MAX_HOST: usize = 253;

/// Whether `host` (already lower case, no trailing dot) is a DNS host name: at
/// most [`MAX_HOST`] bytes of labels of 1–63 characters `a-z`, `0-9`, `-`. An
/// internationalised name is valid in its punycode form (`xn--…`), which is how
/// browsers send it; IPv4 addresses pass, IPv6 literals do not.
pub fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// The host of an `Origin` or `Referer` header value, lower case, or `None`.
pub fn header_host(value: &str) -> Option<String> {
    let (host, _) = split_host(value);
    (!host.is_empty()).then(|| lower(host))
}

/// Whether `host` matches a site hostname pattern (`example.com` or `*.example.com`,
/// which also matches `example.com` itself). A `www.` prefix of the host is ignored.
pub fn host_matches(host: &str, pattern: &str) -> bool {
    let host = host.strip_prefix("www.").unwrap_or(host);
    match pattern.strip_prefix("*.") {
        Some(base) => {
            let base = base.strip_prefix("www.").unwrap_or(base);
            host.eq_ignore_ascii_case(base)
                || (host.len() > base.len()
                    && host.as_bytes()[host.len() - base.len() - 1] == b'.'
                    && host[host.len() - base.len()..].eq_ignore_ascii_case(base))
        }
        None => host.eq_ignore_ascii_case(pattern.strip_prefix("www.").unwrap_or(pattern)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`normalise_path`] without its fast path, for comparison.
    fn normalise_slow(path: &str, max_path: usize) -> String {
        normalise_path(&format!("{path}%"), max_path + 1)
            .strip_suffix('%')
            .map(str::to_string)
            .unwrap_or_default()
    }

    #[test]
    fn the_fast_path_gives_what_the_full_normalisation_gives() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/Pricing",
            "/a-b_c.d~e!$&'()*+,;=:@",
            "/x y",
            "/ab/cd/ef",
        ] {
            assert!(is_normal(p, 64), "{p}");
            assert_eq!(normalise_path(p, 64), normalise_slow(p, 64), "{p}");
        }
        for p in [
            "", "a", "//", "/a/", "/a//b", "/%41", "/a?b", "/a#b", "/\u{7f}", "/\t", "/\u{142}",
        ] {
            assert!(!is_normal(p, 64), "{p}");
        }
        assert!(!is_normal("/abcdef", 4));
        assert_eq!(normalise_path("/abcdef", 4), "/abc");
    }

    #[test]
    fn pages_keep_path_and_utm_only() {
        let p = parse_page(
            "https://Example.COM:443/Pricing/?utm_source=News%20Letter&email=a@b.c&utm_medium=Email#top",
            512,
            false,
        );
        assert_eq!(p.host, "example.com");
        assert_eq!(
            parse_page("https://a.b/app#/settings/?x=1", 512, true).path,
            "/app#/settings"
        );
        assert_eq!(
            parse_page("https://a.b/app#!/users", 512, true).path,
            "/app#/users"
        );
        assert_eq!(
            parse_page("https://a.b/app#/settings", 512, false).path,
            "/app"
        );
        assert_eq!(
            parse_page("https://a.b/app#section-2", 512, true).path,
            "/app"
        );
        assert_eq!(p.path, "/Pricing");
        assert_eq!(p.utm[0].as_deref(), Some("news letter"));
        assert_eq!(p.utm[1].as_deref(), Some("email"));
        assert!(p.utm[2].is_none());
        assert_eq!(parse_page("https://example.com", 512, false).path, "/");
        assert_eq!(parse_page("/a//b/", 512, false).path, "/a/b");
        assert_eq!(parse_page("/caf%C3%A9", 512, false).path, "/café");
        assert_eq!(parse_page("/%ZZ%", 512, false).path, "/%ZZ%");
        assert_eq!(parse_page("/a%3Fb%23c", 512, false).path, "/a%3Fb%23c");
        assert_eq!(parse_page("/abcdef", 3, false).path, "/ab");
        assert_eq!(parse_page("/\u{200e}/a/%00/b", 64, false).path, "/a/b");
        assert_eq!(
            parse_page(
                "/a%0D%0Ab%00c%E2%80%AEd\u{2066}?utm_source=x%0Ay%E2%80%8F",
                512,
                false
            ),
            Page {
                host: String::new(),
                path: "/abcd".into(),
                utm: [Some("xy".into()), None, None, None, None],
            },
            "control and bidi characters never reach a path or a campaign"
        );
        let long = format!("/?utm_campaign={}", "é".repeat(100));
        assert_eq!(
            parse_page(&long, 512, false).utm[2]
                .as_ref()
                .map(String::len),
            Some(128)
        );
        assert_eq!(
            parse_page("https://user:pw@[2001:db8::1]:8080/x", 512, false).host,
            "2001:db8::1"
        );
    }

    #[test]
    fn a_hash_route_stays_within_max_path() {
        // Fuzz reproducer (fuzz/ target `url`): the path filled `max_path`, and
        // the route added a bare `#`, one byte over.
        let p = parse_page("https://a.b/abc#/def", 4, true);
        assert_eq!(p.path, "/abc");
        assert_eq!(parse_page("https://a.b/abc#/def", 5, true).path, "/abc");
        assert_eq!(parse_page("https://a.b/abc#/def", 6, true).path, "/abc#/");
        assert_eq!(
            parse_page("https://a.b/abc#/def", 9, true).path,
            "/abc#/def"
        );
    }

    #[test]
    fn referrers_keep_the_host_only() {
        assert_eq!(
            referrer_host("https://www.google.com/search?q=secret").as_deref(),
            Some("google.com")
        );
        assert_eq!(referrer_host(""), None);
        assert_eq!(referrer_host("not a url"), None);
        assert_eq!(
            referrer_host("android-app://com.slack/").as_deref(),
            Some("com.slack")
        );
        let long = format!("https://{}.com/", "a".repeat(30_000));
        assert_eq!(referrer_host(&long), None, "longer than a host name");
        let label = format!("https://{}.com/", "a".repeat(64));
        assert_eq!(referrer_host(&label), None, "a label longer than 63");
        assert_eq!(referrer_host("https://ev\u{202e}il.com/"), None);
        assert_eq!(referrer_host("https://a%0d%0ab.com/"), None);
        assert_eq!(referrer_host("https://bücher.de/"), None, "not punycode");
        assert_eq!(
            referrer_host("https://XN--bcher-kva.DE./x").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(referrer_host("https://a..b/"), None);
        assert_eq!(referrer_host("https://[2001:db8::1]/"), None);
        assert_eq!(
            referrer_host("http://192.0.2.1:8080/").as_deref(),
            Some("192.0.2.1")
        );
    }

    #[test]
    fn a_referrer_host_has_no_leading_www_at_all() {
        // Fuzz reproducer (fuzz/ target `url`).
        assert_eq!(referrer_host("://www.www.oo").as_deref(), Some("oo"));
        assert_eq!(referrer_host("https://www.www.").as_deref(), Some("www"));
    }

    #[test]
    fn hostname_patterns() {
        assert!(host_matches("example.com", "example.com"));
        assert!(host_matches("www.example.com", "example.com"));
        assert!(!host_matches("blog.example.com", "example.com"));
        assert!(host_matches("blog.example.com", "*.example.com"));
        assert!(host_matches("example.com", "*.example.com"));
        assert!(!host_matches("badexample.com", "*.example.com"));
    }

    #[test]
    fn percent_decoding_never_fails() {
        assert_eq!(percent_decode("a+b%20c", true), "a b c");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("%", true), "%");
        assert_eq!(percent_decode("%4", true), "%4");
        assert_eq!(percent_decode("%ff", true), "\u{fffd}");
        assert_eq!(truncate("héllo", 2), "h");
    }
}
