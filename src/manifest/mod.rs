//! What veil collects for a site, stated from the configuration it runs with.
//!
//! Sites that embed veil promise things in their privacy policies ("the IP address
//! is used only for regional statistics", "data is kept 14 days", "you may object").
//! [`Manifest::for_site`] derives, from the same [`Config`](crate::config::Config)
//! the collector uses, which data each consent level stores, how it is produced, for
//! how long it is kept and which rights apply — so the disclosure cannot drift from
//! the behaviour.
//!
//! [`render`] turns manifests into JSON (language-independent data) or into a
//! disclosure in English or Polish, as Markdown or an HTML fragment, that a site can
//! paste into its privacy policy. The texts live in `text_en` and `text_pl`; both
//! build the same small document model ([`doc`]), whose renderers escape every piece
//! of configuration-derived text.
//!
//! The code is split by concern: `model` holds the types that describe what is
//! collected (they are the JSON), `derive` computes them from the configuration,
//! and `render` turns them into JSON or a disclosure document in a language.

mod derive;
pub(crate) mod doc;
mod model;
mod render;
mod text_en;
mod text_pl;

pub use self::model::{
    AgentProcessing, AgentUse, Aggregation, CategoryNames, ConsentManifest, ConversionsManifest,
    DifferentialPrivacy, EngagementManifest, FunnelManifest, IpProcessing, KAnonymity, LegalBasis,
    LevelManifest, Manifest, NeverCollected, OptOutCookie, PageProcessing, Processing, Profiling,
    Purpose, Recipients, RefusalManifest, RetentionManifest, Rights, StoredDim, Trigger,
    VisitorHash,
};
pub(crate) use self::render::{
    combinations, disclosure, group_in_pairs, level_has, listed_dims, opt_out_texts,
    revenue_breakdowns, statistics_extras, DimGroup, Extra, OptOutTexts,
};
pub use self::render::{render, Format, Lang};

/// Lifetime of the opt-out cookie: five years, in seconds.
pub const OPT_OUT_MAX_AGE_SECS: u64 = 5 * 365 * 86_400;

/// Why a manifest could not be made or rendered.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The site is not in the configuration.
    #[error("unknown site `{0}`: it is not configured")]
    UnknownSite(String),
    /// The site's pairs, goals, funnels or currencies do not compile (a
    /// configuration that skipped validation): the manifest would not know what
    /// is stored, so there is none rather than a wrong one.
    #[error("site `{0}`: `{1}` {2}")]
    InvalidSite(String, String, String),
    /// `--format` / `format=` names no known format.
    #[error("unknown format `{0}`: use json, md or html")]
    UnknownFormat(String),
    /// `--lang` / `lang=` names no supported language.
    #[error("unknown language `{0}`: use en or pl")]
    UnknownLang(String),
    /// The manifest could not be serialised (not expected to happen).
    #[error("cannot serialise the manifest: {0}")]
    Json(#[from] serde_json::Error),
}

/// `/optout?site=…` with the site id percent-encoded.
pub fn opt_out_path(site: &str) -> String {
    format!("/optout?site={}", encode_component(site))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
