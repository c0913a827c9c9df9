//! Rendering manifests: the output formats and languages, the JSON, and the glue
//! that hands a manifest to the English or Polish texts and the document renderers.

use std::str::FromStr;

use crate::config::{Config, SiteConfig};
use crate::model::{DataClass, Dim};
use crate::privacy::consent::{DataGroup, Level};

use super::{doc, text_en, text_pl, LevelManifest, Manifest, ManifestError};

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
    /// Declared goals: completions and converting visitors.
    Goal,
    /// Declared funnels: visits that reached each step.
    Funnel,
    /// Revenue sums per currency, alone or paired with an event, goal or source.
    Revenue,
    /// Declared pairs of two dimensions (without a currency).
    Pairs,
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
            Dim::Goal => DimGroup::Goal,
            Dim::Funnel => DimGroup::Funnel,
            Dim::Currency => DimGroup::Revenue,
            // A currency pair holds revenue sums: a reader looks for them under
            // revenue, not among counts of combinations.
            Dim::Pair(_) if d.components().any(|p| p == Dim::Currency) => DimGroup::Revenue,
            Dim::Pair(_) => DimGroup::Pairs,
        }
    }

    /// The groups of stored dimensions, in order, each once.
    pub(crate) fn list(dims: &[Dim]) -> Vec<DimGroup> {
        let mut out: Vec<DimGroup> = Vec::new();
        for d in dims {
            let g = DimGroup::of(*d);
            if !out.contains(&g) {
                out.push(g);
            }
        }
        out
    }
}

/// The dimensions a level's list in the disclosure explains. The marketing level
/// is written as "everything under statistics, and …", so it lists only its
/// marketing-class data (campaign tags, marketing props, pairs with a campaign).
pub(crate) fn listed_dims(l: &LevelManifest) -> Vec<Dim> {
    l.stored
        .iter()
        .map(|s| s.kind)
        .filter(|d| l.level != Level::Marketing || d.class() == DataClass::Marketing)
        .collect()
}

/// The parts of the pairs among `dims` that the disclosure lists as combinations
/// (not the currency pairs, which it explains as revenue).
pub(crate) fn combinations(dims: &[Dim]) -> Vec<(Dim, Dim)> {
    dims.iter()
        .filter(|d| DimGroup::of(**d) == DimGroup::Pairs)
        .filter_map(|d| d.parts())
        .collect()
}

/// What revenue is also summed by besides the currency (the other part of each
/// currency pair among `dims`): event, goal, traffic source.
pub(crate) fn revenue_breakdowns(dims: &[Dim]) -> Vec<Dim> {
    dims.iter()
        .filter_map(|d| d.parts())
        .filter_map(|(a, b)| match (a, b) {
            (Dim::Currency, other) | (other, Dim::Currency) => Some(other),
            _ => None,
        })
        .collect()
}

/// What the statistics level keeps beyond the fixed dimensions, for the short
/// accounts (retention periods, the opt-out page) that name kinds of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extra {
    /// Time on page and scroll depth.
    Engagement,
    /// Goals.
    Goals,
    /// Funnels.
    Funnels,
    /// Revenue.
    Revenue,
    /// Pairs (without a currency).
    Combinations,
}

/// The [`Extra`]s the statistics level of `m` stores, in a fixed order.
pub(crate) fn statistics_extras(m: &Manifest) -> Vec<Extra> {
    let l = Level::Analytics;
    let engagement = m.level(l).is_some_and(|l| l.engagement.is_some());
    let has = |g: DimGroup| level_has(m, l, |d| DimGroup::of(d) == g);
    [
        (Extra::Engagement, engagement),
        (Extra::Goals, has(DimGroup::Goal)),
        (Extra::Funnels, has(DimGroup::Funnel)),
        (Extra::Revenue, has(DimGroup::Revenue)),
        (Extra::Combinations, has(DimGroup::Pairs)),
    ]
    .into_iter()
    .filter_map(|(e, on)| on.then_some(e))
    .collect()
}

/// Whether `level` of `m` stores a dimension for which `f` holds.
pub(crate) fn level_has(m: &Manifest, level: Level, f: impl Fn(Dim) -> bool) -> bool {
    m.level(level)
        .is_some_and(|l| l.stored.iter().any(|s| f(s.kind)))
}

/// Whether a stored pair of `m` holds data of the consent group named `group`, so
/// a requirement on the group withholds those combinations too.
pub(crate) fn group_in_pairs(m: &Manifest, group: &str) -> bool {
    let Some(g) = DataGroup::parse(group) else {
        return false;
    };
    m.levels
        .iter()
        .flat_map(|l| &l.stored)
        .any(|s| s.kind.parts().is_some() && s.kind.group_bits() & g.bit() != 0)
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
