//! Query-string parameters of the stats API, validated into types.
//!
//! Every error names the parameter it is about. Dimensions come from a whitelist
//! (the stored [`Dim`] names), dates are real calendar dates, ranges and page
//! sizes are bounded, so no request can make ClickHouse scan without limit.

use std::collections::HashMap;

use crate::clock::{civil_from_days, format_day};
use crate::model::goals::{PairSet, Step};
use crate::model::Dim;

use crate::http::HttpError;

/// Longest range one request may cover (3 years).
pub const MAX_RANGE_DAYS: u32 = 3 * 366;
/// Largest page of breakdown rows.
pub const MAX_LIMIT: usize = 1_000;
/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 100;

/// Decoded query parameters (repeated names keep every value, in order).
pub struct Params(HashMap<String, Vec<String>>);

impl Params {
    /// Parses `a=1&b=2` (percent-decoding, `+` as space).
    pub fn parse(query: &str) -> Params {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in crate::http::query::pairs(query) {
            map.entry(k.into_owned()).or_default().push(v.into_owned());
        }
        Params(map)
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map_or(&[], Vec::as_slice)
    }

    /// Appends a value to `name` (what a share link forces on a request).
    pub fn add(&mut self, name: &str, value: String) {
        self.0.entry(name.to_string()).or_default().push(value);
    }

    /// A required parameter.
    pub fn required(&self, name: &str) -> Result<&str, HttpError> {
        self.get(name)
            .ok_or_else(|| HttpError::param(name, "is required"))
    }

    /// `from` and `to` as a validated inclusive range of local dates.
    pub fn range(&self) -> Result<DateRange, HttpError> {
        let from = parse_date(self.required("from")?).map_err(|e| HttpError::param("from", e))?;
        let to = parse_date(self.required("to")?).map_err(|e| HttpError::param("to", e))?;
        if from > to {
            return Err(HttpError::param("to", "must not be before `from`"));
        }
        if to - from + 1 > MAX_RANGE_DAYS {
            return Err(HttpError::param(
                "to",
                format!("the range may cover at most {MAX_RANGE_DAYS} days"),
            ));
        }
        Ok(DateRange { from, to })
    }

    /// A positive integer at most `max`, or `default`.
    pub fn bounded(&self, name: &str, default: usize, max: usize) -> Result<usize, HttpError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(HttpError::param(
                    name,
                    format!("must be a whole number from 1 to {max}"),
                )),
            },
        }
    }

    /// The comparison asked for (`compare=previous` or `compare=year`).
    pub fn compare(&self) -> Result<Option<Compare>, HttpError> {
        match self.get("compare") {
            None => Ok(None),
            Some("previous") => Ok(Some(Compare::Previous)),
            Some("year") => Ok(Some(Compare::Year)),
            Some(_) => Err(HttpError::param(
                "compare",
                "must be `previous` (the period of equal length before) or `year` (the same dates a year earlier)",
            )),
        }
    }
}

/// What a range is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compare {
    /// The period of equal length just before.
    Previous,
    /// The same dates one year earlier (29 February → 28 February).
    Year,
}

impl Compare {
    /// The spelling in requests and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Compare::Previous => "previous",
            Compare::Year => "year",
        }
    }

    /// The range `r` is compared with.
    pub fn range(self, r: DateRange) -> DateRange {
        match self {
            Compare::Previous => r.previous(),
            Compare::Year => DateRange {
                from: year_before(r.from),
                to: year_before(r.to),
            },
        }
    }
}

/// The same calendar date one year earlier; 29 February becomes 28 February.
fn year_before(day: u32) -> u32 {
    let (y, m, d) = crate::clock::civil_from_days(i64::from(day));
    let d = if m == 2 && d == 29 { 28 } else { d };
    days_from_civil(y - 1, m, d).max(0) as u32
}

/// An inclusive range of dates in the site's time zone, as day numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    /// First day.
    pub from: u32,
    /// Last day (inclusive).
    pub to: u32,
}

impl DateRange {
    /// Days covered.
    pub fn days(self) -> u32 {
        self.to - self.from + 1
    }

    /// The period of equal length just before this one.
    pub fn previous(self) -> DateRange {
        let n = self.days();
        DateRange {
            from: self.from.saturating_sub(n),
            to: self.from.saturating_sub(1),
        }
    }

    /// `YYYY-MM-DD` of the first day.
    pub fn from_str(self) -> String {
        format_day(self.from)
    }

    /// `YYYY-MM-DD` of the last day.
    pub fn to_str(self) -> String {
        format_day(self.to)
    }
}

