#!/usr/bin/env python3
# veil's SQL on both engines: replays the plan `veil-bench sql-plan` writes
# (every migration, v1 -> v2 conversion included, the day close and every stats
# query over a small fixed data set) on ClickHouse 18.16 over HTTP and on the
# current engine embedded in the PyPI package chdb-core, step by step in the same
# order, and compares the answers of the `compare` steps.
#
# Usage: scripts/chdb-check.py PLAN.json
#
# Environment:
#   VEIL_CH_HTTP_PORT   port of the 18.16 server on 127.0.0.1 (default 18123)
#
# Prints `ok NAME (N rows)` / `DIFF NAME` (with both outputs) per compared query, any
# statement error with its engine and SQL, then `chdb check: N passed, M failed`.
# Exits 1 on any difference or error. The database veil_chdb_check is dropped
# before the run on the server, and again at the end when everything passed
# (kept for inspection otherwise). Python 3.11, stdlib + chdb only.

import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

DATABASE = "veil_chdb_check"
FORMAT = "TabSeparated"
# Lines of each output shown for a DIFF, characters of SQL shown for an error.
SHOW_LINES = 25
SHOW_SQL = 1500

# Both engines label DateTime values without an explicit zone in their own
# zone; the test server runs in UTC, so the embedded engine does too.
os.environ["TZ"] = "UTC"
time.tzset()

from chdb import session  # noqa: E402  (after TZ, which the engine reads at load)


class EngineError(Exception):
    def __init__(self, engine, message):
        super().__init__(message)
        self.engine = engine
        self.message = message


class Server:
    """ClickHouse 18.16 over HTTP: the whole statement in the POST body."""

    name = "ClickHouse 18.16 (HTTP)"

    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/"

    def run(self, sql, database=None):
        params = {"default_format": FORMAT}
        if database:
            params["database"] = database
        req = urllib.request.Request(
            self.url + "?" + urllib.parse.urlencode(params),
            data=sql.encode(),
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.read().decode()
        except urllib.error.HTTPError as e:
            raise EngineError(self.name, e.read().decode(errors="replace").strip()) from None
        except OSError as e:
            raise EngineError(self.name, f"cannot reach {self.url}: {e}") from None


class Embedded:
    """The current engine, in process (chdb-core has no server)."""

    def __init__(self, path):
        self.session = session.Session(path)
        version = self.session.query("SELECT version()", FORMAT).bytes().decode().strip()
        self.name = f"ClickHouse {version} (chdb)"

    def run(self, sql):
        try:
            res = self.session.query(sql, FORMAT)
        except Exception as e:  # chdb raises RuntimeError, or others, for SQL errors
            raise EngineError(self.name, str(e).strip()) from None
        if hasattr(res, "has_error") and res.has_error():
            raise EngineError(self.name, res.error_message().strip())
        return res.bytes().decode()

    def close(self):
        self.session.close()


def top_level_order_by(sql):
    """Whether the outermost SELECT sorts its rows; otherwise row order is
    whatever the engine's threads produced, and rows are compared as a set."""
    depth, i, n = 0, 0, len(sql)
    upper = sql.upper()
    while i < n:
        c = sql[i]
        if c in "'`\"":
            i += 1
            while i < n and sql[i] != c:
                i += 2 if sql[i] == "\\" else 1
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and upper.startswith("ORDER BY", i) and (i == 0 or not sql[i - 1].isalnum()):
            return True
        i += 1
    return False


def shorten(sql):
    return sql if len(sql) <= SHOW_SQL else sql[:SHOW_SQL] + f" … ({len(sql) - SHOW_SQL} more characters)"


def show(label, out):
    lines = out.splitlines()
    print(f"  --- {label} ({len(lines)} lines)")
    for line in lines[:SHOW_LINES]:
        print("  " + line)
    if len(lines) > SHOW_LINES:
        print(f"  … {len(lines) - SHOW_LINES} more lines")


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return f"line {i + 1}: {x!r} vs {y!r}"
    return f"line {min(len(a), len(b)) + 1}: one output ends ({len(a)} vs {len(b)} lines)"


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} PLAN.json", file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        plan = json.load(f)
    old = Server(os.environ.get("VEIL_CH_HTTP_PORT", "18123"))
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="veil-chdb-") as tmp:
        new = Embedded(tmp)
        try:
            old.run(f"DROP DATABASE IF EXISTS {DATABASE}")
            old.run(f"CREATE DATABASE {DATABASE}")
            new.run(f"CREATE DATABASE {DATABASE}")
            new.run(f"USE {DATABASE}")
        except EngineError as e:
            print(f"ERROR setting up the database on {e.engine}: {e.message}")
            print("chdb check: 0 passed, 1 failed")
            return 1
        print(f"replaying {len(plan)} steps on {old.name} and {new.name}")
        for i, step in enumerate(plan):
            name, sql, compare = step["name"], step["sql"], step["compare"]
            outs, errors = [], []
            for run in (lambda: old.run(sql, DATABASE), lambda: new.run(sql)):
                try:
                    outs.append(run())
                except EngineError as e:
                    errors.append(e)
            if errors:
                failed += 1
                for e in errors:
                    print(f"ERROR {name} on {e.engine}:\n  {e.message}\n  SQL: {shorten(sql)}")
                if not compare:
                    # A statement that changed one engine's state and not the
                    # other's makes every later answer differ: stop here.
                    print(f"stopped at step {i + 1} of {len(plan)} ({name}): the engines' data differ from here on")
                    break
                continue
            if not compare:
                continue
            a, b = outs
            ordered = top_level_order_by(sql)
            la, lb = a.splitlines(), b.splitlines()
            same = la == lb if ordered else sorted(la) == sorted(lb)
            if same:
                passed += 1
                print(f"ok {name} ({len(la)} rows)")
            else:
                failed += 1
                if not ordered:
                    la, lb = sorted(la), sorted(lb)
                print(f"DIFF {name} ({'rows in order' if ordered else 'rows as a set'}; {first_difference(la, lb)})")
                show(old.name, a)
                show(new.name, b)
                print(f"  SQL: {shorten(sql)}")
        new.close()
    if failed == 0:
        try:
            old.run(f"DROP DATABASE IF EXISTS {DATABASE}")
        except EngineError as e:
            print(f"ERROR dropping {DATABASE} on {e.engine}: {e.message}")
            failed += 1
    else:
        print(f"database {DATABASE} kept on {old.url} for inspection")
    print(f"chdb check: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
