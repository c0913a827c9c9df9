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
//!    [`super::kanon::fold`] again in Rust as the enforcing check). Which values are named
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
//!
//! With a site's differential-privacy mode on, every count above is the noised
//! one of [`super::released`]: k compares the noised visitors, totals are noised
//! too, and rows plus `(other)` need not sum to the total.

use serde_json::{json, Map, Value};

use crate::config::SiteConfig;
use crate::model::{Conversions, Dim, OTHER, PROP_SEP};
use crate::privacy::consent::Decision;
use crate::reload::Loaded;
use crate::AppState;

use super::params::{
    dimension, dimension_names, metrics_of, Compare, DateRange, Filter, Interval, MetricSet,
    Params, Pattern, Sort,
};
use super::query::{self, Metrics, Scope};
use super::released;
use crate::http::HttpError;

pub use super::breakdown::{breakdown, fold_groups};

/// One authorised request for one site.
pub struct Ctx<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// The configuration generation this request runs under.
    pub live: &'a Loaded,
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
        // Whether the counts carry differential-privacy noise (`super::noise`).
        m.insert("noised".into(), json!(released::noised(self.site)));
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
pub(super) fn metrics_json(m: &Metrics, set: MetricSet) -> Map<String, Value> {
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
    let c = &ctx.live.stats.client;
    let m = released::totals(c, ctx.site, ctx.scope(range), dim, value).await?;
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
    let c = &ctx.live.stats.client;
    let (set, cur, prev) = match &group {
        None => {
            let set = metrics_of(Dim::Total);
            let cur = released::totals(c, ctx.site, ctx.scope(range), Dim::Total, "");
            if let Some(cmp) = compare {
                let prev =
                    released::totals(c, ctx.site, ctx.scope(cmp.range(range)), Dim::Total, "");
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
    let c = &ctx.live.stats.client;
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
    let cur = released::series(c, ctx.site, ctx.scope(range), interval, dim, value).await?;
    let mut o = ctx.head(range);
    o.insert("interval".into(), json!(interval.as_str()));
    insert_filters(&mut o, &group);
    o.insert(
        "buckets".into(),
        buckets_json(&cur, &suppress(&cur, k), set),
    );
    if let Some(cmp) = compare {
        let prev_range = cmp.range(range);
        let prev =
            released::series(c, ctx.site, ctx.scope(prev_range), interval, dim, value).await?;
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

/// `GET /api/v1/consent`.
pub async fn consent(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let range = ctx.params.range()?;
    let rows = query::decisions(&ctx.live.stats.client, ctx.scope(range)).await?;
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
    // Consent decisions are site-wide hit counts, released exact.
    o.insert("noised".into(), json!(false));
    o.insert("total".into(), json!(total));
    Ok(Value::Object(o))
}

/// `GET /api/v1/realtime`: from memory only.
pub fn realtime(ctx: &Ctx<'_>) -> Value {
    let state = ctx.state;
    let now = state.pipeline.clock().now_secs() as u32;
    // The window's index of the site (the API's `idx` is its place in the file).
    let rules = state.pipeline.rules();
    let Some(site) = rules.privacy.site_index(&ctx.site.id) else {
        return json!({ "site": ctx.site.id, "last_5_minutes": null, "last_30_minutes": null });
    };
    let window = |minutes: u32| {
        json!({
            "visitors": state.pipeline.sessions.active_since(site, now.saturating_sub(minutes * 60)),
            "pageviews": rules.realtime.pageviews(site, now, minutes),
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
    let now = ctx.state.pipeline.clock().now_secs();
    let today = query::today(&ctx.live.stats.client, &ctx.site.timezone, now).await?;
    Ok(json!({
        "site": ctx.site.id,
        "timezone": ctx.site.timezone,
        "today": today,
        "k": ctx.site.k,
        "noised": released::noised(ctx.site),
        "dp_epsilon_per_day": released::noised(ctx.site).then_some(ctx.site.dp_epsilon_per_day),
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
