//! The pixel: `GET /p.gif?s=SITE&u=URL&r=REFERRER&w=WIDTH&e=EVENT&c=CONSENT&o=1`.
//!
//! Decoded in one pass over the raw query (no intermediate map, borrowed values
//! where nothing needs decoding): this runs for every pageview. Unknown keys are ignored so that cache-busting parameters do no harm.
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
    for (key, value) in crate::http::query::pairs(query) {
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

#[cfg(test)]
mod tests {
    use super::*;

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
