#!/usr/bin/env bash
# Headless Chromium tests of the dashboard (tests/dashboard/*.test.mjs, run with
# `node --test`, one file at a time): dashboard.test.mjs (seeded data, every card)
# and first-run.test.mjs (scripts/run.sh's first run: the printed test hit and
# dashboard link).
#
# Installs what is missing (Debian `chromium` and `nodejs`/`npm`, the npm packages
# from tests/dashboard/package-lock.json), builds veil and veil-bench (which seeds
# the data), and runs the test against
# the ClickHouse at $VEIL_TEST_CLICKHOUSE_URL (scripts/test.sh starts one; run
# alone, this script starts the private one itself). Screenshots are written to
# target/dashboard-artifacts/.
#
# Environment:
#   VEIL_BIN                  veil binary to test (default: cargo build, debug)
#   VEIL_BENCH_BIN            veil-bench binary that seeds (default: cargo build, debug)
#   VEIL_TEST_CLICKHOUSE_URL  ClickHouse HTTP URL (default: the private server)
#   CHROMIUM                  browser binary (default /usr/bin/chromium)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

ensure_apt_packages chromium ca-certificates
# Node may come from Debian or from NodeSource (which bundles npm): only install
# Debian's packages when the commands are missing.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    ensure_apt_packages nodejs npm
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
((node_major >= 20)) || die "node $node_major is too old for playwright-core: node 20 or newer is needed"
if [[ -z "${VEIL_TEST_CLICKHOUSE_URL:-}" ]]; then
    ensure_apt_packages clickhouse-server clickhouse-client
    clickhouse_start
    trap '[[ "${VEIL_CH_STARTED:-0}" == 1 ]] && clickhouse_stop' EXIT
    export VEIL_TEST_CLICKHOUSE_URL="$VEIL_CH_URL"
fi
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
export VEIL_BIN VEIL_BENCH_BIN CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
mkdir -p target/dashboard-artifacts

cd tests/dashboard
# A clean install from the lock file, skipped when it is already in place.
if ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
    npm ci --no-audit --no-fund >&2
fi
node --test --test-concurrency=1
