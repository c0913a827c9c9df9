#!/usr/bin/env bash
# The stats benchmark: veil's storage (closed days as counters, the open day as
# hourly sketches) against a raw-event table holding THE SAME traffic, the way
# Plausible stores it, in the same ClickHouse. See benches/README.md.
#
#   1. seeds DAYS closed days + today × PAGEVIEWS a day for one site into a fresh
#      database with `veil-bench seed --raw-events events_raw` (the raw table from
#      benches/raw_events.sql, same generator, same visitors, pages, attributes);
#   2. runs every stats API query RUNS times against a running `veil serve` —
#      aggregate (± comparison), timeseries by hour and day, a breakdown of every
#      dimension, props, consent — over the closed days and over the open day,
#      and the equivalent SQL on the raw table over ClickHouse's HTTP interface,
#      alternating veil and raw request by request so noise hits both alike;
#   3. prints p50/p99 of both and the ratio, and both stores' rows and bytes on disk;
#   4. times the dashboard's 30-day view in headless Chromium (benches/dashboard-timing.mjs).
#
# Output goes to stdout (a Markdown report, also saved as $out/results.md with the
# raw timings and the first answer of every query under $out).
#
# Environment (all optional):
#   VEIL_STATS_BENCH_DAYS        closed days seeded (today comes on top)      (30)
#   VEIL_STATS_BENCH_PAGEVIEWS   average pageviews a day                      (1000000)
#   VEIL_STATS_BENCH_RUNS        measured requests per query and side         (20)
#   VEIL_STATS_BENCH_WARMUP      unmeasured requests per query and side first (2)
#   VEIL_STATS_BENCH_DASH_RUNS   dashboard 30-day loads timed (0 = skip)      (5)
#   VEIL_STATS_BENCH_SETTLE      seconds to wait for background merges        (900)
#   VEIL_STATS_BENCH_PORT        veil's port on 127.0.0.1                     (18490)
#   VEIL_STATS_BENCH_DB          reuse this already seeded database (skips seeding; kept)
#   VEIL_STATS_BENCH_KEEP_DB=1   keep the benchmark database afterwards
#   VEIL_STATS_BENCH_OUT         where reports go   ($VEIL_DATA_DIR/stats-bench/<time>)
#   VEIL_DATA_DIR, VEIL_CH_*     see scripts/lib.sh; CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

: "${VEIL_STATS_BENCH_DAYS:=30}"
: "${VEIL_STATS_BENCH_PAGEVIEWS:=1000000}"
: "${VEIL_STATS_BENCH_RUNS:=20}"
: "${VEIL_STATS_BENCH_WARMUP:=2}"
: "${VEIL_STATS_BENCH_DASH_RUNS:=5}"
: "${VEIL_STATS_BENCH_SETTLE:=900}"
: "${VEIL_STATS_BENCH_PORT:=18490}"
: "${VEIL_STATS_BENCH_DB:=}"
: "${VEIL_STATS_BENCH_KEEP_DB:=}"
: "${VEIL_STATS_BENCH_OUT:=$VEIL_DATA_DIR/stats-bench/$(date -u +%Y%m%dT%H%M%SZ)}"

days="$VEIL_STATS_BENCH_DAYS"
runs="$VEIL_STATS_BENCH_RUNS"
warmup="$VEIL_STATS_BENCH_WARMUP"
((days >= 1 && days <= 366)) || die "VEIL_STATS_BENCH_DAYS must be 1..366"
((runs >= 1)) || die "VEIL_STATS_BENCH_RUNS must be at least 1"

ensure_apt_packages curl
ensure_cargo
clickhouse_start

say "cargo build --release -p veil -p veil-bench"
cargo build --release -p veil -p veil-bench >&2
target_dir="${CARGO_TARGET_DIR:-target}"
bin="$(cd "$target_dir/release" && pwd)/veil"
bench_bin="$(cd "$target_dir/release" && pwd)/veil-bench"
[[ -x "$bin" && -x "$bench_bin" ]] || die "cargo build succeeded but $bin or $bench_bin is missing"

