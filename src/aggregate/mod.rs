//! The in-memory flush window: hourly rollups of anonymous hits.
//!
//! Every [`AnonHit`] updates a handful of cells keyed by (site, hour, dimension,
//! value): counters plus the set of visitor hashes seen in the current flush window.
//! The flusher drains the window every `pipeline.flush_interval_ms` into
//! [`AggRow`]s; ClickHouse folds visitor sets into `uniqCombined` states, so only
//! aggregates — never one row per visitor — are stored.
//!
//! The window is sharded (a hit locks one shard, chosen by its visitor hash) so
//! request threads do not contend on one lock; lookups of existing cells do not
//! allocate. [`window`] holds the cells, [`guard`] the cardinality bound.

mod guard;
mod window;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;
use hashbrown::HashMap;
use parking_lot::Mutex;

use crate::clock::zone::Zone;
use crate::model::goals::{funnel_step, funnel_value, PlannedPair, Step};
use crate::model::{Conversions, Counters, Dim, DIRECT, DIRECT_CHANNEL, PROP_SEP, UNKNOWN};
use crate::privacy::consent::{Decision, Level};
use crate::privacy::AnonHit;
use crate::session::{ClosedVisit, VisitInfo};
use crate::sink::row::AggRow;

use guard::CardinalityGuard;
use window::{Cell, CellKey, Window};

/// The attributes a hit and a visit share: each becomes one dimension's value.
#[derive(Clone, Copy)]
struct Attributes<'a> {
    channel: Option<&'a str>,
    referrer: Option<&'a str>,
    utm: [Option<&'a str>; 5],
    country: Option<crate::privacy::geo::Country>,
    region: Option<&'a str>,
    device: Option<crate::privacy::agent::DeviceClass>,
    browser: Option<&'a str>,
    os: Option<&'a str>,
}

/// What one counting step knows, for the declared pairs: the attributes plus
/// the page, entry page, event, goal and currency where the step has them.
#[derive(Clone, Copy, Default)]
struct Facts<'a> {
    page: Option<&'a str>,
    entry: Option<&'a str>,
    event: Option<&'a str>,
    goal: Option<&'a str>,
    currency: Option<&'a str>,
}

/// The value `dim` has in a step, with the same stand-ins for missing values as
/// the single dimensions (`direct`, `(direct)`, `(unknown)`); `None` when the step
/// does not know it (then no pair with it is written).
#[inline]
fn value_of<'a>(dim: Dim, a: &'a Attributes<'a>, f: &Facts<'a>) -> Option<&'a str> {
    Some(match dim {
        Dim::Page => f.page?,
        Dim::EntryPage => f.entry?,
        Dim::Event => f.event?,
        Dim::Goal => f.goal?,
        Dim::Currency => f.currency?,
        Dim::Source => a.channel.unwrap_or(DIRECT_CHANNEL),
        Dim::Referrer => a.referrer.unwrap_or(DIRECT),
        Dim::Utm(i) => a.utm.get(usize::from(i)).copied().flatten()?,
        Dim::Country => a.country.as_ref().map_or(UNKNOWN, |c| c.as_str()),
        Dim::Region => a.region.unwrap_or(UNKNOWN),
        Dim::Device => a.device?.as_str(),
        Dim::Browser => a.browser?,
        Dim::Os => a.os?,
        _ => return None,
    })
}

/// A locked window shard plus the guard every value passes.
struct Adder<'a> {
    w: parking_lot::MutexGuard<'a, Window>,
    guard: &'a CardinalityGuard,
    /// Data groups not to write (the visitor's consent does not cover them).
    withheld: u16,
    /// The site's declarations (pairs, goals, funnels).
    conv: Arc<Conversions>,
    /// Reused for pair values (the shard's scratch buffer, given back on drop).
    buf: String,
}

impl Drop for Adder<'_> {
    fn drop(&mut self) {
        self.w.scratch = std::mem::take(&mut self.buf);
    }
}

