//! Consent first: the collection level of a hit is decided before anything else
//! looks at it.
//!
//! A site's [`ConsentPolicy`] (a preset plus per-key overrides) and the visitor's
//! [`Signals`] (opt-out flag, `Sec-GPC`, `DNT`, the categories sent with the beacon
//! or read from a consent cookie) give a [`Level`] and the [`Decision`] that is
//! counted for the site and hour. Nothing but that counter is stored for a hit whose
//! level is [`Level::None`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How much veil may record about one hit, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Only the site's decision counter moves.
    None,
    /// Pageviews per page and hour; no visitor hash, geo, agent or referrer.
    Count,
    /// All audience aggregates, with the daily-salted visitor hash.
    Analytics,
    /// Analytics plus campaign (UTM) dimensions and marketing event props.
    Marketing,
}

impl Level {
    /// The configuration spelling, for messages and the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "none",
            Level::Count => "count",
            Level::Analytics => "analytics",
            Level::Marketing => "marketing",
        }
    }
}

/// Why a hit got its level: one counter per value per site and hour, so a site can
/// see what was *not* collected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Collected at [`Level::Marketing`].
    Marketing,
    /// Collected at [`Level::Analytics`].
    Analytics,
    /// Collected as an anonymous count only.
    Anonymous,
    /// The visitor's categories exclude analytics.
    Denied,
    /// `Sec-GPC: 1` lowered the level to none.
    Gpc,
    /// `DNT: 1` lowered the level to none.
    Dnt,
    /// The visitor objected (opt-out cookie or tracker flag).
    OptOut,
    /// A crawler, headless browser or HTTP library: counted, not stored.
    Bot,
    /// Refused by a rate limit.
    RateLimited,
    /// Refused as malformed or not matching the site's hostnames.
    Invalid,
}

impl Decision {
    /// Every decision, in the order reports list them.
    pub const ALL: [Decision; 10] = [
        Decision::Marketing,
        Decision::Analytics,
        Decision::Anonymous,
        Decision::Denied,
        Decision::Gpc,
        Decision::Dnt,
        Decision::OptOut,
        Decision::Bot,
        Decision::RateLimited,
        Decision::Invalid,
    ];

    /// The value stored in the `decision` dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Marketing => "marketing",
            Decision::Analytics => "analytics",
            Decision::Anonymous => "anonymous",
            Decision::Denied => "denied",
            Decision::Gpc => "gpc",
            Decision::Dnt => "dnt",
            Decision::OptOut => "optout",
            Decision::Bot => "bot",
            Decision::RateLimited => "rate_limited",
            Decision::Invalid => "invalid",
        }
    }
}

/// The consent categories a visitor granted, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Categories(u8);

impl Categories {
    /// Strictly necessary: always implied, never enough for analytics.
    pub const NECESSARY: Categories = Categories(1);
    /// Audience measurement.
    pub const ANALYTICS: Categories = Categories(2);
    /// Campaign attribution and marketing props.
    pub const MARKETING: Categories = Categories(4);

    /// Most custom categories a site may define (bits 3–7).
    pub const MAX_CUSTOM: usize = 5;

