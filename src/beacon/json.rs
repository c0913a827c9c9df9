//! veil's JSON event: `POST /api/collect`.
//!
//! ```json
//! {"site": "example.com", "url": "https://example.com/pricing",
//!  "referrer": "https://www.google.com/", "width": 1280,
//!  "event": "signup", "props": {"plan": "pro"},
//!  "consent": ["necessary", "analytics"], "optout": false}
//! ```
//! `consent` may also be a comma-separated string. Prop values may be strings,
//! numbers or booleans; anything else is dropped. Unknown keys are ignored.

use std::borrow::Cow;

use serde::Deserialize;

use super::{event_name, Beacon, DecodeError};

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
    Ok(Beacon {
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
        revenue: None,
        engagement: None,
    })
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
}
