#!/usr/bin/env bash
# The stats API against its own OpenAPI document, with schemathesis (PyPI).
#
# Installs schemathesis into the project's virtualenv ($VEIL_DATA_DIR/py, see
# ensure_python_package in scripts/lib.sh), builds veil and veil-bench (debug),
# seeds two weeks of data for a site that is not public (its API key goes to
# schemathesis as an `Authorization` header) in a fresh database, starts veil
# on a free loopback port and runs `schemathesis run` against
# /api/v1/openapi.json with a bounded number of examples per operation. Exits
# non-zero when a check fails:
#   not_a_server_error         no 5xx
#   status_code_conformance    every status answered is documented
#   content_type_conformance   every media type answered is documented
#   response_schema_conformance  every body matches its documented schema
#   positive_data_acceptance   a request the document allows is not refused
#   unsupported_method, allow_header_conformance
#                              an undocumented method gets 405 with `Allow`
#                              listing what the path answers
# The rules the document states in words only (`to` not before `from`, ranges
# of at most 1098 days, hourly buckets for at most 31 days, `sort` by a metric
# the dimension has, `event` with prop breakdowns, filters on two dimensions
# only through a declared pair) are taught to the generator by
# tests/schemathesis/hooks.py, so that positive cases respect them; the 400s
# answering their violations are documented and still checked.
#
# The database is dropped on success and kept on failure; veil's log and the
# JUnit report are in $VEIL_DATA_DIR/schemathesis.
#
# Environment:
#   VEIL_BIN                  veil binary (default: cargo build, debug)
#   VEIL_BENCH_BIN            veil-bench binary that seeds (default: cargo build, debug)
#   VEIL_TEST_CLICKHOUSE_URL  ClickHouse HTTP URL (default: the private server)
#   VEIL_SCHEMATHESIS_EXAMPLES  examples per operation and phase (default 100)
#   VEIL_SCHEMATHESIS_SEED      generator seed (default 7: the same cases each run)
#   VEIL_SCHEMATHESIS_ARGS      more `schemathesis run` arguments (split on spaces)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# Pinned to a major version: the CLI, the check names and the hook API used
# here are those of schemathesis 4.
SCHEMATHESIS_REQUIREMENT='schemathesis>=4.3,<5'
examples="${VEIL_SCHEMATHESIS_EXAMPLES:-100}"
seed="${VEIL_SCHEMATHESIS_SEED:-7}"
site=example.com
key="schemathesis-key-$$-$RANDOM"
db="veil_schemathesis_$$"
dir="$VEIL_DATA_DIR/schemathesis"

ensure_apt_packages curl ca-certificates
ensure_python_package "$SCHEMATHESIS_REQUIREMENT"
st="$VEIL_VENV/bin/schemathesis"
[[ -x "$st" ]] || die "schemathesis is installed but $st is missing"

started_ch=0
if [[ -z "${VEIL_TEST_CLICKHOUSE_URL:-}" ]]; then
    ensure_apt_packages clickhouse-server clickhouse-client
    clickhouse_start
    started_ch="$VEIL_CH_STARTED"
    VEIL_TEST_CLICKHOUSE_URL="$VEIL_CH_URL"
fi
ch_url="$VEIL_TEST_CLICKHOUSE_URL"
if [[ -z "${VEIL_BIN:-}" || -z "${VEIL_BENCH_BIN:-}" ]]; then
    ensure_cargo
fi
if [[ -z "${VEIL_BIN:-}" ]]; then
    cargo build --bin veil >&2
    VEIL_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/veil"
fi
if [[ -z "${VEIL_BENCH_BIN:-}" ]]; then
    cargo build -p veil-bench --bin veil-bench >&2
    VEIL_BENCH_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/veil-bench"
fi

# Only the config file written here speaks: no VEIL_SECTION__KEY from the caller.
while IFS='=' read -r name _; do
    if [[ "$name" == VEIL_*__* ]]; then unset "$name"; fi
done < <(env)
unset VEIL_CONFIG

pid=""
ok=0
ch() { curl -sS --max-time 30 "$ch_url/" --data-binary "$1"; }
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if ((ok)); then
        ch "DROP DATABASE IF EXISTS $db" >/dev/null || true
    else
        warn "database $db kept for inspection; veil's log: $dir/veil.log"
    fi
    if [[ "$started_ch" == 1 ]]; then
        clickhouse_stop || true
    fi
}
trap cleanup EXIT

