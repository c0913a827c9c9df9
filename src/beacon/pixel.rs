//! The pixel: `GET /p.gif?s=SITE&u=URL&r=REFERRER&w=WIDTH&e=EVENT&c=CONSENT&o=1`.
//!
//! Decoded in one pass over the raw query (no intermediate map, borrowed values
//! where nothing needs decoding): this runs for every pageview. Unknown keys are ignored so that cache-busting parameters do no harm.
//! The pairs are split by [`pairs`], which gives what `form_urlencoded::parse`
//! gives (a test checks this) at about a third of its cost: a component without
//! `%` or `+` is borrowed after one byte scan, and one that needs decoding is
//! decoded into a buffer of its final size, without `form_urlencoded`'s
//! byte-by-byte growth and second UTF-8 pass.
//! Event props travel as `p.KEY=VALUE`.
//!
//! Revenue travels as `ra=19.99&rc=EUR` (amount, currency: both or neither), on an
//! event only. `et=MS&sd=PERCENT` (visible time, deepest scroll) make the request an
//! engagement report rather than a pageview; either alone is enough, the other
//! counts as 0. Unlike a bad `w`, which only loses the width, a malformed amount or
//! engagement rejects the request: a guessed amount would be wrong money, and an
//! engagement report has nothing else to keep.

use std::borrow::Cow;

use super::{check_kind, engagement, engagement_number, event_name, revenue, Beacon, DecodeError};

/// Decodes the query string of a pixel request. Without `u`, the page is taken from
/// `referer` — the `Referer` header an `<img>` carries is the page it sits on — and
/// failing that, the site's home page.
pub fn decode<'a>(query: &'a str, referer: Option<&'a str>) -> Result<Beacon<'a>, DecodeError> {
    let mut b = Beacon::default();
    let mut event = None;
    let (mut amount, mut currency, mut time, mut scroll) = (None, None, None, None);
    for (key, value) in pairs(query) {
        let value = || value.clone();
        match &*key {
            "s" | "site" => b.site = value(),
            "u" | "url" => b.url = value(),
            "r" | "ref" => {
                let r = value();
                if !r.is_empty() {
                    b.referrer = Some(r);
                }
            }
            "w" => b.width = value().trim().parse().ok(),
            "e" | "n" => event = Some(value()),
            "c" => b.consent = Some(value()),
            "o" => b.opt_out = matches!(&*value(), "1" | "true"),
            "ra" => amount = Some(value()),
            "rc" => currency = Some(value()),
            "et" => time = Some(value()),
            "sd" => scroll = Some(value()),
            _ => {
                if let Some(prop) = key.strip_prefix("p.") {
                    if !prop.is_empty() {
                        let prop = match &key {
                            Cow::Borrowed(k) => Cow::Borrowed(&k[2..]),
                            Cow::Owned(k) => Cow::Owned(k[2..].to_string()),
                        };
                        b.props.push((prop, value()));
                    }
                }
            }
        }
    }
    b.event = event_name(event);
    if b.site.trim().is_empty() {
        return Err(DecodeError::MissingSite);
    }
    b.revenue = match (amount, currency) {
        (None, None) => None,
        (Some(a), Some(c)) => Some(revenue(&a, &c)?),
        _ => {
            return Err(DecodeError::Revenue(
                "revenue needs both an amount and a currency",
            ))
        }
    };
    if time.is_some() || scroll.is_some() {
        b.engagement = Some(engagement(
            engagement_number(time.as_deref()),
            engagement_number(scroll.as_deref()),
        )?);
    }
    check_kind(&b)?;
    if b.url.trim().is_empty() {
        // Browsers whose referrer policy strips the header still count the home page.
        b.url = Cow::Borrowed(referer.filter(|r| !r.trim().is_empty()).unwrap_or("/"));
    }
    Ok(b)
}

/// The `(key, value)` pairs of a query string, decoded by the WHATWG
/// `application/x-www-form-urlencoded` rules exactly as `form_urlencoded::parse`
/// decodes them: split on `&` (empty pieces skipped), then at the first `=`;
/// `+` is a space, `%XX` a byte (a `%` without two hex digits stays), invalid
/// UTF-8 is replaced.
pub fn pairs(query: &str) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
    query.split('&').filter(|p| !p.is_empty()).map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        (component(k), component(v))
    })
}