out="$VEIL_STATS_BENCH_OUT"
rev="$(git rev-parse --short HEAD 2>/dev/null || echo '(no git)')$(git diff --quiet HEAD -- 2>/dev/null || echo '+changes')"
mkdir -p "$out/times" "$out/answers"
site="statsbench.example"
port="$VEIL_STATS_BENCH_PORT"
base="http://127.0.0.1:$port"
config="$out/veil.toml"
key="stats-bench-$$-$RANDOM$RANDOM"
veil_pid=""
if [[ -n "$VEIL_STATS_BENCH_DB" ]]; then
    db="$VEIL_STATS_BENCH_DB"
    keep_db=1
else
    db="veil_statsbench_$(date -u +%Y%m%d%H%M%S)_$$"
    keep_db="$VEIL_STATS_BENCH_KEEP_DB"
fi

stop_veil() {
    [[ -n "$veil_pid" ]] || return 0
    if kill -0 "$veil_pid" 2>/dev/null; then
        kill -TERM "$veil_pid" 2>/dev/null || true
        wait "$veil_pid" 2>/dev/null || true
    fi
    veil_pid=""
}

cleanup() {
    local rc=$?
    stop_veil
    if [[ -z "$keep_db" ]] && clickhouse_ping; then
        curl -s --max-time 60 "$VEIL_CH_URL/" --data-binary "DROP DATABASE IF EXISTS $db" >/dev/null || true
    fi
    if [[ "${VEIL_CH_STARTED:-0}" == 1 ]]; then
        clickhouse_stop || true
    fi
    exit "$rc"
}
trap cleanup EXIT

_veil_port_open "$port" && die "port $port on 127.0.0.1 is taken; choose another with VEIL_STATS_BENCH_PORT"

# ch SQL — runs SQL in the benchmark database, prints the answer (TSV).
ch() { curl -fsS --max-time 600 "$VEIL_CH_URL/?database=$db" --data-binary "$1"; }

# The site is in UTC, so veil's local days are the raw table's toDate(timestamp)
# and the raw SQL needs no time-zone arithmetic (Plausible's would convert).
hash="$(printf '%s\n' "$key" | "$bin" hash-key)"
cat >"$config" <<EOF
# Written by scripts/stats-bench.sh.
[server]
listen = "127.0.0.1:$port"

[clickhouse]
url = "$VEIL_CH_URL"
database = "$db"

[spool]
dir = "$out/spool"

[[sites]]
id = "$site"
hostnames = ["$site"]
timezone = "UTC"
api_keys = ["$hash"]
EOF

# ------------------------------------------------------------------ seed ---

if [[ -n "$VEIL_STATS_BENCH_DB" ]]; then
    say "reusing database $db (not seeded, not dropped)"
    [[ "$(ch "SELECT count() FROM system.tables WHERE database = '$db' AND name = 'events_raw'")" == 1 ]] ||
        die "database $db has no events_raw table"
else
    say "$bin migrate (database $db)"
    "$bin" migrate --config "$config" >&2
    ch "$(cat benches/raw_events.sql)" >/dev/null
    say "seeding $days closed days + today × $VEIL_STATS_BENCH_PAGEVIEWS pageviews/day (aggregates and events_raw)"
    seed_start=$SECONDS
    VEIL_LOG=warn "$bench_bin" seed --config "$config" --site "$site" --days "$((days + 1))" \
        --pageviews-per-day "$VEIL_STATS_BENCH_PAGEVIEWS" --raw-events events_raw | tee "$out/seed.txt" >&2
    echo "seed_seconds=$((SECONDS - seed_start))" >>"$out/seed.txt"
fi

# Background merges change both tables' sizes and compete for the CPUs the
# queries need: let them finish first (bounded).
say "waiting for background merges in $db (at most ${VEIL_STATS_BENCH_SETTLE}s)"
settle_start=$SECONDS
while [[ "$(ch "SELECT count() FROM system.merges WHERE database = '$db'")" != 0 ]]; do
    ((SECONDS - settle_start < VEIL_STATS_BENCH_SETTLE)) || {
        warn "merges still running after ${VEIL_STATS_BENCH_SETTLE}s; measuring anyway"
        break
    }
    sleep 2
done

# ----------------------------------------------------------------- veil ---

say "starting veil on $base"
VEIL_LOG=warn "$bin" serve --config "$config" >>"$out/veil.log" 2>&1 &
veil_pid=$!
deadline=$((SECONDS + 30))
until curl -sf --max-time 1 "$base/ready" >/dev/null 2>&1; do
    kill -0 "$veil_pid" 2>/dev/null || die "veil exited at start; see $out/veil.log"
    ((SECONDS < deadline)) || die "veil not ready within 30 s; see $out/veil.log"
    sleep 0.2
