//! One `[[sites]]` entry: what veil collects for a site, its consent policy and
//! how long each class of its data is kept.

use serde::{Deserialize, Serialize};

use crate::privacy::consent::ConsentConfig;

/// One site.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Identifier sent by the beacon (`s=` / `site`), usually the main domain.
    pub id: String,
    /// Hostnames whose pages may report to this site (a leading `*.` allows
    /// subdomains). Empty = only the id itself.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Consent policy.
    #[serde(default)]
    pub consent: ConsentConfig,
    /// Groups with fewer unique visitors are folded into "(other)" by the stats API
    /// (0 disables).
    #[serde(default = "default_k")]
    pub k: u32,
    /// Differential-privacy mode: the ε of the geometric noise added to each
    /// released count of each (day, cell) (`stats::noise`); 0 = off, released
    /// counts exact. Turning it on makes `dp_secret` required.
    #[serde(default)]
    pub dp_epsilon_per_day: f64,
    /// Secret keying the noise of `dp_epsilon_per_day` (at least 32 random
    /// characters): the noise of a cell is fixed by it, so changing it redraws
    /// every cell's noise and lets whoever saw both answers average them. Never
    /// stored in ClickHouse nor logged.
    #[serde(default)]
    pub dp_secret: String,
    /// Days each class of stored data is kept for this site.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Count fragment routes (`/app#/settings`) as pages, for single-page apps that
    /// route by fragment.
    #[serde(default)]
    pub hash_routing: bool,
    /// Event prop keys that are marketing data: stored only at the marketing level.
    #[serde(default)]
    pub marketing_props: Vec<String>,
    /// Umami website id this site answers to on `POST /api/send` (drop-in for
    /// Umami's script).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub umami_website_id: Option<String>,
    /// Who is responsible for the data (named in the generated disclosure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<String>,
    /// Where visitors can ask about their data (named in the disclosure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// Default language of the opt-out page and disclosure (`en` or `pl`); the
    /// visitor's `Accept-Language` is preferred when it names one of them.
    #[serde(default = "default_language")]
    pub language: String,
    /// IANA time zone (`Europe/Warsaw`) the stats API and dashboard use for days,
    /// weeks and months: a marketer's "today" is local, storage is UTC hours.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Hashed read-only keys of the stats API for this site (`blake3:HEX`, printed
    /// by `veil hash-key`); the keys themselves are never stored.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// The dashboard and its API calls work without a key (a public statistics page).
    #[serde(default)]
    pub public_dashboard: bool,
    /// Secret that signs this site's share links (`veil share-link`): at least 32
    /// random characters; empty = no share links. Changing it revokes every link.
    #[serde(default)]
    pub share_secret: String,
    /// Ids of share links revoked one by one (16 hex digits, as `veil share-link`
    /// prints them).
    #[serde(default)]
    pub share_revoked: Vec<String>,
    /// Origins (`https://intranet.example.com`) whose pages may frame this site's
    /// dashboard through an embed share link; empty = nowhere.
    #[serde(default)]
    pub embed_origins: Vec<String>,
    /// Pairs of dimensions stored together (`page*source`), so a breakdown of one
    /// can be filtered by the other; unset = `model::DEFAULT_PAIRS`, `[]` = none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pairs: Option<Vec<String>>,
    /// Goals: a custom event, or a pageview of a path pattern.
    #[serde(default)]
    pub goals: Vec<GoalConfig>,
    /// Funnels: ordered steps completed within one visit.
    #[serde(default)]
    pub funnels: Vec<FunnelConfig>,
    /// Currencies revenue is stored in (ISO 4217 codes); revenue in any other
    /// currency is not stored (the event still is), so sums never mix currencies
    /// and the list of stored values stays bounded.
    #[serde(default = "default_currencies")]
    pub currencies: Vec<String>,
    /// Scheduled e-mail reports (sent through `[smtp]`).
    #[serde(default)]
    pub reports: Vec<ReportConfig>,
}

/// How often a report is sent: each covers the site's previous complete local
/// week (Monday to Sunday) or month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Every {
    /// Weekly, Monday to Sunday.
    Week,
    /// Monthly, a calendar month.
    Month,
}

impl Every {
    /// The spelling in the configuration and the report ledger.
    pub fn as_str(self) -> &'static str {
        match self {
            Every::Week => "week",
            Every::Month => "month",
        }
    }
}

/// One scheduled e-mail report of a site.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// `week` or `month`.
    pub every: Every,
    /// Recipients (addresses, or `Name <address>`); one message to all of them.
    pub to: Vec<String>,
    /// `en` or `pl`; unset = the site's `language`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
}

/// One goal: exactly one of `event` and `page`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalConfig {
    /// Shown in the API and dashboard; unique per site.
    pub name: String,
    /// A custom event name: each such event completes the goal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A path pattern (`/signup/done`, `/blog/*`): each pageview of a matching page
    /// completes the goal. `*` stands for any characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

/// One funnel: 2 to 8 steps, each a page pattern or a custom event.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunnelConfig {
    /// Shown in the API and dashboard; unique per site.
    pub name: String,
    /// The steps, in order.
    pub steps: Vec<StepConfig>,
}

/// One funnel step: exactly one of `event` and `page`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// A custom event name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    /// A path pattern.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<String>,
}

fn default_currencies() -> Vec<String> {
    [
        "EUR", "USD", "GBP", "PLN", "CHF", "SEK", "NOK", "DKK", "CZK", "JPY", "CAD", "AUD",
    ]
    .map(String::from)
    .to_vec()
}

impl SiteConfig {
    /// A site with every default (tests and tools).
    pub fn with_id(id: &str) -> SiteConfig {
        let mut site: SiteConfig = toml::from_str("id = \"x\"").expect("a site needs only its id");
        site.id = id.to_string();
        site
    }
}

/// Fewest characters of a site's `share_secret`.
pub const SHARE_SECRET_MIN: usize = 32;

/// Fewest characters of a site's `dp_secret`.
pub const DP_SECRET_MIN: usize = 32;

/// Largest accepted `dp_epsilon_per_day` (above it the noise is mostly 0).
pub const DP_EPSILON_MAX: f64 = 10.0;

/// Smallest accepted positive `dp_epsilon_per_day` (below it counts drown).
pub const DP_EPSILON_MIN: f64 = 0.01;

fn default_k() -> u32 {
    5
}

fn default_language() -> String {
    "en".into()
}

fn default_timezone() -> String {
    "UTC".into()
}

/// Retention in days per class of stored data. ClickHouse 18.16 has no TTL, so a
/// daily job drops expired day partitions (and deletes a site's rows of a class whose
/// limit is shorter than the longest one).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Audience statistics: pageviews, visitors, visits, pages, referrers, geo,
    /// browser/OS/device, screen, language, events.
    pub audience_days: u32,
    /// Campaign data: UTM dimensions and marketing props.
    pub marketing_days: u32,
    /// Consent decision counters (what was and was not collected).
    pub consent_days: u32,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        RetentionConfig {
            audience_days: 730,
            marketing_days: 365,
            consent_days: 1095,
        }
    }
}

impl RetentionConfig {
    /// The longest limit: partitions older than this hold nothing any class keeps.
    pub fn max_days(&self) -> u32 {
        self.audience_days
            .max(self.marketing_days)
            .max(self.consent_days)
    }
}
