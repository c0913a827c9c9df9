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
use crate::model::{Dim, OTHER, PROP_SEP};
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
}

impl Ctx<'_> {
    fn scope(&self, range: DateRange) -> Scope<'_> {
        Scope {
            site: &self.site.id,
            tz: &self.site.timezone,
            range,
        }
    }

    fn head(&self, range: DateRange) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("site".into(), json!(self.site.id));
        m.insert("from".into(), json!(range.from_str()));
        m.insert("to".into(), json!(range.to_str()));
        m.insert("timezone".into(), json!(self.site.timezone));
        m
    }
}

fn ratio(a: u64, b: u64) -> Value {
    if b == 0 {
        Value::Null
    } else {
        json!((a as f64 / b as f64 * 10_000.0).round() / 10_000.0)
    }
}

/// The metrics a dimension has, as JSON fields.
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
    o
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

/// The single group `aggregate` and `timeseries` may be narrowed to.
fn group_filter(p: &Params) -> Result<Option<(Dim, String)>, HttpError> {
    let filters = Filter::from_params(p)?;
    match filters.as_slice() {
        [] => Ok(None),
        [Filter {
            dim,
            pattern: Pattern::Exact(v),
        }] => Ok(Some((*dim, v.clone()))),
        [_] => Err(HttpError::param(
            "filter",
            "here the filter must name one value exactly (`page:/pricing`); patterns work in breakdowns",
        )),
        [a, b, ..] => Err(Filter::cross_dimension(a.dim.as_str(), b.dim)),
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

fn not_shown(dim: Dim, value: &str, k: u32) -> HttpError {
    HttpError::NotFound(
        format!(
            "no `{}` value `{value}` with at least {k} visitors in this range (smaller groups are only shown inside `(other)`)",
            dim.as_str()
        )
        .into(),
    )
}

/// `GET /api/v1/aggregate`.
pub async fn aggregate(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let p = ctx.params;
    let range = p.range()?;
    let compare = p.compare()?;
    let group = group_filter(p)?;
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
        Some((dim, value)) => {
            let cur = shown_group(ctx, range, *dim, value)
                .await?
                .ok_or_else(|| not_shown(*dim, value, ctx.site.k))?;
            let prev = match compare {
                Some(cmp) => Some(shown_group(ctx, cmp.range(range), *dim, value).await?),
                None => None,
            };
            (metrics_of(*dim), cur, prev)
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
    o.insert("filter".into(), filter_json(&group));
    o.insert("metrics".into(), Value::Object(cur));
    Ok(Value::Object(o))
}

/// `comparison` and `previous_period` of an answer compared with another range.
fn insert_comparison(o: &mut Map<String, Value>, cmp: Compare, range: DateRange) {
    let prev = cmp.range(range);
    o.insert("comparison".into(), json!(cmp.as_str()));
    o.insert(
        "previous_period".into(),
        json!({"from": prev.from_str(), "to": prev.to_str()}),
    );
}

fn filter_json(group: &Option<(Dim, String)>) -> Value {
    group
        .as_ref()
        .map_or(Value::Null, |(d, v)| json!(format!("{}:{v}", d.as_str())))
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
    let group = group_filter(p)?;
    let c = &ctx.state.stats.client;
    let (dim, value) = match &group {
        Some((d, v)) => {
            if shown_group(ctx, range, *d, v).await?.is_none() {
                return Err(not_shown(*d, v, ctx.site.k));
            }
            (*d, v.as_str())
        }
        None => (Dim::Total, ""),
    };
    let set = metrics_of(dim);
    let k = if group.is_some() { ctx.site.k } else { 0 };
    let cur = query::series(c, ctx.scope(range), interval, dim, value).await?;
    let mut o = ctx.head(range);
    o.insert("interval".into(), json!(interval.as_str()));
    o.insert("filter".into(), filter_json(&group));
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
    if let Some(f) = filters.iter().find(|f| f.dim != dim) {
        return Err(Filter::cross_dimension(dim.as_str(), f.dim));
    }
    let is_prop = matches!(dim, Dim::Prop | Dim::MarketingProp);
    let event = p.get("event");
    if event.is_some() && !is_prop {
        return Err(HttpError::param(
            "event",
            "only `prop` and `marketing_prop` breakdowns can be restricted to one event",
        ));
    }
    let set = metrics_of(dim);
    let sort = Sort::from_params(p, set)?;
    let limit = p.bounded("limit", DEFAULT_LIMIT, MAX_LIMIT)?;
    let page = p.bounded("page", 1, 1_000_000)?;
    let k = ctx.site.k;

    let compare = p.compare()?;
    let client = &ctx.state.stats.client;
    let (rows, truncated) = query::groups(client, ctx.scope(range), dim, k).await?;
    let (mut shown, other) = fold_groups(rows, k);
    // The comparison range is folded on its own: a value appears with previous
    // numbers only where that range names it too (k-anonymity holds in both).
    let previous: Option<std::collections::HashMap<String, Group>> = match compare {
        Some(cmp) => {
            let (rows, _) = query::groups(client, ctx.scope(cmp.range(range)), dim, k).await?;
            let (named, _) = fold_groups(rows, k);
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
        filters.iter().all(|f| f.pattern.matches(shown_value))
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
    }))
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