done
auth=(-H "Authorization: Bearer $key")

today="$(curl -fsS "${auth[@]}" "$base/api/v1/site?site=$site" | sed -E 's/.*"today":"([0-9-]+)".*/\1/')"
[[ "$today" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "cannot read today's date from /api/v1/site"
day() { date -u -d "$today $1 days" +%F; }
closed_from="$(day "-$days")"
closed_to="$(day -1)"
week_from="$(day -7)"

# ------------------------------------------------------------ raw SQL ---
#
# The raw side asks what Plausible asks of its events table, so its answers carry
# the same numbers as veil's:
#   pageviews = count of `pageview` rows, events = count of the other rows;
#   visitors  = uniq(user_id) over the whole range, Plausible's definition. Its
#               user ids come from a daily salt, like veil's visitor hashes, so a
#               person is a new visitor each day and this equals veil's sum of
#               each day's unique visitors (both are sketches: within ~1 %);
#   visits, bounces, duration: per session_id (one session = one veil visit),
#               a bounce being a one-hit session, duration max − min timestamp.
#               Plausible reads these from its sessions table; here they are
#               grouped from the events, so the raw side stores one copy only.
#   breakdowns: visit dimensions (source, referrer, utm_source/medium/campaign,
#               country, region, device, browser, os, entry/exit page) per
#               session, like Plausible's session breakdowns; pageview dimensions
#               (page, screen, language, versions, utm_term/content) per event
#               row; top 100 by visitors (veil's default page size).
# Consent decisions and marketing props have no raw counterpart (Plausible keeps
# no consent counters; the seed writes no marketing props): shown as "-".

# where FROM TO — the rows of the site in local dates [FROM, TO].
where() {
    printf "site = '%s' AND timestamp >= toDateTime('%s 00:00:00', 'UTC') AND timestamp < toDateTime('%s 00:00:00', 'UTC')" \
        "$site" "$1" "$(date -u -d "$2 +1 day" +%F)"
}
# sessions FROM TO [EXTRA_COLUMNS] — one row per visit.
sessions() {
    printf "SELECT session_id, any(user_id) AS uid, countIf(name = 'pageview') AS pv, countIf(name != 'pageview') AS ev, \
toUInt64(max(timestamp) - min(timestamp)) AS dur, min(timestamp) AS t0%s FROM events_raw WHERE %s GROUP BY session_id" \
        "${3:-}" "$(where "$1" "$2")"
}
visit_metrics="sum(pv) AS pageviews, uniq(uid) AS visitors, count() AS visits, countIf(pv + ev = 1) AS bounces, \
sum(dur) AS duration, sum(ev) AS events"

raw_aggregate() { echo "SELECT $visit_metrics FROM ($(sessions "$1" "$2"))"; }
raw_compare() { # FROM TO PREV_FROM: both periods in one pass
    echo "SELECT t0 >= toDateTime('$1 00:00:00', 'UTC') AS current, $visit_metrics FROM ($(sessions "$3" "$2")) GROUP BY current ORDER BY current"
}
raw_series() { # FROM TO BUCKET_EXPR
    echo "SELECT $3 AS bucket, $visit_metrics FROM ($(sessions "$1" "$2")) GROUP BY bucket ORDER BY bucket"
}
raw_visit_dim() { # FROM TO VALUE_EXPR [HAVING]
    echo "SELECT v, $visit_metrics FROM ($(sessions "$1" "$2" ", $3 AS v")) ${4:-} GROUP BY v ORDER BY visitors DESC, v LIMIT 100"
}
raw_pageview_dim() { # FROM TO COLUMN
    echo "SELECT $3 AS v, count() AS pageviews, uniq(user_id) AS visitors FROM events_raw WHERE $(where "$1" "$2") \
AND name = 'pageview' AND $3 != '' GROUP BY v ORDER BY visitors DESC, v LIMIT 100"
}
raw_breakdown() { # DIM FROM TO — the raw SQL of veil's breakdown of DIM ("" = none)
    local d="$1" f="$2" t="$3"
    case "$d" in
    page) echo "SELECT pathname AS v, countIf(name = 'pageview') AS pageviews, countIf(name != 'pageview') AS events, \
uniq(user_id) AS visitors FROM events_raw WHERE $(where "$f" "$t") GROUP BY v ORDER BY visitors DESC, v LIMIT 100" ;;
    entry_page) raw_visit_dim "$f" "$t" "argMinIf(pathname, timestamp, name = 'pageview')" ;;
    exit_page) raw_visit_dim "$f" "$t" "argMaxIf(pathname, timestamp, name = 'pageview')" ;;
    source) raw_visit_dim "$f" "$t" "any(channel)" ;;
    referrer) raw_visit_dim "$f" "$t" "any(referrer_source)" ;;
    utm_source | utm_medium | utm_campaign) raw_visit_dim "$f" "$t" "any($d)" "WHERE v != ''" ;;
    country | region | device | browser | os) raw_visit_dim "$f" "$t" "any($d)" ;;
    utm_term | utm_content | browser_version | os_version | language) raw_pageview_dim "$f" "$t" "$d" ;;
    screen) raw_pageview_dim "$f" "$t" screen_size ;;
    event) echo "SELECT name AS v, count() AS events, uniq(user_id) AS visitors FROM events_raw WHERE $(where "$f" "$t") \
AND name != 'pageview' GROUP BY v ORDER BY visitors DESC, v LIMIT 100" ;;
    prop) raw_props "$f" "$t" "" ;;
    *) echo "" ;;
    esac
}
raw_props() { # FROM TO [EVENT]
    local only=""
    [[ -n "$3" ]] && only=" AND name = '$3'"
    echo "SELECT name, k, val, count() AS events, uniq(user_id) AS visitors FROM events_raw \
ARRAY JOIN meta.key AS k, meta.value AS val WHERE $(where "$1" "$2") AND name != 'pageview'$only \
GROUP BY name, k, val ORDER BY visitors DESC, name, k, val LIMIT 100"
}

