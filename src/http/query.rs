//! Query strings and form bodies (`a=1&b=2`), and percent-decoding.
//!
//! Parsing is `form_urlencoded`'s (the WHATWG rules browsers encode by), which
//! borrows from the input whenever a value needs no decoding: the pixel decodes
//! every pageview through it without allocating.

use std::borrow::Cow;

/// The `(key, value)` pairs of a query string or form body, decoded (`+` is a
/// space), in order, empty pairs skipped.
pub fn pairs(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

/// The first value of `key`, decoded.
pub fn first<'a>(query: &'a str, key: &str) -> Option<Cow<'a, str>> {
    pairs(query).find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Percent-decodes `s` (and `+` as a space when `plus` is set). Invalid escapes
/// are kept as they are and invalid UTF-8 is replaced: never an error, since what
/// visitors' browsers send is not ours to refuse.
pub fn percent_decode(s: &str, plus: bool) -> Cow<'_, str> {
    if plus && s.contains('+') {
        let spaced = s.replace('+', " ");
        return Cow::Owned(
            percent_encoding::percent_decode_str(&spaced)
                .decode_utf8_lossy()
                .into_owned(),
        );
    }
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
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
    fn percent_decode_keeps_bad_escapes_and_replaces_bad_utf8() {
        assert_eq!(percent_decode("/a%2Fb", false), "/a/b");
        assert_eq!(percent_decode("a+b", false), "a+b");
        assert_eq!(percent_decode("a+b", true), "a b");
        assert_eq!(percent_decode("100%", false), "100%");
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("%C5%82", false), "ł");
        assert_eq!(percent_decode("%FF", false), "\u{fffd}");
        assert!(matches!(percent_decode("/plain", true), Cow::Borrowed(_)));
    }
}
