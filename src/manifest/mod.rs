//! What veil collects for a site, stated from the configuration it runs with.
//!
//! Sites that embed veil promise things in their privacy policies ("the IP address
//! is used only for regional statistics", "data is kept 14 days", "you may object").
//! [`Manifest::for_site`] derives, from the same [`Config`] the collector uses, which
//! data each consent level stores, how it is produced, for how long it is kept and
//! which rights apply — so the disclosure cannot drift from the behaviour.
//!
//! [`render`] turns manifests into JSON (language-independent data) or into a
//! disclosure in English or Polish, as Markdown or an HTML fragment, that a site can
//! paste into its privacy policy. The texts live in `text_en` and `text_pl`; both
//! build the same small document model ([`doc`]), whose renderers escape every piece
//! of configuration-derived text.

use std::str::FromStr;

use serde::Serialize;

use crate::config::{Config, SiteConfig};
use crate::model::{DataClass, Dim};
use crate::privacy::consent::{ConsentPolicy, Level};
use crate::privacy::url::UTM_KEYS;
use crate::privacy::OPT_OUT_COOKIE;

pub(crate) mod doc;
mod text_en;
mod text_pl;

/// Lifetime of the opt-out cookie: five years, in seconds.
pub const OPT_OUT_MAX_AGE_SECS: u64 = 5 * 365 * 86_400;

/// Why a manifest could not be made or rendered.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The site is not in the configuration.
    #[error("unknown site `{0}`: it is not configured")]
    UnknownSite(String),
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

/// Output formats of [`render`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The [`Manifest`] as JSON (an array when all sites are rendered).
    Json,
    /// A Markdown disclosure.
    Md,
    /// An HTML fragment (`<section>`), safe to paste into a page.
    Html,
}

impl FromStr for Format {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "json" => Ok(Format::Json),
            "md" | "markdown" => Ok(Format::Md),
            "html" => Ok(Format::Html),
            _ => Err(ManifestError::UnknownFormat(s.to_string())),
        }
    }
}

/// Languages of the disclosure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Polish.
    Pl,
}

impl FromStr for Lang {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(Lang::En),
            "pl" => Ok(Lang::Pl),
            _ => Err(ManifestError::UnknownLang(s.to_string())),
        }
    }
}

impl Lang {
    /// The BCP 47 tag (`html lang=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Pl => "pl",
        }
    }

    /// The site's configured default language (validated to be `en` or `pl`).
    pub fn of_site(site: &SiteConfig) -> Lang {
        site.language.parse().unwrap_or(Lang::En)
    }
}

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
    #[serde(skip)]
    pub(crate) kind: Dim,
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
    /// A day's salt is destroyed this long after the following midnight (UTC).
    pub salt_destroyed_secs_after_midnight: u64,
    /// Where hashes end up.
    pub stored_as: &'static str,
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

fn stored(site: &SiteConfig, dims: impl IntoIterator<Item = Dim>) -> Vec<StoredDim> {
    dims.into_iter()
        .filter(|d| *d != Dim::MarketingProp || !site.marketing_props.is_empty())
        .map(|d| {
            let class = d.class();
            let r = &site.retention;
            StoredDim {
                dim: d.as_str(),
                class: class.as_str(),
                retention_days: match class {
                    DataClass::Audience => r.audience_days,
                    DataClass::Marketing => r.marketing_days,
                    DataClass::Consent => r.consent_days,
                },
                kind: d,
            }
        })
        .collect()
}

/// Dimensions stored at `level` (the consent counter is stored at every level and
/// listed separately).
fn level_dims(level: Level) -> Vec<Dim> {
    let wanted = |d: &Dim| match level {
        Level::None => false,
        // `Aggregator::record` at `Level::Count`: pageviews per page and hour only.
        Level::Count => matches!(d, Dim::Total | Dim::Page),
        Level::Analytics => d.class() == DataClass::Audience,
        Level::Marketing => d.class() != DataClass::Consent,
    };
    Dim::ALL.iter().copied().filter(wanted).collect()
}

