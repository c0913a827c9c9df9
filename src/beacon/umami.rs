//! Drop-in for Umami's collection API: `POST /api/send`.
//!
//! Umami's script sends `{"type": "event", "payload": {"website": UUID, "hostname",
//! "url", "referrer", "screen": "1920x1080", "language", "title", "name"?, "data"?,
//! "tag"?, "id"?, "vid"?}}` as JSON. The website UUID maps to a veil site through
//! `umami_website_id` in the site's configuration. veil never reads `id` (the
//! identity Umami's `identify()` sets), `vid` (its persistent visitor id) or `title`:
//! they identify people or are free text. `identify` calls are accepted and dropped.

use std::borrow::Cow;

use serde::Deserialize;

use super::json::prop_text;
use super::{event_name, Beacon, DecodeError};

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
    let props = p
        .data
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((Cow::Owned(k), Cow::Owned(prop_text(v)?))))
        .collect();
    Ok(UmamiEvent::Hit(Beacon {
        site,
        url,
        referrer: p.referrer.filter(|r| !r.is_empty()),
        width,
        event: event_name(p.name),
        props,
        consent: None,
        opt_out: false,
        revenue: None,
        engagement: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
