//! CSV export of the table endpoints: `format=csv`, or `Accept: text/csv`, on
//! `aggregate`, `timeseries`, `breakdown`, `goals` and `funnels`.
//!
//! # One decision, two renderings
//!
//! The CSV is only a rendering of the JSON answer. The handlers build the answer
//! as always — folding into `(other)`, suppressed buckets, suppressed goals and
//! funnel steps, every k-anonymity rule of [`super::handlers`] — and this module
//! turns the rows of that final answer into a header and records. It reads no
//! data and decides nothing about what is shown, so a CSV can never name a value
//! or a number its JSON answer does not.
//!
//! # Columns, in this order
//!
//! The metric columns (`M…`) are the metrics stored for the answer's dimension,
//! in the order `visitors, pageviews, visits, bounce_rate, visit_duration,
//! views_per_visit, events, completions, revenue, time_on_page, scroll_depth`
//! (those the dimension has; see [`super::handlers::metric_names`]). With
//! `compare`, the previous range's numbers follow as `previous_M…`.
//!
//! - **aggregate**: one record: `M…`, then with `compare` `previous_M…` and
//!   `change_M…` (empty when the group is not shown in the previous range).
//! - **timeseries**: one record per bucket: `label, start, M…, suppressed`; a
//!   suppressed bucket has empty metric cells. With `compare`: `previous_label,
//!   previous_start, previous_M…, previous_suppressed` of the bucket at the same
//!   position (`previous_suppressed` is `true` and the rest empty when the group
//!   is not shown at all in the previous range).
//! - **breakdown**: one record per row of the page, then the `(other)` group:
//!   `value` (for `prop` and `marketing_prop`: `event, key, value`), `M…`, with
//!   `compare` `previous_M…` (empty where the previous range does not name the
//!   value), then `other` (`true` only on the `(other)` record) and `groups` (how
//!   many values `(other)` holds; empty on named rows). Pagination (`limit`,
//!   `page`) is the JSON's.
//! - **goals**: one record per declared goal: `goal`, (with `by=DIM`: a `DIM`
//!   column, empty on the goal's own record), `goal_event, goal_page, suppressed,
//!   completions, visitors, conversion_rate`, `revenue` (when the site stores
//!   `goal*currency`: `EUR 12.5; USD 3` in currency order), with `compare`
//!   `previous_suppressed, previous_completions, previous_visitors,
//!   previous_conversion_rate`. With `by`, each goal's record is followed by one
//!   record per named value of `DIM` (its `by` rows).
//! - **funnels**: one record per step: `funnel, step, label, event, page,
//!   suppressed, visits, visitors, conversion_rate, dropoff, dropoff_rate`.
//!
//! # Cells
//!
//! RFC 4180 through the `csv` crate: UTF-8 without a byte order mark, a header
//! record, records ended by CRLF, a field quoted when it holds a comma, a quote,
//! CR or LF, with its quotes doubled. Numbers are written as in the JSON,
//! booleans as `true`/`false`, `null` as an empty cell. Against formula
//! injection (OWASP, "CSV Injection"), a text cell beginning with `=`, `+`, `-`,
//! `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet shows it
//! as text instead of evaluating it; numbers are never changed.

use std::borrow::Cow;

use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use serde_json::Value;

use crate::http::response::{self, Body};
use crate::http::HttpError;
use crate::model::Dim;

use super::handlers::metric_names;
use super::params::{metrics_of, Params};

/// The endpoints whose answers are tables.
pub const TABLE_ENDPOINTS: [&str; 5] = ["aggregate", "timeseries", "breakdown", "goals", "funnels"];

/// What a request for CSV from another endpoint is told.
const ONLY: &str = "CSV is available for aggregate, timeseries, breakdown, goals and funnels";

/// `Content-Type` of a CSV answer.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// How an answer is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `application/json` (the default).
    Json,
    /// `text/csv`.
    Csv,
}

