#!/usr/bin/env bash
# Real-browser test of the tracker script: headless Chromium (Debian's package)
# driven by playwright-core loads a test site that embeds /t.js from a real
# `veil serve`, and tests/browser/*.test.mjs checks every scenario in ClickHouse.
#
# Installs what is missing (chromium, npm, the pinned playwright-core from
# tests/browser/package-lock.json), builds the debug binary when it is out of
# date, creates a fresh database name, runs `node --test tests/browser/`, and drops
# the database afterwards. Screenshots and veil's log go to
# target/browser-artifacts/.
#
# Environment:
#   VEIL_TEST_CLICKHOUSE_URL  ClickHouse HTTP URL; when unset, the private
#                             ClickHouse of scripts/lib.sh is used (and started,
#                             and stopped again, if it is not running)
#   VEIL_BIN                  veil binary to test instead of building one
#   VEIL_BROWSER_ARTIFACTS    where screenshots and logs go
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

started=$SECONDS
VEIL_CH_STARTED=0
db=""

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n "$db" ]]; then
        curl -sS --max-time 30 --data-binary "DROP DATABASE IF EXISTS $db" "$VEIL_TEST_CLICKHOUSE_URL/" >/dev/null ||
            warn "could not drop database $db"
    fi
    if [[ "$VEIL_CH_STARTED" == 1 ]]; then
        clickhouse_stop || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_apt_packages chromium
command -v npm >/dev/null 2>&1 || ensure_apt_packages npm
command -v curl >/dev/null 2>&1 || ensure_apt_packages curl
[[ -x /usr/bin/chromium ]] || die "chromium is installed but /usr/bin/chromium is missing"

t=$SECONDS
say "npm ci (tests/browser: playwright-core, pinned)"
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci in tests/browser failed"
say "npm ci took $((SECONDS - t))s"

if [[ -z "${VEIL_BIN:-}" ]]; then
    ensure_cargo
    t=$SECONDS
    # The binary `cargo test` builds for the integration tests: a plain `cargo build`
    # would compile every crate again without the dev-dependency features, while
    # this is a no-op right after scripts/test.sh's cargo test step.
    say "cargo test --no-run --test it (debug veil binary)"
    VEIL_BIN="$(cargo test --quiet --no-run --test it --message-format=json |
        node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.split("\n")){
            const m=l.startsWith("{")?JSON.parse(l):{};
            if(m.reason==="compiler-artifact"&&m.target.kind.includes("bin")&&m.target.name==="veil"&&m.executable)console.log(m.executable)}})')"
    say "build took $((SECONDS - t))s"
fi
[[ -x "$VEIL_BIN" ]] || die "no veil binary at $VEIL_BIN"
export VEIL_BIN

if [[ -z "${VEIL_TEST_CLICKHOUSE_URL:-}" ]]; then
    clickhouse_start
    VEIL_TEST_CLICKHOUSE_URL="$VEIL_CH_URL"
fi
export VEIL_TEST_CLICKHOUSE_URL

db="veil_browser_$$_$(date +%s)"
export VEIL_BROWSER_DB="$db"
say "VEIL_BIN=$VEIL_BIN VEIL_TEST_CLICKHOUSE_URL=$VEIL_TEST_CLICKHOUSE_URL VEIL_BROWSER_DB=$db"

t=$SECONDS
node --test tests/browser/
say "browser tests took $((SECONDS - t))s ($((SECONDS - started))s with setup)"
