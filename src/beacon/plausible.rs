//! Drop-in for Plausible's event API: `POST /api/event`.
//!
//! Plausible's script sends `{"n": name, "u": url, "d": domain, "r": referrer|null,
//! "p": props, "h": 1, "i": false, "v": version}` as `text/plain` (older versions also
//! `"w": width` and `"m"`/`"p"` as JSON strings). A site switches to veil by pointing
//! the script's `data-api` at veil; `d` names the site (a configured site id or one of
//! its hostnames; a comma list is allowed and the first configured one wins).
//!
//! Revenue (`plausible('Purchase', {revenue: {amount, currency}})`) arrives as
//! `"$": {"amount": "19.99" | 19.99, "currency": "EUR"}` (the Events API's
//! `"revenue"` key is accepted too) and, as everywhere in veil, only on a custom
//! event. Plausible's `engagement` events (`{"n": "engagement", "sd": 50, "e": 1200,
//! …}`: scroll depth percent, engaged milliseconds) become veil engagement reports,
//! with the same site and URL handling as a pageview.

use std::borrow::Cow;

use serde::Deserialize;

use super::json::{engagement_number, prop_text, revenue_value};
use super::{check_kind, engagement, event_name, Beacon, DecodeError};

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default, alias = "name")]
    n: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "url")]
    u: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "domain")]
    d: Option<Cow<'a, str>>,
    #[serde(borrow, default, alias = "referrer")]
    r: Option<Cow<'a, str>>,
    #[serde(default, alias = "screen_width")]
    w: Option<f64>,
    #[serde(default, alias = "props")]
    p: Option<serde_json::Value>,
    #[serde(default, rename = "$", alias = "revenue")]
    revenue: Option<serde_json::Value>,
    /// Scroll depth of an `engagement` event, percent.
    #[serde(default)]
    sd: Option<serde_json::Value>,
    /// Engaged time of an `engagement` event, milliseconds.
    #[serde(default)]
    e: Option<serde_json::Value>,
}

/// What a Plausible request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum PlausibleEvent<'a> {
    /// A pageview, custom event or engagement report; `site` holds the `d` value(s).
    Hit(Beacon<'a>),
}

