"""Schemathesis hooks for scripts/schemathesis.sh: the rules across parameters.

OpenAPI states each parameter on its own; the rules that tie two together are
in the document's words only (and in each parameter's description), and the
server answers their violation with a documented 400 naming the parameter:

* `to` not before `from`, at most 1098 days (3 x 366) after it;
* `interval=hour` for ranges of at most 31 days;
* `event` only with the `prop` and `marketing_prop` breakdowns;
* `sort` by a metric the rows have (`sorts` in `/site`, per dimension and per
  declared pair);
* a breakdown filtered by one other dimension only, through a declared pair
  (`cross_filters` in `/site`); `aggregate` and `timeseries` by two filters only
  on two dimensions whose pair is declared (`pairs`); goals `by` only with the
  pair `<by>*goal` declared.

A positive case (one the document says must be accepted) is brought within
those rules before it is sent, as a client that reads the descriptions and
`/api/v1/site` would: the dates are put in order and the range shortened, and a
parameter the rules exclude is dropped. Everything else — the values, the
enums, the patterns, the bounds — stays as generated, so every single-parameter
constraint of the document is still checked, and negative cases are untouched.

The `/api/v1/site` answer of the tested site is read from the file named by
VEIL_SCHEMATHESIS_SITE_JSON.
"""

from __future__ import annotations

import datetime
import json
import os

import schemathesis

with open(os.environ["VEIL_SCHEMATHESIS_SITE_JSON"], encoding="utf-8") as f:
    SITE = json.load(f)

MAX_RANGE_DAYS = 3 * 366
MAX_HOURLY_DAYS = 31
LAST_DAY = datetime.date(2199, 12, 31)
PROP_DIMENSIONS = {"prop", "marketing_prop"}
PAIRS = set(SITE["pairs"])
CROSS = {d: set(others) for d, others in SITE["cross_filters"].items()}
SORTS = {d: set(keys) for d, keys in SITE["sorts"].items()}


def _date(value):
    try:
        return datetime.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _pair(a: str, b: str) -> str | None:
    for p in (f"{a}*{b}", f"{b}*{a}"):
        if p in PAIRS:
            return p
    return None


def _filters(query: dict) -> list[str]:
    f = query.get("filter")
    if f is None:
        return []
    return list(f) if isinstance(f, (list, tuple)) else [f]


def _set_filters(query: dict, filters: list[str]) -> None:
    if filters:
        query["filter"] = filters
    else:
        query.pop("filter", None)


def _dim(f: str) -> str:
    return f.split(":", 1)[0]


def _range(query: dict, max_days: int) -> None:
    start, end = _date(query.get("from")), _date(query.get("to"))
    if start is None or end is None:
        return
    if end < start:
        start, end = end, start
    if (end - start).days + 1 > max_days:
        end = start + datetime.timedelta(days=max_days - 1)
        if end > LAST_DAY:
            end = LAST_DAY
            start = end - datetime.timedelta(days=max_days - 1)
    query["from"], query["to"] = start.isoformat(), end.isoformat()


def _group_filters(query: dict) -> None:
    """aggregate, timeseries: one filter, or two on the dimensions of a declared pair."""
    filters = _filters(query)
    if len(filters) == 2 and (_dim(filters[0]) == _dim(filters[1]) or not _pair(_dim(filters[0]), _dim(filters[1]))):
        filters = filters[:1]
    _set_filters(query, filters)


def _breakdown(query: dict) -> None:
    dim = query.get("dimension")
    if not isinstance(dim, str):
        return
    if dim not in PROP_DIMENSIONS:
        query.pop("event", None)
    # Filters on the dimension itself, and on one other one through its pair.
    other = None
    kept = []
    for f in _filters(query):
        d = _dim(f)
        if d == dim:
            kept.append(f)
        elif d in CROSS.get(dim, ()) and other in (None, d):
            other = d
            kept.append(f)
    _set_filters(query, kept)
    rows = _pair(dim, other) if other else dim
    if "sort" in query and query["sort"] not in SORTS.get(rows, ()):
        del query["sort"]


@schemathesis.hook
def map_case(context, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or case.query is None:
        return case
    path = case.operation.path
    query = case.query
    hourly = path.endswith("/timeseries") and query.get("interval") == "hour"
    _range(query, MAX_HOURLY_DAYS if hourly else MAX_RANGE_DAYS)
    if path.endswith(("/aggregate", "/timeseries")):
        _group_filters(query)
    elif path.endswith("/breakdown"):
        _breakdown(query)
    elif path.endswith("/goals"):
        by = query.get("by")
        if by is not None and not _pair(by, "goal"):
            del query["by"]
    return case
