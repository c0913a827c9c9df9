#!/usr/bin/env bash
# Floods a release veil with hostile traffic and samples its memory: every hit
# is a pixel pageview from a new visitor with a unique 30 KB referrer (not a
# host name), a unique 4 KB page and unique 1 KB campaign values (issue #15).
# Prints the RSS before, at the peak of and after the flood, once the visits
# have timed out (visit timeout shortened to 60 s here). Not run in CI.
#
#   scripts/flood.sh                      # 10 minutes
#   VEIL_FLOOD_SECS=120 scripts/flood.sh  # 2 minutes
#
# Environment (all optional):
#   VEIL_FLOOD_SECS         flood duration, seconds                     (600)
#   VEIL_FLOOD_BYTES        referrer length, bytes                      (30000)
#   VEIL_FLOOD_RATE         requests per second (open loop)             (1000)
#   VEIL_FLOOD_CONNECTIONS  concurrent connections                      (16)
#   VEIL_FLOOD_SAMPLE_SECS  seconds between RSS samples                 (5)
#   VEIL_FLOOD_PORT         veil's port on 127.0.0.1                    (18490)
#   VEIL_DATA_DIR, VEIL_CH_*  see scripts/lib.sh; CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

: "${VEIL_FLOOD_SECS:=600}"
: "${VEIL_FLOOD_BYTES:=30000}"
: "${VEIL_FLOOD_RATE:=1000}"
: "${VEIL_FLOOD_CONNECTIONS:=16}"
: "${VEIL_FLOOD_SAMPLE_SECS:=5}"
: "${VEIL_FLOOD_PORT:=18490}"

ensure_apt_packages curl
ensure_cargo
clickhouse_start

say "cargo build --release -p veil -p veil-bench"
cargo build --release -p veil -p veil-bench
bin="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/veil"
bench_bin="$(cd "${CARGO_TARGET_DIR:-target}/release" && pwd)/veil-bench"

out="$VEIL_DATA_DIR/flood/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
db="veil_flood_$(date -u +%Y%m%d%H%M%S)_$$"
target="http://127.0.0.1:$VEIL_FLOOD_PORT"
config="$out/flood.toml"
veil_pid=""

cleanup() {
    local rc=$?
    if [[ -n "$veil_pid" ]] && kill -0 "$veil_pid" 2>/dev/null; then
        kill -TERM "$veil_pid" 2>/dev/null || true
        wait "$veil_pid" 2>/dev/null || true
    fi
    curl -s --max-time 30 "$VEIL_CH_URL/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null || true
    if [[ "${VEIL_CH_STARTED:-0}" == 1 ]]; then
        clickhouse_stop || true
    fi
    exit "$rc"
}
trap cleanup EXIT

_veil_port_open "$VEIL_FLOOD_PORT" && die "port $VEIL_FLOOD_PORT is taken; choose another with VEIL_FLOOD_PORT"

cat >"$config" <<EOF
# Written by scripts/flood.sh.
[server]
listen = "127.0.0.1:$VEIL_FLOOD_PORT"
trusted_proxies = ["127.0.0.1"]

[clickhouse]
url = "$VEIL_CH_URL"
database = "$db"

[pipeline]
visit_timeout_secs = 60

[limits]
per_client_per_sec = 0

[spool]
dir = "$out/spool"

[[sites]]
id = "flood1"
hostnames = ["flood1.example"]
consent = { preset = "eu-exempt-audience" }
EOF

"$bin" migrate --config "$config" >&2
VEIL_LOG=warn "$bin" serve --config "$config" >>"$out/veil.log" 2>&1 &
veil_pid=$!
deadline=$((SECONDS + 30))
until curl -sf --max-time 1 "$target/ready" >/dev/null 2>&1; do
    kill -0 "$veil_pid" 2>/dev/null || die "veil exited at start; see $out/veil.log"
    ((SECONDS < deadline)) || die "veil not ready within 30 s; see $out/veil.log"
    sleep 0.2
done

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$veil_pid/status"; }
metric() { curl -sf --max-time 5 "$target/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
sample() {
    printf '%6ss  rss %7s KB  live %8s  interned %8s strings %10s bytes  folded %s\n' \
        "$1" "$(rss_kb)" "$(metric veil_live_visits)" "$(metric veil_interned_strings)" \
        "$(metric veil_interned_bytes)" "$(metric veil_values_folded_total)" | tee -a "$out/samples.txt"
}

sleep 2
baseline=$(rss_kb)
say "baseline RSS ${baseline} KB; flooding for ${VEIL_FLOOD_SECS} s at ${VEIL_FLOOD_RATE}/s"
"$bench_bin" loadgen --target "$target" --sites flood1 --page-host flood1.example \
    --hostile-bytes "$VEIL_FLOOD_BYTES" --visitors 4000000000 --rate "$VEIL_FLOOD_RATE" \
    --connections "$VEIL_FLOOD_CONNECTIONS" --duration "$VEIL_FLOOD_SECS" --warmup 0 \
    >"$out/loadgen.txt" 2>&1 &
load_pid=$!
peak=$baseline
start=$SECONDS
while kill -0 "$load_pid" 2>/dev/null; do
    sleep "$VEIL_FLOOD_SAMPLE_SECS"
    now=$(rss_kb)
    ((now > peak)) && peak=$now
    sample $((SECONDS - start))
done
wait "$load_pid" || warn "loadgen failed; see $out/loadgen.txt"
say "flood over; waiting for the visits to time out (60 s) and be closed"
for _ in $(seq 1 $((120 / VEIL_FLOOD_SAMPLE_SECS))); do
    sleep "$VEIL_FLOOD_SAMPLE_SECS"
    sample $((SECONDS - start))
    [[ "$(metric veil_live_visits)" == 0 ]] && break
done
sleep "$VEIL_FLOOD_SAMPLE_SECS"
after=$(rss_kb)
sample $((SECONDS - start))
grep -E "requests|sent|errors|rate" "$out/loadgen.txt" | head -5 || true
printf '\nRSS baseline %s KB, peak %s KB, after flood %s KB (samples: %s)\n' \
    "$baseline" "$peak" "$after" "$out/samples.txt"