    /// The names every site knows.
    pub const FIXED: [&'static str; 3] = ["necessary", "analytics", "marketing"];

    /// Parses one name, fixed or one of the site's `custom` categories; unknown
    /// names grant nothing.
    pub fn from_name_with(name: &str, custom: &[String]) -> Categories {
        let fixed = Categories::from_name(name);
        if fixed != Categories(0) {
            return fixed;
        }
        let name = name.trim();
        custom
            .iter()
            .take(Self::MAX_CUSTOM)
            .position(|c| c.eq_ignore_ascii_case(name))
            .map_or(Categories(0), |i| Categories(8 << i))
    }

    /// Parses a list with the site's custom categories (see [`Categories::parse_list`]).
    pub fn parse_list_with(list: &str, custom: &[String]) -> Categories {
        list.split([',', ' ', '+', '|'])
            .filter(|s| !s.is_empty())
            .fold(Categories::NECESSARY, |acc, name| {
                acc.union(Categories::from_name_with(name, custom))
            })
    }

    /// The categories a level stands for when the visitor named none (the site's
    /// default or a GPC/DNT cap): custom categories are only ever granted explicitly.
    pub fn implied(level: Level) -> Categories {
        match level {
            Level::None | Level::Count => Categories::NECESSARY,
            Level::Analytics => Categories::NECESSARY.union(Categories::ANALYTICS),
            Level::Marketing => Categories::NECESSARY
                .union(Categories::ANALYTICS)
                .union(Categories::MARKETING),
        }
    }

    /// Categories in both sets.
    pub fn intersect(self, other: Categories) -> Categories {
        Categories(self.0 & other.0)
    }

    /// Parses one category name; unknown names grant nothing.
    pub fn from_name(name: &str) -> Categories {
        let name = name.trim();
        if name.eq_ignore_ascii_case("analytics") || name.eq_ignore_ascii_case("statistics") {
            Categories::ANALYTICS
        } else if name.eq_ignore_ascii_case("marketing") {
            Categories::MARKETING
        } else if name.eq_ignore_ascii_case("necessary") {
            Categories::NECESSARY
        } else {
            Categories(0)
        }
    }

    /// Parses a list separated by commas, spaces, `+` or `|` (`"necessary,analytics"`).
    /// An empty list is a valid answer: the visitor granted nothing.
    pub fn parse_list(list: &str) -> Categories {
        list.split([',', ' ', '+', '|'])
            .filter(|s| !s.is_empty())
            .fold(Categories::NECESSARY, |acc, name| {
                acc.union(Categories::from_name(name))
            })
    }

    /// Both sets together.
    pub fn union(self, other: Categories) -> Categories {
        Categories(self.0 | other.0)
    }

    /// Whether every category of `other` is granted.
    pub fn contains(self, other: Categories) -> bool {
        self.0 & other.0 == other.0
    }

    /// The level these categories allow.
    pub fn level(self) -> Level {
        match (
            self.contains(Categories::ANALYTICS),
            self.contains(Categories::MARKETING),
        ) {
            (true, true) => Level::Marketing,
            (true, false) => Level::Analytics,
            (false, _) => Level::None,
        }
    }
}

/// Groups of stored data a site can tie to a consent category of its own choosing
/// (`[sites.consent.requires]`), on top of what the level allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataGroup {
    /// The visitor hash: unique visitors and visits.
    Visits,
    /// Country and region (from the IP).
    Geo,
    /// Browser, OS and device class (from the User-Agent).
    Agent,
    /// Referrer host and traffic source.
    Referrers,
    /// UTM campaign dimensions.
    Campaigns,
    /// Screen-size bucket.
    Screen,
    /// Language.
    Language,
    /// Custom events and their props.
    Events,
    /// Goals, funnels and revenue.
    Conversions,
    /// Time on page and scroll depth.
    Engagement,
}

impl DataGroup {
    /// Every group.
    pub const ALL: [DataGroup; 10] = [
        DataGroup::Visits,
        DataGroup::Geo,
        DataGroup::Agent,
        DataGroup::Referrers,
        DataGroup::Campaigns,
        DataGroup::Screen,
        DataGroup::Language,
        DataGroup::Events,
        DataGroup::Conversions,
        DataGroup::Engagement,
    ];

    /// Configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DataGroup::Visits => "visits",
            DataGroup::Geo => "geo",
            DataGroup::Agent => "agent",
            DataGroup::Referrers => "referrers",
            DataGroup::Campaigns => "campaigns",
            DataGroup::Screen => "screen",
            DataGroup::Language => "language",
            DataGroup::Events => "events",
            DataGroup::Conversions => "conversions",
            DataGroup::Engagement => "engagement",
        }
    }

    /// Parses the configuration spelling.
    pub fn parse(s: &str) -> Option<DataGroup> {
        DataGroup::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// Bit of the group in a withheld mask.
    pub const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The consent-related facts of one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    /// The visitor objected: the opt-out cookie or the tracker's opt-out flag.
    pub opt_out: bool,
    /// `Sec-GPC: 1`.
    pub gpc: bool,
    /// `DNT: 1`.
    pub dnt: bool,
    /// Categories sent with the beacon itself.
    pub beacon: Option<Categories>,
    /// Categories read from the site's consent cookie.
    pub cookie: Option<Categories>,
}