/// The format of the answer to `endpoint`: the `format` parameter wins; else
/// `Accept` chooses by its q-values (CSV only when `text/csv` is preferred to
/// `application/json`; ties, `*/*` and no `Accept` give JSON).
pub fn negotiate(
    endpoint: &str,
    params: &Params,
    headers: &HeaderMap,
) -> Result<Format, HttpError> {
    let table = TABLE_ENDPOINTS.contains(&endpoint);
    match params.get("format") {
        Some("json") => return Ok(Format::Json),
        Some("csv") if table => return Ok(Format::Csv),
        Some("csv") => return Err(HttpError::param("format", ONLY)),
        Some(_) => return Err(HttpError::param("format", "must be `json` or `csv`")),
        None => {}
    }
    let accept: Vec<&str> = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if accept.is_empty() {
        return Ok(Format::Json);
    }
    let accept = accept.join(",");
    let csv = quality(&accept, "text", "csv");
    let json = quality(&accept, "application", "json");
    if table {
        return Ok(if csv.q > json.q {
            Format::Csv
        } else {
            Format::Json
        });
    }
    // Elsewhere only a client that names text/csv and refuses JSON is refused.
    if csv.specificity == Specificity::Exact && csv.q > 0 && json.q == 0 {
        return Err(HttpError::BadRequest(
            format!("`Accept: text/csv`: {ONLY}").into(),
        ));
    }
    Ok(Format::Json)
}

/// How closely a media range matches a media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Specificity {
    None,
    Any,
    Type,
    Exact,
}

/// The q-value (in thousandths) an `Accept` header gives one media type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Quality {
    specificity: Specificity,
    q: u16,
}

/// The q-value of `ty/sub` in `accept` (RFC 9110 §12.5.1): that of the most
/// specific matching media range (`ty/sub` before `ty/*` before `*/*`), 0 when
/// none matches. Media type parameters other than `q` are ignored; a range with
/// a malformed `q` is skipped.
fn quality(accept: &str, ty: &str, sub: &str) -> Quality {
    let mut best = Quality {
        specificity: Specificity::None,
        q: 0,
    };
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let Some((t, s)) = parts.next().unwrap_or("").trim().split_once('/') else {
            continue;
        };
        let (t, s) = (t.trim(), s.trim());
        let specificity = if t == "*" && s == "*" {
            Specificity::Any
        } else if t.eq_ignore_ascii_case(ty) && s == "*" {
            Specificity::Type
        } else if t.eq_ignore_ascii_case(ty) && s.eq_ignore_ascii_case(sub) {
            Specificity::Exact
        } else {
            continue;
        };
        let mut q = Some(1000);
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                if k.trim().eq_ignore_ascii_case("q") {
                    q = parse_q(v.trim());
                    break;
                }
            }
        }
        let Some(q) = q else { continue };
        if specificity > best.specificity || (specificity == best.specificity && q > best.q) {
            best = Quality { specificity, q };
        }
    }
    best
}

/// A qvalue (`0`, `0.5`, `1.000`) in thousandths.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The CSV answer of `endpoint` for its final JSON `answer`.
pub fn response(endpoint: &str, answer: &Value) -> Result<Response<Body>, HttpError> {
    let table = table(endpoint, answer)
        .ok_or_else(|| HttpError::Internal(format!("no CSV table for `{endpoint}`").into()))?;
    let mut r = response::text(StatusCode::OK, CONTENT_TYPE, table.render()?);
    let disposition = format!("attachment; filename=\"{}\"", filename(endpoint, answer));
    let disposition = HeaderValue::from_str(&disposition)
        .map_err(|_| HttpError::Internal("CSV file name".into()))?;
    r.headers_mut()
        .insert(header::CONTENT_DISPOSITION, disposition);
    Ok(r)
}

