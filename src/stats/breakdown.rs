//! `GET /api/v1/breakdown`: one dimension's values, folded for k on the whole
//! dimension (or on the declared pair, when filtered by another dimension),
//! then sorted, filtered and paged. The guarantees are in the module
//! documentation of [`super::handlers`].

use serde_json::{json, Value};

use crate::http::HttpError;
use crate::model::{Dim, OTHER, PROP_SEP};

use super::handlers::{insert_comparison, metrics_json, Ctx};
use super::kanon::{self, Foldable};
use super::params::{
    dimension, dimension_names, metrics_of, DateRange, Filter, Sort, DEFAULT_LIMIT, MAX_LIMIT,
};
use super::query::Group;
use super::released;

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
    let client = &ctx.live.stats.client;
    let (rows, truncated) =
        released::groups(client, ctx.site, ctx.scope(range), source.stored(), k).await?;
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
}