/// Decodes a Plausible event body.
pub fn decode(body: &[u8]) -> Result<PlausibleEvent<'_>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    let wire: Wire<'_> =
        serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    let site = wire
        .d
        .filter(|d| !d.trim().is_empty())
        .ok_or(DecodeError::MissingSite)?;
    let url = wire
        .u
        .filter(|u| !u.trim().is_empty())
        .ok_or(DecodeError::MissingUrl)?;
    // `p` is an object, or (legacy scripts) an object encoded as a JSON string.
    let props = match wire.p {
        Some(serde_json::Value::Object(m)) => Some(m),
        Some(serde_json::Value::String(s)) => serde_json::from_str(&s).ok(),
        _ => None,
    };
    let props = props
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((Cow::Owned(k), Cow::Owned(prop_text(v)?))))
        .collect();
    // The event name `engagement` is Plausible's report, not a custom event.
    let (event, engagement) = if wire.n.as_deref() == Some("engagement") {
        let e = engagement(
            engagement_number(wire.e.as_ref()),
            engagement_number(wire.sd.as_ref()),
        )?;
        (None, Some(e))
    } else {
        (event_name(wire.n), None)
    };
    let b = Beacon {
        site,
        url,
        referrer: wire.r.filter(|r| !r.is_empty()),
        width: wire
            .w
            .filter(|w| w.is_finite() && *w >= 0.0 && *w < 100_000.0)
            .map(|w| w as u32),
        event,
        props,
        consent: None,
        opt_out: false,
        revenue: wire.revenue.map(revenue_value).transpose()?.flatten(),
        engagement,
    };
    check_kind(&b)?;
    Ok(PlausibleEvent::Hit(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beacon::{Engagement, Revenue};

    fn hit(body: &str) -> Beacon<'_> {
        let PlausibleEvent::Hit(b) = decode(body.as_bytes()).unwrap();
        b
    }

    fn reason(body: &str) -> String {
        decode(body.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn decodes_what_the_official_script_sends() {
        let b = hit(
            r#"{"n":"pageview","v":28,"u":"https://example.com/pricing?utm_source=x","d":"example.com","r":null,"h":1}"#,
        );
        assert_eq!(
            (b.site.as_ref(), b.url.as_ref()),
            ("example.com", "https://example.com/pricing?utm_source=x")
        );
        assert_eq!((b.event, b.referrer), (None, None));
        let b = hit(
            r#"{"n":"Signup","u":"https://example.com/","d":"example.com","r":"https://www.google.com/","p":{"plan":"pro","seats":3}}"#,
        );
        assert_eq!(b.event.as_deref(), Some("Signup"));
        assert_eq!(b.props.len(), 2);
        let b =
            hit(r#"{"n":"Signup","u":"/","d":"example.com","w":1280,"p":"{\"plan\":\"pro\"}"}"#);
        assert_eq!((b.width, b.props.len()), (Some(1280), 1));
    }

    #[test]
    fn revenue_from_the_dollar_key_or_revenue() {
        let b = hit(
            r#"{"n":"Purchase","u":"https://example.com/checkout","d":"example.com","p":{"plan":"pro"},"$":{"amount":"19.99","currency":"EUR"}}"#,
        );
        assert_eq!(
            b.revenue,
            Some(Revenue {
                milli: 19_990,
                currency: *b"EUR"
            })
        );
        assert_eq!((b.event.as_deref(), b.props.len()), (Some("Purchase"), 1));
        let b = hit(
            r#"{"name":"Purchase","url":"/","domain":"a","revenue":{"amount":0.0005,"currency":"usd"}}"#,
        );
        assert_eq!(
            b.revenue,
            Some(Revenue {
                milli: 1,
                currency: *b"USD"
            })
        );
        assert_eq!(
            reason(r#"{"n":"Purchase","u":"/","d":"a","$":{"amount":-1,"currency":"EUR"}}"#),
            "revenue amount must be a non-negative decimal number"
        );
        assert_eq!(
            reason(r#"{"n":"Purchase","u":"/","d":"a","$":{"amount":"1","currency":"E"}}"#),
            "revenue currency must be a three-letter ISO 4217 code"
        );
        assert_eq!(
            reason(r#"{"n":"pageview","u":"/","d":"a","$":{"amount":"1","currency":"EUR"}}"#),
            "revenue needs an event"
        );
    }

    #[test]
    fn engagement_is_a_report_and_errors_are_clear() {
        let b = hit(
            r#"{"n":"engagement","u":"https://example.com/docs","d":"example.com","r":null,"p":{"plan":"pro"},"sd":50,"e":1200,"v":28,"h":0}"#,
        );
        assert_eq!(
            b.engagement,
            Some(Engagement {
                time_ms: 1200,
                scroll: 50
            })
        );
        assert_eq!(
            (b.site.as_ref(), b.url.as_ref(), b.event),
            ("example.com", "https://example.com/docs", None)
        );
        let b = hit(r#"{"n":"engagement","u":"/","d":"a","sd":130,"e":3600000}"#);
        assert_eq!(
            b.engagement,
            Some(Engagement {
                time_ms: 1_800_000,
                scroll: 100
            })
        );
        let b = hit(r#"{"n":"engagement","u":"/","d":"a"}"#);
        assert_eq!(b.engagement, Some(Engagement::default()));
        assert_eq!(
            reason(r#"{"n":"engagement","u":"/","d":"a","sd":50,"e":-3}"#),
            "engagement time must be a non-negative number of milliseconds"
        );
        assert_eq!(
            reason(r#"{"n":"engagement","u":"/","d":"a","sd":"deep","e":3}"#),
            "scroll depth must be a non-negative percentage"
        );
        assert_eq!(
            decode(br#"{"n":"engagement","u":"/","sd":50,"e":1200}"#),
            Err(DecodeError::MissingSite)
        );
        // `sd`/`e` on anything but an engagement event mean nothing.
        assert_eq!(
            hit(r#"{"n":"pageview","u":"/","d":"a","e":5}"#).engagement,
            None
        );
        assert_eq!(
            decode(br#"{"n":"pageview","u":"/"}"#),
            Err(DecodeError::MissingSite)
        );
        assert_eq!(
            decode(br#"{"n":"pageview","d":"a"}"#),
            Err(DecodeError::MissingUrl)
        );
    }
}
