//! Share links: signed, expiring, read-only views of one site's dashboard, for
//! people who should see the statistics but get no API key.
//!
//! # The token
//!
//! `veil share-link` writes a compact payload — link id (random, 64 bits), expiry
//! (Unix seconds), an optional date window (fixed dates, or the last N days), up
//! to two fixed filters `dim:value` and the embed flag — and appends a MAC: the
//! blake3 keyed hash, under `blake3::derive_key(CONTEXT, share_secret)`, of the
//! site id and the payload. The token is the base64url of both (no padding), so it
//! fits in a URL. Nothing in it is encrypted: a holder can read its own scope; only
//! the MAC makes it unforgeable. The MAC is checked first, in constant time
//! (`blake3::Hash` equality), before any field is read.
//!
//! # What a valid token grants
//!
//! [`admit`] runs instead of the key check when a request carries a token
//! (`Authorization: Share TOKEN`, or `share=TOKEN` for clients that cannot set
//! headers). A token of another site, a forged or damaged one → `401`; expired →
//! `401 share link expired`; its id in the site's `share_revoked`, or the site's
//! `share_secret` changed since → `401`. A valid one is checked against the
//! request ([`Grant::check`]):
//!
//! - **endpoints**: `site`, `aggregate`, `timeseries`, `breakdown`; `goals`,
//!   `funnels` and `consent` only for links without a filter (those answers cannot
//!   be narrowed to a filter); `realtime` only for links without a filter or fixed
//!   dates (it counts the last minutes of the whole site). Anything else is `403`.
//! - **window**: `from`/`to` must lie inside it, and so must a `compare` period;
//!   else `403`. `Last(n)` is resolved at each request in the site's time zone.
//! - **filters**: each of the link's filters is added to the request when missing
//!   (a prop breakdown takes an `event` filter as its `event` parameter); a
//!   request filter on the same dimension with another value or a pattern is
//!   `403`. Further filters on other dimensions only narrow (filters are
//!   conjunctive), as a key holder's would.
//! - **answers** ([`Grant::finish`]): a breakdown under a filtered link carries no
//!   `(other)` row (that group is the whole dimension's, beyond the filter), and
//!   `/site` describes the link (`share`), so the dashboard shows its scope.
//!
//! Everything else is the key path's: the same handlers, bounds and k-anonymity.
//! veil never logs a token (it logs no request line, and errors never echo one).

use std::borrow::Cow;

use serde_json::{json, Value};

use super::params::{self, DateRange, Filter, Params, Pattern, MAX_RANGE_DAYS};
use crate::clock::format_day;
use crate::config::SiteConfig;
use crate::http::HttpError;
use crate::model::Dim;
use crate::reload::Loaded;
use crate::AppState;

/// Key derivation context of the MAC key (blake3 `derive_key`).
const CONTEXT: &str = "veil 2026-01 share link v1: MAC of the site id and the link payload";
const VERSION: u8 = 1;
const MAC_LEN: usize = 32;
/// Longest token accepted (characters); longer ones are refused unread.
pub const MAX_TOKEN_CHARS: usize = 1024;
/// Most fixed filters on one link (aggregate and timeseries take two, as a pair).
pub const MAX_FILTERS: usize = 2;
/// Longest fixed filter value (bytes).
pub const MAX_VALUE_BYTES: usize = 256;
/// Longest lifetime `veil share-link` gives a link (days).
pub const MAX_LIFETIME_DAYS: u64 = 3_660;

/// Which dates a link shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// Any range the API answers.
    Any,
    /// Dates within a fixed range (the site's local dates).
    Fixed(DateRange),
    /// The last N days, today included, in the site's time zone at each request.
    Last(u32),
}

/// A share link's payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Random id, for `share_revoked`.
    pub id: u64,
    /// Unix seconds after which the link is refused.
    pub expires: u64,
    /// The dates it shows.
    pub window: Window,
    /// Exact filters forced on every answer.
    pub filters: Vec<(Dim, String)>,
    /// Served framable by the site's `embed_origins`, with compact chrome.
    pub embed: bool,
}

/// Why a token is refused (all `401`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Malformed, forged, of another site, or signed with an old secret.
    Invalid,
    /// Past its expiry.
    Expired,
    /// Listed in `share_revoked`.
    Revoked,
}

