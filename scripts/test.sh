#!/usr/bin/env bash
# veil's test command (CI runs it through .ci/run). Installs what is missing,
# starts the private ClickHouse (or reuses the one already running on the same
# ports), then: cargo fmt --check, cargo clippy -D warnings, cargo test (all of
# the workspace: veil and the veil-bench tools), veil's SQL replayed on the
# current ClickHouse engine (PyPI chdb-core) against 18.16, `veil audit` of
# a deployment fed through `veil serve`, the cluster test (scripts/cluster.sh
# test: ZooKeeper, 2 x 2 ClickHouse, 3 veil nodes, HAProxy, faults and loss
# checks), the dashboard in headless Chromium, and the stats API against its
# OpenAPI document with schemathesis (PyPI).
# Stops at the first failure with a non-zero exit. ClickHouse is stopped at
# the end only if this script started it.
#
# Environment:
#   VEIL_DATA_DIR, VEIL_CH_HTTP_PORT, VEIL_CH_TCP_PORT, VEIL_CH_INTERSERVER_PORT,
#   VEIL_CH_MAX_MEMORY, VEIL_CH_START_TIMEOUT, VEIL_CH_LOG_TAIL   see scripts/lib.sh
#   CI=true   on failure, also print ClickHouse's recent errors
# Installs for the tests: HAProxy (tests/it/proxy.rs; skipped without it unless
# CI=true), ZooKeeper (the cluster test).
#   VEIL_CLUSTER_*   passed on to scripts/cluster.sh (see there)
# Passed to the tests:
#   VEIL_TEST_CLICKHOUSE_URL=http://127.0.0.1:$VEIL_CH_HTTP_PORT
#   VEIL_TEST_GEO_DIR=$VEIL_DATA_DIR/geo
#   VEIL_PYTHON   a python with aiosmtpd (the e-mail report tests' SMTP server)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# One ordered stream, so that the test summary really is the last thing printed.
exec 2>&1

if [[ "${CI:-}" == true ]]; then
    export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
fi

test_log="$VEIL_DATA_DIR/cargo-test.log"
rm -f "$test_log"
current_step="" step_started=$SECONDS

# step TITLE COMMAND... — runs one step under a header, with its duration.
# Runs COMMAND plainly, so errexit stays in force inside it; a failure exits
# the script and on_exit names the step.
step() {
    current_step="$1"
    shift
    step_started=$SECONDS
    printf '\n=== %s\n' "$current_step" >&2
    "$@"
    printf '=== ok: %s (%ds)\n' "$current_step" "$((SECONDS - step_started))" >&2
    current_step=""
}

# Adds up cargo's per-binary "test result:" lines into one line of the same form.
test_summary() {
    [[ -f "$test_log" ]] || return 0
    awk '
        /^test result: / {
            for (i = 1; i <= NF; i++) {
                if ($(i+1) ~ /^passed;?$/)   passed   += $i
                if ($(i+1) ~ /^failed;?$/)   failed   += $i
                if ($(i+1) ~ /^ignored;?$/)  ignored  += $i
                if ($(i+1) ~ /^measured;?$/) measured += $i
                if ($(i+1) == "filtered")    filtered += $i
                if ($i == "in") { t = $(i+1); sub(/s$/, "", t); secs += t }
            }
            if ($3 != "ok.") bad = 1
        }
        END {
            status = (bad || failed) ? "FAILED" : "ok"
            printf "tests: %d passed, %d failed, %d skipped\n", passed, failed, ignored
            printf "test result: %s. %d passed; %d failed; %d ignored; %d measured; %d filtered out; finished in %.2fs\n",
                status, passed, failed, ignored, measured, filtered, secs
        }' "$test_log"
}

