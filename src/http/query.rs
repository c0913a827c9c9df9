//! Query strings and form bodies (`a=1&b=2`), and percent-decoding.
//!
//! Pairs are split and decoded by the WHATWG `application/x-www-form-urlencoded`
//! rules browsers encode by — exactly what `form_urlencoded::parse` gives (a test
//! checks it) — with [`percent_decode`] for each key and value: a component
//! without `%` or `+` is borrowed after one byte scan, so the pixel decodes a
//! pageview without allocating, at about a third of `form_urlencoded`'s cost.

use std::borrow::Cow;

/// The `(key, value)` pairs of a query string or form body, in order: split on
/// `&` (empty pieces skipped), then at the first `=`; each side decoded (`+` is a
/// space, `%XX` a byte, a `%` without two hex digits stays, invalid UTF-8 is
/// replaced).
pub fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (percent_decode(k, true), percent_decode(v, true))
    })
}

/// The first value of `key`, decoded.
pub fn first<'a>(query: &'a str, key: &str) -> Option<Cow<'a, str>> {
    pairs(query).find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Percent-decodes `s` (and `+` as a space when `plus` is set). Invalid escapes
/// are kept as they are and invalid UTF-8 is replaced: never an error, since what
/// visitors' browsers send is not ours to refuse.
///
/// One pass: borrowed after one byte scan when there is nothing to decode,
/// else decoded into a buffer of its final size (every pixel pageview's keys and
/// values come through here, so it is written out rather than a `+` replacement
/// followed by `percent_encoding`'s decoder, which cost about twice as much).
pub fn percent_decode(s: &str, plus: bool) -> Cow<'_, str> {
    let b = s.as_bytes();
    let Some(first) = b.iter().position(|&c| c == b'%' || (plus && c == b'+')) else {
        return Cow::Borrowed(s);
    };
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..first]);
    let mut i = first;
    while i < b.len() {
        match b[i] {
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b'%' => match (b.get(i + 1).and_then(hex), b.get(i + 2).and_then(hex)) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The value of one hex digit.
fn hex(c: &u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_and_skip_empty() {
        let got: Vec<_> = pairs("a=1&&b=x%20y+z&c&=v").collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), "".into()),
                ("".into(), "v".into()),
            ]
        );
        assert_eq!(first("lang=pl&lang=en", "lang").as_deref(), Some("pl"));
        assert_eq!(first("x=1", "lang"), None);
    }

    #[test]
    fn pairs_are_form_urlencoded_pairs() {
        let cases = [
            "",
            "&&&",
            "a",
            "=",
            "a=",
            "=b",
            "a=1&&b=x%20y+z&c&=v",
            "s=example.com&u=https%3A%2F%2Fexample.com%2Fpricing%3Fa%3D1&r=https://www.google.com/&w=1280",
            "a=%&b=%4&c=%zz&d=%4g&e=%%41&f=100%",
            "a=%FF%FE&b=%C5%82&c=%E2%82&d=%F0%9F%98%80&e=\u{142}%C5",
            "k+ey=v+a+l&%6B=%76&a==b=c",
            "p.plan=pro&p.a%20b=c%2Bd&_=123",
            "x=\u{1F600}+%2B+&y=%0A%0D%00",
        ];
        for q in cases {
            let want: Vec<(String, String)> = form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            let got: Vec<(String, String)> = pairs(q)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert_eq!(got, want, "query {q:?}");
        }
        // Every two-byte string over an alphabet of the interesting bytes, and a
        // few longer ones made from it.
        let alphabet = ["%", "+", "&", "=", "4", "1", "g", "F", "\u{142}", "a"];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let q = format!("{a}{b}{c}%{b}{c}{a}");
                    let want: Vec<_> = form_urlencoded::parse(q.as_bytes()).collect();
                    let got: Vec<_> = pairs(&q).collect();
                    assert_eq!(got, want, "query {q:?}");
                }
            }
        }
        assert!(pairs("a=b").all(|(k, v)| matches!((k, v), (Cow::Borrowed(_), Cow::Borrowed(_)))));
    }

    #[test]
    fn percent_decode_keeps_bad_escapes_and_replaces_bad_utf8() {
        assert_eq!(percent_decode("/a%2Fb", false), "/a/b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("%C5%82", false), "ł");
        assert_eq!(percent_decode("%FF", false), "\u{fffd}");
        assert!(matches!(percent_decode("/plain", true), Cow::Borrowed(_)));
        // What `percent_encoding`'s decoder gives, on every short string of the
        // interesting bytes.
        let alphabet = ["%", "+", "4", "1", "g", "F", "\u{142}", "a"];
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    let s = format!("{a}{b}{c}%{b}{c}{a}%C5%82%FF");
                    let want = percent_encoding::percent_decode_str(&s).decode_utf8_lossy();
                    assert_eq!(percent_decode(&s, false), want, "{s:?}");
                }
            }
        }
    }
}
