//! The manifest's data model: one type per thing veil states about a site's data,
//! serialised as the JSON manifest and read by the disclosure texts.

use serde::Serialize;

use crate::model::Dim;
use crate::privacy::consent::Level;

/// Everything veil does with the data of one site's visitors.
#[derive(Clone, Debug, Serialize)]
pub struct Manifest {
    /// Site id (as beacons send it).
    pub site: String,
    /// Hostnames whose pages report to this site (empty = the id itself).
    pub hostnames: Vec<String>,
    /// Who is responsible for the data, if configured.
    pub controller: Option<String>,
    /// Where visitors can ask about their data, if configured.
    pub contact: Option<String>,
    /// Default language of the site's pages (`en`, `pl`).
    pub language: String,
    /// The resolved consent policy.
    pub consent: ConsentManifest,
    /// The goals, funnels and currencies the site declares (what their stored
    /// values can be); which level stores them is in `levels[].stored`.
    pub conversions: ConversionsManifest,
    /// What is stored at each collection level, and when that level applies.
    pub levels: Vec<LevelManifest>,
    /// What happens when nothing may be collected.
    pub refusal: RefusalManifest,
    /// How the data are produced from a request.
    pub processing: Processing,
    /// What veil never collects or stores.
    pub never_collected: Vec<NeverCollected>,
    /// How long each class of stored data is kept and how it is erased.
    pub retention: RetentionManifest,
    /// Who receives the data.
    pub recipients: Recipients,
    /// Profiling and automated decisions.
    pub profiling: Profiling,
    /// Data-subject rights and how to use them.
    pub rights: Rights,
    /// The only cookie veil itself sets.
    pub opt_out_cookie: OptOutCookie,
    /// Small groups hidden in reports.
    pub k_anonymity: KAnonymity,
    /// Noise on released counts, when the site turns it on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub differential_privacy: Option<DifferentialPrivacy>,
}

/// The site's consent policy, resolved from its preset and overrides.
#[derive(Clone, Debug, Serialize)]
pub struct ConsentManifest {
    /// The preset the policy starts from (`eu-strict`, …).
    pub preset: &'static str,
    /// Keys that override the preset (`default`, `gpc`, `dnt`).
    pub overrides: Vec<&'static str>,
    /// Level used when the visitor made no choice.
    pub without_consent: Level,
    /// Highest level when the browser sends `Sec-GPC: 1`.
    pub gpc_cap: Level,
    /// Highest level when the browser sends `DNT: 1`.
    pub dnt_cap: Level,
    /// First-party cookie holding the visitor's categories (only read), if any.
    pub consent_cookie: Option<String>,
    /// Category names understood in beacons and the consent cookie, by what they grant.
    pub categories: CategoryNames,
    /// Order in which the signals are considered.
    pub precedence: [&'static str; 6],
    /// The site's own categories (`consent.categories`).
    pub custom_categories: Vec<String>,
    /// Data groups stored only when the visitor also granted a category
    /// (`consent.requires`): `(group, category)`.
    pub extra_requirements: Vec<(String, String)>,
}

/// Consent category names veil understands.
#[derive(Clone, Debug, Serialize)]
pub struct CategoryNames {
    /// Names that grant audience measurement.
    pub analytics: [&'static str; 2],
    /// Names that grant campaign measurement (together with analytics).
    pub marketing: [&'static str; 1],
}

/// What makes a level apply to a hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The visitor made no consent choice (the site's default level).
    NoChoice,
    /// The visitor granted the level's categories.
    Consent,
    /// The visitor's categories exclude analytics.
    Refused,
    /// `Sec-GPC: 1` caps the level here.
    Gpc,
    /// `DNT: 1` caps the level here.
    Dnt,
    /// The opt-out cookie or the tracker's opt-out flag.
    OptOut,
}

/// Legal basis (GDPR Art. 6(1)) of a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LegalBasis {
    /// Art. 6(1)(a): the visitor's consent.
    Consent,
    /// Art. 6(1)(f): the controller's legitimate interest (the visitor may object).
    LegitimateInterest,
}

impl LegalBasis {
    /// The GDPR provision.
    pub fn article(self) -> &'static str {
        match self {
            LegalBasis::Consent => "6(1)(a)",
            LegalBasis::LegitimateInterest => "6(1)(f)",
        }
    }
}