/// Parses `YYYY-MM-DD` (a real date, years 2000–2199) into a day number.
pub fn parse_date(s: &str) -> Result<u32, &'static str> {
    const SHAPE: &str = "must be a date YYYY-MM-DD";
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(SHAPE);
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, &'static str> {
        let part = &s[r];
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(SHAPE);
        }
        part.parse().map_err(|_| SHAPE)
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if !(2000..=2199).contains(&y) {
        return Err("must be a date between 2000-01-01 and 2199-12-31");
    }
    if !(1..=12).contains(&m) || d == 0 {
        return Err("is not a calendar date");
    }
    let day = days_from_civil(i64::from(y), m, d);
    // Round trip rejects 2026-02-30 and friends.
    if civil_from_days(day) != (i64::from(y), m, d) {
        return Err("is not a calendar date");
    }
    u32::try_from(day).map_err(|_| SHAPE)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Time-series bucket size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interval {
    /// One UTC hour (labelled in local time).
    Hour,
    /// Local day.
    Day,
    /// Local week starting Monday.
    Week,
    /// Local calendar month.
    Month,
}

impl Interval {
    /// Parses `interval` (default: hour for one day, day otherwise).
    pub fn from_params(p: &Params, range: DateRange) -> Result<Interval, HttpError> {
        Ok(match p.get("interval") {
            None if range.days() == 1 => Interval::Hour,
            None | Some("day") => Interval::Day,
            Some("hour") => {
                if range.days() > 31 {
                    return Err(HttpError::param(
                        "interval",
                        "hourly buckets are available for ranges of up to 31 days",
                    ));
                }
                Interval::Hour
            }
            Some("week") => Interval::Week,
            Some("month") => Interval::Month,
            Some(_) => {
                return Err(HttpError::param(
                    "interval",
                    "must be one of hour, day, week, month",
                ))
            }
        })
    }

    /// API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Hour => "hour",
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }
}

/// The metrics a dimension's rows carry (what [`crate::aggregate::Aggregator`]
/// writes for it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MetricSet {
    /// Pageviews are counted per value.
    pub pageviews: bool,
    /// Visits, bounces and duration are counted per value (visit dimensions).
    pub visits: bool,
    /// Custom events are counted per value.
    pub events: bool,
    /// Goal completions (`hits` of goal cells).
    pub completions: bool,
    /// Revenue (cells keyed by a currency).
    pub revenue: bool,
    /// Time on page and scroll depth (engagement reports).
    pub engagement: bool,
}

/// A dimension a breakdown may be asked for (pairs are reached through filters,
/// funnels through `/funnels`).
pub fn dimension(name: &str) -> Option<Dim> {
    Dim::ALL
        .iter()
        .copied()
        .filter(|d| is_breakdown(*d))
        .find(|d| d.as_str() == name)
}

fn is_breakdown(d: Dim) -> bool {
    !matches!(d, Dim::Total | Dim::Decision | Dim::Funnel | Dim::Pair(_))
}

/// The names accepted by [`dimension`], for messages and the OpenAPI document.
pub fn dimension_names() -> Vec<&'static str> {
    Dim::ALL
        .iter()
        .filter(|d| is_breakdown(**d))
        .map(|d| d.as_str())
        .collect()
}

/// Which metrics are stored for a dimension (see `Aggregator::record` and
/// `Aggregator::record_visit`).
pub fn metrics_of(dim: Dim) -> MetricSet {
    if let Some((a, b)) = dim.parts() {
        let goal = a == Dim::Goal || b == Dim::Goal;
        let currency = a == Dim::Currency || b == Dim::Currency;
        // The steps that write the pair say what it counts.
        return MetricSet {
            pageviews: Step::Pageview.writes(a, b),
            visits: Step::Visit.writes(a, b),
            events: Step::Event.writes(a, b),
            completions: goal,
            revenue: currency,
            engagement: false,
        };
    }
    let pageviews = !matches!(
        dim,
        Dim::EntryPage
            | Dim::ExitPage
            | Dim::Event
            | Dim::Prop
            | Dim::MarketingProp
            | Dim::Goal
            | Dim::Funnel
            | Dim::Currency
    );
    // What a visit's start writes, plus the totals and its exit page.
    let visits = matches!(dim, Dim::Total | Dim::ExitPage) || Step::Visit.knows(dim);
    let events = matches!(
        dim,
        Dim::Total | Dim::Page | Dim::Event | Dim::Prop | Dim::MarketingProp | Dim::Currency
    );
    MetricSet {
        pageviews,
        visits,
        events,
        completions: dim == Dim::Goal,
        revenue: dim == Dim::Currency,
        engagement: matches!(dim, Dim::Total | Dim::Page),
    }
}

/// Breakdown sort key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// By pageviews.
    Pageviews,
    /// By unique visitors.
    Visitors,
    /// By visits.
    Visits,
    /// By events.
    Events,
    /// By goal completions.
    Completions,
    /// By revenue.
    Revenue,
}

