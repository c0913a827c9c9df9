//! Wire formats → one [`Beacon`].
//!
//! Each format a site can send (the pixel's query string, veil's JSON event) is
//! decoded here into the same borrowed structure, without touching IPs, headers or
//! configuration: that is the privacy boundary's job.
//!
//! Revenue and engagement are parsed by the shared functions below so that every
//! format rounds, caps and refuses the same way: a site moving from Plausible's
//! script to veil's must not see its numbers change.

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
    /// Revenue that is not an amount and a currency veil can store.
    #[error("{0}")]
    Revenue(&'static str),
    /// An engagement report whose time or scroll depth is not a number veil can store.
    #[error("{0}")]
    Engagement(&'static str),
}

/// The largest amount accepted, in units (a trillion): well above any real order,
/// and far below `u64::MAX` thousandths, so sums over many events keep room.
const MAX_AMOUNT_UNITS: u64 = 1_000_000_000_000;

/// The longest engagement time kept: a tab left open overnight is not 8 hours of
/// reading, and one report should not outweigh thousands of real ones.
pub const MAX_ENGAGEMENT_MS: u32 = 30 * 60 * 1000;

pub(crate) const BAD_AMOUNT: DecodeError =
    DecodeError::Revenue("revenue amount must be a non-negative decimal number");

pub(crate) const BAD_CURRENCY: DecodeError =
    DecodeError::Revenue("revenue currency must be a three-letter ISO 4217 code");

/// Parses a decimal amount (`19.99`, `19`, `0.5`, `.5`) into thousandths of the
/// unit, rounding further decimals half-up (`0.0005` → 1).
///
/// Parsed from the text, not through `f64`, so that `1.0005` rounds the way it
/// reads (`f64` holds it as 1.000499…). Signs, exponents, `NaN` and the empty
/// string are refused rather than guessed at: money that is not plainly written
/// is a bug in the sender, and a `400` says so.
pub fn parse_amount(s: &str) -> Result<u64, DecodeError> {
    let s = s.trim();
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if int.len() + frac.len() == 0 || !digits(int) || !digits(frac) {
        return Err(BAD_AMOUNT);
    }
    let too_large = DecodeError::Revenue("revenue amount must be at most 1000000000000");
    // Leading zeros carry nothing; past 13 digits the amount is too large anyway,
    // which also keeps the arithmetic below far from overflow.
    let int = int.trim_start_matches('0');
    if int.len() > 13 {
        return Err(too_large);
    }
    let mut milli = int.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0')) * 1000;
    let mut frac = frac.bytes().map(|b| u64::from(b - b'0'));
    for scale in [100, 10, 1] {
        milli += frac.next().unwrap_or(0) * scale;
    }
    // Half-up: only the first dropped digit decides.
    if frac.next().is_some_and(|d| d >= 5) {
        milli += 1;
    }
    if milli > MAX_AMOUNT_UNITS * 1000 {
        return Err(too_large);
    }
    Ok(milli)
}

/// Checks a currency code's shape: three ASCII letters, upper-cased (`eur` →
/// `EUR`). Whether the code is one the site accepts is the privacy boundary's call.
pub fn parse_currency(s: &str) -> Result<[u8; 3], DecodeError> {
    match s.trim().as_bytes() {
        &[a, b, c] if [a, b, c].iter().all(u8::is_ascii_alphabetic) => {
            Ok([a, b, c].map(|x| x.to_ascii_uppercase()))
        }
        _ => Err(BAD_CURRENCY),
    }
}

/// Builds [`Revenue`] from the amount and currency as sent.
pub fn revenue(amount: &str, currency: &str) -> Result<Revenue, DecodeError> {
    Ok(Revenue {
        milli: parse_amount(amount)?,
        currency: parse_currency(currency)?,
    })
}

/// Builds [`Engagement`] from time (ms) and scroll depth (percent) as numbers.
///
/// Over-long times are capped at [`MAX_ENGAGEMENT_MS`] and scroll depths above 100
/// (a page that grew while it was read) clamped, since both are honest reports of
/// something veil only counts up to a point; a negative or non-finite value is no
/// measurement at all and is refused.
pub fn engagement(time_ms: f64, scroll: f64) -> Result<Engagement, DecodeError> {
    if !(time_ms.is_finite() && time_ms >= 0.0) {
        return Err(DecodeError::Engagement(
            "engagement time must be a non-negative number of milliseconds",
        ));
    }
    if !(scroll.is_finite() && scroll >= 0.0) {
        return Err(DecodeError::Engagement(
            "scroll depth must be a non-negative percentage",
        ));
    }
    // Both are in range after `min`, so the casts cannot saturate.
    Ok(Engagement {
        time_ms: time_ms.min(f64::from(MAX_ENGAGEMENT_MS)).round() as u32,
        scroll: scroll.min(100.0).round() as u8,
    })
}

/// A number as the pixel sends it (`1200`, `50.5`); absent is 0, as for a tracker
/// that measured one of the two only. Anything else is `NaN`, which
/// [`engagement`] refuses.
pub(crate) fn engagement_number(s: Option<&str>) -> f64 {
    s.map_or(0.0, |s| s.trim().parse().unwrap_or(f64::NAN))
}

/// The rules between a beacon's kinds, shared by every format: revenue belongs to
/// a custom event (a pageview has no conversion to credit), and an engagement report
/// is neither a pageview nor an event, so it cannot carry an event name.
pub(crate) fn check_kind(b: &Beacon<'_>) -> Result<(), DecodeError> {
    if b.revenue.is_some() && b.event.is_none() {
        return Err(DecodeError::Revenue("revenue needs an event"));
    }
    if b.engagement.is_some() && b.event.is_some() {
        return Err(DecodeError::Engagement(
            "an engagement report cannot also be an event",
        ));
    }
    Ok(())
}

/// Normalises an event name: `None`, empty and `pageview` mean a pageview.
pub(crate) fn event_name(name: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    name.filter(|n| {
        let n = n.trim();
        !n.is_empty() && !n.eq_ignore_ascii_case("pageview")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_thousandths_rounded_half_up() {
        for (text, milli) in [
            ("19.99", 19_990),
            ("19", 19_000),
            ("0.5", 500),
            (".5", 500),
            ("19.", 19_000),
            (" 7.25 ", 7_250),
            ("0.0005", 1),
            ("0.0004999", 0),
            ("1.0005", 1_001),
            ("2.9995", 3_000),
            ("0", 0),
            ("000012.340", 12_340),
            ("1000000000000", 1_000_000_000_000_000),
            ("999999999999.9995", 1_000_000_000_000_000),
        ] {
            assert_eq!(parse_amount(text), Ok(milli), "{text:?}");
        }
    }

    #[test]
    fn bad_amounts_are_refused_with_the_reason() {
        for text in [
            "", " ", ".", "-1", "+1", "1e3", "NaN", "inf", "1,5", "1.2.3", "١٢", "0x10",
        ] {
            assert_eq!(parse_amount(text), Err(BAD_AMOUNT), "{text:?}");
        }
        let too_large = Err(DecodeError::Revenue(
            "revenue amount must be at most 1000000000000",
        ));
        assert_eq!(parse_amount("1000000000000.001"), too_large);
        assert_eq!(parse_amount("99999999999999999999999"), too_large);
        assert_eq!(
            BAD_AMOUNT.to_string(),
            "revenue amount must be a non-negative decimal number"
        );
    }

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(parse_currency("eur"), Ok(*b"EUR"));
        assert_eq!(parse_currency(" Usd "), Ok(*b"USD"));
        for bad in ["", "EU", "EURO", "E1R", "€UR", "978"] {
            assert_eq!(
                parse_currency(bad).map_err(|e| e.to_string()),
                Err("revenue currency must be a three-letter ISO 4217 code".to_string()),
                "{bad:?}"
            );
        }
        assert_eq!(
            revenue("19.99", "eur"),
            Ok(Revenue {
                milli: 19_990,
                currency: *b"EUR"
            })
        );
        assert_eq!(revenue("-1", "EUR"), Err(BAD_AMOUNT));
    }

    #[test]
    fn engagement_is_capped_clamped_and_refused_when_negative() {
        assert_eq!(
            engagement(1200.4, 49.6),
            Ok(Engagement {
                time_ms: 1200,
                scroll: 50
            })
        );
        assert_eq!(
            engagement(1e12, 250.0),
            Ok(Engagement {
                time_ms: MAX_ENGAGEMENT_MS,
                scroll: 100
            })
        );
        assert_eq!(MAX_ENGAGEMENT_MS, 1_800_000);
        let time = Err(DecodeError::Engagement(
            "engagement time must be a non-negative number of milliseconds",
        ));
        let scroll = Err(DecodeError::Engagement(
            "scroll depth must be a non-negative percentage",
        ));
        assert_eq!(engagement(-1.0, 0.0), time);
        assert_eq!(engagement(f64::NAN, 0.0), time);
        assert_eq!(engagement(f64::INFINITY, 0.0), time);
        assert_eq!(engagement(0.0, -0.5), scroll);
        assert_eq!(engagement(engagement_number(Some("abc")), 0.0), time);
        assert_eq!(engagement_number(None), 0.0);
        assert_eq!(engagement_number(Some(" 75 ")), 75.0);
    }

    #[test]
    fn revenue_needs_an_event_and_engagement_is_none() {
        let revenue = Some(Revenue {
            milli: 1,
            currency: *b"EUR",
        });
        let pageview = Beacon {
            revenue,
            ..Beacon::default()
        };
        assert_eq!(
            check_kind(&pageview),
            Err(DecodeError::Revenue("revenue needs an event"))
        );
        let event = Beacon {
            event: Some("buy".into()),
            ..pageview
        };
        assert_eq!(check_kind(&event), Ok(()));
        let both = Beacon {
            revenue: None,
            engagement: Some(Engagement::default()),
            ..event
        };
        assert!(matches!(check_kind(&both), Err(DecodeError::Engagement(_))));
    }
}