/// A named starting point for a site's consent policy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Preset {
    /// Without consent only the anonymous count; GPC and DNT are a refusal.
    #[default]
    EuStrict,
    /// Audience measurement without consent (CNIL-style exemption): visitor hash with
    /// a daily salt, no marketing dimensions; GPC and DNT are an objection.
    EuExemptAudience,
    /// Collect unless the visitor opts out; GPC turns marketing off.
    UsOptOut,
}

impl Preset {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::EuStrict => "eu-strict",
            Preset::EuExemptAudience => "eu-exempt-audience",
            Preset::UsOptOut => "us-opt-out",
        }
    }

    /// (default level, GPC cap, DNT cap) of the preset.
    fn levels(self) -> (Level, Level, Level) {
        match self {
            Preset::EuStrict => (Level::Count, Level::None, Level::None),
            Preset::EuExemptAudience => (Level::Analytics, Level::None, Level::None),
            Preset::UsOptOut => (Level::Marketing, Level::Analytics, Level::Marketing),
        }
    }
}

/// A site's consent policy as configured: a preset and optional overrides.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentConfig {
    /// The preset the other keys start from.
    #[serde(default)]
    pub preset: Preset,
    /// Level without any consent signal (overrides the preset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Level>,
    /// Highest level allowed when `Sec-GPC: 1` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpc: Option<Level>,
    /// Highest level allowed when `DNT: 1` is sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnt: Option<Level>,
    /// Name of a first-party cookie holding the granted categories as a list
    /// (`necessary,analytics`), set by the site's consent banner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    /// The site's own consent categories (besides necessary, analytics, marketing),
    /// e.g. `["functional"]`; at most five.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    /// Data groups that additionally need a category, e.g.
    /// `{ geo = "functional", events = "marketing" }` (groups: visits, geo, agent,
    /// referrers, campaigns, screen, language, events).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requires: BTreeMap<String, String>,
}

impl ConsentConfig {
    /// Checks custom category names and `requires`; the error names the key.
    pub fn validate(&self) -> Result<(), (String, String)> {
        if self.categories.len() > Categories::MAX_CUSTOM {
            return Err((
                "categories".into(),
                format!("at most {} custom categories", Categories::MAX_CUSTOM),
            ));
        }
        for (i, c) in self.categories.iter().enumerate() {
            let ok = !c.is_empty()
                && c.len() <= 32
                && c.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                })
                && !Categories::FIXED.contains(&c.as_str())
                && c != "statistics";
            if !ok {
                return Err((
                    format!("categories[{i}]"),
                    format!("`{c}` must be a new lower-case name (a-z, 0-9, _ or -)"),
                ));
            }
        }
        for (group, category) in &self.requires {
            if DataGroup::parse(group).is_none() {
                let names: Vec<&str> = DataGroup::ALL.iter().map(|g| g.as_str()).collect();
                return Err((
                    format!("requires.{group}"),
                    format!("unknown data group; use one of {}", names.join(", ")),
                ));
            }
            if Categories::from_name_with(category, &self.categories) == Categories(0) {
                return Err((format!("requires.{group}"), format!("`{category}` is neither necessary, analytics, marketing nor one of `categories`")));
            }
        }
        Ok(())
    }
}

/// The resolved policy used on the request path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentPolicy {
    /// Level without any consent signal.
    pub default: Level,
    /// Cap under `Sec-GPC: 1`.
    pub gpc: Level,
    /// Cap under `DNT: 1`.
    pub dnt: Level,
    /// Consent cookie name, if any.
    pub cookie: Option<String>,
    /// The site's custom category names.
    pub custom: Vec<String>,
    /// Extra category each data group needs.
    pub requires: Vec<(DataGroup, Categories)>,
}