/// `SITE-ENDPOINT-FROM-TO.csv` (breakdowns: `SITE-breakdown-DIMENSION-FROM-TO.csv`),
/// with every character but ASCII letters, digits, `.`, `_` and `-` replaced
/// by `_`.
pub fn filename(endpoint: &str, answer: &Value) -> String {
    let mut parts = vec![answer["site"].as_str().unwrap_or("site"), endpoint];
    if endpoint == "breakdown" {
        parts.extend(answer["dimension"].as_str());
    }
    parts.extend(answer["from"].as_str());
    parts.extend(answer["to"].as_str());
    let name: String = parts
        .join("-")
        .chars()
        .take(200)
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}.csv")
}

/// A header and records of JSON values (rendered by [`cell`]).
#[derive(Debug, Default)]
pub struct Table {
    /// Column names.
    pub header: Vec<String>,
    /// One entry per column in each record.
    pub records: Vec<Vec<Value>>,
}

impl Table {
    /// RFC 4180 text.
    pub fn render(&self) -> Result<String, HttpError> {
        let fail = |e: &dyn std::fmt::Display| {
            tracing::error!(error = %e, "CSV export failed");
            HttpError::Internal("the CSV export failed".into())
        };
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        w.write_record(&self.header).map_err(|e| fail(&e))?;
        for rec in &self.records {
            let cells: Vec<Cow<'_, str>> = rec.iter().map(cell).collect();
            w.write_record(cells.iter().map(|c| c.as_bytes()))
                .map_err(|e| fail(&e))?;
        }
        let bytes = w.into_inner().map_err(|e| fail(&e))?;
        String::from_utf8(bytes).map_err(|e| fail(&e))
    }
}

/// One cell: numbers as in JSON, `true`/`false`, `null` empty, text guarded.
pub fn cell(v: &Value) -> Cow<'_, str> {
    match v {
        Value::Null => Cow::Borrowed(""),
        Value::Bool(b) => Cow::Borrowed(if *b { "true" } else { "false" }),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::String(s) => guard(s),
        other => Cow::Owned(guard(&other.to_string()).into_owned()),
    }
}

/// Text a spreadsheet would take for a formula gets a leading `'` (OWASP).
pub fn guard(s: &str) -> Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{s}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The table of an endpoint's answer; `None` for endpoints without one.
pub fn table(endpoint: &str, answer: &Value) -> Option<Table> {
    Some(match endpoint {
        "aggregate" => aggregate(answer),
        "timeseries" => timeseries(answer),
        "breakdown" => breakdown(answer),
        "goals" => goals(answer),
        "funnels" => funnels(answer),
        _ => return None,
    })
}

fn dim_named(name: &str) -> Option<Dim> {
    Dim::ALL.into_iter().find(|d| d.as_str() == name)
}

/// The metric names of a single-group answer (`aggregate`, `timeseries`): the
/// pair's, the filtered dimension's, or the site total's.
fn group_metrics(a: &Value) -> Vec<&'static str> {
    let dim = match a["pair"].as_str() {
        Some(pair) => dim_named(pair),
        None => match a["filters"].get(0).and_then(Value::as_str) {
            Some(f) => f.split_once(':').and_then(|(d, _)| dim_named(d)),
            None => Some(Dim::Total),
        },
    };
    metric_names(metrics_of(dim.unwrap_or(Dim::Total)))
}

fn compared(a: &Value) -> bool {
    a.get("comparison").is_some()
}

fn names<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    names.into_iter().map(str::to_string).collect()
}

fn prefixed(prefix: &str, metrics: &[&str]) -> Vec<String> {
    metrics.iter().map(|m| format!("{prefix}{m}")).collect()
}

fn pick(v: &Value, keys: &[&str]) -> Vec<Value> {
    keys.iter().map(|k| v[*k].clone()).collect()
}

