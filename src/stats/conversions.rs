//! `GET /api/v1/goals` and `GET /api/v1/funnels`: the site's declared goals and
//! funnels with their numbers.
//!
//! Both read ordinary stored dimensions (`goal`, the goal pairs, `funnel`), so
//! the planner, the day close and k-anonymity are the ones every breakdown uses:
//! a goal, a goal × source row or a funnel step with fewer than k visitors is
//! answered as `suppressed`, never with its numbers. Conversion rates divide
//! converting visitors by the visitors of the same scope (the site, or the same
//! source, campaign, … value), both sums of daily unique visitors.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use crate::http::HttpError;
use crate::model::goals::funnel_value;
use crate::model::{Dim, PROP_SEP};

use super::handlers::{fold_groups, insert_comparison, money, ratio, Ctx};
use super::params::{dimension, undeclared_goal_pair, DateRange};
use super::query::Group;
use super::released;

/// `by` values the goal card offers (each needs its `*goal` pair declared).
const BY: [&str; 10] = [
    "source",
    "referrer",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "entry_page",
    "page",
    "country",
    "device",
    "browser",
];

/// The named (k-folded) groups of `dim` over `range`, by value.
async fn named(
    ctx: &Ctx<'_>,
    range: DateRange,
    dim: Dim,
) -> Result<HashMap<String, Group>, HttpError> {
    let k = ctx.site.k;
    let c = &ctx.live.stats.client;
    let (rows, _) = released::groups(c, ctx.site, ctx.scope(range), dim, k).await?;
    let (shown, _) = fold_groups(rows, k);
    Ok(shown.into_iter().map(|g| (g.value.clone(), g)).collect())
}

/// The rows of a goal pair for one goal: (other part's value, group).
fn pair_rows<'a>(
    rows: &'a HashMap<String, Group>,
    pair: Dim,
    goal: &'a str,
) -> impl Iterator<Item = (&'a str, &'a Group)> + 'a {
    let goal_first = pair.parts().is_some_and(|(a, _)| a == Dim::Goal);
    rows.iter().filter_map(move |(v, g)| {
        let (a, b) = v.split_once(PROP_SEP)?;
        let (goal_part, other) = if goal_first { (a, b) } else { (b, a) };
        (goal_part == goal).then_some((other, g))
    })
}

/// A goal's numbers against the visitors of the same scope.
fn goal_numbers(g: Option<&Group>, visitors: u64) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("suppressed".into(), json!(g.is_none()));
    o.insert(
        "completions".into(),
        g.map_or(Value::Null, |g| json!(g.hits)),
    );
    o.insert(
        "visitors".into(),
        g.map_or(Value::Null, |g| json!(g.visitors)),
    );
    o.insert(
        "conversion_rate".into(),
        g.map_or(Value::Null, |g| ratio(g.visitors, visitors)),
    );
    o
}

/// `GET /api/v1/goals`.
pub async fn goals(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let p = ctx.params;
    let range = p.range()?;
    let compare = p.compare()?;
    let pairs = ctx.conv.pairs;
    let by = match p.get("by") {
        None => None,
        Some(name) => {
            let dim = dimension(name)
                .filter(|_| BY.contains(&name))
                .ok_or_else(|| {
                    HttpError::param("by", format!("must be one of {}", BY.join(", ")))
                })?;
            let pair = pairs
                .of(dim, Dim::Goal)
                .ok_or_else(|| undeclared_goal_pair(dim, pairs))?;
            Some((dim, pair))
        }
    };
    let c = &ctx.live.stats.client;
    let total = released::totals(c, ctx.site, ctx.scope(range), Dim::Total, "").await?;
    let goals = named(ctx, range, Dim::Goal).await?;
    let revenue_pair = pairs.of(Dim::Goal, Dim::Currency);
    let revenue = match revenue_pair {
        Some(pair) => Some(named(ctx, range, pair).await?),
        None => None,
    };
    let previous = match compare {
        Some(cmp) => {
            let prev_range = cmp.range(range);
            let total =
                released::totals(c, ctx.site, ctx.scope(prev_range), Dim::Total, "").await?;
            Some((total.visitors, named(ctx, prev_range, Dim::Goal).await?))
        }
        None => None,
    };
    let by_rows = match by {
        Some((dim, pair)) => Some((
            named(ctx, range, pair).await?,
            named(ctx, range, dim).await?,
        )),
        None => None,
    };
    let mut list = Vec::new();
    for (decl, goal) in ctx.site.goals.iter().zip(&ctx.conv.goals) {
        let name = &*goal.name;
        let mut o = Map::new();
        o.insert("name".into(), json!(name));
        if let Some(e) = &decl.event {
            o.insert("event".into(), json!(e));
        }
        if let Some(pg) = &decl.page {
            o.insert("page".into(), json!(pg));
        }
        let g = goals.get(name);
        o.extend(goal_numbers(g, total.visitors));
        if let (Some(rows), Some(pair)) = (&revenue, revenue_pair) {
            let mut amounts: Vec<(&str, u64)> = pair_rows(rows, pair, name)
                .map(|(cur, g)| (cur, g.revenue))
                .collect();
            amounts.sort();
            let amounts: Vec<Value> = amounts
                .into_iter()
                .map(|(cur, r)| json!({"currency": cur, "amount": money(r)}))
                .collect();
            o.insert("revenue".into(), json!(amounts));
        }
        if let Some((visitors, prev)) = &previous {
            o.insert(
                "previous".into(),
                Value::Object(goal_numbers(prev.get(name), *visitors)),
            );
        }
        if let (Some((pair_rows_all, base)), Some((_, pair))) = (&by_rows, by) {
            let mut rows: Vec<(&str, &Group)> = pair_rows(pair_rows_all, pair, name).collect();
            rows.sort_by(|a, b| b.1.visitors.cmp(&a.1.visitors).then(a.0.cmp(b.0)));
            let rows: Vec<Value> = rows
                .into_iter()
                .map(|(value, g)| {
                    json!({
                        "value": value,
                        "completions": g.hits,
                        "visitors": g.visitors,
                        // `null` when the value itself is not named (below k).
                        "conversion_rate": base.get(value).map_or(Value::Null, |b| ratio(g.visitors, b.visitors)),
                    })
                })
                .collect();
            o.insert("by".into(), json!(rows));
        }
        list.push(Value::Object(o));
    }
    let mut o = ctx.head(range);
    o.insert("k".into(), json!(ctx.site.k));
    o.insert("visitors".into(), json!(total.visitors));
    o.insert(
        "by".into(),
        by.map_or(Value::Null, |(d, _)| json!(d.as_str())),
    );
    if let Some(cmp) = compare {
        insert_comparison(&mut o, cmp, range);
    }
    o.insert("goals".into(), Value::Array(list));
    Ok(Value::Object(o))
}