# ------------------------------------------------------------- measuring ---

rows_md=()
n_query=0

# pct FILE P — the P-quantile (nearest rank) of the times in FILE, in ms.
pct() {
    sort -n "$1" | awk -v p="$2" '{ t[NR] = $1 * 1000 } END {
        if (NR == 0) { print "-"; exit }
        i = int(NR * p + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR
        printf "%.1f", t[i] }'
}

# measure NAME API_PATH RAW_SQL — warm-up, then RUNS requests to veil and RUNS
# queries of RAW_SQL (empty: none), alternating; one table row.
measure() {
    local name="$1" path="$2" sql="$3" i slug
    slug="$(printf '%02d-%s' "$n_query" "$name" | tr -c 'a-zA-Z0-9\n-' '_')"
    n_query=$((n_query + 1))
    local url="$base/api/v1/$path" vt="$out/times/$slug.veil" rt="$out/times/$slug.raw"
    curl -fsS "${auth[@]}" "$url" >"$out/answers/$slug.json" || die "veil failed: $url (see $out/veil.log)"
    if [[ -n "$sql" ]]; then
        printf '%s\n' "$sql" >"$out/answers/$slug.sql"
        ch "$sql" >"$out/answers/$slug.tsv" || die "raw query failed: $sql"
    fi
    for ((i = 1; i < warmup; i++)); do
        curl -fsS -o /dev/null "${auth[@]}" "$url"
        [[ -z "$sql" ]] || ch "$sql" >/dev/null
    done
    : >"$vt"
    : >"$rt"
    for ((i = 0; i < runs; i++)); do
        curl -fsS -o /dev/null -w '%{time_total}\n' "${auth[@]}" "$url" >>"$vt"
        if [[ -n "$sql" ]]; then
            curl -fsS -o /dev/null -w '%{time_total}\n' --max-time 600 "$VEIL_CH_URL/?database=$db" \
                --data-binary "$sql" >>"$rt"
        fi
    done
    local v50 v99 r50="-" r99="-" ratio="-"
    v50="$(pct "$vt" 0.50)"
    v99="$(pct "$vt" 0.99)"
    if [[ -n "$sql" ]]; then
        r50="$(pct "$rt" 0.50)"
        r99="$(pct "$rt" 0.99)"
        ratio="$(awk -v r="$r50" -v v="$v50" 'BEGIN { if (v > 0) printf "%.1f×", r / v; else print "-" }')"
    fi
    rows_md+=("$(printf '| %s | %s | %s | %s | %s | %s |' "$name" "$v50" "$v99" "$r50" "$r99" "$ratio")")
    say "$(printf '%-40s veil p50 %8s ms  raw p50 %8s ms  %s' "$name" "$v50" "$r50" "$ratio")"
}

