//! veil's JSON event: `POST /api/collect`.
//!
//! ```json
//! {"site": "example.com", "url": "https://example.com/pricing",
//!  "referrer": "https://www.google.com/", "width": 1280,
//!  "event": "signup", "props": {"plan": "pro"},
//!  "consent": ["necessary", "analytics"], "optout": false,
//!  "revenue": {"amount": 19.99, "currency": "EUR"}}
//! ```
//! `consent` may also be a comma-separated string. Prop values may be strings,
//! numbers or booleans; anything else is dropped. Unknown keys are ignored.
//!
//! `revenue` rides on a custom event only (`amount` a number or a decimal string,
//! `currency` three letters). An engagement report is sent instead of an event when
//! the page is hidden or left: `{"site", "url", …, "engagement": {"time_ms": 1200,
//! "scroll": 50}}` (visible milliseconds, deepest scroll percent), with no `event`.

use std::borrow::Cow;

use serde::Deserialize;

use super::{check_kind, event_name, Beacon, DecodeError, Engagement, Revenue};

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    site: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    referrer: Option<Cow<'a, str>>,
    #[serde(default)]
    width: Option<f64>,
    #[serde(borrow, default, alias = "name")]
    event: Option<Cow<'a, str>>,
    #[serde(default)]
    props: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(borrow, default)]
    consent: Option<ConsentWire<'a>>,
    #[serde(default)]
    optout: bool,
    #[serde(default)]
    revenue: Option<serde_json::Value>,
    #[serde(default)]
    engagement: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ConsentWire<'a> {
    List(Vec<Cow<'a, str>>),
    #[serde(borrow)]
    Text(Cow<'a, str>),
}

/// Turns a JSON prop value into its text; objects, arrays and null are dropped.
pub(crate) fn prop_text(v: serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Reads `{"amount": 19.99 | "19.99", "currency": "EUR"}`; `null` is no revenue.
///
/// Taken as a [`serde_json::Value`] rather than a typed struct so that a wrong
/// shape answers with the revenue rule it breaks, not a serde message.
pub(crate) fn revenue_value(v: serde_json::Value) -> Result<Option<Revenue>, DecodeError> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(m) => revenue_of(m.get("amount"), m.get("currency")).map(Some),
        _ => Err(DecodeError::Revenue(
            "revenue must be an object with amount and currency",
        )),
    }
}

/// Builds [`Revenue`] from JSON values: the amount a number or a decimal string.
///
/// A JSON number is parsed from its shortest round-trip text (what the sender
/// wrote, for any number a person types), never multiplied as `f64`, so `19.99`
/// and `"19.99"` give the same 19 990.
pub(crate) fn revenue_of(
    amount: Option<&serde_json::Value>,
    currency: Option<&serde_json::Value>,
) -> Result<Revenue, DecodeError> {
    use serde_json::Value;
    let (Some(amount), Some(currency)) = (amount, currency) else {
        return Err(DecodeError::Revenue(
            "revenue needs both an amount and a currency",
        ));
    };
    let amount = match amount {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        // `f64`'s `Display` never uses an exponent (serde_json's would, for 1e-7).
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Cow::Owned(u.to_string()),
            (None, Some(f)) => Cow::Owned(f.to_string()),
            (None, None) => return Err(super::BAD_AMOUNT),
        },
        _ => return Err(super::BAD_AMOUNT),
    };
    match currency {
        Value::String(c) => super::revenue(&amount, c),
        _ => Err(super::BAD_CURRENCY),
    }
}

/// A JSON engagement number: a number or a numeric string; absent or `null` is 0.
/// Anything else is `NaN`, which [`super::engagement`] refuses.
pub(crate) fn engagement_number(v: Option<&serde_json::Value>) -> f64 {
    match v {
        None | Some(serde_json::Value::Null) => 0.0,
        Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(serde_json::Value::String(s)) => super::engagement_number(Some(s)),
        Some(_) => f64::NAN,
    }
}