impl From<&ConsentConfig> for ConsentPolicy {
    fn from(c: &ConsentConfig) -> Self {
        let (default, gpc, dnt) = c.preset.levels();
        ConsentPolicy {
            default: c.default.unwrap_or(default),
            gpc: c.gpc.unwrap_or(gpc),
            dnt: c.dnt.unwrap_or(dnt),
            cookie: c.cookie.clone(),
            custom: c.categories.clone(),
            requires: c
                .requires
                .iter()
                .filter_map(|(g, cat)| {
                    Some((
                        DataGroup::parse(g)?,
                        Categories::from_name_with(cat, &c.categories),
                    ))
                })
                .collect(),
        }
    }
}

impl ConsentPolicy {
    /// Parses a category list with this site's custom names.
    pub fn parse(&self, list: &str) -> Categories {
        Categories::parse_list_with(list, &self.custom)
    }

    /// The categories in force for a hit at `level`: the visitor's own (capped by
    /// the level), or those the level implies when the visitor named none.
    pub fn granted(&self, s: &Signals, level: Level) -> Categories {
        let implied = Categories::implied(level);
        match s.beacon.or(s.cookie) {
            // Explicit custom categories survive; fixed ones never exceed the level.
            Some(explicit) => Categories(explicit.0 & (implied.0 | !0b111)),
            None => implied,
        }
    }

    /// Bit mask of the data groups that must not be stored with `granted`.
    pub fn withheld(&self, granted: Categories) -> u16 {
        self.requires
            .iter()
            .filter(|(_, needed)| !granted.contains(*needed))
            .fold(0, |mask, (g, _)| mask | g.bit())
    }

