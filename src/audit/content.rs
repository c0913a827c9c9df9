//! Content checks: the stored text itself, scanned for IP addresses and User-Agent
//! fragments, because a schema that looks clean can still be fed the wrong values.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv6Addr;

use clickhouse::sql::Identifier;
use clickhouse::Client;
use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

use super::schema::{base_type, is_text, Table};
use super::{AuditError, Check, Status};

/// Bytes of a String column, whatever they contain (a column may hold invalid UTF-8).
struct RawText(Vec<u8>);

impl<'de> Deserialize<'de> for RawText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<RawText, E> {
                Ok(RawText(v.to_vec()))
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<RawText, E> {
                Ok(RawText(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawText, E> {
                Ok(RawText(v.as_bytes().to_vec()))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

#[derive(Deserialize, clickhouse::Row)]
struct Sample {
    dim: RawText,
    text: RawText,
}

/// What a value looked like (never the value itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Finding {
    Ipv4,
    Ipv6,
    UserAgent,
}

impl Finding {
    fn describe(self) -> &'static str {
        match self {
            Finding::Ipv4 => "an IPv4 address",
            Finding::Ipv6 => "an IPv6 address",
            Finding::UserAgent => "a User-Agent fragment",
        }
    }
}

/// Everything the content scan looks for in one value.
fn findings(text: &[u8]) -> impl Iterator<Item = Finding> {
    [
        has_ipv4(text).then_some(Finding::Ipv4),
        has_ipv6(text).then_some(Finding::Ipv6),
        has_user_agent(text).then_some(Finding::UserAgent),
    ]
    .into_iter()
    .flatten()
}

/// SQL turning a text column (bound as an identifier at the `?`) into one String;
/// `None` for types the scan does not read.
fn text_expr(ty: &str) -> Option<&'static str> {
    let base = base_type(ty);
    if !is_text(base) {
        return None;
    }
    let nullable_inside = ty.contains("Nullable(");
    Some(match (ty.starts_with("Array("), nullable_inside) {
        (true, true) => "arrayStringConcat(arrayMap(x -> ifNull(toString(x), ''), ?), ' ')",
        (true, false) => "arrayStringConcat(arrayMap(x -> toString(x), ?), ' ')",
        (false, true) => "ifNull(toString(?), '')",
        (false, false) => "toString(?)",
    })
}

pub(super) async fn content_check(
    client: &Client,
    t: &Table,
    sample_rows: u64,
) -> Result<Check, AuditError> {
    let name = format!("content {}", t.name);
    let has_dim = t
        .columns
        .iter()
        .any(|c| c.name == "dim" && base_type(&c.ty) == "String");
    let mut problems: BTreeMap<(String, String, Finding), u64> = BTreeMap::new();
    let mut scanned_columns = 0usize;
    let mut max_rows = 0u64;
    let mut skipped = Vec::new();
    for c in &t.columns {
        let Some(expr) = text_expr(&c.ty) else {
            if c.ty.contains("String") && !c.ty.starts_with("AggregateFunction(") {
                skipped.push(c.name.clone());
            }
            continue;
        };
        scanned_columns += 1;
        let dim = if has_dim { "toString(dim)" } else { "''" };
        let mut sql = format!("SELECT {dim} AS dim, {expr} AS text FROM ?");
        if sample_rows > 0 {
            sql.push_str(" LIMIT ?");
        }
        let mut q = client
            .query(&sql)
            .bind(Identifier(&c.name))
            .bind(Identifier(&t.name));
        if sample_rows > 0 {
            q = q.bind(sample_rows);
        }
        let mut cursor = q.fetch::<Sample>()?;
        let mut rows = 0u64;
        while let Some(s) = cursor.next().await? {
            rows += 1;
            for f in findings(&s.text.0) {
                let dim = if has_dim {
                    String::from_utf8_lossy(&s.dim.0).into_owned()
                } else {
                    String::new()
                };
                *problems.entry((c.name.clone(), dim, f)).or_default() += 1;
            }
        }
        max_rows = max_rows.max(rows);
    }
    let limit = if sample_rows > 0 {
        format!("up to {sample_rows} rows per column")
    } else {
        "every row".to_string()
    };
    if problems.is_empty() {
        let mut detail = if scanned_columns == 0 {
            "no text columns".to_string()
        } else {
            format!(
                "{scanned_columns} text column(s), {max_rows} row(s) read ({limit}): no IP addresses or User-Agents"
            )
        };
        if !skipped.is_empty() {
            detail.push_str(&format!("; not scanned: {}", skipped.join(", ")));
        }
        return Ok(Check::new(Status::Ok, name, detail));
    }
    let detail: Vec<String> = problems
        .iter()
        .map(|((column, dim, f), n)| {
            let at = if has_dim {
                format!("column `{column}`, dim `{dim}`")
            } else {
                format!("column `{column}`")
            };
            format!("{at}: {n} of {max_rows} row(s) read hold {}", f.describe())
        })
        .collect();
    Ok(Check::new(Status::Fail, name, detail.join("; ")))
}

/// Whether `s` contains a dotted-quad IPv4 address (each part 0–255, not part of a
/// longer dotted number such as a version `1.2.3.4.5`).
pub fn has_ipv4(s: &[u8]) -> bool {
    (0..s.len()).any(|i| {
        s[i].is_ascii_digit()
            && (i == 0 || !(s[i - 1].is_ascii_digit() || s[i - 1] == b'.'))
            && ipv4_at(s, i).is_some_and(|end| {
                end == s.len()
                    || !(s[end].is_ascii_digit()
                        || (s[end] == b'.' && s.get(end + 1).is_some_and(u8::is_ascii_digit)))
            })
    })
}

/// The end of a dotted quad starting at `i`.
fn ipv4_at(s: &[u8], mut i: usize) -> Option<usize> {
    for part in 0..4 {
        if part > 0 {
            if s.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut v = 0u32;
        while i < s.len() && s[i].is_ascii_digit() {
            if i - start == 3 {
                return None;
            }
            v = v * 10 + u32::from(s[i] - b'0');
            i += 1;
        }
        if i == start || v > 255 {
            return None;
        }
    }
    Some(i)
}

/// Whether `s` contains an IPv6 address (any spelling `std::net` accepts, including
/// `::ffff:1.2.3.4`), with at least two groups and four hex digits so that `a::b` in
/// prose or code does not count.
pub fn has_ipv6(s: &[u8]) -> bool {
    let in_run = |b: u8| b.is_ascii_hexdigit() || b == b':' || b == b'.';
    let mut i = 0;
    while i < s.len() {
        if !in_run(s[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < s.len() && in_run(s[i]) {
            i += 1;
        }
        let run = &s[start..i];
        // A run glued to a word (`std::fmt` → `d::f`) is not an address, unless it
        // starts or ends at a colon (`ip:2001:db8::1`).
        let glued_before = start > 0 && s[start - 1].is_ascii_alphanumeric() && run[0] != b':';
        let glued_after = i < s.len() && s[i].is_ascii_alphanumeric() && run[run.len() - 1] != b':';
        if !glued_before && !glued_after && ipv6_run(run) {
            return true;
        }
    }
    false
}

fn ipv6_run(run: &[u8]) -> bool {
    if run.iter().filter(|&&b| b == b':').count() < 2 {
        return false;
    }
    let Ok(text) = std::str::from_utf8(run) else {
        return false;
    };
    let text = text.trim_end_matches('.');
    let mut candidates = vec![text];
    if let Some(t) = text.strip_prefix(':').filter(|t| !t.starts_with(':')) {
        candidates.push(t);
    }
    if let Some(t) = text.strip_suffix(':').filter(|t| !t.ends_with(':')) {
        candidates.push(t);
    }
    candidates.into_iter().any(|c| {
        c.parse::<Ipv6Addr>().is_ok()
            && c.split(':').filter(|g| !g.is_empty()).count() >= 2
            && c.bytes().filter(u8::is_ascii_hexdigit).count() >= 4
    })
}

/// Product tokens of User-Agents (matched case-insensitively before `/<digit>`).
const UA_TOKENS: &[&[u8]] = &[
    b"mozilla",
    b"applewebkit",
    b"gecko",
    b"chrome",
    b"safari",
    b"bot",
    b"curl",
    b"python-requests",
];

/// Whether `s` contains a User-Agent product token with its version (`Mozilla/5`,
/// `AppleWebKit/537`, `Googlebot/2`, `curl/8`): the version keeps page paths such as
/// `/chatbot/help` from counting.
pub fn has_user_agent(s: &[u8]) -> bool {
    s.windows(2).enumerate().any(|(i, w)| {
        w[0] == b'/'
            && w[1].is_ascii_digit()
            && UA_TOKENS
                .iter()
                .any(|t| i >= t.len() && s[i - t.len()..i].eq_ignore_ascii_case(t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_matcher() {
        for yes in [
            "81.2.69.142",
            "ip=81.2.69.142&x",
            "/p/10.0.0.1",
            "a 0.0.0.0 b",
            "255.255.255.255.",
            "x:192.168.1.1:80",
        ] {
            assert!(has_ipv4(yes.as_bytes()), "{yes}");
        }
        for no in [
            "Chrome 131",
            "Mac OS X 10.15.7",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3",
            "1234.1.1.1",
            "1.2.3.4567",
            "v2.0.1",
            "",
        ] {
            assert!(!has_ipv4(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn ipv6_matcher() {
        for yes in [
            "2001:480::1",
            "2001:0480:0000:0000:0000:0000:0000:0001",
            "[2001:db8::7]:443",
            "ip:2001:db8::1",
            "::ffff:81.2.69.142",
            "fe80::1ff:fe23:4567:890a",
        ] {
            assert!(has_ipv6(yes.as_bytes()), "{yes}");
        }
        for no in [
            "std::fmt::Display",
            "10:30:00",
            "::1",
            "a::b",
            "00:1a:2b:3c:4d:5e",
            "event\u{1f}key\u{1f}value",
            "/page",
        ] {
            assert!(!has_ipv6(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn user_agent_matcher() {
        for yes in [
            "Mozilla/5.0 (Windows NT 10.0)",
            "AppleWebKit/537.36",
            "like Gecko/20100101",
            "Googlebot/2.1",
            "curl/8.5.0",
            "python-requests/2.31",
            "x CHROME/131",
        ] {
            assert!(has_user_agent(yes.as_bytes()), "{yes}");
        }
        for no in [
            "Chrome 131",
            "/chatbot/help",
            "/docs/curl/",
            "Safari",
            "Windows 10",
        ] {
            assert!(!has_user_agent(no.as_bytes()), "{no}");
        }
    }
}