on_exit() {
    local rc=$?
    trap - EXIT INT TERM
    if ((rc != 0)); then
        printf '\n=== FAILED: %s (exit %d after %ds; %ds in all)\n' \
            "${current_step:-test.sh}" "$rc" "$((SECONDS - step_started))" "$SECONDS" >&2
        if [[ "${CI:-}" == true ]]; then
            clickhouse_error_tail
        fi
    fi
    if [[ "${VEIL_CH_STARTED:-0}" == 1 ]]; then
        clickhouse_stop || true
    fi
    if ((rc != 0)) && [[ -f "$test_log" ]]; then
        test_summary
    fi
    exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "provision: Debian packages" \
    ensure_apt_packages clickhouse-server clickhouse-client curl ca-certificates gcc pkg-config openssl
step "provision: Rust toolchain" ensure_cargo
step "provision: rustfmt and clippy" ensure_cargo_components
step "provision: GeoLite2 City data" ensure_geo_db
step "provision: ClickHouse on 127.0.0.1:$VEIL_CH_HTTP_PORT" clickhouse_start
# The e-mail report tests (tests/it/reports.rs) start scripts/smtp-sink.py with
# $VEIL_PYTHON, and openssl makes their STARTTLS certificates.
step "provision: Python with chdb-core and aiosmtpd" ensure_aiosmtpd
# The proxy test (tests/it/proxy.rs) starts a real HAProxy in front of veil.
step "provision: HAProxy" ensure_haproxy

export VEIL_TEST_CLICKHOUSE_URL="$VEIL_CH_URL"
export VEIL_TEST_GEO_DIR="$VEIL_GEO_DIR"
say "VEIL_TEST_CLICKHOUSE_URL=$VEIL_TEST_CLICKHOUSE_URL VEIL_TEST_GEO_DIR=$VEIL_TEST_GEO_DIR"

step "cargo fmt --all -- --check" cargo fmt --all -- --check
step "cargo clippy --workspace --all-targets -- -D warnings" cargo clippy --workspace --all-targets -- -D warnings

run_tests() {
    cargo test --workspace --all-targets 2>&1 | tee "$test_log"
}
step "cargo test --workspace --all-targets" run_tests

# chdb_check — veil's SQL must run, and answer alike, on the test server's
# ClickHouse 18.16 and on a current release: `veil-bench sql-plan` writes every
# migration (v1 → v2 conversion included), the day close and every stats query
# over a small fixed data set; scripts/chdb-check.py replays it on both (database
# veil_chdb_check on the server, the engine of the PyPI package chdb-core in
# process) and compares the answers. The database is kept on failure.
chdb_check() {
    ensure_chdb
    local plan="$VEIL_DATA_DIR/sql-plan.json"
    cargo run --quiet -p veil-bench -- sql-plan --out "$plan"
    "$VEIL_PYTHON" scripts/chdb-check.py "$plan"
}
step "SQL on the current engine (chdb-core)" chdb_check
step "browser tests (headless Chromium)" bash scripts/browser-test.sh

# audit_deployment — `veil audit` on a real deployment: a fresh database
# veil_ci_audit, `veil serve` on a free loopback port fed a few pixels through a
# trusted proxy (127.0.0.1), a site appended to its file and SIGHUP (the reload
# must reach generation 2 and collect the new site), stopped with SIGTERM (it
# flushes on exit), then `veil audit` with the same config must exit 0. Runs the binary cargo test just
# built (`cargo run` builds nothing new). The database is dropped on success and
# kept for inspection on failure; veil's log is in $VEIL_DATA_DIR/ci-audit.
audit_deployment() (
    local db=veil_ci_audit dir="$VEIL_DATA_DIR/ci-audit" port="" pid="" i code pv
    local -a veil=(cargo run --quiet --bin veil --)
    # Only the config file speaks: no VEIL_SECTION__KEY override from the caller.
    while IFS='=' read -r name _; do
        if [[ "$name" == VEIL_*__* ]]; then unset "$name"; fi
    done < <(env)
    unset VEIL_CONFIG
    ch() { curl -sS --max-time 30 "$VEIL_CH_URL/" --data-binary "$1"; }
    # shellcheck disable=SC2317 # called by the EXIT trap
    cleanup() {
        if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    }
    trap cleanup EXIT
    fail() {
        [[ -s "$dir/serve.log" ]] && printf -- '--- tail of %s:\n%s\n' "$dir/serve.log" "$(tail -n 20 "$dir/serve.log")" >&2
        die "$* (database $db kept for inspection)"
    }

    for i in $(shuf -i 20000-29999 -n 50); do
        if ! _veil_port_open "$i"; then port="$i" && break; fi
    done
    [[ -n "$port" ]] || die "no free loopback port found in 20000-29999"
    rm -rf "$dir" && mkdir -p "$dir"
    cat >"$dir/veil.toml" <<EOF_CONFIG
[server]
listen = "127.0.0.1:$port"
trusted_proxies = ["127.0.0.1"]

[clickhouse]
url = "$VEIL_CH_URL"
database = "$db"

[geo]
paths = ['$VEIL_ROOT/geo/testdata/GeoLite2-City-Test.mmdb']

[salt]
state_file = '$dir/salt.json'

[pipeline]
flush_interval_ms = 500
shutdown_deadline_ms = 10000

[[sites]]
id = "example.com"
consent = { preset = "eu-strict" }
EOF_CONFIG

    ch "DROP DATABASE IF EXISTS $db" || die "cannot reach ClickHouse at $VEIL_CH_URL"
    "${veil[@]}" --config "$dir/veil.toml" migrate || die "veil migrate failed"

    say "veil serve on 127.0.0.1:$port (log: $dir/serve.log)"
    "${veil[@]}" --config "$dir/veil.toml" serve >"$dir/serve.log" 2>&1 &
    pid=$!
    for ((i = 0; i < 100; i++)); do
        [[ "$(curl -s --max-time 1 "http://127.0.0.1:$port/health" 2>/dev/null)" == ok* ]] && break
        kill -0 "$pid" 2>/dev/null || fail "veil serve exited during startup"
        sleep 0.2
    done
    ((i < 100)) || fail "veil serve did not answer /health within 20s"

    local -a ips=(81.2.69.142 216.160.83.56 2001:480::1 89.160.20.128)
    local -a uas=(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
        "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    )
    for i in "${!ips[@]}"; do
        code="$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' \
            -A "${uas[i % 2]}" -H "X-Forwarded-For: ${ips[i]}" \
            -H "Accept-Language: en" -H "Sec-Fetch-Mode: no-cors" \
            "http://127.0.0.1:$port/p.gif?s=example.com&u=https%3A%2F%2Fexample.com%2Fci%3Fq%3D1&w=1280&c=analytics")" ||
            fail "pixel request failed"
        [[ "$code" == 200 ]] || fail "pixel answered HTTP $code"
    done

    # SIGHUP reloads the file: a site added to it is collected without a restart.
    cat >>"$dir/veil.toml" <<EOF_SITE

[[sites]]
id = "added.example"
consent = { preset = "us-opt-out" }
EOF_SITE
    kill -HUP "$pid"
    for ((i = 0; i < 50; i++)); do
        [[ "$(curl -s --max-time 2 "http://127.0.0.1:$port/metrics" | awk '$1 == "veil_config_generation" {print $2}')" == 2 ]] && break
        sleep 0.2
    done
    ((i < 50)) || fail "veil_config_generation did not become 2 within 10 s of SIGHUP"
    curl -sS --max-time 5 -o /dev/null -A "${uas[0]}" -H "X-Forwarded-For: ${ips[0]}" \
        -H "Accept-Language: en" -H "Sec-Fetch-Mode: no-cors" \
        "http://127.0.0.1:$port/p.gif?s=added.example&u=https%3A%2F%2Fadded.example%2F" ||
        fail "pixel request for the reloaded site failed"

    kill -TERM "$pid"
    for ((i = 0; i < 150; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && fail "veil serve still running 30s after SIGTERM"
    wait "$pid" || fail "veil serve exited with status $? after SIGTERM"
    pid=""

    pv="$(ch "SELECT sumMerge(pageviews) FROM $db.open_aggregates WHERE site = 'example.com' AND dim = 'total'")" ||
        fail "cannot read the aggregates"
    [[ "$pv" == "${#ips[@]}" ]] || fail "expected ${#ips[@]} pageviews in $db.open_aggregates after the flush, found '${pv}'"
    say "$pv pageviews stored; running veil audit"
    pv="$(ch "SELECT sumMerge(pageviews) FROM $db.open_aggregates WHERE site = 'added.example' AND dim = 'total'")" ||
        fail "cannot read the aggregates"
    [[ "$pv" == 1 ]] || fail "expected the site added by SIGHUP to have 1 pageview, found '${pv}'"
    say "the site added by SIGHUP was collected; running veil audit"

    "${veil[@]}" --config "$dir/veil.toml" audit || fail "veil audit failed"
    ch "DROP DATABASE IF EXISTS $db" || die "cannot drop $db"
)
step "veil audit after an end-to-end run" audit_deployment

# cluster_test — `scripts/cluster.sh test` (README "Cluster"): ZooKeeper, four
# ClickHouse servers (2 shards x 2 replicas), three veil nodes and HAProxy, each
# on its own ports (29100 and up; the suite's server on $VEIL_CH_HTTP_PORT is left
# alone), every scenario with its exact loss check; a failed scenario fails the
# step. Runs the debug binaries the steps above built (cargo test, cargo run),
# without another cargo build, and with shorter loads than the script's
# defaults: under 5 minutes on 2 cores (README "Cluster").
cluster_test() {
    ensure_apt_packages zookeeper python3
    ensure_haproxy
    local bin="${CARGO_TARGET_DIR:-$VEIL_ROOT/target}/debug"
    if [[ ! -x "$bin/veil" || ! -x "$bin/veil-bench" ]]; then
        cargo build --quiet -p veil -p veil-bench
    fi
    VEIL_CLUSTER_PROFILE=debug VEIL_CLUSTER_BUILD=0 \
        VEIL_CLUSTER_REQUESTS="${VEIL_CLUSTER_REQUESTS:-6000}" \
        VEIL_CLUSTER_LOAD_SECS="${VEIL_CLUSTER_LOAD_SECS:-10}" \
        VEIL_CLUSTER_SHARD_SECS="${VEIL_CLUSTER_SHARD_SECS:-10}" \
        VEIL_CLUSTER_ROLL_REQUESTS="${VEIL_CLUSTER_ROLL_REQUESTS:-8000}" \
        VEIL_CLUSTER_KILL_CHECK_SECS="${VEIL_CLUSTER_KILL_CHECK_SECS:-6}" \
        bash scripts/cluster.sh test
}
step "cluster: ZooKeeper, 2 x 2 ClickHouse, 3 veil nodes, HAProxy (scripts/cluster.sh test)" cluster_test
step "dashboard in headless Chromium (node --test)" scripts/dashboard-test.sh
step "stats API against its OpenAPI document (schemathesis)" bash scripts/schemathesis.sh

# Success: stop ClickHouse now (if we started it), so that the last lines
# printed are the test summary.
if [[ "${VEIL_CH_STARTED:-0}" == 1 ]]; then
    clickhouse_stop
    VEIL_CH_STARTED=0
fi
printf '\n=== all steps passed in %ds\n' "$SECONDS" >&2
test_summary