impl From<Refusal> for HttpError {
    fn from(r: Refusal) -> HttpError {
        HttpError::ShareLink(match r {
            Refusal::Invalid => "this share link is not valid for this site",
            Refusal::Expired => "share link expired",
            Refusal::Revoked => "share link revoked",
        })
    }
}

/// The MAC key of one site, derived from its `share_secret`.
#[derive(Clone)]
pub struct SigningKey([u8; 32]);

impl SigningKey {
    /// The key of a secret; `None` for an empty secret (no share links).
    pub fn of(secret: &str) -> Option<SigningKey> {
        (!secret.is_empty()).then(|| SigningKey(blake3::derive_key(CONTEXT, secret.as_bytes())))
    }

    fn mac(&self, site: &str, payload: &[u8]) -> blake3::Hash {
        let mut h = blake3::Hasher::new_keyed(&self.0);
        h.update(&(site.len() as u64).to_be_bytes());
        h.update(site.as_bytes());
        h.update(payload);
        h.finalize()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl Link {
    /// The token of this link for `site`.
    pub fn encode(&self, site: &str, key: &SigningKey) -> String {
        let mut bytes = self.payload();
        let mac = key.mac(site, &bytes);
        bytes.extend_from_slice(mac.as_bytes());
        base64url(&bytes)
    }

    /// Verifies a token's MAC for `site`, then reads it. Expiry and revocation
    /// are [`Link::check`]'s.
    pub fn decode(token: &str, site: &str, key: &SigningKey) -> Result<Link, Refusal> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(Refusal::Invalid);
        }
        let bytes = from_base64url(token).ok_or(Refusal::Invalid)?;
        if bytes.len() <= MAC_LEN {
            return Err(Refusal::Invalid);
        }
        let (payload, mac) = bytes.split_at(bytes.len() - MAC_LEN);
        let given = blake3::Hash::from_bytes(mac.try_into().map_err(|_| Refusal::Invalid)?);
        // `blake3::Hash` equality is constant-time.
        if key.mac(site, payload) != given {
            return Err(Refusal::Invalid);
        }
        Link::parse(payload).ok_or(Refusal::Invalid)
    }

    /// Refuses an expired or revoked link.
    pub fn check(&self, now: u64, revoked: &[u64]) -> Result<(), Refusal> {
        if revoked.contains(&self.id) {
            return Err(Refusal::Revoked);
        }
        if now > self.expires {
            return Err(Refusal::Expired);
        }
        Ok(())
    }

    /// The id as `veil share-link` prints it and `share_revoked` lists it.
    pub fn id_hex(&self) -> String {
        format!("{:016x}", self.id)
    }

    /// The filters as the API spells them (`source:search`).
    pub fn filter_params(&self) -> Vec<String> {
        self.filters
            .iter()
            .map(|(d, v)| format!("{}:{v}", d.as_str()))
            .collect()
    }

    fn payload(&self) -> Vec<u8> {
        let mut b = vec![VERSION];
        b.extend_from_slice(&self.id.to_be_bytes());
        b.extend_from_slice(&self.expires.to_be_bytes());
        let kind = match self.window {
            Window::Any => 0u8,
            Window::Fixed(_) => 1,
            Window::Last(_) => 2,
        };
        b.push(u8::from(self.embed) | kind << 1);
        match self.window {
            Window::Any => {}
            Window::Fixed(r) => {
                b.extend_from_slice(&r.from.to_be_bytes());
                b.extend_from_slice(&r.to.to_be_bytes());
            }
            Window::Last(n) => b.extend_from_slice(&(n as u16).to_be_bytes()),
        }
        b.push(self.filters.len() as u8);
        for (dim, value) in &self.filters {
            let name = dim.as_str().as_bytes();
            b.push(name.len() as u8);
            b.extend_from_slice(name);
            b.extend_from_slice(&(value.len() as u16).to_be_bytes());
            b.extend_from_slice(value.as_bytes());
        }
        b
    }

