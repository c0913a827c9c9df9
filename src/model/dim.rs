//! The vocabulary of what veil stores: the dimensions a cell is keyed by, the data
//! class (retention, consent category) of each, and the fixed values that stand in
//! for missing or folded ones. The window, the sink, the query side, retention,
//! the audit and the manifest all speak it, and none of them owns it.

use crate::privacy::consent::DataGroup;
use crate::privacy::url::UTM_KEYS;

/// The dimensions veil aggregates by. `Total` has one empty value: the site's totals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dim {
    /// Site totals.
    Total,
    /// Page path.
    Page,
    /// First page of a visit (visit metrics).
    EntryPage,
    /// Last page of a visit (visit metrics).
    ExitPage,
    /// Traffic source channel of the visit (search, social, email, paid, referral, direct).
    Source,
    /// Referrer host (`(direct)` when none).
    Referrer,
    /// `utm_source` … `utm_content`.
    Utm(u8),
    /// ISO country code.
    Country,
    /// Region.
    Region,
    /// Browser name.
    Browser,
    /// Browser name + major version.
    BrowserVersion,
    /// OS name.
    Os,
    /// OS name + version.
    OsVersion,
    /// Device class.
    Device,
    /// Screen-width bucket.
    Screen,
    /// Primary language.
    Language,
    /// Custom event name.
    Event,
    /// Custom event prop: `event\u{1f}key\u{1f}value`.
    Prop,
    /// A prop the site marks as marketing data (same value format).
    MarketingProp,
    /// Consent decision counters (`hits`).
    Decision,
    /// A goal the site declared (its name): `hits` count completions, visitors
    /// the converting visitors.
    Goal,
    /// A step of a declared funnel, `funnel\u{1f}NN` (step number from 01):
    /// `visits` count the visits that reached it, in order, within one visit.
    Funnel,
    /// The currency of revenue (ISO 4217 code from the site's list): `revenue`
    /// sums the amounts in that currency.
    Currency,
    /// Two dimensions together, an index into [`PAIRS`]; values are
    /// `first\u{1f}second`. A site stores only the pairs it declares.
    Pair(u8),
}

/// A pair of dimensions a site may declare (`sites.pairs`), stored like a single
/// dimension so a breakdown of one can be filtered by the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PairDef {
    /// The `dim` value (`page*source`).
    pub name: &'static str,
    /// The dimension the value starts with.
    pub first: Dim,
    /// The dimension after the separator.
    pub second: Dim,
}

const fn pair(name: &'static str, first: Dim, second: Dim) -> PairDef {
    PairDef {
        name,
        first,
        second,
    }
}

/// Every pair a site may declare. The index is stored nowhere (rows carry the
/// name), so entries may be appended, never reordered within a release.
pub const PAIRS: [PairDef; 36] = [
    pair("page*source", Dim::Page, Dim::Source),
    pair("page*referrer", Dim::Page, Dim::Referrer),
    pair("page*utm_source", Dim::Page, Dim::Utm(0)),
    pair("page*utm_campaign", Dim::Page, Dim::Utm(2)),
    pair("page*country", Dim::Page, Dim::Country),
    pair("page*device", Dim::Page, Dim::Device),
    pair("page*browser", Dim::Page, Dim::Browser),
    pair("page*os", Dim::Page, Dim::Os),
    pair("entry_page*source", Dim::EntryPage, Dim::Source),
    pair("entry_page*referrer", Dim::EntryPage, Dim::Referrer),
    pair("entry_page*utm_campaign", Dim::EntryPage, Dim::Utm(2)),
    pair("entry_page*country", Dim::EntryPage, Dim::Country),
    pair("entry_page*device", Dim::EntryPage, Dim::Device),
    pair("source*country", Dim::Source, Dim::Country),
    pair("source*device", Dim::Source, Dim::Device),
    pair("referrer*country", Dim::Referrer, Dim::Country),
    pair("utm_campaign*country", Dim::Utm(2), Dim::Country),
    pair("country*device", Dim::Country, Dim::Device),
    pair("source*goal", Dim::Source, Dim::Goal),
    pair("referrer*goal", Dim::Referrer, Dim::Goal),
    pair("utm_source*goal", Dim::Utm(0), Dim::Goal),
    pair("utm_medium*goal", Dim::Utm(1), Dim::Goal),
    pair("utm_campaign*goal", Dim::Utm(2), Dim::Goal),
    pair("entry_page*goal", Dim::EntryPage, Dim::Goal),
    pair("page*goal", Dim::Page, Dim::Goal),
    pair("country*goal", Dim::Country, Dim::Goal),
    pair("device*goal", Dim::Device, Dim::Goal),
    pair("browser*goal", Dim::Browser, Dim::Goal),
    pair("event*source", Dim::Event, Dim::Source),
    pair("event*utm_campaign", Dim::Event, Dim::Utm(2)),
    pair("event*country", Dim::Event, Dim::Country),
    pair("event*device", Dim::Event, Dim::Device),
    pair("event*page", Dim::Event, Dim::Page),
    pair("event*currency", Dim::Event, Dim::Currency),
    pair("goal*currency", Dim::Goal, Dim::Currency),
    pair("source*currency", Dim::Source, Dim::Currency),
];