dims=(page entry_page exit_page source referrer utm_source utm_medium utm_campaign utm_term utm_content
    country region browser browser_version os os_version device screen language event prop marketing_prop)

bench_range() { # LABEL FROM TO
    local label="$1" f="$2" t="$3" r="site=$site&from=$2&to=$3" n prev_from
    n=$((($(date -u -d "$t" +%s) - $(date -u -d "$f" +%s)) / 86400 + 1))
    prev_from="$(date -u -d "$f -$n days" +%F)"
    measure "aggregate $label" "aggregate?$r" "$(raw_aggregate "$f" "$t")"
    measure "aggregate $label + compare" "aggregate?$r&compare=previous" "$(raw_compare "$f" "$t" "$prev_from")"
    if [[ "$label" == today ]]; then
        measure "timeseries hour $label" "timeseries?$r&interval=hour" "$(raw_series "$f" "$t" "toStartOfHour(t0)")"
    else
        measure "timeseries hour 7 d" "timeseries?site=$site&from=$week_from&to=$t&interval=hour" \
            "$(raw_series "$week_from" "$t" "toStartOfHour(t0)")"
        measure "timeseries hour $label" "timeseries?$r&interval=hour" "$(raw_series "$f" "$t" "toStartOfHour(t0)")"
        measure "timeseries day $label" "timeseries?$r&interval=day" "$(raw_series "$f" "$t" "toDate(t0)")"
    fi
    for d in "${dims[@]}"; do
        measure "breakdown $d $label" "breakdown?$r&dimension=$d" "$(raw_breakdown "$d" "$f" "$t")"
    done
    measure "breakdown prop event=signup $label" "breakdown?$r&dimension=prop&event=signup" "$(raw_props "$f" "$t" signup)"
    measure "consent $label" "consent?$r" ""
}

say "measuring: $runs requests per query and side after $warmup warm-up; closed days $closed_from .. $closed_to, open day $today"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
bench_start=$SECONDS
bench_range "${days} d closed" "$closed_from" "$closed_to"
closed_rows=("${rows_md[@]}")
rows_md=()
bench_range today "$today" "$today"
open_rows=("${rows_md[@]}")
bench_seconds=$((SECONDS - bench_start))
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# Same traffic, same numbers? The 30-day totals of both sides.
veil_total="$(cat "$out/answers/00-aggregate_${days}_d_closed.json" 2>/dev/null || true)"
raw_total="$(head -n1 "$out/answers/00-aggregate_${days}_d_closed.tsv" 2>/dev/null || true)"
jnum() { sed -nE "s/.*\"metrics\":\{[^}]*\"$1\":([0-9.]+).*/\1/p" <<<"$veil_total"; }
read -r raw_pv raw_uv raw_visits raw_bounces _raw_dur raw_ev <<<"$raw_total"

# ----------------------------------------------------------------- sizes ---

sizes="$(ch "SELECT table, sum(rows), sum(bytes_on_disk), count() FROM system.parts WHERE active AND database = '$db' GROUP BY table ORDER BY table")"
num() { awk -v n="${1:-}" 'BEGIN { if (n == "") { print "-"; exit }
    s = sprintf("%d", n); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) }; print s o }'; }
mib() { awk -v b="${1:-0}" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
veil_bytes="$(awk -F'\t' '$1 != "events_raw" { s += $3 } END { print s + 0 }' <<<"$sizes")"
veil_rows="$(awk -F'\t' '$1 != "events_raw" { s += $2 } END { print s + 0 }' <<<"$sizes")"
raw_bytes="$(awk -F'\t' '$1 == "events_raw" { s += $3 } END { print s + 0 }' <<<"$sizes")"
raw_rows="$(awk -F'\t' '$1 == "events_raw" { s += $2 } END { print s + 0 }' <<<"$sizes")"

# ------------------------------------------------------------- dashboard ---

dash=""
if ((VEIL_STATS_BENCH_DASH_RUNS > 0)); then
    ensure_apt_packages chromium ca-certificates
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        ensure_apt_packages nodejs npm
    fi
    (
        cd tests/dashboard
        if ! cmp -s package-lock.json node_modules/.package-lock.json 2>/dev/null; then
            npm ci --no-audit --no-fund >&2
        fi
    )
    say "timing the dashboard's 30-day view in headless Chromium ($VEIL_STATS_BENCH_DASH_RUNS loads)"
    dash="$(CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" node benches/dashboard-timing.mjs "$base" "$site" "$key" \
        "$VEIL_STATS_BENCH_DASH_RUNS")" || {
        warn "dashboard timing failed"
        dash=""
    }
    printf '%s\n' "$dash" >"$out/dashboard.txt"
