//! Drop-in for Plausible's event API: `POST /api/event`.
//!
//! Plausible's script sends `{"n": name, "u": url, "d": domain, "r": referrer|null,
//! "p": props, "h": 1, "i": false, "v": version}` as `text/plain` (older versions also
//! `"w": width` and `"m"`/`"p"` as JSON strings). A site switches to veil by pointing
//! the script's `data-api` at veil; `d` names the site (a configured site id or one of
//! its hostnames; a comma list is allowed and the first configured one wins).
//! Plausible's `engagement` events carry scroll depth and time on page, which veil
//! does not store: they are accepted and ignored.

use std::borrow::Cow;

use serde::Deserialize;

use super::json::prop_text;
use super::{event_name, Beacon, DecodeError};

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
}

/// What a Plausible request asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum PlausibleEvent<'a> {
    /// A pageview or custom event; `site` holds the `d` value(s).
    Hit(Beacon<'a>),
    /// An engagement ping: nothing to store.
    Engagement,
}

/// Decodes a Plausible event body.
pub fn decode(body: &[u8]) -> Result<PlausibleEvent<'_>, DecodeError> {
    let text = std::str::from_utf8(body).map_err(|_| DecodeError::NotUtf8)?;
    let wire: Wire<'_> =
        serde_json::from_str(text).map_err(|e| DecodeError::Json(e.to_string()))?;
    if wire.n.as_deref() == Some("engagement") {
        return Ok(PlausibleEvent::Engagement);
    }
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
    Ok(PlausibleEvent::Hit(Beacon {
        site,
        url,
        referrer: wire.r.filter(|r| !r.is_empty()),
        width: wire
            .w
            .filter(|w| w.is_finite() && *w >= 0.0 && *w < 100_000.0)
            .map(|w| w as u32),
        event: event_name(wire.n),
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

    fn hit(body: &str) -> Beacon<'_> {
        match decode(body.as_bytes()).unwrap() {
            PlausibleEvent::Hit(b) => b,
            PlausibleEvent::Engagement => panic!("engagement"),
        }
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
    fn engagement_is_ignored_and_errors_are_clear() {
        assert_eq!(
            decode(br#"{"n":"engagement","u":"/","d":"a","sd":50,"e":1200}"#),
            Ok(PlausibleEvent::Engagement)
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
