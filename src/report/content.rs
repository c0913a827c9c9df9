//! What a report says, read through the stats API's own queries and folding:
//! totals (exact, as `aggregate` answers them), the top pages, channels and
//! referrers, and the declared goals — each value named only when the API's
//! breakdown of the same range names it (at least the site's `k` visitors,
//! [`fold_groups`]), a goal only when `goals` would show it.

use clickhouse::Client;

use crate::config::SiteConfig;
use crate::model::Dim;
use crate::stats::handlers::fold_groups;
use crate::stats::params::DateRange;
use crate::stats::query::{Group, Metrics, Scope};
use crate::stats::released;

use super::period::Period;

/// Pages listed.
pub const TOP_PAGES: usize = 10;
/// Channels and referrers listed.
pub const TOP_SOURCES: usize = 5;

/// One named value of a breakdown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    /// The value (page path, channel, referrer host).
    pub value: String,
    /// Unique visitors (the sum of each day's).
    pub visitors: u64,
    /// Pageviews.
    pub pageviews: u64,
    /// Visits.
    pub visits: u64,
}

/// A goal's numbers in one period, when shown.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GoalNumbers {
    /// Completions.
    pub completions: u64,
    /// Converting visitors.
    pub visitors: u64,
    /// Converting visitors / the site's visitors; `None` without visitors.
    pub rate: Option<f64>,
}

/// One declared goal.
#[derive(Clone, Debug, PartialEq)]
pub struct GoalLine {
    /// Its name.
    pub name: String,
    /// This period; `None` when below k (not shown).
    pub now: Option<GoalNumbers>,
    /// The period before; `None` when below k there.
    pub before: Option<GoalNumbers>,
}

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq)]
pub struct Content {
    /// Site id.
    pub site: String,
    /// The site's time zone.
    pub timezone: String,
    /// The site's k.
    pub k: u32,
    /// The period and the one it is compared with.
    pub period: Period,
    /// Site totals of the period.
    pub now: Metrics,
    /// Site totals of the period before.
    pub before: Metrics,
    /// Top pages by pageviews.
    pub pages: Vec<Line>,
    /// Top channels (search, social, …) by visitors.
    pub channels: Vec<Line>,
    /// Top referrer hosts by visitors.
    pub referrers: Vec<Line>,
    /// Declared goals, in declaration order.
    pub goals: Vec<GoalLine>,
}

fn scope(site: &SiteConfig, range: DateRange) -> Scope<'_> {
    Scope {
        site: &site.id,
        tz: &site.timezone,
        range,
    }
}

/// The values of `dim` over `range` the API names (k-folded on the whole
/// range, `(other)` left out).
async fn named(
    c: &Client,
    site: &SiteConfig,
    range: DateRange,
    dim: Dim,
) -> Result<Vec<Group>, clickhouse::error::Error> {
    let (rows, _) = released::groups(c, site, scope(site, range), dim, site.k).await?;
    let (shown, _other) = fold_groups(rows, site.k);
    Ok(shown)
}

fn lines(mut groups: Vec<Group>, by_pageviews: bool, n: usize) -> Vec<Line> {
    groups.sort_by(|a, b| {
        let (ka, kb) = if by_pageviews {
            (a.pageviews, b.pageviews)
        } else {
            (a.visitors, b.visitors)
        };
        kb.cmp(&ka)
            .then(b.visitors.cmp(&a.visitors))
            .then(a.value.cmp(&b.value))
    });
    groups
        .into_iter()
        .take(n)
        .map(|g| Line {
            value: g.value,
            visitors: g.visitors,
            pageviews: g.pageviews,
            visits: g.visits,
        })
        .collect()
}

fn goal_numbers(groups: &[Group], name: &str, site_visitors: u64) -> Option<GoalNumbers> {
    groups
        .iter()
        .find(|g| g.value == name)
        .map(|g| GoalNumbers {
            completions: g.hits,
            visitors: g.visitors,
            rate: (site_visitors > 0).then(|| g.visitors as f64 / site_visitors as f64),
        })
}

/// Reads a report's content for `site` over `period`.
pub async fn gather(
    c: &Client,
    site: &SiteConfig,
    period: Period,
) -> Result<Content, clickhouse::error::Error> {
    let (range, prev) = (period.range, period.previous);
    let (now, before, pages, channels, referrers) = tokio::try_join!(
        released::totals(c, site, scope(site, range), Dim::Total, ""),
        released::totals(c, site, scope(site, prev), Dim::Total, ""),
        named(c, site, range, Dim::Page),
        named(c, site, range, Dim::Source),
        named(c, site, range, Dim::Referrer),
    )?;
    let goals = if site.goals.is_empty() {
        Vec::new()
    } else {
        let (g_now, g_before) = tokio::try_join!(
            named(c, site, range, Dim::Goal),
            named(c, site, prev, Dim::Goal),
        )?;
        site.goals
            .iter()
            .map(|g| GoalLine {
                name: g.name.clone(),
                now: goal_numbers(&g_now, &g.name, now.visitors),
                before: goal_numbers(&g_before, &g.name, before.visitors),
            })
            .collect()
    };
    Ok(Content {
        site: site.id.clone(),
        timezone: site.timezone.clone(),
        k: site.k,
        period,
        now,
        before,
        pages: lines(pages, true, TOP_PAGES),
        channels: lines(channels, false, TOP_SOURCES),
        referrers: lines(referrers, false, TOP_SOURCES),
        goals,
    })
}