impl Adder<'_> {
    /// The dimensions a visit is counted under: total, entry page and its first
    /// hit's attributes, and the declared pairs of those.
    fn add_visit(
        &mut self,
        site: u32,
        hour: u32,
        entry: &str,
        a: &Attributes<'_>,
        c: &Counters,
        v: Option<u64>,
    ) {
        self.add(site, hour, Dim::Total, "", c, v);
        self.add(site, hour, Dim::EntryPage, entry, c, v);
        self.add_attributes(site, hour, a, c, v);
        let f = Facts {
            entry: Some(entry),
            ..Facts::default()
        };
        let conv = self.conv.clone();
        let plan = conv.plan(Step::Visit);
        self.add_pairs(site, hour, a, &f, plan, c, c, v);
    }

    /// Source, referrer, campaigns, country, region, device, browser and OS.
    fn add_attributes(
        &mut self,
        site: u32,
        hour: u32,
        a: &Attributes<'_>,
        c: &Counters,
        v: Option<u64>,
    ) {
        for dim in [Dim::Source, Dim::Referrer, Dim::Country, Dim::Region] {
            if let Some(value) = value_of(dim, a, &Facts::default()) {
                self.add(site, hour, dim, value, c, v);
            }
        }
        for (i, utm) in a.utm.iter().enumerate() {
            if let Some(u) = utm {
                self.add(site, hour, Dim::Utm(i as u8), u, c, v);
            }
        }
        if let Some(d) = a.device {
            self.add(site, hour, Dim::Device, d.as_str(), c, v);
        }
        if let Some(b) = a.browser {
            self.add(site, hour, Dim::Browser, b, c, v);
        }
        if let Some(o) = a.os {
            self.add(site, hour, Dim::Os, o, c, v);
        }
    }

    /// The declared pairs a step writes (`plan`: resolved at start-up) whose
    /// two values it has. Pairs with a currency get `money` (the counters plus
    /// the revenue), the others `c`.
    #[allow(clippy::too_many_arguments)]
    fn add_pairs(
        &mut self,
        site: u32,
        hour: u32,
        a: &Attributes<'_>,
        f: &Facts<'_>,
        plan: &[PlannedPair],
        c: &Counters,
        money: &Counters,
        v: Option<u64>,
    ) {
        for p in plan {
            let (Some(vx), Some(vy)) = (value_of(p.first, a, f), value_of(p.second, a, f)) else {
                continue;
            };
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            buf.push_str(vx);
            buf.push(PROP_SEP);
            buf.push_str(vy);
            self.add(site, hour, p.dim, &buf, if p.money { money } else { c }, v);
            self.buf = buf;
        }
    }

    #[inline]
    fn add(
        &mut self,
        site: u32,
        hour: u32,
        dim: Dim,
        value: &str,
        c: &Counters,
        visitor: Option<u64>,
    ) {
        if dim.group_bits() & self.withheld != 0 {
            return;
        }
        // Values already in the window passed the guard earlier this hour: only a
        // new cell costs the guard's lock.
        if self.w.add_existing(site, hour, dim, value, c, visitor) {
            return;
        }
        let value = self.guard.admit(site, hour, dim, value, visitor);
        self.w.insert(site, hour, dim, value, c, visitor);
    }
}

/// A site as the window knows it: the id its rows carry and the zone that says
/// which local day each hour belongs to.
#[derive(Clone, Debug)]
pub struct WindowSite {
    /// Site id.
    pub id: String,
    /// The site's time zone.
    pub zone: Arc<Zone>,
    /// The site's pairs, goals and funnels.
    pub conv: Arc<Conversions>,
}

impl WindowSite {
    /// The window's view of a site of the privacy boundary (a site a reload
    /// removed keeps its last declarations there, so its counted cells still flush
    /// under them).
    pub fn of(site: &crate::privacy::Site) -> WindowSite {
        WindowSite {
            id: site.id.clone(),
            zone: site.tz.clone(),
            conv: site.conv.clone(),
        }
    }