impl Sort {
    /// Parses `sort`, checking the dimension has that metric; defaults to its main one.
    pub fn from_params(p: &Params, m: MetricSet) -> Result<Sort, HttpError> {
        let sort = match p.get("sort") {
            None if m.pageviews => Sort::Pageviews,
            None if m.visits => Sort::Visits,
            None if m.events => Sort::Events,
            None if m.completions => Sort::Completions,
            None | Some("visitors") => Sort::Visitors,
            Some("pageviews") => Sort::Pageviews,
            Some("visits") => Sort::Visits,
            Some("events") => Sort::Events,
            Some("completions") => Sort::Completions,
            Some("revenue") => Sort::Revenue,
            Some(_) => {
                return Err(HttpError::param(
                    "sort",
                    "must be one of pageviews, visitors, visits, events, completions, revenue",
                ))
            }
        };
        if !sort.available(m) {
            return Err(HttpError::param(
                "sort",
                format!("this dimension has no `{}` metric", sort.as_str()),
            ));
        }
        Ok(sort)
    }

    /// Every sort key, in the order of the document's enum.
    pub const ALL: [Sort; 6] = [
        Sort::Pageviews,
        Sort::Visitors,
        Sort::Visits,
        Sort::Events,
        Sort::Completions,
        Sort::Revenue,
    ];

    /// Whether rows with the metrics `m` can be sorted by this key.
    pub fn available(self, m: MetricSet) -> bool {
        match self {
            Sort::Pageviews => m.pageviews,
            Sort::Visits => m.visits,
            Sort::Events => m.events,
            Sort::Completions => m.completions,
            Sort::Revenue => m.revenue,
            Sort::Visitors => true,
        }
    }

    /// The keys rows with the metrics `m` can be sorted by.
    pub fn available_for(m: MetricSet) -> Vec<&'static str> {
        Sort::ALL
            .into_iter()
            .filter(|s| s.available(m))
            .map(Sort::as_str)
            .collect()
    }

    /// API spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Pageviews => "pageviews",
            Sort::Visitors => "visitors",
            Sort::Visits => "visits",
            Sort::Events => "events",
            Sort::Completions => "completions",
            Sort::Revenue => "revenue",
        }
    }
}

/// A filter on a dimension's own values: `dim:value` (exact), `dim:prefix*`,
/// `dim:*suffix`, `dim:*contains*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The dimension filtered.
    pub dim: Dim,
    /// How values are matched.
    pub pattern: Pattern,
}

/// A value pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Equal.
    Exact(String),
    /// Starts with.
    Prefix(String),
    /// Ends with.
    Suffix(String),
    /// Contains.
    Contains(String),
}

impl Pattern {
    /// Whether `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Pattern::Exact(p) => value == p,
            Pattern::Prefix(p) => value.starts_with(p.as_str()),
            Pattern::Suffix(p) => value.ends_with(p.as_str()),
            Pattern::Contains(p) => value.contains(p.as_str()),
        }
    }
}

impl Filter {
    /// Parses every `filter` parameter.
    pub fn from_params(p: &Params) -> Result<Vec<Filter>, HttpError> {
        p.all("filter").iter().map(|f| Filter::parse(f)).collect()
    }

    fn parse(s: &str) -> Result<Filter, HttpError> {
        let (dim, pat) = s.split_once(':').ok_or_else(|| {
            HttpError::param(
                "filter",
                "must look like `dimension:value` (e.g. `page:/blog*`)",
            )
        })?;
        let dim = dimension(dim).ok_or_else(|| {
            HttpError::param(
                "filter",
                format!(
                    "`{dim}` is not a dimension; use one of {}",
                    dimension_names().join(", ")
                ),
            )
        })?;
        let starts = pat.starts_with('*');
        let rest = pat.strip_prefix('*').unwrap_or(pat);
        let ends = rest.ends_with('*');
        let core = rest.strip_suffix('*').unwrap_or(rest).to_string();
        if core.is_empty() {
            return Err(HttpError::param("filter", "the value to match is empty"));
        }
        let pattern = match (starts, ends) {
            (false, false) => Pattern::Exact(core),
            (false, true) => Pattern::Prefix(core),
            (true, false) => Pattern::Suffix(core),
            (true, true) => Pattern::Contains(core),
        };
        Ok(Filter { dim, pattern })
    }

    /// The `400` for filters on `asked` and `filtered` whose pair the site
    /// does not store.
    pub fn undeclared_pair(asked: Dim, filtered: Dim, declared: PairSet) -> HttpError {
        let what = format!(
            "`{}` cannot be filtered by `{}`",
            asked.as_str(),
            filtered.as_str()
        );
        unstored_pair("filter", &what, asked, filtered, declared)
    }
}