/// Purposes of processing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// Anonymous page-view counts.
    PageCounts,
    /// Audience measurement to run and improve the site.
    AudienceStatistics,
    /// Which campaigns bring visitors.
    CampaignMeasurement,
    /// Showing that visitors' choices were respected (consent counters).
    Accountability,
}

/// How the User-Agent is used at a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentUse {
    /// Only to recognise bots, which are counted and not stored.
    BotCheck,
    /// Reduced to browser, OS, device class and bot flag; part of the visitor hash.
    Labels,
}

/// One stored dimension.
#[derive(Clone, Debug, Serialize)]
pub struct StoredDim {
    /// Value of the `dim` column.
    pub dim: &'static str,
    /// Data class (retention).
    pub class: &'static str,
    /// Days rows of this dimension are kept.
    pub retention_days: u32,
    /// The data groups (`consent.requires` keys) it holds: one for most
    /// dimensions, both parts' for a pair, none for what every level stores
    /// (`total`, `page`, `decision`). A site tying a group to a category of its
    /// own withholds every dimension listing it.
    pub groups: Vec<&'static str>,
    #[serde(skip)]
    pub(crate) kind: Dim,
}

/// Time on page and scroll depth: counters on page and total rows, not a
/// dimension, so a level states them apart from `stored`.
#[derive(Clone, Debug, Serialize)]
pub struct EngagementManifest {
    /// The counters: reports, visible milliseconds summed, scroll percent summed.
    pub counters: [&'static str; 3],
    /// The stored dimensions whose rows carry them (`total`, `page`).
    pub stored_with: Vec<&'static str>,
    /// Their data group (`engagement`).
    pub group: &'static str,
}

/// A site's declarations behind the `goal`, `funnel` and `currency` values.
#[derive(Clone, Debug, Serialize)]
pub struct ConversionsManifest {
    /// Goal names (the stored `goal` values).
    pub goals: Vec<String>,
    /// Funnels.
    pub funnels: Vec<FunnelManifest>,
    /// Currencies revenue is summed in (ISO 4217); revenue in others is not stored.
    pub currencies: Vec<String>,
}

/// One declared funnel.
#[derive(Clone, Debug, Serialize)]
pub struct FunnelManifest {
    /// Its name.
    pub name: String,
    /// How many steps it has (stored as `funnel` values `name\u{1f}01` onwards).
    pub steps: usize,
}

/// One collection level.
#[derive(Clone, Debug, Serialize)]
pub struct LevelManifest {
    /// The level.
    pub level: Level,
    /// When it applies; empty when this policy never uses it.
    pub applies_when: Vec<Trigger>,
    /// Categories a visitor grants to get this level (empty: not reachable by consent).
    pub consent_categories: Vec<&'static str>,
    /// Legal basis.
    pub legal_basis: LegalBasis,
    /// GDPR article of the legal basis.
    pub gdpr_article: &'static str,
    /// Purposes.
    pub purposes: Vec<Purpose>,
    /// Dimensions stored (hourly aggregates), besides the consent counters.
    pub stored: Vec<StoredDim>,
    /// Time on page and scroll depth, when this level stores them.
    pub engagement: Option<EngagementManifest>,
    /// Whether unique visitors are counted (daily-salted hash inside a sketch).
    pub visitor_hash: bool,
    /// Whether the IP address is looked at (geo, visitor hash).
    pub uses_ip: bool,
    /// How the User-Agent is used.
    pub uses_user_agent: AgentUse,
    /// Event prop keys stored as marketing data at this level.
    pub marketing_props: Vec<String>,
}

impl LevelManifest {
    /// Whether this policy ever collects at this level.
    pub fn reachable(&self) -> bool {
        !self.applies_when.is_empty()
    }
}

/// Level `none`: only the decision counter of the site and hour moves.
#[derive(Clone, Debug, Serialize)]
pub struct RefusalManifest {
    /// When nothing is collected.
    pub applies_when: Vec<Trigger>,
    /// What is stored then (the decision counter, also kept at every other level).
    pub stored: Vec<StoredDim>,
    /// Why the counter is kept.
    pub purposes: Vec<Purpose>,
}

/// How the stored facts are made from a request.
#[derive(Clone, Debug, Serialize)]
pub struct Processing {
    /// The IP address.
    pub ip: IpProcessing,
    /// The User-Agent header.
    pub user_agent: AgentProcessing,
    /// The visitor hash.
    pub visitor_hash: VisitorHash,
    /// The page URL.
    pub page: PageProcessing,
    /// The referrer.
    pub referrer: &'static str,
    /// Granularity of stored data.
    pub aggregation: Aggregation,
    /// Crawlers, headless browsers, HTTP libraries.
    pub bots: &'static str,
}

/// What the IP address is used for.
#[derive(Clone, Debug, Serialize)]
pub struct IpProcessing {
    /// Uses.
    pub used_for: Vec<&'static str>,
    /// Whether a local geo database is configured (country and region).
    pub geo_database: bool,
    /// The lookup happens locally; no external service is asked.
    pub geo_lookup: &'static str,
    /// Requests per second one address may send (abuse protection), when limited:
    /// the address is kept in memory only as a hash under a per-process key.
    pub rate_limit_per_sec: Option<u32>,
    /// Never stored.
    pub stored: bool,
    /// Never logged.
    pub logged: bool,
}

/// What the User-Agent is used for.
#[derive(Clone, Debug, Serialize)]
pub struct AgentProcessing {
    /// Uses.
    pub used_for: [&'static str; 5],
    /// Never stored.
    pub stored: bool,
    /// Never logged.
    pub logged: bool,
}

/// The daily visitor hash.
#[derive(Clone, Debug, Serialize)]
pub struct VisitorHash {
    /// Function.
    pub algorithm: &'static str,
    /// Hashed inputs.
    pub inputs: [&'static str; 3],
    /// The key.
    pub salt: &'static str,
    /// Where salts live: `memory`, or `memory-and-state-file` (mode 0600).
    pub salt_storage: &'static str,
    /// The site's time zone: a salt's day is the site's local day.
    pub timezone: String,
    /// A day's salt is destroyed this long after the following local midnight.
    pub salt_destroyed_secs_after_midnight: u64,
    /// Where hashes end up.
    pub stored_as: &'static str,
    /// What happens to them when the day is over.
    pub after_the_day: &'static str,
}

/// What is kept of a page URL.
#[derive(Clone, Debug, Serialize)]
pub struct PageProcessing {
    /// Kept.
    pub kept: &'static str,
    /// Query keys kept (marketing level only).
    pub query_keys_kept: [&'static str; 5],
    /// Longest path kept (bytes).
    pub max_path_bytes: usize,
}

/// Granularity of stored data.
#[derive(Clone, Debug, Serialize)]
pub struct Aggregation {
    /// Time bucket.
    pub granularity: &'static str,
    /// Never one row per visitor or visit.
    pub per_visitor_rows: bool,
    /// How long hits wait in memory before their aggregates are written (ms).
    pub flush_interval_ms: u64,
}

/// Things veil never collects or stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NeverCollected {
    /// The IP address.
    IpAddress,
    /// The User-Agent string.
    UserAgentString,
    /// The page's query string, except the five `utm_*` keys.
    UrlQueryExceptUtm,
    /// The part after `#`.
    UrlFragment,
    /// The referrer's path and query (only its host is kept).
    ReferrerPathAndQuery,
    /// Cookie values, except the opt-out cookie and the consent cookie (only read).
    CookieValues,
    /// Cookies, local storage or other identifiers set for statistics.
    PersistentIdentifiers,
    /// Rows about one visitor or one visit.
    PerVisitorRecords,
}

/// Retention per data class and how expired data is erased.
#[derive(Clone, Debug, Serialize)]
pub struct RetentionManifest {
    /// Audience statistics (`count` and `analytics` data, events).
    pub audience_days: u32,
    /// Campaign data (`utm_*`, marketing props).
    pub marketing_days: u32,
    /// Consent decision counters.
    pub consent_days: u32,
    /// Whether the retention job runs inside `veil serve`.
    pub job_enabled: bool,
    /// How often it runs (s).
    pub job_interval_secs: u64,
    /// Expired day partitions are dropped and rows of shorter-lived classes deleted.
    pub erasure: &'static str,
}

/// Recipients of the data.
#[derive(Clone, Debug, Serialize)]
pub struct Recipients {
    /// Where aggregates are written.
    pub storage: &'static str,
    /// Third parties that receive data: none.
    pub third_parties: Vec<String>,
    /// Transfers to third countries by veil: none.
    pub transfers: bool,
    /// Sale of data: never.
    pub sold: bool,
}

/// Profiling and automated decision-making.
#[derive(Clone, Debug, Serialize)]
pub struct Profiling {
    /// Profiles of visitors: none.
    pub profiling: bool,
    /// Decisions with legal or similar effects: none.
    pub automated_decisions: bool,
}

/// Data-subject rights.
#[derive(Clone, Debug, Serialize)]
pub struct Rights {
    /// Whether stored data can be linked to a person (they cannot).
    pub identification_possible: bool,
    /// Access, rectification, erasure, restriction, portability: not applicable,
    /// because stored data cannot be singled out (GDPR Art. 11).
    pub access_rectification_erasure_portability: &'static str,
    /// How to object.
    pub objection: Vec<&'static str>,
    /// Path of the opt-out page on the veil server.
    pub opt_out_page: String,
    /// Whether some level relies on consent (which can be withdrawn).
    pub consent_withdrawable: bool,
    /// When an objection or withdrawal takes effect.
    pub takes_effect: &'static str,
}

/// The opt-out cookie.
#[derive(Clone, Debug, Serialize)]
pub struct OptOutCookie {
    /// Name.
    pub name: &'static str,
    /// Value.
    pub value: &'static str,
    /// Lifetime (s).
    pub max_age_secs: u64,
    /// Needed to honour the objection, so it needs no consent.
    pub strictly_necessary: bool,
    /// Set only when the visitor objects.
    pub set_only_on_objection: bool,
}

/// The k-anonymity threshold of reports.
#[derive(Clone, Debug, Serialize)]
pub struct KAnonymity {
    /// Groups with fewer unique visitors are shown only as "(other)"; 0 = off.
    pub k: u32,
}

/// The differential-privacy mode of reports (`dp_epsilon_per_day`).
#[derive(Clone, Debug, Serialize)]
pub struct DifferentialPrivacy {
    /// ε of the geometric noise per (day, cell) of each released count.
    pub epsilon_per_day: f64,
    /// The counts that carry noise.
    pub noised: Vec<&'static str>,
}

impl Manifest {
    /// The level entry (always present for count, analytics and marketing).
    pub fn level(&self, level: Level) -> Option<&LevelManifest> {
        self.levels.iter().find(|l| l.level == level)
    }

    /// Whether any reachable level stores campaign data.
    pub fn marketing_reachable(&self) -> bool {
        self.level(Level::Marketing)
            .is_some_and(LevelManifest::reachable)
    }
}