    /// A site on UTC with the default pairs and no goals (tests and tools).
    pub fn utc(id: &str) -> WindowSite {
        let conv = crate::config::SiteConfig::with_id(id);
        WindowSite {
            id: id.to_string(),
            zone: Arc::new(Zone::utc()),
            conv: Arc::new(Conversions::compile(&conv).unwrap_or_default()),
        }
    }
}

/// The site at `index` (the last one for an index out of range, which only a
/// test builds).
fn site_at(sites: &[WindowSite], index: u32) -> &WindowSite {
    &sites[(index as usize).min(sites.len() - 1)]
}

/// The sharded in-memory window.
pub struct Aggregator {
    shards: Box<[Mutex<Window>]>,
    guard: CardinalityGuard,
    /// By site index. Swapped whole by a configuration reload ([`Aggregator::set_sites`]):
    /// indices never change meaning, so cells already in the window keep their site.
    sites: ArcSwap<Vec<WindowSite>>,
    next: AtomicUsize,
}

impl Aggregator {
    /// An empty window with `shards` shards for the given site ids (by index);
    /// open-ended dimensions keep at most `max_values` distinct values per site and
    /// hour (0 = unbounded).
    pub fn new(shards: usize, sites: Vec<WindowSite>, max_values: usize) -> Aggregator {
        Aggregator {
            shards: (0..shards.max(1))
                .map(|_| Mutex::new(Window::default()))
                .collect(),
            guard: CardinalityGuard::new(max_values, shards),
            sites: ArcSwap::from_pointee(sites),
            next: AtomicUsize::new(0),
        }
    }

    /// Hits folded into `(other)` by the cardinality bound so far.
    pub fn folded_values(&self) -> u64 {
        self.guard.folded.load(Ordering::Relaxed)
    }

    /// Values with a named cell in the guard's hours, and first sightings
    /// waiting for a second visitor (for metrics).
    pub fn guard_sizes(&self) -> (usize, usize) {
        self.guard.sizes()
    }

    /// The declarations (pairs, goals, funnels) of site `site`.
    pub fn conversions(&self, site: u32) -> Arc<Conversions> {
        let sites = self.sites.load();
        site_at(&sites, site).conv.clone()
    }

    /// Replaces the site table (a configuration reload). `sites` keeps every index
    /// the old table had, with the same site id: only goals and funnels may change,
    /// and new sites come at the end.
    pub fn set_sites(&self, sites: Vec<WindowSite>) {
        self.sites.store(Arc::new(sites));
    }