/// `GET /api/v1/funnels`.
pub async fn funnels(ctx: &Ctx<'_>) -> Result<Value, HttpError> {
    let p = ctx.params;
    let range = p.range()?;
    let only = p.get("funnel");
    if let Some(name) = only {
        if !ctx.conv.funnels.iter().any(|f| &*f.name == name) {
            return Err(HttpError::NotFound(
                format!("the site declares no funnel `{name}`").into(),
            ));
        }
    }
    let k = u64::from(ctx.site.k);
    // Every step, unfolded: each is checked against k below.
    let c = &ctx.live.stats.client;
    let (rows, _) = released::groups(c, ctx.site, ctx.scope(range), Dim::Funnel, 0).await?;
    let rows: HashMap<&str, &Group> = rows.iter().map(|g| (g.value.as_str(), g)).collect();
    let mut list = Vec::new();
    for (decl, funnel) in ctx.site.funnels.iter().zip(&ctx.conv.funnels) {
        if only.is_some_and(|n| n != &*funnel.name) {
            continue;
        }
        // (visits, visitors) per step; `None` when below k.
        let counts: Vec<Option<(u64, u64)>> = (1..=funnel.steps.len() as u32)
            .map(|step| {
                let g = rows.get(funnel_value(&funnel.name, step).as_str());
                let (visits, visitors) = g.map_or((0, 0), |g| (g.visits, g.visitors));
                (k == 0 || visits == 0 || visitors >= k).then_some((visits, visitors))
            })
            .collect();
        let first = counts.first().copied().flatten().map(|c| c.0);
        let steps: Vec<Value> = decl
            .steps
            .iter()
            .enumerate()
            .map(|(i, step)| {
                let here = counts[i];
                let next = counts.get(i + 1).copied();
                let mut o = Map::new();
                o.insert("step".into(), json!(i + 1));
                o.insert(
                    "label".into(),
                    json!(crate::model::goals::Matcher::label(step)),
                );
                if let Some(e) = &step.event {
                    o.insert("event".into(), json!(e));
                }
                if let Some(pg) = &step.page {
                    o.insert("page".into(), json!(pg));
                }
                o.insert("suppressed".into(), json!(here.is_none()));
                o.insert("visits".into(), here.map_or(Value::Null, |c| json!(c.0)));
                o.insert("visitors".into(), here.map_or(Value::Null, |c| json!(c.1)));
                o.insert(
                    "conversion_rate".into(),
                    match (here, first) {
                        (Some(c), Some(f)) => ratio(c.0, f),
                        _ => Value::Null,
                    },
                );
                let dropoff = match (here, next) {
                    (Some(c), Some(Some(n))) => Some(c.0.saturating_sub(n.0)),
                    _ => None,
                };
                o.insert("dropoff".into(), dropoff.map_or(Value::Null, |d| json!(d)));
                o.insert(
                    "dropoff_rate".into(),
                    match (dropoff, here) {
                        (Some(d), Some(c)) => ratio(d, c.0),
                        _ => Value::Null,
                    },
                );
                Value::Object(o)
            })
            .collect();
        list.push(json!({"name": &*funnel.name, "steps": steps}));
    }
    let mut o = ctx.head(range);
    o.insert("k".into(), json!(ctx.site.k));
    o.insert("funnels".into(), Value::Array(list));
    Ok(Value::Object(o))
}
