#!/usr/bin/env bash
# veil's test command (CI runs it through .ci/run). Installs what is missing,
# starts the private ClickHouse (or reuses the one already running on the same
# ports), then: cargo fmt --check, cargo clippy -D warnings, cargo test.
# Stops at the first failure with a non-zero exit. ClickHouse is stopped at
# the end only if this script started it.
#
# Environment:
#   VEIL_DATA_DIR, VEIL_CH_HTTP_PORT, VEIL_CH_TCP_PORT, VEIL_CH_INTERSERVER_PORT,
#   VEIL_CH_MAX_MEMORY, VEIL_CH_START_TIMEOUT, VEIL_CH_LOG_TAIL   see scripts/lib.sh
#   CI=true   on failure, also print ClickHouse's recent errors
# Passed to the tests:
#   VEIL_TEST_CLICKHOUSE_URL=http://127.0.0.1:$VEIL_CH_HTTP_PORT
#   VEIL_TEST_GEO_DIR=$VEIL_DATA_DIR/geo
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
    ensure_apt_packages clickhouse-server clickhouse-client curl ca-certificates gcc pkg-config
step "provision: Rust toolchain" ensure_cargo
step "provision: rustfmt and clippy" ensure_cargo_components
step "provision: GeoLite2 City data" ensure_geo_db
step "provision: ClickHouse on 127.0.0.1:$VEIL_CH_HTTP_PORT" clickhouse_start

export VEIL_TEST_CLICKHOUSE_URL="$VEIL_CH_URL"
export VEIL_TEST_GEO_DIR="$VEIL_GEO_DIR"
say "VEIL_TEST_CLICKHOUSE_URL=$VEIL_TEST_CLICKHOUSE_URL VEIL_TEST_GEO_DIR=$VEIL_TEST_GEO_DIR"

step "cargo fmt --all -- --check" cargo fmt --all -- --check
step "cargo clippy --all-targets -- -D warnings" cargo clippy --all-targets -- -D warnings

run_tests() {
    cargo test --all-targets 2>&1 | tee "$test_log"
}
step "cargo test --all-targets" run_tests
step "dashboard in headless Chromium (node --test)" scripts/dashboard-test.sh

# Success: stop ClickHouse now (if we started it), so that the last lines
# printed are the test summary.
if [[ "${VEIL_CH_STARTED:-0}" == 1 ]]; then
    clickhouse_stop
    VEIL_CH_STARTED=0
fi
printf '\n=== all steps passed in %ds\n' "$SECONDS" >&2
test_summary