    fn adder(&self, site: u32, key: Option<u64>, withheld: u16) -> Adder<'_> {
        let mut w = self.shard(key).lock();
        let buf = std::mem::take(&mut w.scratch);
        Adder {
            w,
            guard: &self.guard,
            withheld,
            conv: self.conversions(site),
            buf,
        }
    }

    fn shard(&self, key: Option<u64>) -> &Mutex<Window> {
        let i = match key {
            Some(v) => (v >> 32) as usize,
            None => self.next.fetch_add(1, Ordering::Relaxed),
        };
        &self.shards[i % self.shards.len()]
    }

    /// Counts a decision for a hit that stores nothing else.
    pub fn count_decision(&self, site: u32, hour: u32, decision: Decision) {
        let c = Counters {
            hits: 1,
            ..Default::default()
        };
        self.adder(site, None, 0)
            .add(site, hour, Dim::Decision, decision.as_str(), &c, None);
    }

    /// Adds the end of a visit: its bounce and duration on the dimensions of its
    /// first hit, in the hour it started (where its start was counted), and the
    /// visit itself on its exit page — the one thing only its end knows.
    pub fn record_visit(&self, v: &ClosedVisit) {
        let mut w = self.adder(v.site, Some(v.visitor), v.withheld);
        let end = Counters {
            bounces: u64::from(v.bounce),
            duration: u64::from(v.duration),
            ..Default::default()
        };
        let (site, hour, visitor) = (v.site, v.hour, Some(v.visitor));
        let exit = Counters { visits: 1, ..end };
        w.add(site, hour, Dim::ExitPage, &v.exit, &exit, visitor);
        if end.is_zero() {
            return;
        }
        w.add_visit(
            site,
            hour,
            &v.entry,
            &Attributes {
                channel: v.channel.as_deref(),
                referrer: v.referrer.as_deref(),
                utm: [
                    v.utm[0].as_deref(),
                    v.utm[1].as_deref(),
                    v.utm[2].as_deref(),
                    None,
                    None,
                ],
                country: v.country,
                region: v.region.as_deref(),
                device: v.device,
                browser: v.browser.as_deref(),
                os: v.os.as_deref(),
            },
            &end,
            visitor,
        );
    }

    /// Adds an engagement report: time on page and scroll depth, on the page
    /// and the site total (no visitor: the pageview counted them).
    pub fn record_engagement(&self, hit: &AnonHit) {
        let Some(e) = hit.engagement else { return };
        let c = Counters {
            engagements: 1,
            engaged_ms: u64::from(e.time_ms),
            scroll_depth: u64::from(e.scroll),
            ..Counters::default()
        };
        let mut w = self.adder(hit.site, None, hit.withheld);
        w.add(hit.site, hit.hour, Dim::Total, "", &c, None);
        w.add(hit.site, hit.hour, Dim::Page, &hit.path, &c, None);
    }

    /// Adds one anonymous hit to the window; `visit` says which visit it belongs to
    /// (its source channel is the hit's source; its origin is what custom events
    /// and goals are credited to).
    pub fn record(&self, hit: &AnonHit, visit: Option<&VisitInfo>) {
        let mut w = self.adder(hit.site, hit.visitor, hit.withheld);
        let (site, hour, v) = (hit.site, hit.hour, hit.visitor);
        w.add(
            site,
            hour,
            Dim::Decision,
            hit.decision.as_str(),
            &Counters::hit(),
            None,
        );
        let c = match hit.event {
            None => Counters::pageview(),
            Some(_) => Counters::event(),
        };
        if hit.level == Level::Count {
            // Anonymous count: pageviews per page and hour, nothing else.
            if hit.event.is_none() {
                w.add(site, hour, Dim::Total, "", &c, None);
                w.add(site, hour, Dim::Page, &hit.path, &c, None);
            }
            return;
        }
        let attrs = Attributes {
            channel: visit.and_then(|i| i.channel.as_deref()),
            referrer: hit.referrer.as_deref(),
            utm: hit.utm.each_ref().map(|u| u.as_deref()),
            country: hit.country,
            region: hit.region.as_deref(),
            device: hit.device,
            browser: hit.agent.as_ref().map(|a| &*a.browser),
            os: hit.agent.as_ref().map(|a| &*a.os),
        };
        if visit.is_some_and(|i| i.new) {
            // A visit counts when it starts, so a dashboard opened during the day
            // sees today's visits; its bounce and duration come when it ends.
            let start = Attributes {
                utm: [attrs.utm[0], attrs.utm[1], attrs.utm[2], None, None],
                ..attrs
            };
            let visits = Counters {
                visits: 1,
                ..Default::default()
            };
            w.add_visit(site, hour, &hit.path, &start, &visits, v);
        }
        w.add(site, hour, Dim::Total, "", &c, v);
        w.add(site, hour, Dim::Page, &hit.path, &c, v);
        if let Some(info) = visit {
            record_funnels(&mut w, site, hour, info.funnels, v);
        }
        // Events and goals are credited to the visit's origin (its first hit).
        let origin = visit.and_then(|i| i.origin.as_ref());
        let credited = Attributes {
            channel: visit
                .and_then(|i| i.channel.as_deref())
                .or(hit.channel.map(|c| c.as_str())),
            referrer: origin.map_or(hit.referrer.as_deref(), |o| o.referrer.as_deref()),
            utm: match origin {
                Some(o) => [
                    o.utm[0].as_deref(),
                    o.utm[1].as_deref(),
                    o.utm[2].as_deref(),
                    None,
                    None,
                ],
                None => hit.utm.each_ref().map(|u| u.as_deref()),
            },
            ..attrs
        };
        let entry = origin.map(|o| &*o.entry);
        let mut code = [0u8; 3];
        let revenue = hit.revenue.map(|r| {
            code = r.currency;
            r.milli
        });
        let currency = revenue.and_then(|_| std::str::from_utf8(&code).ok());
        let conv = w.conv.clone();
        // Allocates only when a goal is completed.
        let goal_names: Vec<&str> = conv
            .goals_hit(hit.event.as_deref(), &hit.path)
            .map(|g| &*g.name)
            .collect();
        if let Some(name) = &hit.event {
            // Event names and props were cleaned at the privacy boundary
            // (`privacy::text`), which also removed the separator (a control).
            let name: &str = name;
            w.add(site, hour, Dim::Event, name, &c, v);
            let money = Counters {
                revenue: revenue.unwrap_or(0),
                ..c
            };
            if let Some(cur) = currency {
                w.add(site, hour, Dim::Currency, cur, &money, v);
            }
            let f = Facts {
                page: Some(&hit.path),
                entry,
                event: Some(name),
                currency,
                goal: None,
            };
            w.add_pairs(
                site,
                hour,
                &credited,
                &f,
                conv.plan(Step::Event),
                &c,
                &money,
                v,
            );
            record_goals(&mut w, site, hour, &goal_names, &credited, &f, revenue, v);
            let mut buf = std::mem::take(&mut w.buf);
            let props = hit.props.iter().map(|p| (Dim::Prop, p));
            let marketing = hit.marketing_props.iter().map(|p| (Dim::MarketingProp, p));
            for (dim, (k, val)) in props.chain(marketing) {
                buf.clear();
                buf.push_str(name);
                buf.push(PROP_SEP);
                buf.push_str(k);
                buf.push(PROP_SEP);
                buf.push_str(val);
                w.add(site, hour, dim, &buf, &c, v);
            }
            w.buf = buf;
            return;
        }
        w.add_attributes(site, hour, &attrs, &c, v);
        let f = Facts {
            page: Some(&hit.path),
            ..Facts::default()
        };
        w.add_pairs(site, hour, &attrs, &f, conv.plan(Step::Pageview), &c, &c, v);
        if !goal_names.is_empty() {
            let f = Facts { entry, ..f };
            record_goals(&mut w, site, hour, &goal_names, &credited, &f, None, v);
        }
        if let Some(agent) = &hit.agent {
            let mut buf = std::mem::take(&mut w.buf);
            buf.clear();
            buf.push_str(&agent.browser);
            if !agent.browser_version.is_empty() {
                buf.push(' ');
                buf.push_str(&agent.browser_version);
            }
            w.add(site, hour, Dim::BrowserVersion, &buf, &c, v);
            buf.clear();
            buf.push_str(&agent.os);
            if !agent.os_version.is_empty() {
                buf.push(' ');
                buf.push_str(&agent.os_version);
            }
            w.add(site, hour, Dim::OsVersion, &buf, &c, v);
            w.buf = buf;
        }
        w.add(
            site,
            hour,
            Dim::Screen,
            hit.screen.unwrap_or(UNKNOWN),
            &c,
            v,
        );
        w.add(
            site,
            hour,
            Dim::Language,
            hit.language.as_deref().unwrap_or(UNKNOWN),
            &c,
            v,
        );
    }

    /// Number of cells in the window (for metrics).
    pub fn cells(&self) -> usize {
        self.shards.iter().map(|s| s.lock().cells.len()).sum()
    }

    /// Takes the whole window and turns it into rows (without batch ids).
    pub fn drain(&self) -> Vec<AggRow> {
        let newest = self
            .shards
            .iter()
            .filter_map(|s| s.lock().cells.keys().map(|k| k.hour).max())
            .max();
        if let Some(h) = newest {
            self.guard.prune(h.saturating_sub(2 * 3_600));
        }
        let sites = self.sites.load();
        let mut merged: HashMap<CellKey, Cell> = HashMap::new();
        for shard in self.shards.iter() {
            let cells = std::mem::take(&mut shard.lock().cells);
            if merged.is_empty() {
                merged = cells;
                continue;
            }
            for (k, cell) in cells {
                let m = merged.entry(k).or_default();
                m.counters.add(&cell.counters);
                m.visitors.extend(cell.visitors);
            }
        }
        let mut rows: Vec<AggRow> = merged
            .into_iter()
            .map(|(k, cell)| {
                let visitors = cell.visitors.into_sorted_vec();
                let site = site_at(&sites, k.site);
                AggRow::new(
                    &site.zone,
                    k.hour,
                    site.id.clone(),
                    k.dim,
                    k.value.into(),
                    &cell.counters,
                    visitors,
                )
            })
            .collect();
        rows.sort_by(|a, b| {
            (&a.site, a.hour, &a.dim, &a.value).cmp(&(&b.site, b.hour, &b.dim, &b.value))
        });
        rows
    }
}