/// The `400` for `by=dim` on `/goals` when the site does not store `dim*goal`.
pub fn undeclared_goal_pair(dim: Dim, declared: PairSet) -> HttpError {
    let what = format!("goals cannot be broken down by `{}`", dim.as_str());
    unstored_pair("by", &what, dim, Dim::Goal, declared)
}

/// `parameter `name`: WHAT: veil stores anonymous aggregates, and a × b is not a
/// stored pair (…); this site stores …`.
fn unstored_pair(name: &str, what: &str, a: Dim, b: Dim, declared: PairSet) -> HttpError {
    let names: Vec<&str> = declared.iter().map(Dim::as_str).collect();
    let pair = match Dim::pair_of(a, b) {
        Some(p) => format!(
            "declare the pair `{}` in the site's `pairs` to store it",
            p.as_str()
        ),
        None => "veil cannot store that pair".to_string(),
    };
    HttpError::param(
        name,
        format!(
            "{what}: veil stores anonymous aggregates, and {a} × {b} is not a stored pair ({pair}); this site stores {list}",
            a = a.as_str(),
            b = b.as_str(),
            list = if names.is_empty() { "no pairs".to_string() } else { names.join(", ") },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_real_calendar_dates() {
        assert_eq!(parse_date("2026-11-23"), Ok(20_780));
        assert_eq!(
            parse_date("2000-02-29").map(format_day).as_deref(),
            Ok("2000-02-29")
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "2026-1-01",
            "26-11-23",
            "2026-11-2x",
            "1999-12-31",
            "2026-00-10",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges_are_ordered_and_bounded() {
        let p = Params::parse("from=2026-11-01&to=2026-11-30");
        let r = p.range().unwrap();
        assert_eq!(r.days(), 30);
        assert_eq!(
            (r.previous().from_str(), r.previous().to_str()),
            ("2026-10-02".to_string(), "2026-10-31".to_string())
        );
        let e = Params::parse("from=2026-11-02&to=2026-11-01")
            .range()
            .unwrap_err();
        assert!(e.to_string().contains("`to`"), "{e}");
        let e = Params::parse("from=2020-01-01&to=2026-11-01")
            .range()
            .unwrap_err();
        assert!(e.to_string().contains("at most"), "{e}");
        let e = Params::parse("to=2026-11-01").range().unwrap_err();
        assert!(e.to_string().contains("`from`"), "{e}");
    }

    #[test]
    fn filters_parse_patterns_and_whitelist_dimensions() {
        let f = |s: &str| Filter::parse(s);
        assert_eq!(
            f("page:/blog*").unwrap().pattern,
            Pattern::Prefix("/blog".into())
        );
        assert_eq!(
            f("page:*pricing*").unwrap().pattern,
            Pattern::Contains("pricing".into())
        );
        assert_eq!(
            f("page:*.html").unwrap().pattern,
            Pattern::Suffix(".html".into())
        );
        assert_eq!(
            f("country:PL").unwrap(),
            Filter {
                dim: Dim::Country,
                pattern: Pattern::Exact("PL".into())
            }
        );
        assert!(f("page").is_err());
        assert!(f("page:*").is_err());
        assert!(f("total:x").is_err() && f("decision:gpc").is_err() && f("dim;drop:x").is_err());
        assert!(Pattern::Prefix("/blog".into()).matches("/blog/a"));
    }

    #[test]
    fn metrics_follow_what_the_aggregator_writes() {
        assert_eq!(
            metrics_of(Dim::Page),
            MetricSet {
                pageviews: true,
                visits: false,
                events: true,
                completions: false,
                revenue: false,
                engagement: true,
            }
        );
        assert_eq!(
            metrics_of(Dim::EntryPage),
            MetricSet {
                pageviews: false,
                visits: true,
                events: false,
                completions: false,
                revenue: false,
                engagement: false,
            }
        );
        assert!(metrics_of(Dim::Utm(2)).visits && !metrics_of(Dim::Utm(3)).visits);
        let p = Params::parse("sort=pageviews");
        assert!(Sort::from_params(&p, metrics_of(Dim::EntryPage)).is_err());
        assert_eq!(
            Sort::from_params(&Params::parse(""), metrics_of(Dim::Event)).unwrap(),
            Sort::Events
        );
        assert_eq!(
            Sort::available_for(metrics_of(Dim::EntryPage)),
            ["visitors", "visits"]
        );
        for s in Sort::ALL {
            assert_eq!(
                s.available(metrics_of(Dim::Currency)),
                Sort::from_params(
                    &Params::parse(&format!("sort={}", s.as_str())),
                    metrics_of(Dim::Currency)
                )
                .is_ok()
            );
        }
        assert_eq!(dimension("utm_campaign"), Some(Dim::Utm(2)));
        assert_eq!(dimension("total"), None);
    }
}