rm -rf "$dir" && mkdir -p "$dir"
hash="$(printf '%s\n' "$key" | "$VEIL_BIN" hash-key)" || die "veil hash-key failed"
cat >"$dir/veil.toml" <<EOF
[server]
listen = "127.0.0.1:0"

[clickhouse]
url = "$ch_url"
database = "$db"

[salt]
state_file = '$dir/salt.json'

[pipeline]
flush_interval_ms = 500

# Generated cases that are refused (a 401) would otherwise soon throttle the
# address (a 429 for every case after, positive ones included); the throttle
# itself is tested in tests/it/strangers.rs.
[stats]
failed_auth_per_minute = 0

[[sites]]
id = "$site"
timezone = "Europe/Warsaw"
public_dashboard = false
api_keys = ["$hash"]
consent = { preset = "eu-exempt-audience" }
# What veil-bench seed generates (tools/src/seed.rs, SITE_DECLARATIONS).
goals = [
  { name = "Signup", event = "signup" },
  { name = "Pricing", page = "/pricing" },
  { name = "Purchase", event = "purchase" },
]
funnels = [
  { name = "Checkout", steps = [{ page = "/pricing" }, { event = "signup" }, { event = "purchase" }] },
]
EOF

say "seeding $site in database $db (14 days, 5000 pageviews a day)"
VEIL_LOG=warn "$VEIL_BENCH_BIN" seed -c "$dir/veil.toml" --site "$site" --days 14 \
    --pageviews-per-day 5000 --rng-seed 7 2>"$dir/seed.log" ||
    die "veil-bench seed failed: $(tail -n 20 "$dir/seed.log")"
if grep -q 'note: the seed writes' "$dir/seed.log"; then
    die "the site's declarations differ from what veil-bench seed generates: $(cat "$dir/seed.log")"
fi

say "starting veil (log: $dir/veil.log)"
VEIL_LOG_FORMAT=json VEIL_LOG=info "$VEIL_BIN" -c "$dir/veil.toml" serve 2>"$dir/veil.log" >/dev/null &
pid=$!
addr=""
for ((i = 0; i < 200; i++)); do
    addr="$(grep -m1 '"veil listening"' "$dir/veil.log" 2>/dev/null | grep -o '"addr":"[^"]*"' | cut -d'"' -f4 || true)"
    [[ -n "$addr" ]] && break
    kill -0 "$pid" 2>/dev/null || die "veil exited during startup: $(tail -n 20 "$dir/veil.log")"
    sleep 0.1
done
[[ -n "$addr" ]] || die "veil did not start within 20s: $(tail -n 20 "$dir/veil.log")"
base="http://$addr"
# The site's facts (pairs, cross filters, sort keys) for the hooks.
code="$(curl -s -o "$dir/site.json" -w '%{http_code}' -H "Authorization: Bearer $key" "$base/api/v1/site?site=$site")"
[[ "$code" == 200 ]] || die "GET /api/v1/site answered $code before the run"
say "veil listening on $base"

# The site is the seeded one (a random site id is only ever a 404); everything
# else is generated from the document.
cat >"$dir/schemathesis.toml" <<EOF
[parameters]
"query.site" = "$site"
EOF

# Extra arguments from the caller (word-split), e.g. --continue-on-failure.
read -r -a extra <<<"${VEIL_SCHEMATHESIS_ARGS:-}"
say "schemathesis $("$st" --version | awk '{print $NF}'): $examples examples per operation, seed $seed"
export SCHEMATHESIS_HOOKS=hooks VEIL_SCHEMATHESIS_SITE_JSON="$dir/site.json"
export PYTHONPATH="$VEIL_ROOT/tests/schemathesis${PYTHONPATH:+:$PYTHONPATH}"
# From $dir: schemathesis keeps its cache of past failures in ./.schemathesis,
# and replaying them would make a run depend on the ones before.
cd "$dir"
"$st" --config-file "$dir/schemathesis.toml" run "$base/api/v1/openapi.json" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,positive_data_acceptance,unsupported_method,allow_header_conformance \
    --header "Authorization: Bearer $key" \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" \
    --seed "$seed" \
    --workers 2 \
    --generation-database none \
    --request-timeout 30 \
    --no-color \
    --report junit --report-dir "$dir/report" \
    "${extra[@]}"
ok=1
