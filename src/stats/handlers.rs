//! The JSON endpoints: parameters in, [`query`] out, k-anonymity applied.
//!
//! # What the k-anonymity guarantees, and how
//!
//! No dimension value with fewer than the site's `k` unique visitors is ever
//! named in an answer, and no client can isolate such a value by combining
//! answers for the same range:
//!
//! 1. **Folding is decided on the whole dimension, before anything else.** A
//!    breakdown reads every value of the dimension for the range and folds the
//!    small ones (and the values the ingest cardinality bound stored as `(other)`)
//!    into one `(other)` group ([`query::groups`] in ClickHouse, then
//!    [`kanon::fold`] again in Rust as the enforcing check). Which values are named
//!    therefore depends only on (site, dimension, range), never on `limit`, `page`,
//!    `sort`, `filter` or `event`.
//! 2. **Pagination, sorting and filters only select among named rows.** They
//!    never move a value into or out of `(other)`.
//! 3. **`(other)` is one fixed object per (site, dimension, range).** It is
//!    returned whole with every page and every filter (it never shrinks by a
//!    filter), so subtracting two answers gives either zero or a difference of
//!    named rows, each of which has at least k visitors. A filter such as
//!    `page:/account/jan*` cannot narrow `(other)` down to one small page.
//! 4. **Single-group answers follow the same rule.** `aggregate` and `timeseries`
//!    with `filter=dim:value` answer only for a value the breakdown of that range
//!    names (else `404`, the same answer as for a value that does not exist). In a
//!    group's time series, buckets below k are suppressed, and when only one
//!    bucket would be suppressed the next smallest is suppressed too, so the
//!    group's total minus the shown buckets does not reveal it.
//!
//! Limits of the guarantee, by design: totals stay exact (the site total is not a
//! group), so `total − named rows = (other)` — the sum of the small groups, with
//! no names. Comparing *different* ranges (or the same group's series at two
//! intervals) can narrow a small count over time; the protection is that a rare
//! *value* is never named. Values seen only through anonymous counts (no visitor
//! hash, consent level `count`) have 0 known visitors and are folded.

use serde_json::{json, Map, Value};

use crate::config::SiteConfig;
use crate::model::{Conversions, Dim, OTHER, PROP_SEP};
use crate::privacy::consent::Decision;
use crate::AppState;

use super::kanon::{self, Foldable};
use super::params::{
    dimension, dimension_names, metrics_of, Compare, DateRange, Filter, Interval, MetricSet,
    Params, Pattern, Sort, DEFAULT_LIMIT, MAX_LIMIT,
};
use super::query::{self, Group, Metrics, Scope};
use crate::http::HttpError;

/// One authorised request for one site.
pub struct Ctx<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// Index of the site.
    pub idx: usize,
    /// The site.
    pub site: &'a SiteConfig,
    /// Query parameters.
    pub params: &'a Params,
    /// The site's declared pairs, goals and funnels.
    pub conv: &'a Conversions,
}

impl Ctx<'_> {
    pub(super) fn scope(&self, range: DateRange) -> Scope<'_> {
        Scope {
            site: &self.site.id,
            tz: &self.site.timezone,
            range,
        }
    }

    pub(super) fn head(&self, range: DateRange) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("site".into(), json!(self.site.id));
        m.insert("from".into(), json!(range.from_str()));
        m.insert("to".into(), json!(range.to_str()));
        m.insert("timezone".into(), json!(self.site.timezone));
        m
    }
}

pub(super) fn ratio(a: u64, b: u64) -> Value {
    if b == 0 {
        Value::Null
    } else {
        json!((a as f64 / b as f64 * 10_000.0).round() / 10_000.0)
    }
}

/// The names of the metrics a dimension has, in the order of
/// [`metrics_json`]'s fields: the columns of its CSV export.
pub(super) fn metric_names(set: MetricSet) -> Vec<&'static str> {
    let mut v = vec!["visitors"];
    if set.pageviews {
        v.push("pageviews");
    }
    if set.visits {
        v.extend(["visits", "bounce_rate", "visit_duration"]);
    }
    if set.pageviews && set.visits {
        v.push("views_per_visit");
    }
    if set.events {
        v.push("events");
    }
    if set.completions {
        v.push("completions");
    }
    if set.revenue {
        v.push("revenue");
    }
    if set.engagement {
        v.extend(["time_on_page", "scroll_depth"]);
    }
    v
}