impl Manifest {
    /// The manifest of one configured site.
    pub fn for_site(config: &Config, site_id: &str) -> Result<Manifest, ManifestError> {
        let site = config
            .sites
            .iter()
            .find(|s| s.id == site_id)
            .ok_or_else(|| ManifestError::UnknownSite(site_id.to_string()))?;
        let policy = ConsentPolicy::from(&site.consent);
        let c = &site.consent;
        let overrides = [
            ("default", c.default.is_some()),
            ("gpc", c.gpc.is_some()),
            ("dnt", c.dnt.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect();

        let levels = [Level::Count, Level::Analytics, Level::Marketing]
            .into_iter()
            .map(|level| level_manifest(site, &policy, level))
            .collect();

        let mut refusal = vec![Trigger::Refused, Trigger::OptOut];
        if policy.default == Level::None {
            refusal.insert(0, Trigger::NoChoice);
        }
        if policy.gpc == Level::None {
            refusal.push(Trigger::Gpc);
        }
        if policy.dnt == Level::None {
            refusal.push(Trigger::Dnt);
        }

        let geo = !config.geo.paths.is_empty();
        let mut ip_uses = Vec::new();
        if geo {
            ip_uses.extend(["country", "region"]);
        }
        ip_uses.push("visitor-hash");

        let mut objection = vec!["opt-out-page"];
        if policy.gpc == Level::None {
            objection.push("gpc");
        }
        if policy.dnt == Level::None {
            objection.push("dnt");
        }
        let consent_withdrawable = policy.default < Level::Marketing;

        Ok(Manifest {
            site: site.id.clone(),
            hostnames: site.hostnames.clone(),
            controller: site.controller.clone(),
            contact: site.contact.clone(),
            language: site.language.clone(),
            consent: ConsentManifest {
                preset: c.preset.as_str(),
                overrides,
                without_consent: policy.default,
                gpc_cap: policy.gpc,
                dnt_cap: policy.dnt,
                consent_cookie: policy.cookie.clone(),
                categories: CategoryNames {
                    analytics: ["analytics", "statistics"],
                    marketing: ["marketing"],
                },
                precedence: ["opt-out", "gpc", "dnt", "beacon-categories", "consent-cookie", "default"],
                custom_categories: c.categories.clone(),
                extra_requirements: c
                    .requires
                    .iter()
                    .map(|(g, cat)| (g.clone(), cat.clone()))
                    .collect(),
            },
            levels,
            refusal: RefusalManifest {
                applies_when: refusal,
                stored: stored(site, [Dim::Decision]),
                purposes: vec![Purpose::Accountability],
            },
            processing: Processing {
                ip: IpProcessing {
                    used_for: ip_uses,
                    geo_database: geo,
                    geo_lookup: "local database file; no external service",
                    rate_limit_per_sec: (config.limits.per_client_per_sec > 0)
                        .then_some(config.limits.per_client_per_sec),
                    stored: false,
                    logged: false,
                },
                user_agent: AgentProcessing {
                    used_for: ["bot-check", "browser", "os", "device-class", "visitor-hash"],
                    stored: false,
                    logged: false,
                },
                visitor_hash: VisitorHash {
                    algorithm: "keyed BLAKE3, cut to 64 bits",
                    inputs: ["site", "ip", "user-agent"],
                    salt: "32 random bytes per UTC day",
                    salt_storage: if config.salt.state_file.is_some() {
                        "memory-and-state-file"
                    } else {
                        "memory"
                    },
                    salt_destroyed_secs_after_midnight: config.salt.grace_secs,
                    stored_as: "unique-visitor sketch inside hourly aggregates",
                },
                page: PageProcessing {
                    kept: "normalised path",
                    query_keys_kept: UTM_KEYS,
                    max_path_bytes: config.limits.max_path,
                },
                referrer: "host only",
                aggregation: Aggregation {
                    granularity: "hour",
                    per_visitor_rows: false,
                    flush_interval_ms: config.pipeline.flush_interval_ms,
                },
                bots: "counted, not stored as visits",
            },
            never_collected: vec![
                NeverCollected::IpAddress,
                NeverCollected::UserAgentString,
                NeverCollected::UrlQueryExceptUtm,
                NeverCollected::UrlFragment,
                NeverCollected::ReferrerPathAndQuery,
                NeverCollected::CookieValues,
                NeverCollected::PersistentIdentifiers,
                NeverCollected::PerVisitorRecords,
            ],
            retention: RetentionManifest {
                audience_days: site.retention.audience_days,
                marketing_days: site.retention.marketing_days,
                consent_days: site.retention.consent_days,
                job_enabled: config.retention.enabled,
                job_interval_secs: config.retention.interval_secs,
                erasure: "destruction: expired day partitions dropped, rows of shorter-lived classes deleted",
            },
            recipients: Recipients {
                storage: "the site's own ClickHouse database",
                third_parties: Vec::new(),
                transfers: false,
                sold: false,
            },
            profiling: Profiling {
                profiling: false,
                automated_decisions: false,
            },
            rights: Rights {
                identification_possible: false,
                access_rectification_erasure_portability:
                    "not applicable: stored data are anonymous aggregates that cannot be linked to a person",
                objection,
                opt_out_page: opt_out_path(&site.id),
                consent_withdrawable,
                takes_effect: "from the next hit",
            },
            opt_out_cookie: OptOutCookie {
                name: OPT_OUT_COOKIE,
                value: "1",
                max_age_secs: OPT_OUT_MAX_AGE_SECS,
                strictly_necessary: true,
                set_only_on_objection: true,
            },
            k_anonymity: KAnonymity { k: site.k },
        })
    }

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

fn level_manifest(site: &SiteConfig, policy: &ConsentPolicy, level: Level) -> LevelManifest {
    let mut applies_when = Vec::new();
    if policy.default == level {
        applies_when.push(Trigger::NoChoice);
    }
    let consent_categories = match level {
        Level::Analytics => vec!["analytics"],
        Level::Marketing => vec!["analytics", "marketing"],
        Level::None | Level::Count => Vec::new(),
    };
    if !consent_categories.is_empty() {
        applies_when.push(Trigger::Consent);
    }
    // A cap of `marketing` means the signal changes nothing: not a trigger.
    if policy.gpc == level && level < Level::Marketing {
        applies_when.push(Trigger::Gpc);
    }
    if policy.dnt == level && level < Level::Marketing {
        applies_when.push(Trigger::Dnt);
    }
    // Collected without consent whenever the default reaches this level; the
    // anonymous count stores no personal data at all.
    let legal_basis = if level == Level::Count || policy.default >= level {
        LegalBasis::LegitimateInterest
    } else {
        LegalBasis::Consent
    };
    let purposes = match level {
        Level::None => Vec::new(),
        Level::Count => vec![Purpose::PageCounts],
        Level::Analytics => vec![Purpose::AudienceStatistics],
        Level::Marketing => vec![Purpose::AudienceStatistics, Purpose::CampaignMeasurement],
    };
    LevelManifest {
        level,
        applies_when,
        consent_categories,
        legal_basis,
        gdpr_article: legal_basis.article(),
        purposes,
        stored: stored(site, level_dims(level)),
        visitor_hash: level >= Level::Analytics,
        uses_ip: level >= Level::Analytics,
        uses_user_agent: if level >= Level::Analytics {
            AgentUse::Labels
        } else {
            AgentUse::BotCheck
        },
        marketing_props: if level == Level::Marketing {
            site.marketing_props.clone()
        } else {
            Vec::new()
        },
    }
}

/// Dimensions as the disclosure explains them: related dims (the five `utm_*`,
/// browser and browser version, …) are one item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DimGroup {
    /// Site totals.
    Total,
    /// Page paths.
    Page,
    /// Visits: entry and exit pages, bounces and duration.
    Visit,
    /// Referrer hosts.
    Referrer,
    /// Traffic source channel.
    Source,
    /// `utm_*` values.
    Campaign,
    /// Country and region.
    Location,
    /// Browser and major version.
    Browser,
    /// OS and version.
    Os,
    /// Device class.
    Device,
    /// Screen-width bucket.
    Screen,
    /// Primary language.
    Language,
    /// Custom event names.
    Event,
    /// Custom event props.
    Prop,
    /// Marketing props.
    MarketingProp,
    /// Consent decision counters.
    Decision,
}

impl DimGroup {
    /// The group of a dimension (exhaustive: a new dimension must be explained).
    pub(crate) fn of(d: Dim) -> DimGroup {
        match d {
            Dim::Total => DimGroup::Total,
            Dim::Page => DimGroup::Page,
            Dim::EntryPage | Dim::ExitPage => DimGroup::Visit,
            Dim::Referrer => DimGroup::Referrer,
            Dim::Source => DimGroup::Source,
            Dim::Utm(_) => DimGroup::Campaign,
            Dim::Country | Dim::Region => DimGroup::Location,
            Dim::Browser | Dim::BrowserVersion => DimGroup::Browser,
            Dim::Os | Dim::OsVersion => DimGroup::Os,
            Dim::Device => DimGroup::Device,
            Dim::Screen => DimGroup::Screen,
            Dim::Language => DimGroup::Language,
            Dim::Event => DimGroup::Event,
            Dim::Prop => DimGroup::Prop,
            Dim::MarketingProp => DimGroup::MarketingProp,
            Dim::Decision => DimGroup::Decision,
        }
    }

    /// The groups of stored dimensions, in order, each once.
    pub(crate) fn list<'a>(stored: impl IntoIterator<Item = &'a StoredDim>) -> Vec<DimGroup> {
        let mut out: Vec<DimGroup> = Vec::new();
        for d in stored {
            let g = DimGroup::of(d.kind);
            if !out.contains(&g) {
                out.push(g);
            }
        }
        out
    }
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

/// Renders one site (or all, in configuration order) as JSON or as a disclosure.
pub fn render(
    config: &Config,
    site: Option<&str>,
    format: Format,
    lang: Lang,
) -> Result<String, ManifestError> {
    let manifests = match site {
        Some(id) => vec![Manifest::for_site(config, id)?],
        None => config
            .sites
            .iter()
            .map(|s| Manifest::for_site(config, &s.id))
            .collect::<Result<Vec<_>, _>>()?,
    };
    match format {
        Format::Json => {
            let mut out = if site.is_some() {
                serde_json::to_string_pretty(&manifests[0])?
            } else {
                serde_json::to_string_pretty(&manifests)?
            };
            out.push('\n');
            Ok(out)
        }
        Format::Md => Ok(manifests
            .iter()
            .map(|m| doc::to_markdown(&disclosure(m, lang)))
            .collect::<Vec<_>>()
            .join("\n---\n\n")),
        Format::Html => Ok(manifests
            .iter()
            .map(|m| doc::to_html(&disclosure(m, lang), lang))
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

/// The disclosure of one manifest as a document.
pub(crate) fn disclosure(m: &Manifest, lang: Lang) -> Vec<doc::Block> {
    match lang {
        Lang::En => text_en::disclosure(m),
        Lang::Pl => text_pl::disclosure(m),
    }
}

/// Texts of the opt-out page, in one language.
pub(crate) struct OptOutTexts {
    /// `<title>` and heading.
    pub title: String,
    /// A short account of what is collected (from the manifest).
    pub summary: Vec<doc::Block>,
    /// Shown when the opt-out cookie is present.
    pub objected: &'static str,
    /// Shown when it is not.
    pub not_objected: &'static str,
    /// Button that sets the cookie.
    pub object_button: &'static str,
    /// Button that clears it.
    pub undo_button: &'static str,
    /// Where the choice is kept.
    pub cookie_note: String,
    /// Link text to the full disclosure.
    pub full_disclosure: &'static str,
    /// Link text to the page in the other language.
    pub other_language: &'static str,
}

/// The opt-out page texts for a manifest.
pub(crate) fn opt_out_texts(m: &Manifest, lang: Lang) -> OptOutTexts {
    match lang {
        Lang::En => text_en::opt_out(m),
        Lang::Pl => text_pl::opt_out(m),
    }
}

#[cfg(test)]
mod tests;