/// Reads `{"time_ms": 1200, "scroll": 50}`; `null` is no engagement report.
fn engagement_value(v: serde_json::Value) -> Result<Option<Engagement>, DecodeError> {
    match v {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Object(m) => super::engagement(
            engagement_number(m.get("time_ms")),
            engagement_number(m.get("scroll")),
        )
        .map(Some),
        _ => Err(DecodeError::Engagement(
            "engagement must be an object with time_ms and scroll",
        )),
    }
}

/// Decodes a request body.
pub fn decode(body: &[u8]) -> Result<Beacon<'_>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    let wire: Wire<'_> =
        serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    let site = wire
        .site
        .filter(|s| !s.trim().is_empty())
        .ok_or(DecodeError::MissingSite)?;
    let url = wire
        .url
        .filter(|s| !s.trim().is_empty())
        .ok_or(DecodeError::MissingUrl)?;
    let consent = wire.consent.map(|c| match c {
        ConsentWire::List(list) => Cow::Owned(list.join(",")),
        ConsentWire::Text(t) => t,
    });
    let props = wire
        .props
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((Cow::Owned(k), Cow::Owned(prop_text(v)?))))
        .collect();
    let b = Beacon {
        site,
        url,
        referrer: wire.referrer.filter(|r| !r.is_empty()),
        width: wire
            .width
            .filter(|w| w.is_finite() && *w >= 0.0 && *w < 100_000.0)
            .map(|w| w as u32),
        event: event_name(wire.event),
        props,
        consent,
        opt_out: wire.optout,
        revenue: wire.revenue.map(revenue_value).transpose()?.flatten(),
        engagement: wire.engagement.map(engagement_value).transpose()?.flatten(),
    };
    check_kind(&b)?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_documented_shape() {
        let b = decode(br#"{"site":"example.com","url":"https://example.com/pricing","referrer":"https://www.google.com/","width":1280,"event":"signup","props":{"plan":"pro","seats":3,"trial":true,"nested":{"x":1}},"consent":["necessary","analytics"]}"#).unwrap();
        assert_eq!(b.site, "example.com");
        assert_eq!(b.width, Some(1280));
        assert_eq!(b.event.as_deref(), Some("signup"));
        assert_eq!(b.props.len(), 3);
        assert_eq!(b.consent.as_deref(), Some("necessary,analytics"));
    }

    #[test]
    fn consent_as_text_and_missing_fields() {
        let b = decode(br#"{"site":"a","url":"/","consent":"analytics,marketing"}"#).unwrap();
        assert_eq!(b.consent.as_deref(), Some("analytics,marketing"));
        assert_eq!(decode(br#"{"url":"/"}"#), Err(DecodeError::MissingSite));
        assert_eq!(decode(br#"{"site":"a"}"#), Err(DecodeError::MissingUrl));
        assert_eq!(decode(b"\xff\xfe"), Err(DecodeError::NotUtf8));
        assert!(matches!(decode(b"{nope"), Err(DecodeError::Json(_))));
        assert!(decode(b"[]").is_err());
    }

    #[test]
    fn revenue_as_number_or_string() {
        let b = decode(br#"{"site":"a","url":"/","event":"purchase","props":{"plan":"pro"},"revenue":{"amount":19.99,"currency":"eur"}}"#).unwrap();
        assert_eq!(
            b.revenue,
            Some(Revenue {
                milli: 19_990,
                currency: *b"EUR"
            })
        );
        assert_eq!((b.event.as_deref(), b.props.len()), (Some("purchase"), 1));
        for (amount, milli) in [
            (r#""19.99""#, 19_990),
            ("19", 19_000),
            ("0.0005", 1),
            (r#""0.0005""#, 1),
            ("1.0005", 1_001),
            ("1e-7", 0),
            ("12.5e2", 1_250_000),
            ("1000000000000", 1_000_000_000_000_000),
        ] {
            let body = format!(
                r#"{{"site":"a","url":"/","event":"buy","revenue":{{"amount":{amount},"currency":"USD"}}}}"#
            );
            let b = decode(body.as_bytes()).unwrap();
            assert_eq!(b.revenue.map(|r| r.milli), Some(milli), "{amount}");
        }
        let b = decode(br#"{"site":"a","url":"/","event":"buy","revenue":null}"#).unwrap();
        assert_eq!(b.revenue, None);
    }

    #[test]
    fn bad_revenue_is_a_reasoned_error() {
        let err = |revenue: &str| {
            let body = format!(r#"{{"site":"a","url":"/","event":"buy","revenue":{revenue}}}"#);
            decode(body.as_bytes()).unwrap_err().to_string()
        };
        let amount = "revenue amount must be a non-negative decimal number";
        let currency = "revenue currency must be a three-letter ISO 4217 code";
        assert_eq!(err(r#"{"amount":-1,"currency":"EUR"}"#), amount);
        assert_eq!(err(r#"{"amount":"-1","currency":"EUR"}"#), amount);
        assert_eq!(err(r#"{"amount":"","currency":"EUR"}"#), amount);
        assert_eq!(err(r#"{"amount":"NaN","currency":"EUR"}"#), amount);
        assert_eq!(err(r#"{"amount":true,"currency":"EUR"}"#), amount);
        assert_eq!(
            err(r#"{"amount":1e13,"currency":"EUR"}"#),
            "revenue amount must be at most 1000000000000"
        );
        assert_eq!(err(r#"{"amount":1,"currency":"EURO"}"#), currency);
        assert_eq!(err(r#"{"amount":1,"currency":978}"#), currency);
        assert_eq!(
            err(r#"{"amount":1}"#),
            "revenue needs both an amount and a currency"
        );
        assert_eq!(
            err("19.99"),
            "revenue must be an object with amount and currency"
        );
        assert_eq!(
            decode(br#"{"site":"a","url":"/","revenue":{"amount":1,"currency":"EUR"}}"#),
            Err(DecodeError::Revenue("revenue needs an event"))
        );
        assert_eq!(
            decode(br#"{"site":"a","url":"/","event":"pageview","revenue":{"amount":1,"currency":"EUR"}}"#),
            Err(DecodeError::Revenue("revenue needs an event"))
        );
    }

    #[test]
    fn engagement_report() {
        let b = decode(br#"{"site":"a","url":"/docs","engagement":{"time_ms":1200,"scroll":50}}"#)
            .unwrap();
        assert_eq!(
            b.engagement,
            Some(Engagement {
                time_ms: 1200,
                scroll: 50
            })
        );
        assert_eq!((b.event, b.revenue), (None, None));
        let b =
            decode(br#"{"site":"a","url":"/","engagement":{"time_ms":9999999.7,"scroll":180}}"#)
                .unwrap();
        assert_eq!(
            b.engagement,
            Some(Engagement {
                time_ms: 1_800_000,
                scroll: 100
            })
        );
        let b = decode(br#"{"site":"a","url":"/","engagement":{"time_ms":"800"}}"#).unwrap();
        assert_eq!(
            b.engagement,
            Some(Engagement {
                time_ms: 800,
                scroll: 0
            })
        );
        let err = |e: &str| {
            let body = format!(r#"{{"site":"a","url":"/","engagement":{e}}}"#);
            decode(body.as_bytes()).unwrap_err().to_string()
        };
        let time = "engagement time must be a non-negative number of milliseconds";
        assert_eq!(err(r#"{"time_ms":-5,"scroll":1}"#), time);
        assert_eq!(err(r#"{"time_ms":"soon","scroll":1}"#), time);
        assert_eq!(err(r#"{"time_ms":[1],"scroll":1}"#), time);
        assert_eq!(
            err(r#"{"time_ms":5,"scroll":-1}"#),
            "scroll depth must be a non-negative percentage"
        );
        assert_eq!(
            err("1200"),
            "engagement must be an object with time_ms and scroll"
        );
        assert_eq!(
            decode(br#"{"site":"a","url":"/","event":"signup","engagement":{"time_ms":1}}"#),
            Err(DecodeError::Engagement(
                "an engagement report cannot also be an event"
            ))
        );
    }
}