/// The metrics a dimension has, as JSON fields ([`metric_names`] names them).
fn metrics_json(m: &Metrics, set: MetricSet) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("visitors".into(), json!(m.visitors));
    if set.pageviews {
        o.insert("pageviews".into(), json!(m.pageviews));
    }
    if set.visits {
        o.insert("visits".into(), json!(m.visits));
        o.insert("bounce_rate".into(), ratio(m.bounces, m.visits));
        o.insert("visit_duration".into(), ratio(m.duration, m.visits));
    }
    if set.pageviews && set.visits {
        o.insert("views_per_visit".into(), ratio(m.pageviews, m.visits));
    }
    if set.events {
        o.insert("events".into(), json!(m.events));
    }
    if set.completions {
        o.insert("completions".into(), json!(m.hits));
    }
    if set.revenue {
        o.insert("revenue".into(), money(m.revenue));
    }
    if set.engagement {
        let avg = |sum: u64, scale: f64| match m.engagements {
            0 => Value::Null,
            n => json!((sum as f64 / n as f64 / scale * 10.0).round() / 10.0),
        };
        o.insert("time_on_page".into(), avg(m.engaged_ms, 1_000.0));
        o.insert("scroll_depth".into(), avg(m.scroll_depth, 1.0));
    }
    o
}

/// An amount stored in thousandths, as a decimal number.
pub(super) fn money(milli: u64) -> Value {
    json!(milli as f64 / 1_000.0)
}

/// Relative change per metric: (current − previous) / previous, `null` when the
/// previous value is 0 or missing.
fn change(cur: &Map<String, Value>, prev: &Map<String, Value>) -> Value {
    let mut o = Map::new();
    for (k, v) in cur {
        let c = match (v.as_f64(), prev.get(k).and_then(Value::as_f64)) {
            (Some(c), Some(p)) if p != 0.0 => json!(((c - p) / p * 10_000.0).round() / 10_000.0),
            _ => Value::Null,
        };
        o.insert(k.clone(), c);
    }
    Value::Object(o)
}

/// The single group `aggregate` and `timeseries` are narrowed to: one exact
/// value of a dimension, or of a declared pair (two exact filters).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Selection {
    dim: Dim,
    value: String,
    /// The filters as asked, for the answer.
    asked: Vec<String>,
}

fn group_filter(p: &Params, conv: &Conversions) -> Result<Option<Selection>, HttpError> {
    let filters = Filter::from_params(p)?;
    let exact = |f: &Filter| {
        match &f.pattern {
        Pattern::Exact(v) => Ok(v.clone()),
        _ => Err(HttpError::param(
            "filter",
            "here a filter must name one value exactly (`page:/pricing`); patterns work in breakdowns",
        )),
    }
    };
    let asked = filters
        .iter()
        .map(|f| Ok(format!("{}:{}", f.dim.as_str(), exact(f)?)))
        .collect::<Result<Vec<_>, HttpError>>()?;
    match filters.as_slice() {
        [] => Ok(None),
        [f] => Ok(Some(Selection {
            dim: f.dim,
            value: exact(f)?,
            asked,
        })),
        [a, b] if a.dim != b.dim => {
            let pair = conv
                .pairs
                .of(a.dim, b.dim)
                .ok_or_else(|| Filter::undeclared_pair(a.dim, b.dim, conv.pairs))?;
            let (first, second) = match pair.parts() {
                Some((x, _)) if x == a.dim => (a, b),
                _ => (b, a),
            };
            Ok(Some(Selection {
                dim: pair,
                value: format!("{}{PROP_SEP}{}", exact(first)?, exact(second)?),
                asked,
            }))
        }
        _ => Err(HttpError::param(
            "filter",
            "at most two filters, on two different dimensions whose pair the site stores",
        )),
    }
}