/// One decoded key or value: borrowed when it has no `%` or `+`.
fn component(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let Some(first) = b.iter().position(|&c| c == b'%' || c == b'+') else {
        return Cow::Borrowed(s);
    };
    let mut out = Vec::with_capacity(b.len());
    out.extend_from_slice(&b[..first]);
    let mut i = first;
    while i < b.len() {
        match b[i] {
            b'+' => {
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
    use crate::beacon::{Engagement, Revenue};

    #[test]
    fn decodes_a_pageview() {
        let b = decode(
            "s=example.com&u=https%3A%2F%2Fexample.com%2Fpricing&r=https://www.google.com/&w=1280",
            None,
        )
        .unwrap();
        assert_eq!(b.site, "example.com");
        assert_eq!(b.url, "https://example.com/pricing");
        assert_eq!(b.referrer.as_deref(), Some("https://www.google.com/"));
        assert_eq!(b.width, Some(1280));
        assert_eq!(b.event, None);
        assert!(matches!(b.site, Cow::Borrowed(_)));
    }

    #[test]
    fn decodes_events_consent_and_opt_out() {
        let b = decode(
            "s=a&u=/&e=signup&p.plan=pro&p.seats=3&c=analytics,marketing&o=1&_=123",
            None,
        )
        .unwrap();
        assert_eq!(b.event.as_deref(), Some("signup"));
        assert_eq!(b.props.len(), 2);
        assert_eq!(b.props[0], (Cow::Borrowed("plan"), Cow::Borrowed("pro")));
        assert_eq!(b.consent.as_deref(), Some("analytics,marketing"));
        assert!(b.opt_out);
        assert_eq!(decode("s=a&u=/&e=pageview", None).unwrap().event, None);
    }

    #[test]
    fn missing_site_is_an_error_and_garbage_is_not_a_panic() {
        assert_eq!(decode("u=/", None), Err(DecodeError::MissingSite));
        assert_eq!(decode("", None), Err(DecodeError::MissingSite));
        assert!(decode("s=%FF%FE&u=%&w=99999999999999&&=&c", None).is_ok());
        assert_eq!(decode("s=a", None).unwrap().url, "/");
        assert_eq!(
            decode("s=a", Some("https://a/x")).unwrap().url,
            "https://a/x"
        );
        assert_eq!(decode("s=a&u=/y", Some("https://a/x")).unwrap().url, "/y");
    }

    #[test]
    fn decodes_revenue_on_an_event() {
        let b = decode("s=a&u=/&e=purchase&p.plan=pro&ra=19.99&rc=eur", None).unwrap();
        assert_eq!(
            b.revenue,
            Some(Revenue {
                milli: 19_990,
                currency: *b"EUR"
            })
        );
        assert_eq!(b.props.len(), 1);
        let milli = |q: &str| decode(q, None).map(|b| b.revenue.map(|r| r.milli));
        assert_eq!(milli("s=a&e=buy&ra=0.0005&rc=USD"), Ok(Some(1)));
        assert_eq!(milli("s=a&e=buy&ra=%2019&rc=USD"), Ok(Some(19_000)));
        assert_eq!(milli("s=a&e=buy"), Ok(None));
        let reason = |q: &str| decode(q, None).unwrap_err().to_string();
        assert_eq!(
            reason("s=a&e=buy&ra=-1&rc=EUR"),
            "revenue amount must be a non-negative decimal number"
        );
        assert_eq!(
            reason("s=a&e=buy&ra=1e3&rc=EUR"),
            "revenue amount must be a non-negative decimal number"
        );
        assert_eq!(
            reason("s=a&e=buy&ra=1&rc=EURO"),
            "revenue currency must be a three-letter ISO 4217 code"
        );
        assert_eq!(
            reason("s=a&e=buy&ra=1"),
            "revenue needs both an amount and a currency"
        );
        assert_eq!(
            reason("s=a&e=buy&rc=EUR"),
            "revenue needs both an amount and a currency"
        );
        assert_eq!(reason("s=a&ra=1&rc=EUR"), "revenue needs an event");
        assert_eq!(reason("ra=1&rc=EUR"), "missing site");
    }

    #[test]
    fn decodes_an_engagement_report() {
        let b = decode("s=a&u=/docs&et=1200&sd=50", None).unwrap();
        assert_eq!(
            b.engagement,
            Some(Engagement {
                time_ms: 1200,
                scroll: 50
            })
        );
        assert_eq!(b.event, None);
        let e = |q: &str| decode(q, None).map(|b| b.engagement.map(|e| (e.time_ms, e.scroll)));
        assert_eq!(e("s=a&et=800"), Ok(Some((800, 0))));
        assert_eq!(e("s=a&sd=30"), Ok(Some((0, 30))));
        assert_eq!(e("s=a&et=99999999&sd=140"), Ok(Some((1_800_000, 100))));
        assert_eq!(e("s=a&e=pageview&et=1"), Ok(Some((1, 0))));
        assert_eq!(e("s=a"), Ok(None));
        let reason = |q: &str| decode(q, None).unwrap_err().to_string();
        let time = "engagement time must be a non-negative number of milliseconds";
        assert_eq!(reason("s=a&et=-1"), time);
        assert_eq!(reason("s=a&et=abc"), time);
        assert_eq!(reason("s=a&et="), time);
        assert_eq!(
            reason("s=a&et=5&sd=x"),
            "scroll depth must be a non-negative percentage"
        );
        assert_eq!(
            reason("s=a&e=signup&et=5"),
            "an engagement report cannot also be an event"
        );
    }
}
