//! Deriving a [`Manifest`] from the [`Config`] the collector runs with, so the
//! disclosure follows the behaviour instead of being written next to it.

use crate::config::{Config, SiteConfig};
use crate::model::{Conversions, DataClass, Dim};
use crate::privacy::consent::{ConsentPolicy, DataGroup, Level};
use crate::privacy::url::UTM_KEYS;
use crate::privacy::OPT_OUT_COOKIE;

use super::model::{
    AgentProcessing, AgentUse, Aggregation, CategoryNames, ConsentManifest, ConversionsManifest,
    DifferentialPrivacy, EngagementManifest, FunnelManifest, IpProcessing, KAnonymity, LegalBasis,
    LevelManifest, Manifest, NeverCollected, OptOutCookie, PageProcessing, Processing, Profiling,
    Purpose, Recipients, RefusalManifest, RetentionManifest, Rights, StoredDim, Trigger,
    VisitorHash,
};
use super::{opt_out_path, ManifestError, OPT_OUT_MAX_AGE_SECS};

/// Whether the site has values of `d` at all. Marketing props, goals, funnels and
/// currencies exist only when declared, and a pair only when declared and both its
/// parts exist: listing anything else would describe data the site never keeps
/// (a default `source*goal` pair on a site without goals).
fn site_has(site: &SiteConfig, conv: &Conversions, d: Dim) -> bool {
    if d.parts().is_some() && !conv.pairs.contains(d) {
        return false;
    }
    d.components().all(|part| match part {
        Dim::MarketingProp => !site.marketing_props.is_empty(),
        Dim::Goal => !conv.goals.is_empty(),
        Dim::Funnel => !conv.funnels.is_empty(),
        Dim::Currency => !conv.currencies.is_empty(),
        _ => true,
    })
}

/// The names of the data groups whose bits `d` holds, in [`DataGroup::ALL`] order.
fn group_names(d: Dim) -> Vec<&'static str> {
    let bits = d.group_bits();
    DataGroup::ALL
        .iter()
        .filter(|g| bits & g.bit() != 0)
        .map(|g| g.as_str())
        .collect()
}

fn stored(
    site: &SiteConfig,
    conv: &Conversions,
    dims: impl IntoIterator<Item = Dim>,
) -> Vec<StoredDim> {
    dims.into_iter()
        .filter(|d| site_has(site, conv, *d))
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
                groups: group_names(d),
                kind: d,
            }
        })
        .collect()
}

/// Time on page and scroll depth ride on the page and total rows of a level that
/// follows visits: the count level keeps no visit, so it has no engagement.
fn engagement(level: Level, stored: &[StoredDim]) -> Option<EngagementManifest> {
    let with: Vec<&'static str> = stored
        .iter()
        .filter(|s| matches!(s.kind, Dim::Total | Dim::Page))
        .map(|s| s.dim)
        .collect();
    (level >= Level::Analytics && with.contains(&Dim::Page.as_str())).then(|| EngagementManifest {
        counters: ["engagements", "engaged_ms", "scroll_depth"],
        stored_with: with,
        group: DataGroup::Engagement.as_str(),
    })
}

fn conversions_manifest(conv: &Conversions) -> ConversionsManifest {
    ConversionsManifest {
        goals: conv.goals.iter().map(|g| g.name.to_string()).collect(),
        funnels: conv
            .funnels
            .iter()
            .map(|f| FunnelManifest {
                name: f.name.to_string(),
                steps: f.steps.len(),
            })
            .collect(),
        currencies: conv
            .currencies
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect(),
    }
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
        let conv = Conversions::compile(site)
            .map_err(|(key, msg)| ManifestError::InvalidSite(site.id.clone(), key, msg))?;
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
            .map(|level| level_manifest(site, &conv, &policy, level))
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
            conversions: conversions_manifest(&conv),
            levels,
            refusal: RefusalManifest {
                applies_when: refusal,
                stored: stored(site, &conv, [Dim::Decision]),
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
                    salt: "32 random bytes per local day of the site",
                    salt_storage: if config.salt.state_file.is_some() {
                        "memory-and-state-file"
                    } else {
                        "memory"
                    },
                    timezone: site.timezone.clone(),
                    salt_destroyed_secs_after_midnight: config.salt.grace_secs,
                    stored_as: "unique-visitor sketch inside hourly aggregates of the open day",
                    after_the_day: "sketches replaced by plain counts and deleted (day close)",
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
            differential_privacy: (site.dp_epsilon_per_day > 0.0).then(|| DifferentialPrivacy {
                epsilon_per_day: site.dp_epsilon_per_day,
                noised: vec!["visitors", "pageviews", "visits", "bounces", "events", "completions"],
            }),
        })
    }
}

fn level_manifest(
    site: &SiteConfig,
    conv: &Conversions,
    policy: &ConsentPolicy,
    level: Level,
) -> LevelManifest {
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
    let stored = stored(site, conv, level_dims(level));
    LevelManifest {
        level,
        applies_when,
        consent_categories,
        legal_basis,
        gdpr_article: legal_basis.article(),
        purposes,
        engagement: engagement(level, &stored),
        stored,
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
