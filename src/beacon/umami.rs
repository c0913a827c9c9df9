//! Drop-in for Umami's collection API: `POST /api/send`.
//!
//! Umami's script sends `{"type": "event", "payload": {"website": UUID, "hostname",
//! "url", "referrer", "screen": "1920x1080", "language", "title", "name"?, "data"?,
//! "tag"?, "id"?, "vid"?}}` as JSON. The website UUID maps to a veil site through
//! `umami_website_id` in the site's configuration. veil never reads `id` (the
//! identity Umami's `identify()` sets), `vid` (its persistent visitor id) or `title`:
//! they identify people or are free text. `identify` calls are accepted and dropped.
//!
//! Revenue is what Umami's revenue report reads: an event's `data` keys `revenue`
//! (a number; a decimal string is accepted too) and `currency`, as
//! `umami.track('checkout', {revenue: 19.99, currency: 'EUR'})` sends them. When an
//! event has both they become the beacon's revenue, not props, and a malformed
//! amount or currency is a `400` as in every veil format. On a pageview (no `name`)
//! they stay props, as Umami's report counts events only.

use std::borrow::Cow;

use serde::Deserialize;

use super::json::{prop_text, revenue_of};
use super::{check_kind, event_name, Beacon, DecodeError};

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    payload: Option<Payload<'a>>,
}

#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(borrow, default)]
    website: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    hostname: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    referrer: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    screen: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
    #[serde(default)]
    data: Option<serde_json::Map<String, serde_json::Value>>,
}

/// What an Umami request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum UmamiEvent<'a> {
    /// A pageview or event; `site` holds the Umami website id.
    Hit(Beacon<'a>),
    /// `identify` (or another type): nothing veil may store.
    Ignored,
}

/// Decodes an Umami `/api/send` body.
pub fn decode(body: &[u8]) -> Result<UmamiEvent<'_>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    let env: Envelope<'_> =
        serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    if env.kind.as_deref().is_some_and(|k| k != "event") {
        return Ok(UmamiEvent::Ignored);
    }
    let p = env
        .payload
        .ok_or(DecodeError::Json("missing payload".into()))?;
    let site = p
        .website
        .filter(|w| !w.trim().is_empty())
        .ok_or(DecodeError::MissingSite)?;
    let url = p
        .url
        .filter(|u| !u.trim().is_empty())
        .ok_or(DecodeError::MissingUrl)?;
    // Older scripts send the path only, with the host beside it.
    let url = match (&p.hostname, url.starts_with('/')) {
        (Some(host), true) if !host.is_empty() => Cow::Owned(format!("https://{host}{url}")),
        _ => url,
    };
    let width = p
        .screen
        .as_deref()
        .and_then(|s| s.split('x').next())
        .and_then(|w| w.trim().parse().ok());
    let event = event_name(p.name);
    let mut data = p.data.unwrap_or_default();
    let revenue = match (&event, data.get("revenue"), data.get("currency")) {
        (Some(_), Some(amount), Some(currency)) => {
            let r = revenue_of(Some(amount), Some(currency))?;
            data.remove("revenue");
            data.remove("currency");
            Some(r)
        }
        _ => None,
    };
    let props = data
        .into_iter()
        .filter_map(|(k, v)| Some((Cow::Owned(k), Cow::Owned(prop_text(v)?))))
        .collect();
    let b = Beacon {
        site,
        url,
        referrer: p.referrer.filter(|r| !r.is_empty()),
        width,
        event,
        props,
        consent: None,
        opt_out: false,
        revenue,
        engagement: None,
    };
    check_kind(&b)?;
    Ok(UmamiEvent::Hit(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::beacon::Revenue;

    fn hit(body: &str) -> Beacon<'_> {
        match decode(body.as_bytes()) {
            Ok(UmamiEvent::Hit(b)) => b,
            other => panic!("{other:?}"),
        }
    }

    fn event(data: &str) -> String {
        format!(
            r#"{{"type":"event","payload":{{"website":"w","url":"https://shop.example/cart","name":"checkout","data":{data}}}}}"#
        )
    }

    #[test]
    fn decodes_what_the_official_script_sends() {
        let body = br#"{"type":"event","payload":{"website":"5f1c-uuid","screen":"1920x1080","language":"pl-PL","title":"Pricing","hostname":"example.com","url":"https://example.com/pricing","referrer":"https://www.google.com/","vid":"b3c0-visitor","id":"user@example.com"}}"#;
        let UmamiEvent::Hit(b) = decode(body).unwrap() else {
            panic!("ignored")
        };
        assert_eq!(
            (b.site.as_ref(), b.url.as_ref(), b.width),
            ("5f1c-uuid", "https://example.com/pricing", Some(1920))
        );
        assert_eq!(b.event, None);
        let body = br#"{"type":"event","payload":{"website":"w","hostname":"example.com","url":"/docs","name":"signup","data":{"plan":"pro"}}}"#;
        let UmamiEvent::Hit(b) = decode(body).unwrap() else {
            panic!("ignored")
        };
        assert_eq!(
            (b.url.as_ref(), b.event.as_deref(), b.props.len()),
            ("https://example.com/docs", Some("signup"), 1)
        );
    }

    #[test]
    fn identify_is_dropped_and_errors_are_clear() {
        assert_eq!(
            decode(br#"{"type":"identify","payload":{"website":"w","id":"alice"}}"#),
            Ok(UmamiEvent::Ignored)
        );
        assert_eq!(
            decode(br#"{"type":"event","payload":{"url":"/"}}"#),
            Err(DecodeError::MissingSite)
        );
        assert!(decode(br#"{"type":"event"}"#).is_err());
    }

    #[test]
    fn revenue_from_event_data() {
        let body = event(r#"{"revenue":19.99,"currency":"eur","cart":3}"#);
        let b = hit(&body);
        assert_eq!(
            b.revenue,
            Some(Revenue {
                milli: 19_990,
                currency: *b"EUR"
            })
        );
        assert_eq!(b.props, vec![(Cow::from("cart"), Cow::from("3"))]);
        let body = event(r#"{"revenue":"0.0005","currency":"USD"}"#);
        assert_eq!(hit(&body).revenue.map(|r| r.milli), Some(1));
        // One of the two is an ordinary prop.
        let body = event(r#"{"revenue":5}"#);
        let b = hit(&body);
        assert_eq!((b.revenue, b.props.len()), (None, 1));
        // On a pageview Umami's report does not count it: props as before.
        let b = hit(
            r#"{"type":"event","payload":{"website":"w","url":"/","data":{"revenue":5,"currency":"EUR"}}}"#,
        );
        assert_eq!((b.revenue, b.props.len()), (None, 2));
        let reason = |data: &str| decode(event(data).as_bytes()).unwrap_err().to_string();
        assert_eq!(
            reason(r#"{"revenue":-1,"currency":"EUR"}"#),
            "revenue amount must be a non-negative decimal number"
        );
        assert_eq!(
            reason(r#"{"revenue":1,"currency":"EURO"}"#),
            "revenue currency must be a three-letter ISO 4217 code"
        );
    }
}