/// Metrics of a group, `None` when it has fewer than k visitors (or is `(other)`).
async fn shown_group(
    ctx: &Ctx<'_>,
    range: DateRange,
    dim: Dim,
    value: &str,
) -> Result<Option<Metrics>, HttpError> {
    let c = &ctx.state.stats.client;
    let m = query::totals(c, ctx.scope(range), dim, value).await?;
    let k = u64::from(ctx.site.k);
    let hidden = k > 0 && (m.visitors < k || value == OTHER);
    Ok((!hidden).then_some(m))
}

fn not_shown(sel: &Selection, k: u32) -> HttpError {
    HttpError::NotFound(
        format!(
            "no group `{}` with at least {k} visitors in this range (smaller groups are only shown inside `(other)`)",
            sel.asked.join("` and `")
        )
        .into(),
    )
}

/// `GET /api/v1/aggregate`.
pub async fn aggregate(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let p = ctx.params;
    let range = p.range()?;
    let compare = p.compare()?;
    let group = group_filter(p, ctx.conv)?;
    let c = &ctx.state.stats.client;
    let (set, cur, prev) = match &group {
        None => {
            let set = metrics_of(Dim::Total);
            let cur = query::totals(c, ctx.scope(range), Dim::Total, "");
            if let Some(cmp) = compare {
                let prev = query::totals(c, ctx.scope(cmp.range(range)), Dim::Total, "");
                let (cur, prev) = tokio::try_join!(cur, prev)?;
                (set, cur, Some(Some(prev)))
            } else {
                (set, cur.await?, None)
            }
        }
        Some(sel) => {
            let cur = shown_group(ctx, range, sel.dim, &sel.value)
                .await?
                .ok_or_else(|| not_shown(sel, ctx.site.k))?;
            let prev = match compare {
                Some(cmp) => Some(shown_group(ctx, cmp.range(range), sel.dim, &sel.value).await?),
                None => None,
            };
            (metrics_of(sel.dim), cur, prev)
        }
    };
    let mut o = ctx.head(range);
    let cur = metrics_json(&cur, set);
    if let (Some(prev), Some(cmp)) = (prev, compare) {
        insert_comparison(&mut o, cmp, range);
        match prev {
            Some(prev) => {
                let prev = metrics_json(&prev, set);
                o.insert("change".into(), change(&cur, &prev));
                o.insert("previous".into(), Value::Object(prev));
            }
            None => {
                o.insert("change".into(), Value::Null);
                o.insert("previous".into(), Value::Null);
            }
        }
    }
    insert_filters(&mut o, &group);
    o.insert("metrics".into(), Value::Object(cur));
    Ok(Value::Object(o))
}

/// `comparison` and `previous_period` of an answer compared with another range.
pub(super) fn insert_comparison(o: &mut Map<String, Value>, cmp: Compare, range: DateRange) {
    let prev = cmp.range(range);
    o.insert("comparison".into(), json!(cmp.as_str()));
    o.insert(
        "previous_period".into(),
        json!({"from": prev.from_str(), "to": prev.to_str()}),
    );
}

/// `filter` (the first filter, as before pairs) and `filters` (all of them).
fn insert_filters(o: &mut Map<String, Value>, group: &Option<Selection>) {
    let asked = group.as_ref().map_or(&[][..], |s| s.asked.as_slice());
    o.insert(
        "filter".into(),
        asked.first().map_or(Value::Null, |f| json!(f)),
    );
    o.insert("filters".into(), json!(asked));
    if let Some(sel) = group.as_ref().filter(|s| s.dim.parts().is_some()) {
        o.insert("pair".into(), json!(sel.dim.as_str()));
    }
}

/// Buckets of a group below k are suppressed (and one more when only one would
/// be, so the group's total minus the shown buckets does not reveal it).
fn suppress(buckets: &[query::Bucket], k: u32) -> Vec<bool> {
    let k = u64::from(k);
    let nonempty = |m: &Metrics| m.pageviews + m.events + m.visits > 0 || m.visitors > 0;
    let mut hidden: Vec<bool> = buckets
        .iter()
        .map(|b| k > 0 && nonempty(&b.m) && b.m.visitors < k)
        .collect();
    if hidden.iter().filter(|h| **h).count() == 1 {
        let next = buckets
            .iter()
            .enumerate()
            .filter(|(i, b)| !hidden[*i] && nonempty(&b.m))
            .min_by_key(|(_, b)| (b.m.visitors, b.m.pageviews + b.m.events + b.m.visits))
            .map(|(i, _)| i);
        if let Some(i) = next {
            hidden[i] = true;
        }
    }
    hidden
}