    /// Decides the level of one hit. Precedence: opt-out → GPC → DNT → beacon
    /// categories → consent cookie → the site's default.
    pub fn decide(&self, s: &Signals) -> (Level, Decision) {
        if s.opt_out {
            return (Level::None, Decision::OptOut);
        }
        let wanted = match (s.beacon, s.cookie) {
            (Some(c), _) | (None, Some(c)) => c.level(),
            (None, None) => self.default,
        };
        let mut level = wanted;
        let mut capped_by = None;
        if s.gpc && self.gpc < level {
            level = self.gpc;
            capped_by = Some(Decision::Gpc);
        }
        if s.dnt && self.dnt < level {
            level = self.dnt;
            capped_by = capped_by.or(Some(Decision::Dnt));
        }
        let decision = match level {
            Level::None => capped_by.unwrap_or(Decision::Denied),
            Level::Count => Decision::Anonymous,
            Level::Analytics => Decision::Analytics,
            Level::Marketing => Decision::Marketing,
        };
        (level, decision)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(preset: Preset) -> ConsentPolicy {
        ConsentPolicy::from(&ConsentConfig {
            preset,
            ..Default::default()
        })
    }

    fn granted(list: &str) -> Signals {
        Signals {
            beacon: Some(Categories::parse_list(list)),
            ..Default::default()
        }
    }

    #[test]
    fn eu_strict_counts_anonymously_without_consent() {
        let p = policy(Preset::EuStrict);
        assert_eq!(
            p.decide(&Signals::default()),
            (Level::Count, Decision::Anonymous)
        );
        assert_eq!(
            p.decide(&granted("necessary,analytics")),
            (Level::Analytics, Decision::Analytics)
        );
        assert_eq!(
            p.decide(&granted("analytics,marketing")),
            (Level::Marketing, Decision::Marketing)
        );
        assert_eq!(
            p.decide(&granted("necessary")),
            (Level::None, Decision::Denied)
        );
        assert_eq!(p.decide(&granted("")), (Level::None, Decision::Denied));
    }

    #[test]
    fn gpc_and_dnt_override_granted_categories_under_eu_strict() {
        let p = policy(Preset::EuStrict);
        let mut s = granted("analytics,marketing");
        s.gpc = true;
        assert_eq!(p.decide(&s), (Level::None, Decision::Gpc));
        let mut s = granted("analytics");
        s.dnt = true;
        assert_eq!(p.decide(&s), (Level::None, Decision::Dnt));
    }

    #[test]
    fn opt_out_beats_everything() {
        for preset in [Preset::EuStrict, Preset::EuExemptAudience, Preset::UsOptOut] {
            let mut s = granted("analytics,marketing");
            s.opt_out = true;
            assert_eq!(policy(preset).decide(&s), (Level::None, Decision::OptOut));
        }
    }

    #[test]
    fn beacon_categories_beat_the_cookie() {
        let p = policy(Preset::EuStrict);
        let s = Signals {
            beacon: Some(Categories::parse_list("necessary")),
            cookie: Some(Categories::parse_list("analytics")),
            ..Default::default()
        };
        assert_eq!(p.decide(&s).0, Level::None);
        let s = Signals {
            cookie: Some(Categories::parse_list("analytics")),
            ..Default::default()
        };
        assert_eq!(p.decide(&s).0, Level::Analytics);
    }

    #[test]
    fn us_opt_out_collects_by_default_and_gpc_turns_marketing_off() {
        let p = policy(Preset::UsOptOut);
        assert_eq!(p.decide(&Signals::default()).0, Level::Marketing);
        let s = Signals {
            gpc: true,
            ..Default::default()
        };
        assert_eq!(p.decide(&s), (Level::Analytics, Decision::Analytics));
    }

    #[test]
    fn exempt_audience_measures_without_consent_but_honours_objection() {
        let p = policy(Preset::EuExemptAudience);
        assert_eq!(p.decide(&Signals::default()).0, Level::Analytics);
        let s = Signals {
            dnt: true,
            ..Default::default()
        };
        assert_eq!(p.decide(&s), (Level::None, Decision::Dnt));
    }

    #[test]
    fn custom_categories_gate_data_groups() {
        let mut cfg = ConsentConfig {
            categories: vec!["functional".into()],
            ..Default::default()
        };
        cfg.requires.insert("geo".into(), "functional".into());
        cfg.requires.insert("events".into(), "marketing".into());
        assert!(cfg.validate().is_ok());
        let p = ConsentPolicy::from(&cfg);
        let analytics = Signals {
            beacon: Some(p.parse("analytics")),
            ..Default::default()
        };
        let (level, _) = p.decide(&analytics);
        let g = p.granted(&analytics, level);
        assert_eq!(
            p.withheld(g),
            DataGroup::Geo.bit() | DataGroup::Events.bit()
        );
        let both = Signals {
            beacon: Some(p.parse("analytics,functional")),
            ..Default::default()
        };
        let g = p.granted(&both, p.decide(&both).0);
        assert_eq!(p.withheld(g), DataGroup::Events.bit());
        // GPC caps the fixed categories, not the site's own.
        let mut gpc = Signals {
            beacon: Some(p.parse("analytics,marketing,functional")),
            gpc: true,
            ..Default::default()
        };
        gpc.gpc = true;
        let eu = ConsentPolicy {
            gpc: Level::Analytics,
            ..p.clone()
        };
        let (level, _) = eu.decide(&gpc);
        assert_eq!(level, Level::Analytics);
        assert_eq!(
            eu.withheld(eu.granted(&gpc, level)),
            DataGroup::Events.bit()
        );
    }

    #[test]
    fn bad_custom_categories_name_the_key() {
        let bad = ConsentConfig {
            categories: vec!["Analytics".into()],
            ..Default::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "categories[0]");
        let mut bad = ConsentConfig::default();
        bad.requires.insert("location".into(), "analytics".into());
        assert_eq!(bad.validate().unwrap_err().0, "requires.location");
        let mut bad = ConsentConfig::default();
        bad.requires.insert("geo".into(), "functional".into());
        assert_eq!(bad.validate().unwrap_err().0, "requires.geo");
    }

    #[test]
    fn overrides_win_over_the_preset() {
        let p = ConsentPolicy::from(&ConsentConfig {
            preset: Preset::EuStrict,
            default: Some(Level::None),
            dnt: Some(Level::Marketing),
            ..Default::default()
        });
        assert_eq!(
            p.decide(&Signals::default()),
            (Level::None, Decision::Denied)
        );
        let mut s = granted("analytics");
        s.dnt = true;
        assert_eq!(p.decide(&s).0, Level::Analytics);
    }
}