fi
kv() { tr ' ' '\n' <<<"$dash" | sed -n "s/^$1=//p" | head -n1; }
stop_veil

# --------------------------------------------------------------- report ---

header='| query | veil p50 ms | veil p99 ms | raw p50 ms | raw p99 ms | raw/veil (p50) |'
rule='|---|---:|---:|---:|---:|---:|'
{
    echo "## veil stats benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- machine: $(nproc) × $(lscpu | sed -n 's/^Model name: *//p' | head -n1), $(uname -sr); load average $load_before before the queries, $load_after after (${bench_seconds} s of queries)"
    echo "- veil $rev release build, defaults; ClickHouse $(ch 'SELECT version()') on the same machine; database \`$db\`"
    echo "- traffic: site \`$site\` (UTC), $days closed days ($closed_from .. $closed_to) + today ($today, up to the current hour), ~$(num "$VEIL_STATS_BENCH_PAGEVIEWS") pageviews a day; $(grep -h '^seeded\|^wrote\|^seed_seconds' "$out/seed.txt" 2>/dev/null | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
    echo "- $runs measured requests per query and side (after $warmup warm-up), veil and raw alternating; times are curl's time_total over loopback HTTP (veil: API → ClickHouse → JSON; raw: SQL straight to ClickHouse, TSV)"
    echo
    echo "Same traffic, same numbers — $days closed days, veil vs raw: pageviews $(jnum pageviews) vs ${raw_pv:--}, visitors $(jnum visitors) vs ${raw_uv:--}, visits $(jnum visits) vs ${raw_visits:--}, bounce rate $(jnum bounce_rate) vs $(awk -v b="${raw_bounces:-0}" -v v="${raw_visits:-0}" 'BEGIN { if (v > 0) printf "%.4f", b / v; else print "-" }'), events $(jnum events) vs ${raw_ev:--}"
    echo
    echo "### $days closed days"
    echo
    echo "$header"
    echo "$rule"
    printf '%s\n' "${closed_rows[@]}"
    echo
    echo "### The open day (today)"
    echo
    echo "$header"
    echo "$rule"
    printf '%s\n' "${open_rows[@]}"
    echo
    echo "### Storage"
    echo
    echo "| store | rows | bytes on disk | active parts |"
    echo "|---|---:|---:|---:|"
    while IFS=$'\t' read -r t r b p; do
        [[ -n "$t" ]] || continue
        echo "| $t | $(num "$r") | $(num "$b") ($(mib "$b")) | $p |"
    done <<<"$sizes"
    echo "| **veil, all tables** | $(num "$veil_rows") | $(num "$veil_bytes") ($(mib "$veil_bytes")) | |"
    echo "| **raw events** | $(num "$raw_rows") | $(num "$raw_bytes") ($(mib "$raw_bytes")) | |"
    echo
    awk -v r="$raw_bytes" -v v="$veil_bytes" 'BEGIN { if (v > 0) printf "events_raw is %.1f× the bytes of all veil tables.\n", r / v }'
    if [[ -n "$dash" ]]; then
        echo
        echo "### Dashboard (headless Chromium)"
        echo
        echo "- 30-day view ($(day -29) .. $today, today included), click → every card loaded, $(kv dashboard_30d_runs) loads: p50 $(kv dashboard_30d_p50_ms) ms, min $(kv dashboard_30d_min_ms) ms, max $(kv dashboard_30d_max_ms) ms ($(kv dashboard_30d_api_calls) API requests per load; all: $(kv dashboard_30d_all_ms) ms)"
        echo "- first load (navigation → 7-day default view loaded): $(kv dashboard_cold_7d_ms) ms"
    fi
} | tee "$out/results.md"

echo
say "reports: $out"