fn buckets_json(buckets: &[query::Bucket], hidden: &[bool], set: MetricSet) -> Value {
    Value::Array(
        buckets
            .iter()
            .zip(hidden)
            .map(|(b, h)| {
                let mut o = if *h {
                    Map::new()
                } else {
                    metrics_json(&b.m, set)
                };
                o.insert("start".into(), json!(b.start));
                o.insert("label".into(), json!(b.label));
                o.insert("suppressed".into(), json!(h));
                Value::Object(o)
            })
            .collect(),
    )
}

/// `GET /api/v1/timeseries`.
pub async fn timeseries(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let p = ctx.params;
    let range = p.range()?;
    let interval = Interval::from_params(p, range)?;
    let compare = p.compare()?;
    let group = group_filter(p, ctx.conv)?;
    let c = &ctx.state.stats.client;
    let (dim, value) = match &group {
        Some(sel) => {
            if shown_group(ctx, range, sel.dim, &sel.value)
                .await?
                .is_none()
            {
                return Err(not_shown(sel, ctx.site.k));
            }
            (sel.dim, sel.value.as_str())
        }
        None => (Dim::Total, ""),
    };
    let set = metrics_of(dim);
    let k = if group.is_some() { ctx.site.k } else { 0 };
    let cur = query::series(c, ctx.scope(range), interval, dim, value).await?;
    let mut o = ctx.head(range);
    o.insert("interval".into(), json!(interval.as_str()));
    insert_filters(&mut o, &group);
    o.insert(
        "buckets".into(),
        buckets_json(&cur, &suppress(&cur, k), set),
    );
    if let Some(cmp) = compare {
        let prev_range = cmp.range(range);
        let prev = query::series(c, ctx.scope(prev_range), interval, dim, value).await?;
        let shown = group.is_none() || shown_group(ctx, prev_range, dim, value).await?.is_some();
        insert_comparison(&mut o, cmp, range);
        o.insert(
            "previous".into(),
            if shown {
                buckets_json(&prev, &suppress(&prev, k), set)
            } else {
                Value::Null
            },
        );
    }
    Ok(Value::Object(o))
}

impl Foldable for Group {
    fn visitors(&self) -> u64 {
        self.visitors
    }
    fn other() -> Self {
        Group {
            value: OTHER.into(),
            ..Group::default()
        }
    }
    fn absorb(&mut self, small: Self) {
        let mut c = self.counters();
        c.add(&small.counters());
        self.set_counters(&c);
        self.groups += small.groups;
        self.visitors += small.visitors;
    }
    fn set_visitors(&mut self, visitors: u64) {
        self.visitors = visitors;
    }
}

/// Splits a `prop` value into (event, key, value).
fn split_prop(v: &str) -> (&str, &str, &str) {
    let mut it = v.splitn(3, PROP_SEP);
    (
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
        it.next().unwrap_or(""),
    )
}

fn sort_key(g: &Group, sort: Sort) -> u64 {
    match sort {
        Sort::Pageviews => g.pageviews,
        Sort::Visitors => g.visitors,
        Sort::Visits => g.visits,
        Sort::Events => g.events,
        Sort::Completions => g.hits,
        Sort::Revenue => g.revenue,
    }
}

/// The named rows and the `(other)` group of a dimension, folded for k on the
/// whole range (see the module documentation).
pub fn fold_groups(rows: Vec<Group>, k: u32) -> (Vec<Group>, Option<Group>) {
    let (other, named): (Vec<Group>, Vec<Group>) = rows.into_iter().partition(|g| g.value == OTHER);
    let mut other = other.into_iter().next();
    let (mut shown, folded) = kanon::fold(named, k);
    if folded > 0 {
        // ClickHouse already folded below k; this only runs if a row slipped
        // through, and then it joins (other) (its visitors are an upper bound).
        if let Some(extra) = shown.pop() {
            match other.as_mut() {
                Some(o) => o.absorb(extra),
                None => other = Some(extra),
            }
        }
    }
    (shown, other)
}

