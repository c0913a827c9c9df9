//! The English disclosure's words: level and dimension names, durations, lists.

use super::super::doc::{code, t, Inline};
use crate::model::Dim;
use crate::privacy::consent::{DataGroup, Level};

pub(super) fn level_name(level: Level) -> &'static str {
    match level {
        Level::None => "nothing recorded",
        Level::Count => "anonymous count",
        Level::Analytics => "statistics",
        Level::Marketing => "marketing",
    }
}

/// A full stop after a configured value, unless it already ends with one.
pub(super) fn full_stop(value: &str) -> &'static str {
    if value.ends_with('.') {
        ""
    } else {
        "."
    }
}

pub(super) fn days(n: u32) -> String {
    if n == 1 {
        "1 day".into()
    } else {
        format!("{n} days")
    }
}

pub(super) fn unit(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// `3600` → "1 hour", `90` → "90 seconds".
pub(super) fn duration(secs: u64) -> String {
    if secs > 0 && secs.is_multiple_of(86_400) {
        unit(secs / 86_400, "day", "days")
    } else if secs > 0 && secs.is_multiple_of(3_600) {
        unit(secs / 3_600, "hour", "hours")
    } else if secs > 0 && secs.is_multiple_of(60) {
        unit(secs / 60, "minute", "minutes")
    } else {
        unit(secs, "second", "seconds")
    }
}

pub(super) fn years_or_days(secs: u64) -> String {
    let year = 365 * 86_400;
    if secs.is_multiple_of(year) {
        unit(secs / year, "year", "years")
    } else {
        duration(secs)
    }
}

pub(super) fn join_and(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A dimension as a reader names it, for the combinations a site stores
/// ("page and traffic source") and what revenue is summed by.
pub(super) fn dim_name(d: Dim) -> &'static str {
    match d {
        Dim::Total => "site total",
        Dim::Page => "page",
        Dim::EntryPage => "entry page",
        Dim::ExitPage => "exit page",
        Dim::Source => "traffic source",
        Dim::Referrer => "referring domain",
        Dim::Utm(0) => "campaign source (utm_source)",
        Dim::Utm(1) => "campaign medium (utm_medium)",
        Dim::Utm(2) => "campaign name (utm_campaign)",
        Dim::Utm(3) => "campaign term (utm_term)",
        Dim::Utm(_) => "campaign content (utm_content)",
        Dim::Country => "country",
        Dim::Region => "region",
        Dim::Browser => "browser",
        Dim::BrowserVersion => "browser version",
        Dim::Os => "operating system",
        Dim::OsVersion => "operating system version",
        Dim::Device => "device type",
        Dim::Screen => "screen width",
        Dim::Language => "language",
        Dim::Event => "event",
        Dim::Prop => "event property",
        Dim::MarketingProp => "marketing property",
        Dim::Decision => "consent decision",
        Dim::Goal => "goal",
        Dim::Funnel => "funnel step",
        Dim::Currency => "currency",
        Dim::Pair(_) => "combination",
    }
}

/// What a consent data group (`consent.requires`) covers, for the sentence that
/// ties it to a category: the key alone tells a reader nothing.
pub(super) fn group_name(g: DataGroup) -> &'static str {
    match g {
        DataGroup::Visits => "unique visitors and visits",
        DataGroup::Geo => "country and region",
        DataGroup::Agent => "browser, operating system and device type",
        DataGroup::Referrers => "referring domains and traffic sources",
        DataGroup::Campaigns => "campaign tags",
        DataGroup::Screen => "screen width",
        DataGroup::Language => "browser language",
        DataGroup::Events => "events and their properties",
        DataGroup::Conversions => "goals, funnels and revenue",
        DataGroup::Engagement => "time on page and scroll depth",
    }
}

/// Configured names as literals, comma-separated.
pub(super) fn code_list<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<Inline> {
    let mut v = Vec::new();
    for (i, n) in names.into_iter().enumerate() {
        if i > 0 {
            v.push(t(", "));
        }
        v.push(code(n));
    }
    v
}