/// Each goal a hit completes: one completion (`hits`) and the visitor under
/// the goal, and under the declared goal pairs, credited to the visit's origin;
/// pairs with a currency also get the event's revenue.
#[allow(clippy::too_many_arguments)]
fn record_goals(
    w: &mut Adder<'_>,
    site: u32,
    hour: u32,
    goals: &[&str],
    credited: &Attributes<'_>,
    f: &Facts<'_>,
    revenue: Option<u64>,
    v: Option<u64>,
) {
    let done = Counters::hit();
    let money = Counters {
        revenue: revenue.unwrap_or(0),
        ..done
    };
    for goal in goals {
        w.add(site, hour, Dim::Goal, goal, &done, v);
        let f = Facts {
            goal: Some(goal),
            ..*f
        };
        let conv = w.conv.clone();
        let plan = conv.plan(Step::Goal);
        w.add_pairs(site, hour, credited, &f, plan, &done, &money, v);
    }
}

/// The funnel steps a hit moved its visit to: one visit (and its visitor) on
/// each newly reached step.
fn record_funnels(
    w: &mut Adder<'_>,
    site: u32,
    hour: u32,
    (before, after): (u32, u32),
    v: Option<u64>,
) {
    if before == after {
        return;
    }
    let reached = Counters {
        visits: 1,
        ..Counters::default()
    };
    let conv = w.conv.clone();
    for (i, f) in conv.funnels.iter().enumerate() {
        let step = funnel_step(after, i);
        if step > funnel_step(before, i) {
            let value = funnel_value(&f.name, step);
            w.add(site, hour, Dim::Funnel, &value, &reached, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DataClass, OTHER};

    fn hit(visitor: u64, path: &str) -> AnonHit {
        AnonHit {
            visitor: Some(visitor),
            ..AnonHit::new(
                0,
                3600 * 24 * 20_780,
                Level::Analytics,
                Decision::Analytics,
                path.into(),
            )
        }
    }

    #[test]
    fn pageviews_and_visitors_roll_up_per_dimension() {
        let a = Aggregator::new(4, vec![WindowSite::utc("s")], 100);
        a.record(&hit(1, "/a"), None);
        a.record(&hit(1, "/a"), None);
        a.record(&hit(2, "/b"), None);
        a.count_decision(0, 3600 * 24 * 20_780, Decision::Gpc);
        let rows = a.drain();
        let get = |dim: &str, value: &str| {
            rows.iter()
                .find(|r| r.dim == dim && r.value == value)
                .cloned()
                .unwrap()
        };
        assert_eq!(get("total", "").pageviews, 3);
        assert_eq!(get("total", "").visitors, vec![1, 2]);
        assert_eq!(get("page", "/a").pageviews, 2);
        assert_eq!(get("page", "/a").visitors, vec![1]);
        assert_eq!(get("decision", "analytics").hits, 3);
        assert_eq!(get("decision", "gpc").hits, 1);
        assert_eq!(get("referrer", DIRECT).pageviews, 3);
        assert_eq!(get("total", "").date, 20_780);
        assert!(a.drain().is_empty(), "drain empties the window");
        assert_eq!(
            DataClass::Marketing.dims()[..6],
            [
                "utm_source",
                "utm_medium",
                "utm_campaign",
                "utm_term",
                "utm_content",
                "marketing_prop"
            ]
        );
        assert!(
            DataClass::Marketing.dims()[6..]
                .iter()
                .all(|d| d.contains("utm_")),
            "a pair with a campaign part is campaign data"
        );
        assert_eq!(DataClass::Consent.dims(), vec!["decision"]);
    }

    #[test]
    fn open_ended_dimensions_are_bounded_per_site_and_hour() {
        // Bound 4: two values by name at first sight, two more once a second
        // visitor confirms them, the rest in `(other)`.
        let mut a = Aggregator::new(2, vec![WindowSite::utc("s")], 4);
        // The pending table is direct-mapped by a seeded hash: a seed under which
        // the pages waiting for a second visitor do not share a slot, so the test
        // does not depend on the dice.
        // (Each dimension has its own table: pages, and the page*source and
        // page*country pair values.)
        let waiting: Vec<Vec<String>> = ["", "\u{1f}direct", "\u{1f}(unknown)"]
            .iter()
            .map(|pair| (2..10).map(|i| format!("/p{i}{pair}")).collect())
            .collect();
        a.guard = (0..)
            .map(|seed| CardinalityGuard::seeded(4, 2, seed))
            .find(|g| {
                waiting.iter().all(|values| {
                    let mut slots: Vec<usize> = values.iter().map(|v| g.pending_slot(v)).collect();
                    slots.sort_unstable();
                    slots.dedup();
                    slots.len() == values.len()
                })
            })
            .expect("a seed");
        for i in 0..10 {
            a.record(&hit(i, &format!("/p{i}")), None);
        }
        a.record(&hit(1, "/p1"), None);
        for (visitor, page) in [(100, "/p5"), (101, "/p6"), (102, "/p7")] {
            a.record(&hit(visitor, page), None);
        }
        let rows = a.drain();
        let pages: Vec<(&str, u64)> = rows
            .iter()
            .filter(|r| r.dim == "page")
            .map(|r| (r.value.as_str(), r.pageviews))
            .collect();
        assert_eq!(
            pages,
            vec![(OTHER, 9), ("/p0", 1), ("/p1", 2), ("/p5", 1), ("/p6", 1)]
        );
        // Nine hits of pages, and nine each of the default pairs page*source
        // and page*country: the bound holds per pair as per dimension.
        assert_eq!(a.folded_values(), 27);
        assert_eq!(
            rows.iter().find(|r| r.dim == "total").unwrap().pageviews,
            14,
            "totals stay exact"
        );
    }

    #[test]
    fn anonymous_count_has_no_visitors_or_dimensions() {
        let a = Aggregator::new(2, vec![WindowSite::utc("s")], 100);
        let mut h = hit(9, "/x");
        h.level = Level::Count;
        h.visitor = None;
        a.record(&h, None);
        let rows = a.drain();
        let dims: Vec<&str> = rows.iter().map(|r| r.dim.as_str()).collect();
        assert_eq!(dims, vec!["decision", "page", "total"]);
        assert!(rows.iter().all(|r| r.visitors.is_empty()));
    }
}