/// How a breakdown reads its rows: from the dimension itself, or from a declared
/// pair when it is filtered by another dimension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The dimension's own rows.
    Single(Dim),
    /// The pair's rows, named by the breakdown's part (`first` says whether it
    /// is the pair's first part).
    Pair { pair: Dim, first: bool },
}

impl Source {
    fn stored(self) -> Dim {
        match self {
            Source::Single(d) => d,
            Source::Pair { pair, .. } => pair,
        }
    }

    /// The (breakdown part, filtered part) of a stored value.
    fn split(self, value: &str) -> (&str, &str) {
        match self {
            Source::Single(_) => (value, ""),
            Source::Pair { first, .. } => {
                let (a, b) = value.split_once(PROP_SEP).unwrap_or((value, ""));
                if first {
                    (a, b)
                } else {
                    (b, a)
                }
            }
        }
    }
}

/// The rows of one range for a breakdown: folded for k on the stored dimension
/// (the pair, when there is one: k-anonymity holds for the combination), then
/// narrowed to the cross filters and named by the breakdown's own part.
async fn breakdown_rows(
    ctx: &Ctx<'_>,
    range: DateRange,
    source: Source,
    cross: &[&Filter],
) -> Result<(Vec<Group>, Option<Group>, bool), HttpError> {
    let k = ctx.site.k;
    let client = &ctx.state.stats.client;
    let (rows, truncated) = query::groups(client, ctx.scope(range), source.stored(), k).await?;
    let (shown, other) = fold_groups(rows, k);
    if let Source::Single(_) = source {
        return Ok((shown, other, truncated));
    }
    let mut named: Vec<Group> = Vec::new();
    for g in shown {
        let (own, filtered) = source.split(&g.value);
        if !cross.iter().all(|f| f.pattern.matches(filtered)) {
            continue;
        }
        let own = own.to_string();
        match named.iter_mut().find(|n| n.value == own) {
            // A pattern filter can match several values of the other part.
            Some(n) => n.absorb(g),
            None => named.push(Group { value: own, ..g }),
        }
    }
    Ok((named, other, truncated))
}