    fn parse(payload: &[u8]) -> Option<Link> {
        let mut r = Reader(payload);
        if r.u8()? != VERSION {
            return None;
        }
        let id = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
        let expires = u64::from_be_bytes(r.take(8)?.try_into().ok()?);
        let flags = r.u8()?;
        if flags >> 3 != 0 {
            return None;
        }
        let window = match (flags >> 1) & 3 {
            0 => Window::Any,
            1 => {
                let from = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
                let to = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
                if from > to || to - from >= MAX_RANGE_DAYS {
                    return None;
                }
                Window::Fixed(DateRange { from, to })
            }
            2 => {
                let n = u32::from(u16::from_be_bytes(r.take(2)?.try_into().ok()?));
                if n == 0 || n > MAX_RANGE_DAYS {
                    return None;
                }
                Window::Last(n)
            }
            _ => return None,
        };
        let count = usize::from(r.u8()?);
        if count > MAX_FILTERS {
            return None;
        }
        let mut filters: Vec<(Dim, String)> = Vec::with_capacity(count);
        for _ in 0..count {
            let len = usize::from(r.u8()?);
            let dim = params::dimension(std::str::from_utf8(r.take(len)?).ok()?)?;
            let len = usize::from(u16::from_be_bytes(r.take(2)?.try_into().ok()?));
            let value = std::str::from_utf8(r.take(len)?).ok()?;
            if !valid_value(value) || filters.iter().any(|(d, _)| *d == dim) {
                return None;
            }
            filters.push((dim, value.to_string()));
        }
        if !r.0.is_empty() {
            return None;
        }
        Some(Link {
            id,
            expires,
            window,
            filters,
            embed: flags & 1 == 1,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
}

/// A fixed filter value: non-empty, bounded, and exact (no `*` at either end,
/// which the API would read as a pattern).
fn valid_value(v: &str) -> bool {
    !v.is_empty() && v.len() <= MAX_VALUE_BYTES && !v.starts_with('*') && !v.ends_with('*')
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding (RFC 4648 §5).
pub fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes unpadded base64url; `None` for any other character, a dangling
/// character or non-zero trailing bits (one text per byte string).
pub fn from_base64url(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| B64.iter().position(|x| *x == c).map(|p| p as u32);
    let mut out = Vec::with_capacity(s.len() / 4 * 3 + 2);
    for chunk in s.as_bytes().chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            n |= value(*c)? << (18 - 6 * i);
        }
        let bytes = chunk.len() - 1;
        if n & ((1 << (8 * (3 - bytes))) - 1) != 0 {
            return None;
        }
        out.extend((0..bytes).map(|i| (n >> (16 - 8 * i)) as u8));
    }
    Some(out)
}

// ---- the request side ---------------------------------------------------------

/// A verified link, its window resolved for the request.
#[derive(Clone, Debug)]
pub struct Grant {
    /// The link.
    pub link: Link,
    /// The dates it shows today (`None`: any).
    pub window: Option<DateRange>,
}

/// Checks a request's credentials: a share token when it carries one (the link
/// must be valid for this site and admit the request, which it narrows), else
/// the site's keys. `Ok(None)`: authorised by a key or a public dashboard.
pub async fn admit(
    state: &AppState,
    live: &Loaded,
    idx: usize,
    endpoint: &str,
    headers: &http::HeaderMap,
    params: &mut Params,
) -> Result<Option<Grant>, HttpError> {
    let keys = &live.stats.keys;
    let Some(token) = super::auth::share_token(headers, params.get("share")) else {
        keys.check(idx, headers)?;
        return Ok(None);
    };
    let now = state.pipeline.clock().now_secs();
    let link = keys.share_link(idx, token, now)?;
    let site = &live.config.sites[idx];
    let today =
        match link.window {
            Window::Last(_) => {
                let day = super::query::today(&live.stats.client, &site.timezone, now).await?;
                Some(params::parse_date(&day).map_err(|_| {
                    HttpError::Internal("ClickHouse answered no date for today".into())
                })?)
            }
            _ => None,
        };
    let grant = Grant::new(link, today);
    grant.check(endpoint, params)?;
    Ok(Some(grant))
}

/// What a grant adds to the answers of `endpoint` (see [`Grant::finish`]); a
/// no-op without a grant.
pub fn finish(grant: &Option<Grant>, endpoint: &str, body: &mut Value) {
    if let Some(g) = grant {
        g.finish(endpoint, body);
    }
}

impl Grant {
    /// Resolves the window (`today`: the site's local day, needed for `Last`).
    pub fn new(link: Link, today: Option<u32>) -> Grant {
        let window = match link.window {
            Window::Any => None,
            Window::Fixed(r) => Some(r),
            Window::Last(n) => {
                let to = today.unwrap_or(0);
                Some(DateRange {
                    from: to.saturating_sub(n - 1),
                    to,
                })
            }
        };
        Grant { link, window }
    }

    /// The endpoints this link may call.
    pub fn endpoints(&self) -> Vec<&'static str> {
        let mut e = vec!["site", "aggregate", "timeseries", "breakdown"];
        if self.link.filters.is_empty() {
            e.extend(["goals", "funnels", "consent"]);
            if !matches!(self.link.window, Window::Fixed(_)) {
                e.push("realtime");
            }
        }
        e
    }

    /// Refuses what the link does not show and forces its filters (see the module
    /// documentation).
    pub fn check(&self, endpoint: &str, params: &mut Params) -> Result<(), HttpError> {
        if !self.endpoints().contains(&endpoint) {
            let why = match endpoint {
                "goals" | "funnels" | "consent" | "realtime" if !self.link.filters.is_empty() => {
                    format!("`{endpoint}` cannot be narrowed to the filter of this share link")
                }
                "realtime" => "this share link shows fixed dates, not the last minutes".into(),
                _ => format!("`{endpoint}` is not available through a share link"),
            };
            return Err(HttpError::Forbidden(why.into()));
        }
        if endpoint == "site" || endpoint == "realtime" {
            return Ok(());
        }
        self.check_range(params)?;
        if matches!(endpoint, "aggregate" | "timeseries" | "breakdown") {
            self.force_filters(endpoint, params)?;
        }
        Ok(())
    }

    fn check_range(&self, params: &Params) -> Result<(), HttpError> {
        let Some(w) = self.window else {
            return Ok(());
        };
        let range = params.range()?;
        let outside = |r: DateRange| r.from < w.from || r.to > w.to;
        let only = format!(
            "this share link shows {} to {} only",
            w.from_str(),
            w.to_str()
        );
        if outside(range) {
            return Err(HttpError::Forbidden(only.into()));
        }
        if let Some(cmp) = params.compare()? {
            if outside(cmp.range(range)) {
                return Err(HttpError::Forbidden(
                    format!("{only}, and the comparison period lies outside it").into(),
                ));
            }
        }
        Ok(())
    }

    fn force_filters(&self, endpoint: &str, params: &mut Params) -> Result<(), HttpError> {
        if self.link.filters.is_empty() {
            return Ok(());
        }
        let asked = Filter::from_params(params)?;
        let props = endpoint == "breakdown"
            && matches!(params.get("dimension"), Some("prop" | "marketing_prop"));
        let limited = || {
            HttpError::Forbidden(
                format!(
                    "this share link is limited to {}",
                    self.link.filter_params().join(" and ")
                )
                .into(),
            )
        };
        for (dim, value) in &self.link.filters {
            let same: Vec<&Filter> = asked.iter().filter(|f| f.dim == *dim).collect();
            if same
                .iter()
                .any(|f| f.pattern != Pattern::Exact(value.clone()))
            {
                return Err(limited());
            }
            if props && *dim == Dim::Event {
                // A prop breakdown takes its event as `event`, not as a filter.
                match params.get("event") {
                    None => params.add("event", value.clone()),
                    Some(e) if e == value => {}
                    Some(_) => return Err(limited()),
                }
            } else if same.is_empty() {
                params.add("filter", format!("{}:{value}", dim.as_str()));
            }
        }
        Ok(())
    }

    /// Withholds a filtered breakdown's `(other)` and describes the link in `/site`.
    pub fn finish(&self, endpoint: &str, body: &mut Value) {
        match endpoint {
            "breakdown" if !self.link.filters.is_empty() => {
                if let Some(o) = body.get_mut("other") {
                    *o = Value::Null;
                }
            }
            "site" => {
                if let Some(o) = body.as_object_mut() {
                    o.insert("share".into(), self.describe());
                }
            }
            _ => {}
        }
    }

    /// The link as the dashboard needs it.
    pub fn describe(&self) -> Value {
        json!({
            "link": self.link.id_hex(),
            "expires": self.link.expires,
            "from": self.window.map(|w| w.from_str()),
            "to": self.window.map(|w| w.to_str()),
            "last_days": match self.link.window { Window::Last(n) => Some(n), _ => None },
            "filters": self.link.filter_params(),
            "embed": self.link.embed,
            "endpoints": self.endpoints(),
        })
    }
}

// ---- minting (`veil share-link`) -------------------------------------------------

/// What `veil share-link` was asked for, as typed.
#[derive(Clone, Debug, Default)]
pub struct Spec {
    /// `7d`, `12h` or a date `YYYY-MM-DD` (the link works through that day, UTC).
    pub expires: String,
    /// First date of a fixed window.
    pub from: Option<String>,
    /// Last date of a fixed window.
    pub to: Option<String>,
    /// A relative window: `30d` (or `30`) = the last 30 days, today included.
    pub range: Option<String>,
    /// Fixed filters `dim:value`.
    pub filters: Vec<String>,
    /// An embed link.
    pub embed: bool,
}

/// A new link of `site` and its token; the error says what to change.
pub fn mint(site: &SiteConfig, spec: &Spec, now: u64) -> Result<(Link, String), String> {
    let key = SigningKey::of(&site.share_secret).ok_or_else(|| {
        format!(
            "site `{}` has no share_secret: set one of at least {} random characters (e.g. `head -c 24 /dev/urandom | base64`) in its [[sites]] entry, or as VEIL_SITES__<index>__SHARE_SECRET",
            site.id,
            crate::config::SHARE_SECRET_MIN
        )
    })?;
    let expires = expiry(&spec.expires, now)?;
    let date = |name: &str, v: &str| params::parse_date(v).map_err(|e| format!("--{name}: {e}"));
    let window = match (&spec.from, &spec.to, &spec.range) {
        (None, None, None) => Window::Any,
        (Some(f), Some(t), None) => {
            let (from, to) = (date("from", f)?, date("to", t)?);
            if from > to {
                return Err("--to must not be before --from".into());
            }
            if to - from >= MAX_RANGE_DAYS {
                return Err(format!("the range may cover at most {MAX_RANGE_DAYS} days"));
            }
            Window::Fixed(DateRange { from, to })
        }
        (None, None, Some(r)) => {
            let n: u32 = r
                .strip_suffix('d')
                .unwrap_or(r)
                .parse()
                .ok()
                .filter(|n| (1..=MAX_RANGE_DAYS).contains(n))
                .ok_or_else(|| {
                    format!("--range: `{r}` is not a number of days from 1 to {MAX_RANGE_DAYS} (like `30d`)")
                })?;
            Window::Last(n)
        }
        (_, _, Some(_)) => return Err("give either --range or --from and --to".into()),
        _ => return Err("--from and --to go together".into()),
    };
    if spec.filters.len() > MAX_FILTERS {
        return Err(format!("at most {MAX_FILTERS} --filter"));
    }
    let mut filters: Vec<(Dim, String)> = Vec::new();
    for f in &spec.filters {
        let (name, value) = f.split_once(':').ok_or_else(|| {
            format!("--filter `{f}`: must look like `dimension:value` (`source:search`)")
        })?;
        let dim = params::dimension(name).ok_or_else(|| {
            format!(
                "--filter `{f}`: `{name}` is not a dimension; use one of {}",
                params::dimension_names().join(", ")
            )
        })?;
        if !valid_value(value) {
            return Err(format!(
                "--filter `{f}`: the value must name one value exactly (not empty, no `*` at either end, at most {MAX_VALUE_BYTES} bytes)"
            ));
        }
        if filters.iter().any(|(d, _)| *d == dim) {
            return Err(format!(
                "--filter: one filter per dimension (`{name}` twice)"
            ));
        }
        filters.push((dim, value.to_string()));
    }
    if let [(a, _), (b, _)] = filters.as_slice() {
        let conv =
            crate::model::Conversions::compile(site).map_err(|(k, m)| format!("{k}: {m}"))?;
        if conv.pairs.of(*a, *b).is_none() {
            return Err(format!(
                "two filters need the pair of `{}` and `{}` in the site's `pairs`",
                a.as_str(),
                b.as_str()
            ));
        }
    }
    let link = Link {
        id: rand::random(),
        expires,
        window,
        filters,
        embed: spec.embed,
    };
    let token = link.encode(&site.id, &key);
    Ok((link, token))
}

/// Unix seconds of `7d`, `12h` or `YYYY-MM-DD` (the end of that day, UTC).
pub fn expiry(s: &str, now: u64) -> Result<u64, String> {
    let s = s.trim();
    let bad = || format!("--expires `{s}`: use a duration (`7d`, `12h`) or a date (`2026-12-31`)");
    let at = if let Some(n) = s.strip_suffix('d') {
        now + n.parse::<u64>().map_err(|_| bad())?.saturating_mul(86_400)
    } else if let Some(n) = s.strip_suffix('h') {
        now + n.parse::<u64>().map_err(|_| bad())?.saturating_mul(3_600)
    } else {
        let day = params::parse_date(s).map_err(|_| bad())?;
        (u64::from(day) + 1) * 86_400 - 1
    };
    if at <= now {
        return Err(format!("--expires `{s}` is not in the future"));
    }
    if at - now > MAX_LIFETIME_DAYS * 86_400 {
        return Err(format!(
            "--expires `{s}`: a link may live at most {MAX_LIFETIME_DAYS} days"
        ));
    }
    Ok(at)
}

/// The dashboard URL of a token: `BASE/dashboard/SITE?share=TOKEN`.
pub fn url(base: &str, site: &str, token: &str) -> String {
    // Dots, dashes and underscores are common in site ids and need no escaping.
    const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'.')
        .remove(b'-')
        .remove(b'_');
    let site: Cow<'_, str> = percent_encoding::utf8_percent_encode(site, SEGMENT).into();
    format!(
        "{}/dashboard/{site}?share={token}",
        base.trim_end_matches('/')
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds.
pub fn format_time(secs: u64) -> String {
    let day = (secs / 86_400) as u32;
    let s = secs % 86_400;
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_day(day),
        s / 3_600,
        s / 60 % 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::of("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn link() -> Link {
        Link {
            id: 0x0123_4567_89ab_cdef,
            expires: 1_900_000_000,
            window: Window::Fixed(DateRange {
                from: 20_500,
                to: 20_529,
            }),
            filters: vec![
                (Dim::Source, "search".into()),
                (Dim::Page, "/pricing:ü".into()),
            ],
            embed: true,
        }
    }

    #[test]
    fn base64url_round_trips_and_rejects_other_texts() {
        for n in 0..70u8 {
            let bytes: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37).wrapping_add(n)).collect();
            let s = base64url(&bytes);
            assert!(!s.contains(['=', '+', '/']), "{s}");
            assert_eq!(from_base64url(&s), Some(bytes));
        }
        assert_eq!(base64url(b"\xfb\xff"), "-_8");
        assert_eq!(from_base64url("A"), None, "a dangling character");
        assert_eq!(from_base64url("AB"), None, "non-zero trailing bits");
        assert_eq!(from_base64url("AA+A"), None);
        assert_eq!(from_base64url("AA=="), None);
    }

