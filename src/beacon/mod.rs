//! Wire formats → one [`Beacon`].
//!
//! Each format a site can send (the pixel's query string, veil's JSON event) is
//! decoded here into the same borrowed structure, without touching IPs, headers or
//! configuration: that is the privacy boundary's job.

use std::borrow::Cow;

pub mod json;
pub mod pixel;
pub mod plausible;
pub mod umami;

/// What one beacon says, borrowed from the request where possible.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Beacon<'a> {
    /// Site identifier.
    pub site: Cow<'a, str>,
    /// Full page URL (reduced to host + path + UTM by the privacy layer).
    pub url: Cow<'a, str>,
    /// Referrer URL, if any.
    pub referrer: Option<Cow<'a, str>>,
    /// Screen width in CSS pixels.
    pub width: Option<u32>,
    /// Custom event name; `None` for a pageview.
    pub event: Option<Cow<'a, str>>,
    /// Custom event props, in the order sent.
    pub props: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    /// Consent categories sent with the beacon, as the visitor's list
    /// (`necessary,analytics,functional`): the site's policy knows its own names.
    pub consent: Option<Cow<'a, str>>,
    /// The visitor objected (tracker's opt-out flag).
    pub opt_out: bool,
    /// Revenue a custom event carries.
    pub revenue: Option<Revenue>,
    /// An engagement report for the page (time visible, scroll depth): neither a
    /// pageview nor a custom event.
    pub engagement: Option<Engagement>,
}

/// An amount of money, decoded: thousandths of the unit, and an ISO 4217-shaped
/// code (upper case). Whether the site accepts the currency is the privacy
/// boundary's call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Revenue {
    /// Thousandths of the currency unit (19.99 EUR = 19 990).
    pub milli: u64,
    /// Upper-case three-letter code.
    pub currency: [u8; 3],
}

/// How a page was engaged with before it was left or hidden.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Engagement {
    /// Milliseconds the page was visible (capped by the decoder at 30 minutes).
    pub time_ms: u32,
    /// Deepest scroll position, percent of the page (0–100).
    pub scroll: u8,
}

/// Why a beacon could not be decoded: each maps to a `400` with this text.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// The body is not UTF-8.
    #[error("body is not valid UTF-8")]
    NotUtf8,
    /// The body is not the expected JSON shape.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// No site identifier.
    #[error("missing site")]
    MissingSite,
    /// No page URL.
    #[error("missing url")]
    MissingUrl,
}

/// Normalises an event name: `None`, empty and `pageview` mean a pageview.
pub(crate) fn event_name(name: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    name.filter(|n| {
        let n = n.trim();
        !n.is_empty() && !n.eq_ignore_ascii_case("pageview")
    })
}