/// `GET /api/v1/breakdown`.
pub async fn breakdown(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let p = ctx.params;
    let name = p.required("dimension")?;
    let dim = dimension(name).ok_or_else(|| {
        HttpError::param(
            "dimension",
            format!(
                "`{name}` is not a dimension; use one of {}",
                dimension_names().join(", ")
            ),
        )
    })?;
    let range = p.range()?;
    let filters = Filter::from_params(p)?;
    let (own, cross): (Vec<&Filter>, Vec<&Filter>) = filters.iter().partition(|f| f.dim == dim);
    let source = match cross.first() {
        None => Source::Single(dim),
        Some(f) => {
            if cross.iter().any(|g| g.dim != f.dim) {
                return Err(HttpError::param(
                    "filter",
                    "a breakdown can be filtered by one other dimension (through the pair of the two)",
                ));
            }
            let pair = ctx
                .conv
                .pairs
                .of(dim, f.dim)
                .ok_or_else(|| Filter::undeclared_pair(dim, f.dim, ctx.conv.pairs))?;
            Source::Pair {
                pair,
                first: pair.parts().is_some_and(|(a, _)| a == dim),
            }
        }
    };
    let is_prop = matches!(dim, Dim::Prop | Dim::MarketingProp);
    let event = p.get("event");
    if event.is_some() && !is_prop {
        return Err(HttpError::param(
            "event",
            "only `prop` and `marketing_prop` breakdowns can be restricted to one event",
        ));
    }
    let set = metrics_of(source.stored());
    let sort = Sort::from_params(p, set)?;
    let limit = p.bounded("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let page = p.bounded("page", 1, 1_000_000)?;
    let k = ctx.site.k;

    let compare = p.compare()?;
    let (mut shown, other, truncated) = breakdown_rows(ctx, range, source, &cross).await?;
    // The comparison range is folded on its own: a value appears with previous
    // numbers only where that range names it too (k-anonymity holds in both).
    let previous: Option<std::collections::HashMap<String, Group>> = match compare {
        Some(cmp) => {
            let (named, _, _) = breakdown_rows(ctx, cmp.range(range), source, &cross).await?;
            Some(named.into_iter().map(|g| (g.value.clone(), g)).collect())
        }
        None => None,
    };
    shown.sort_by(|a, b| {
        sort_key(b, sort)
            .cmp(&sort_key(a, sort))
            .then(b.visitors.cmp(&a.visitors))
            .then(a.value.cmp(&b.value))
    });
    let matches = |g: &Group| {
        let shown_value = if is_prop {
            split_prop(&g.value).2
        } else {
            &g.value
        };
        own.iter().all(|f| f.pattern.matches(shown_value))
            && event.is_none_or(|e| split_prop(&g.value).0 == e)
    };
    let selected: Vec<&Group> = shown.iter().filter(|g| matches(g)).collect();
    let total_rows = selected.len();
    let row_json = |g: &Group, is_other: bool| {
        let mut o = metrics_json(&g.metrics(), set);
        if is_prop && !is_other {
            let (e, key, v) = split_prop(&g.value);
            o.insert("event".into(), json!(e));
            o.insert("key".into(), json!(key));
            o.insert("value".into(), json!(v));
        } else {
            o.insert("value".into(), json!(g.value));
        }
        if is_other {
            o.insert("groups".into(), json!(g.groups));
        } else if let Some(prev) = &previous {
            o.insert(
                "previous".into(),
                prev.get(&g.value).map_or(Value::Null, |p| {
                    Value::Object(metrics_json(&p.metrics(), set))
                }),
            );
        }
        Value::Object(o)
    };
    let rows: Vec<Value> = selected
        .into_iter()
        .skip((page - 1).saturating_mul(limit))
        .take(limit)
        .map(|g| row_json(g, false))
        .collect();
    let mut o = ctx.head(range);
    o.insert("dimension".into(), json!(dim.as_str()));
    if let Source::Pair { pair, .. } = source {
        o.insert("pair".into(), json!(pair.as_str()));
    }
    o.insert("sort".into(), json!(sort.as_str()));
    o.insert("page".into(), json!(page));
    o.insert("limit".into(), json!(limit));
    o.insert("k".into(), json!(k));
    o.insert("total_rows".into(), json!(total_rows));
    o.insert("truncated".into(), json!(truncated));
    o.insert("rows".into(), Value::Array(rows));
    if let Some(cmp) = compare {
        insert_comparison(&mut o, cmp, range);
    }
    o.insert(
        "other".into(),
        other.as_ref().map_or(Value::Null, |g| row_json(g, true)),
    );
    Ok(Value::Object(o))
}

/// `GET /api/v1/consent`.
pub async fn consent(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let range = ctx.params.range()?;
    let rows = query::decisions(&ctx.state.stats.client, ctx.scope(range)).await?;
    let mut decisions = Map::new();
    let mut total = 0;
    for d in Decision::ALL {
        let n = rows
            .iter()
            .filter(|(v, _)| v == d.as_str())
            .map(|(_, n)| n)
            .sum::<u64>();
        total += n;
        decisions.insert(d.as_str().into(), json!(n));
    }
    let mut o = ctx.head(range);
    o.insert("decisions".into(), Value::Object(decisions));
    o.insert("total".into(), json!(total));
    Ok(Value::Object(o))
}

/// `GET /api/v1/realtime`: from memory only.
pub fn realtime(ctx: &Ctx<'_>) -> Value {
    let state = ctx.state;
    let now = state.pipeline.privacy.clock().now_secs() as u32;
    let site = ctx.idx as u32;
    let window = |minutes: u32| {
        json!({
            "visitors": state.pipeline.sessions.active_since(site, now.saturating_sub(minutes * 60)),
            "pageviews": state.pipeline.realtime.pageviews(site, now, minutes),
        })
    };
    json!({
        "site": ctx.site.id,
        "last_5_minutes": window(5),
        "last_30_minutes": window(30),
    })
}

/// `GET /api/v1/site`: what a client needs to ask good questions.
pub async fn site(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let now = ctx.state.pipeline.privacy.clock().now_secs();
    let today = query::today(&ctx.state.stats.client, &ctx.site.timezone, now).await?;
    Ok(json!({
        "site": ctx.site.id,
        "timezone": ctx.site.timezone,
        "today": today,
        "k": ctx.site.k,
        "public_dashboard": ctx.site.public_dashboard,
        "dimensions": dimension_names(),
        "pairs": ctx.conv.pairs.iter().map(Dim::as_str).collect::<Vec<_>>(),
        "cross_filters": cross_filters(ctx.conv),
        "sorts": sorts(ctx.conv),
        "goals": ctx.site.goals,
        "funnels": ctx.site.funnels,
        "currencies": ctx.site.currencies,
    }))
}

/// For each breakdown dimension and each declared pair (what a breakdown
/// filtered by another dimension reads), the `sort` keys its rows accept.
fn sorts(conv: &Conversions) -> Value {
    let mut o = Map::new();
    let dims = dimension_names().into_iter().filter_map(dimension);
    for d in dims.chain(conv.pairs.iter()) {
        o.insert(
            d.as_str().to_string(),
            json!(Sort::available_for(metrics_of(d))),
        );
    }
    Value::Object(o)
}

/// For each breakdown dimension, the dimensions it can be filtered by (the
/// other parts of its declared pairs).
fn cross_filters(conv: &Conversions) -> Value {
    let mut o = Map::new();
    for pair in conv.pairs.iter() {
        let Some((a, b)) = pair.parts() else { continue };
        for (x, y) in [(a, b), (b, a)] {
            if dimension(x.as_str()).is_none() {
                continue;
            }
            let list = o
                .entry(x.as_str())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(v) = list {
                v.push(json!(y.as_str()));
            }
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(value: &str, pv: u64, uv: u64) -> Group {
        Group {
            value: value.into(),
            groups: 1,
            pageviews: pv,
            visitors: uv,
            ..Group::other()
        }
    }

    #[test]
    fn rows_below_k_never_survive_folding() {
        let rows = vec![g(OTHER, 7, 3), g("/", 100, 50), g("/slipped", 2, 1)];
        let (shown, other) = fold_groups(rows, 5);
        assert_eq!(
            shown.iter().map(|r| r.value.as_str()).collect::<Vec<_>>(),
            vec!["/"]
        );
        let other = other.unwrap();
        assert_eq!((other.pageviews, other.groups), (9, 2));
    }

    #[test]
    fn a_single_suppressed_bucket_gets_company() {
        let b = |uv: u64| query::Bucket {
            start: 0,
            label: String::new(),
            m: Metrics {
                pageviews: uv * 2,
                visitors: uv,
                ..Metrics::default()
            },
        };
        let buckets = vec![b(10), b(2), b(0), b(7), b(20)];
        assert_eq!(suppress(&buckets, 5), vec![false, true, false, true, false]);
        assert_eq!(suppress(&buckets, 0), vec![false; 5]);
        let two = vec![b(1), b(2), b(9)];
        assert_eq!(suppress(&two, 5), vec![true, true, false]);
    }

    #[test]
    fn metric_names_are_the_fields_of_every_dimension() {
        for dim in Dim::ALL {
            let set = metrics_of(dim);
            let mut names = metric_names(set);
            let mut fields: Vec<String> = metrics_json(&Metrics::default(), set)
                .keys()
                .cloned()
                .collect();
            names.sort_unstable();
            fields.sort_unstable();
            assert_eq!(names, fields, "{}", dim.as_str());
        }
    }

    #[test]
    fn change_is_relative_and_null_without_a_base() {
        let cur = metrics_json(
            &Metrics {
                pageviews: 150,
                visits: 10,
                ..Default::default()
            },
            metrics_of(Dim::Total),
        );
        let prev = metrics_json(
            &Metrics {
                pageviews: 100,
                ..Default::default()
            },
            metrics_of(Dim::Total),
        );
        let c = change(&cur, &prev);
        assert_eq!(c["pageviews"], json!(0.5));
        assert_eq!(c["visits"], Value::Null);
    }
}
