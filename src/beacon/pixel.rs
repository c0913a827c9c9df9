//! The pixel: `GET /p.gif?s=SITE&u=URL&r=REFERRER&w=WIDTH&e=EVENT&c=CONSENT&o=1`.
//!
//! Decoded in one pass over the raw query (no intermediate map, borrowed values
//! where nothing needs decoding): this runs for every pageview. Unknown keys are ignored so that cache-busting parameters do no harm.
//! Event props travel as `p.KEY=VALUE`.

use std::borrow::Cow;

use super::{event_name, Beacon, DecodeError};

/// Decodes the query string of a pixel request. Without `u`, the page is taken from
/// `referer` — the `Referer` header an `<img>` carries is the page it sits on — and
/// failing that, the site's home page.
pub fn decode<'a>(query: &'a str, referer: Option<&'a str>) -> Result<Beacon<'a>, DecodeError> {
    let mut b = Beacon::default();
    let mut event = None;
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
    if b.url.trim().is_empty() {
        // Browsers whose referrer policy strips the header still count the home page.
        b.url = Cow::Borrowed(referer.filter(|r| !r.trim().is_empty()).unwrap_or("/"));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