/// The pairs a site stores when it declares none: what the dashboard's filters
/// and the goal card need.
pub const DEFAULT_PAIRS: [&str; 12] = [
    "page*source",
    "page*country",
    "entry_page*source",
    "source*country",
    "source*goal",
    "utm_campaign*goal",
    "entry_page*goal",
    "country*goal",
    "device*goal",
    "event*currency",
    "goal*currency",
    "source*currency",
];

impl Dim {
    /// The value of the `dim` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Total => "total",
            Dim::Page => "page",
            Dim::EntryPage => "entry_page",
            Dim::ExitPage => "exit_page",
            Dim::Source => "source",
            Dim::Referrer => "referrer",
            Dim::Utm(i) => UTM_KEYS.get(usize::from(i)).copied().unwrap_or("utm"),
            Dim::Country => "country",
            Dim::Region => "region",
            Dim::Browser => "browser",
            Dim::BrowserVersion => "browser_version",
            Dim::Os => "os",
            Dim::OsVersion => "os_version",
            Dim::Device => "device",
            Dim::Screen => "screen",
            Dim::Language => "language",
            Dim::Event => "event",
            Dim::Prop => "prop",
            Dim::MarketingProp => "marketing_prop",
            Dim::Decision => "decision",
            Dim::Goal => "goal",
            Dim::Funnel => "funnel",
            Dim::Currency => "currency",
            Dim::Pair(i) => PAIRS.get(usize::from(i)).map_or("pair", |p| p.name),
        }
    }

    /// The two dimensions of a pair.
    pub fn parts(self) -> Option<(Dim, Dim)> {
        match self {
            Dim::Pair(i) => PAIRS.get(usize::from(i)).map(|p| (p.first, p.second)),
            _ => None,
        }
    }

    /// The pair of `a` and `b`, in either order.
    pub fn pair_of(a: Dim, b: Dim) -> Option<Dim> {
        PAIRS
            .iter()
            .position(|p| (p.first, p.second) == (a, b) || (p.first, p.second) == (b, a))
            .map(|i| Dim::Pair(i as u8))
    }

    /// The pair called `name` (`page*source`).
    pub fn pair_named(name: &str) -> Option<Dim> {
        PAIRS
            .iter()
            .position(|p| p.name == name)
            .map(|i| Dim::Pair(i as u8))
    }

    /// The dimension itself, or both parts of a pair.
    pub fn components(self) -> impl Iterator<Item = Dim> {
        let (a, b) = match self.parts() {
            Some((a, b)) => (a, Some(b)),
            None => (self, None),
        };
        std::iter::once(a).chain(b)
    }

    /// The withheld-mask bits ([`DataGroup::bit`]) of the groups this dimension
    /// holds: a pair is withheld when either part is.
    /// (Checked for every cell written: a table for pairs, no iteration.)
    pub fn group_bits(self) -> u16 {
        match self {
            Dim::Pair(i) => PAIR_GROUP_BITS.get(usize::from(i)).copied().unwrap_or(0),
            d => single_bits(d),
        }
    }
}

const fn single_bits(d: Dim) -> u16 {
    match d.group() {
        Some(g) => g.bit(),
        None => 0,
    }
}

/// The withheld-mask bits of each pair: both parts' groups.
const PAIR_GROUP_BITS: [u16; PAIRS.len()] = {
    let mut bits = [0u16; PAIRS.len()];
    let mut i = 0;
    while i < PAIRS.len() {
        bits[i] = single_bits(PAIRS[i].first) | single_bits(PAIRS[i].second);
        i += 1;
    }
    bits
};

/// The classes of stored data, each with its own retention and consent category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataClass {
    /// Audience statistics.
    Audience,
    /// Campaign data (UTM, marketing props): needs marketing consent.
    Marketing,
    /// Consent decision counters.
    Consent,
}