fn aggregate(a: &Value) -> Table {
    let metrics = group_metrics(a);
    let mut header = names(metrics.iter().copied());
    let mut rec = pick(&a["metrics"], &metrics);
    if compared(a) {
        header.extend(prefixed("previous_", &metrics));
        header.extend(prefixed("change_", &metrics));
        rec.extend(pick(&a["previous"], &metrics));
        rec.extend(pick(&a["change"], &metrics));
    }
    Table {
        header,
        records: vec![rec],
    }
}

fn timeseries(a: &Value) -> Table {
    let metrics = group_metrics(a);
    let bucket_keys: Vec<&str> = ["label", "start"]
        .into_iter()
        .chain(metrics.iter().copied())
        .chain(["suppressed"])
        .collect();
    let mut header = names(bucket_keys.iter().copied());
    let cur = a["buckets"].as_array().map_or(&[][..], Vec::as_slice);
    // `Some(None)`: compared, and the group is not shown in the previous range.
    let prev = compared(a).then(|| a["previous"].as_array().map(Vec::as_slice));
    if prev.is_some() {
        header.extend(prefixed("previous_", &bucket_keys));
    }
    let rows = cur.len().max(prev.flatten().map_or(0, <[Value]>::len));
    let records = (0..rows)
        .map(|i| {
            let mut rec = pick(cur.get(i).unwrap_or(&Value::Null), &bucket_keys);
            match prev {
                None => {}
                Some(Some(p)) => rec.extend(pick(p.get(i).unwrap_or(&Value::Null), &bucket_keys)),
                Some(None) => {
                    rec.extend(bucket_keys.iter().map(|k| match *k {
                        "suppressed" => Value::Bool(true),
                        _ => Value::Null,
                    }));
                }
            }
            rec
        })
        .collect();
    Table { header, records }
}

fn breakdown(a: &Value) -> Table {
    let stored = a["pair"]
        .as_str()
        .or(a["dimension"].as_str())
        .and_then(dim_named)
        .unwrap_or(Dim::Page);
    let metrics = metric_names(metrics_of(stored));
    let prop = matches!(a["dimension"].as_str(), Some("prop" | "marketing_prop"));
    let value_keys: &[&str] = if prop {
        &["event", "key", "value"]
    } else {
        &["value"]
    };
    let compared = compared(a);
    let mut header = names(value_keys.iter().copied().chain(metrics.iter().copied()));
    if compared {
        header.extend(prefixed("previous_", &metrics));
    }
    header.extend(names(["other", "groups"]));
    let record = |r: &Value, other: bool| {
        let mut rec = pick(r, value_keys);
        rec.extend(pick(r, &metrics));
        if compared {
            rec.extend(pick(&r["previous"], &metrics));
        }
        rec.push(Value::Bool(other));
        rec.push(r["groups"].clone());
        rec
    };
    let mut records: Vec<Vec<Value>> = a["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| record(r, false))
        .collect();
    if !a["other"].is_null() {
        records.push(record(&a["other"], true));
    }
    Table { header, records }
}

/// `EUR 12.5; USD 3` from `[{currency, amount}, …]`; `null` when empty.
fn revenue(list: &Value) -> Value {
    let parts: Vec<String> = list
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| format!("{} {}", cell(&r["currency"]), cell(&r["amount"])))
        .collect();
    if parts.is_empty() {
        Value::Null
    } else {
        Value::String(parts.join("; "))
    }
}