    #[test]
    fn tokens_round_trip_and_bind_the_site_and_the_secret() {
        let l = link();
        let t = l.encode("example.com", &key());
        assert!(t.len() < 200, "{t}");
        assert_eq!(Link::decode(&t, "example.com", &key()), Ok(l.clone()));
        for any in [
            Window::Any,
            Window::Last(30),
            Window::Fixed(DateRange { from: 7, to: 7 }),
        ] {
            let l = Link {
                window: any,
                filters: vec![],
                embed: false,
                ..link()
            };
            let t = l.encode("example.com", &key());
            assert_eq!(Link::decode(&t, "example.com", &key()), Ok(l));
        }
        // Another site, another secret.
        assert_eq!(
            Link::decode(&t, "example.org", &key()),
            Err(Refusal::Invalid)
        );
        let rotated = SigningKey::of("another secret of 32 characters!").unwrap();
        assert_eq!(
            Link::decode(&t, "example.com", &rotated),
            Err(Refusal::Invalid)
        );
        assert!(SigningKey::of("").is_none());
    }

    #[test]
    fn any_changed_byte_breaks_the_mac() {
        let t = link().encode("example.com", &key());
        let bytes = from_base64url(&t).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            assert_eq!(
                Link::decode(&base64url(&b), "example.com", &key()),
                Err(Refusal::Invalid),
                "byte {i}"
            );
        }
        for bad in [
            "",
            "x",
            "!!!!",
            &t[..t.len() - 2],
            &format!("{t}AA"),
            &"A".repeat(MAX_TOKEN_CHARS + 4),
        ] {
            assert_eq!(
                Link::decode(bad, "example.com", &key()),
                Err(Refusal::Invalid),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_signed_but_malformed_payload_is_refused() {
        // What a holder of the secret could sign: still read strictly.
        let k = key();
        let sign = |payload: &[u8]| {
            let mut b = payload.to_vec();
            b.extend_from_slice(k.mac("s", payload).as_bytes());
            base64url(&b)
        };
        let good = link().payload();
        assert!(Link::decode(&sign(&good), "s", &k).is_ok());
        let mut v2 = good.clone();
        v2[0] = 2;
        let mut trailing = good.clone();
        trailing.push(0);
        let mut flags = good.clone();
        flags[17] |= 0x80;
        for bad in [
            &v2[..],
            &trailing,
            &flags,
            &good[..good.len() - 1],
            &good[..1],
        ] {
            assert_eq!(Link::decode(&sign(bad), "s", &k), Err(Refusal::Invalid));
        }
    }

    #[test]
    fn expiry_and_revocation() {
        let l = link();
        assert_eq!(l.check(l.expires, &[]), Ok(()));
        assert_eq!(l.check(l.expires + 1, &[]), Err(Refusal::Expired));
        assert_eq!(l.check(0, &[1, l.id]), Err(Refusal::Revoked));
        assert_eq!(l.id_hex(), "0123456789abcdef");
    }

    #[test]
    fn mint_checks_what_it_is_asked() {
        let mut site = SiteConfig::with_id("example.com");
        let spec = Spec {
            expires: "7d".into(),
            ..Spec::default()
        };
        let e = mint(&site, &spec, 1_000).unwrap_err();
        assert!(e.contains("share_secret"), "{e}");
        site.share_secret = "0123456789abcdef0123456789abcdef".into();
        let (l, t) = mint(&site, &spec, 1_000).unwrap();
        assert_eq!((l.expires, l.window), (1_000 + 7 * 86_400, Window::Any));
        assert_eq!(Link::decode(&t, "example.com", &key()), Ok(l));
        let with = |f: &dyn Fn(&mut Spec)| {
            let mut s = spec.clone();
            f(&mut s);
            mint(&site, &s, 1_000).map(|(l, _)| l)
        };
        let l = with(&|s| {
            s.range = Some("30d".into());
            s.filters = vec!["source:search".into(), "page:/pricing".into()];
            s.embed = true;
        })
        .unwrap();
        assert_eq!(l.window, Window::Last(30));
        assert_eq!(l.filter_params(), ["source:search", "page:/pricing"]);
        assert!(l.embed);
        for (bad, want) in [
            (
                &(|s: &mut Spec| s.filters = vec!["browser:Chrome".into(), "page:/".into()])
                    as &dyn Fn(&mut Spec),
                "pair",
            ),
            (&|s| s.filters = vec!["nope:x".into()], "not a dimension"),
            (&|s| s.filters = vec!["page:/blog*".into()], "exactly"),
            (&|s| s.filters = vec!["page".into()], "dimension:value"),
            (&|s| s.from = Some("2026-01-02".into()), "together"),
            (
                &|s| {
                    s.from = Some("2026-01-02".into());
                    s.to = Some("2026-01-01".into());
                },
                "before",
            ),
            (&|s| s.range = Some("0d".into()), "number of days"),
            (&|s| s.expires = "yesterday".into(), "duration"),
            (&|s| s.expires = "0d".into(), "future"),
            (&|s| s.expires = "99999d".into(), "at most"),
        ] {
            let e = with(bad).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
        assert_eq!(
            expiry("2026-12-31", 0),
            Err("--expires `2026-12-31`: a link may live at most 3660 days".into())
        );
        let end = expiry("2026-12-31", 1_780_000_000).unwrap();
        assert_eq!(format_time(end), "2026-12-31T23:59:59Z");
        assert_eq!(
            url("http://127.0.0.1:8080/", "example.com", "T"),
            "http://127.0.0.1:8080/dashboard/example.com?share=T"
        );
        assert_eq!(url("", "a b/c", "T"), "/dashboard/a%20b%2Fc?share=T");
    }

    #[test]
    fn grants_narrow_requests_and_never_widen_them() {
        let g = Grant::new(
            Link {
                window: Window::Last(7),
                filters: vec![(Dim::Source, "search".into())],
                ..link()
            },
            Some(params::parse_date("2026-03-10").unwrap()),
        );
        let check = |endpoint: &str, q: &str| {
            let mut p = Params::parse(q);
            g.check(endpoint, &mut p).map(|()| p)
        };
        let p = check("aggregate", "from=2026-03-04&to=2026-03-10").unwrap();
        assert_eq!(p.all("filter"), ["source:search"], "the filter is forced");
        let p = check(
            "breakdown",
            "dimension=page&from=2026-03-05&to=2026-03-06&filter=source:search&filter=page:/a",
        )
        .unwrap();
        assert_eq!(p.all("filter"), ["source:search", "page:/a"]);
        let forbidden = |endpoint: &str, q: &str, want: &str| match check(endpoint, q) {
            Err(HttpError::Forbidden(why)) => assert!(why.contains(want), "{q}: {why}"),
            other => panic!("{endpoint}?{q}: {:?}", other.map(|_| ())),
        };
        forbidden(
            "aggregate",
            "from=2026-03-03&to=2026-03-10",
            "2026-03-04 to 2026-03-10 only",
        );
        forbidden("aggregate", "from=2026-03-04&to=2026-03-11", "only");
        forbidden(
            "aggregate",
            "from=2026-03-05&to=2026-03-10&compare=previous",
            "comparison",
        );
        forbidden(
            "timeseries",
            "from=2026-03-04&to=2026-03-10&filter=source:direct",
            "limited to source:search",
        );
        forbidden(
            "breakdown",
            "dimension=source&from=2026-03-04&to=2026-03-10&filter=source:sea*",
            "limited",
        );
        for e in ["goals", "funnels", "consent", "realtime"] {
            forbidden(e, "from=2026-03-04&to=2026-03-10", "cannot be narrowed");
        }
        forbidden("csv", "", "not available through a share link");
        assert!(check("site", "").is_ok());
        // A prop breakdown takes the event filter as `event`.
        let ev = Grant::new(
            Link {
                window: Window::Any,
                filters: vec![(Dim::Event, "signup".into())],
                ..link()
            },
            None,
        );
        let mut p = Params::parse("dimension=prop&from=2026-03-04&to=2026-03-10");
        ev.check("breakdown", &mut p).unwrap();
        assert_eq!((p.get("event"), p.all("filter").len()), (Some("signup"), 0));
        let mut p = Params::parse("dimension=prop&from=2026-03-04&to=2026-03-10&event=purchase");
        assert!(ev.check("breakdown", &mut p).is_err());
        // Without a filter or fixed dates: every dashboard endpoint.
        let open = Grant::new(
            Link {
                window: Window::Any,
                filters: vec![],
                ..link()
            },
            None,
        );
        assert_eq!(open.endpoints().len(), 8);
        let mut p = Params::parse("from=2020-01-01&to=2020-01-31&compare=year");
        open.check("aggregate", &mut p).unwrap();
        assert!(p.all("filter").is_empty());
        let fixed = Grant::new(
            Link {
                filters: vec![],
                ..link()
            },
            None,
        );
        assert!(!fixed.endpoints().contains(&"realtime") && fixed.endpoints().contains(&"goals"));
        // Answers: a filtered breakdown loses `(other)`; /site describes the link.
        let mut b = json!({"rows": [], "other": {"visitors": 3}});
        g.finish("breakdown", &mut b);
        assert_eq!(b["other"], Value::Null);
        let mut s = json!({"site": "example.com"});
        g.finish("site", &mut s);
        assert_eq!(s["share"]["from"], "2026-03-04");
        assert_eq!(s["share"]["filters"], json!(["source:search"]));
        assert_eq!(s["share"]["last_days"], 7);
    }
}