impl DataClass {
    /// Every class.
    pub const ALL: [DataClass; 3] = [
        DataClass::Audience,
        DataClass::Marketing,
        DataClass::Consent,
    ];

    /// The `dim` values of this class.
    pub fn dims(self) -> Vec<&'static str> {
        Dim::ALL
            .iter()
            .filter(|d| d.class() == self)
            .map(|d| d.as_str())
            .collect()
    }

    /// Configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DataClass::Audience => "audience",
            DataClass::Marketing => "marketing",
            DataClass::Consent => "consent",
        }
    }
}

/// Every dimension that is not a pair.
pub const SINGLE_DIMS: [Dim; 27] = [
    Dim::Total,
    Dim::Page,
    Dim::EntryPage,
    Dim::ExitPage,
    Dim::Source,
    Dim::Referrer,
    Dim::Utm(0),
    Dim::Utm(1),
    Dim::Utm(2),
    Dim::Utm(3),
    Dim::Utm(4),
    Dim::Country,
    Dim::Region,
    Dim::Browser,
    Dim::BrowserVersion,
    Dim::Os,
    Dim::OsVersion,
    Dim::Device,
    Dim::Screen,
    Dim::Language,
    Dim::Event,
    Dim::Prop,
    Dim::MarketingProp,
    Dim::Decision,
    Dim::Goal,
    Dim::Funnel,
    Dim::Currency,
];

impl Dim {
    /// Every dimension: the single ones, then every pair.
    pub const ALL: [Dim; SINGLE_DIMS.len() + PAIRS.len()] = {
        let mut all = [Dim::Total; SINGLE_DIMS.len() + PAIRS.len()];
        let mut i = 0;
        while i < SINGLE_DIMS.len() {
            all[i] = SINGLE_DIMS[i];
            i += 1;
        }
        let mut j = 0;
        while j < PAIRS.len() {
            all[i + j] = Dim::Pair(j as u8);
            j += 1;
        }
        all
    };

    /// Whether the dimension's values come from visitors' input (pages, referrers,
    /// campaigns, events) and so need a cardinality bound.
    pub fn is_open_ended(self) -> bool {
        if let Some((a, b)) = self.parts() {
            return a.is_open_ended() || b.is_open_ended();
        }
        !matches!(
            self,
            Dim::Total
                | Dim::Source
                | Dim::Country
                | Dim::Browser
                | Dim::Os
                | Dim::Device
                | Dim::Screen
                | Dim::Language
                | Dim::Decision
                | Dim::Goal
                | Dim::Funnel
                | Dim::Currency
        )
    }

    /// The data group a site may tie to a consent category of its own
    /// (`consent.requires`); `None` for what every collecting level stores.
    pub const fn group(self) -> Option<DataGroup> {
        Some(match self {
            Dim::Referrer | Dim::Source => DataGroup::Referrers,
            Dim::Utm(_) => DataGroup::Campaigns,
            Dim::Country | Dim::Region => DataGroup::Geo,
            Dim::Browser | Dim::BrowserVersion | Dim::Os | Dim::OsVersion | Dim::Device => {
                DataGroup::Agent
            }
            Dim::Screen => DataGroup::Screen,
            Dim::Language => DataGroup::Language,
            Dim::Event | Dim::Prop | Dim::MarketingProp => DataGroup::Events,
            Dim::EntryPage | Dim::ExitPage => DataGroup::Visits,
            Dim::Goal | Dim::Funnel | Dim::Currency => DataGroup::Conversions,
            // A pair holds both parts' groups: see `group_bits`.
            Dim::Total | Dim::Page | Dim::Decision | Dim::Pair(_) => return None,
        })
    }

    /// The data class (retention, consent category) of the dimension.
    pub fn class(self) -> DataClass {
        if let Some((a, b)) = self.parts() {
            return if a.class() == DataClass::Marketing || b.class() == DataClass::Marketing {
                DataClass::Marketing
            } else {
                DataClass::Audience
            };
        }
        match self {
            Dim::Utm(_) | Dim::MarketingProp => DataClass::Marketing,
            Dim::Decision => DataClass::Consent,
            _ => DataClass::Audience,
        }
    }
}

/// Separator inside `prop` values; stripped from names, keys and values.
pub const PROP_SEP: char = '\u{1f}';
/// Value used when a dimension is unknown for a hit.
pub const UNKNOWN: &str = "(unknown)";
/// Referrer value for direct traffic.
pub const DIRECT: &str = "(direct)";
/// Source channel of direct traffic.
pub const DIRECT_CHANNEL: &str = "direct";

/// The value shown for folded groups.
pub const OTHER: &str = "(other)";