fn goals(a: &Value) -> Table {
    let by = a["by"].as_str();
    let compared = compared(a);
    let list = a["goals"].as_array().map_or(&[][..], Vec::as_slice);
    let with_revenue = list.iter().any(|g| g.get("revenue").is_some());
    const NUMBERS: [&str; 4] = ["suppressed", "completions", "visitors", "conversion_rate"];
    let mut header = names(["goal"]);
    header.extend(by.map(str::to_string));
    header.extend(names(["goal_event", "goal_page"]));
    header.extend(names(NUMBERS));
    if with_revenue {
        header.push("revenue".into());
    }
    if compared {
        header.extend(prefixed("previous_", &NUMBERS));
    }
    let mut records = Vec::new();
    for g in list {
        let head = |value: Value| {
            let mut rec = vec![g["name"].clone()];
            if by.is_some() {
                rec.push(value);
            }
            rec.extend(pick(g, &["event", "page"]));
            rec
        };
        let mut rec = head(Value::Null);
        rec.extend(pick(g, &NUMBERS));
        if with_revenue {
            rec.push(revenue(&g["revenue"]));
        }
        if compared {
            rec.extend(pick(&g["previous"], &NUMBERS));
        }
        records.push(rec);
        for r in g["by"].as_array().into_iter().flatten() {
            let mut rec = head(r["value"].clone());
            rec.push(Value::Bool(false));
            rec.extend(pick(r, &NUMBERS[1..]));
            if with_revenue {
                rec.push(Value::Null);
            }
            if compared {
                rec.extend(NUMBERS.iter().map(|_| Value::Null));
            }
            records.push(rec);
        }
    }
    Table { header, records }
}

