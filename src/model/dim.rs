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
}

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
        }
    }
}

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

impl Dim {
    /// Every dimension.
    pub const ALL: [Dim; 24] = [
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
    ];

    /// Whether the dimension's values come from visitors' input (pages, referrers,
    /// campaigns, events) and so need a cardinality bound.
    pub fn is_open_ended(self) -> bool {
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
        )
    }

    /// The data group a site may tie to a consent category of its own
    /// (`consent.requires`); `None` for what every collecting level stores.
    pub fn group(self) -> Option<DataGroup> {
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
            Dim::Total | Dim::Page | Dim::Decision => return None,
        })
    }

    /// The data class (retention, consent category) of the dimension.
    pub fn class(self) -> DataClass {
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