fn funnels(a: &Value) -> Table {
    const STEP: [&str; 10] = [
        "step",
        "label",
        "event",
        "page",
        "suppressed",
        "visits",
        "visitors",
        "conversion_rate",
        "dropoff",
        "dropoff_rate",
    ];
    let mut header = names(["funnel"]);
    header.extend(names(STEP));
    let mut records = Vec::new();
    for f in a["funnels"].as_array().into_iter().flatten() {
        for s in f["steps"].as_array().into_iter().flatten() {
            let mut rec = vec![f["name"].clone()];
            rec.extend(pick(s, &STEP));
            records.push(rec);
        }
    }
    Table { header, records }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    fn fmt(endpoint: &str, query: &str, h: &HeaderMap) -> Result<Format, HttpError> {
        negotiate(endpoint, &Params::parse(query), h)
    }

    #[test]
    fn format_wins_over_accept_and_accept_is_weighed() {
        let none = HeaderMap::new();
        let csv = accept("text/csv");
        assert_eq!(fmt("breakdown", "", &none), Ok(Format::Json));
        assert_eq!(fmt("breakdown", "format=csv", &none), Ok(Format::Csv));
        assert_eq!(fmt("breakdown", "format=json", &csv), Ok(Format::Json));
        assert_eq!(fmt("breakdown", "", &csv), Ok(Format::Csv));
        let cases = [
            ("*/*", Format::Json),
            ("text/csv, application/json", Format::Json),
            ("application/json;q=0.5, text/csv", Format::Csv),
            ("text/csv;q=0.5, application/json", Format::Json),
            ("TEXT/CSV; charset=utf-8", Format::Csv),
            ("text/csv;q=0", Format::Json),
            ("text/*, application/json;q=0.9", Format::Csv),
            (
                "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
                Format::Json,
            ),
            // The most specific range decides: text/csv is refused here.
            ("text/csv;q=0, */*", Format::Json),
            ("text/csv;q=2", Format::Json),
            ("text/csv;q=0.1234", Format::Json),
            ("text/csv;q=0.001, application/json;q=0", Format::Csv),
            ("image/png", Format::Json),
        ];
        for (a, want) in cases {
            assert_eq!(fmt("timeseries", "", &accept(a)), Ok(want), "{a}");
        }
        let err = fmt("breakdown", "format=xml", &none).unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert!(err.to_string().contains("`format`"), "{err}");
    }

    #[test]
    fn endpoints_without_a_table_refuse_csv_only_when_asked_for_it_alone() {
        let none = HeaderMap::new();
        for e in ["site", "realtime", "consent", "openapi.json"] {
            let err = fmt(e, "format=csv", &none).unwrap_err();
            assert!(err.to_string().contains(ONLY), "{err}");
            assert!(fmt(e, "", &accept("text/csv")).is_err());
            assert_eq!(
                fmt(e, "", &accept("text/csv, application/json;q=0.1")),
                Ok(Format::Json)
            );
            assert_eq!(fmt(e, "", &accept("text/*")), Ok(Format::Json));
            assert_eq!(fmt(e, "format=json", &accept("text/csv")), Ok(Format::Json));
        }
    }

    #[test]
    fn qvalues_parse_as_rfc_9110_writes_them() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.05"), Some(50));
        assert_eq!(parse_q("0"), Some(0));
        for bad in ["1.5", "2", "0.5000", "-0", "x", "", ".5"] {
            assert_eq!(parse_q(bad), None, "{bad}");
        }
    }

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        let t = Table {
            header: names(["value", "visitors", "other"]),
            records: vec![
                vec![json!("/a,\"b\"\nc"), json!(3), json!(false)],
                vec![json!("=1+1"), json!(-0.25), json!(null)],
                vec![json!("@SUM(A1)"), json!(0.5), json!(true)],
                vec![json!("+x"), json!(1), json!(null)],
                vec![json!("-x"), json!(1), json!(null)],
                vec![json!("\tx"), json!(1), json!(null)],
                vec![json!("\rx"), json!(1), json!(null)],
                vec![json!("a'b=c"), json!(1), json!(null)],
            ],
        };
        assert_eq!(
            t.render().unwrap(),
            "value,visitors,other\r\n\"/a,\"\"b\"\"\nc\",3,false\r\n'=1+1,-0.25,\r\n'@SUM(A1),0.5,true\r\n\
             '+x,1,\r\n'-x,1,\r\n'\tx,1,\r\n\"'\rx\",1,\r\na'b=c,1,\r\n"
        );
    }

    #[test]
    fn file_names_are_sanitised() {
        let a = json!({"site": "ex ample\"/..\\com", "dimension": "page", "from": "2026-03-01", "to": "2026-03-02"});
        assert_eq!(
            filename("breakdown", &a),
            "ex_ample__.._com-breakdown-page-2026-03-01-2026-03-02.csv"
        );
        assert_eq!(
            filename("goals", &a),
            "ex_ample__.._com-goals-2026-03-01-2026-03-02.csv"
        );
    }

    #[test]
    fn a_breakdown_renders_its_rows_and_other_marked() {
        let a = json!({
            "site": "s", "dimension": "prop", "from": "2026-03-01", "to": "2026-03-01",
            "comparison": "previous",
            "rows": [{"event": "signup", "key": "plan", "value": "free", "visitors": 3, "events": 4,
                      "previous": {"visitors": 2, "events": 2}}],
            "other": {"value": "(other)", "visitors": 2, "events": 2, "groups": 5},
        });
        let t = table("breakdown", &a).unwrap();
        assert_eq!(
            t.render().unwrap(),
            "event,key,value,visitors,events,previous_visitors,previous_events,other,groups\r\n\
             signup,plan,free,3,4,2,2,false,\r\n,,(other),2,2,,,true,5\r\n"
        );
    }

    #[test]
    fn suppressed_buckets_are_empty_cells() {
        let a = json!({
            "filters": ["page:/a"], "comparison": "previous", "previous": null,
            "buckets": [
                {"label": "2026-03-01", "start": 1, "visitors": 5, "pageviews": 7, "events": 0,
                 "time_on_page": null, "scroll_depth": null, "suppressed": false},
                {"label": "2026-03-02", "start": 2, "suppressed": true},
            ],
        });
        let t = table("timeseries", &a).unwrap();
        assert_eq!(
            t.header[..7],
            names([
                "label",
                "start",
                "visitors",
                "pageviews",
                "events",
                "time_on_page",
                "scroll_depth"
            ])[..]
        );
        let csv = t.render().unwrap();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[1], "2026-03-01,1,5,7,0,,,false,,,,,,,,true");
        assert_eq!(lines[2], "2026-03-02,2,,,,,,true,,,,,,,,true");
    }
}
