#!/usr/bin/env bash
# Latency of the main stats API queries over the last 30 days: p50 and p99 of N
# sequential requests each (after 3 warm-up requests), measured with curl.
#
#   scripts/stats-latency.sh BASE_URL SITE [KEY] [N]
#   e.g. scripts/stats-latency.sh http://127.0.0.1:8080 example.com "$KEY" 50
#
# Seed a database first, e.g. 30 days × 1 M pageviews a day:
#   veil-bench seed -c veil.toml --site example.com --days 30 --pageviews-per-day 1000000
# (cargo build --release -p veil-bench; the binary is target/release/veil-bench)
set -euo pipefail
base="${1:?usage: stats-latency.sh BASE_URL SITE [KEY] [N]}"
site="${2:?site id}"
key="${3:-}"
n="${4:-50}"
auth=()
[[ -n "$key" ]] && auth=(-H "Authorization: Bearer $key")

today="$(curl -fsS "${auth[@]}" "$base/api/v1/site?site=$site" | sed -E 's/.*"today":"([0-9-]+)".*/\1/')"
from="$(date -u -d "$today -29 days" +%F)"
range="site=$site&from=$from&to=$today"
echo "range $from .. $today, $n requests per query"

measure() {
    local name="$1" url="$2" i times=()
    for i in 1 2 3; do curl -fsS -o /dev/null "${auth[@]}" "$url"; done
    for ((i = 0; i < n; i++)); do
        times+=("$(curl -fsS -o /dev/null -w '%{time_total}' "${auth[@]}" "$url")")
    done
    printf '%s\n' "${times[@]}" | sort -n | awk -v name="$name" '
        { t[NR] = $1 * 1000 }
        END {
            p50 = t[int((NR + 1) * 0.50)]; i99 = int(NR * 0.99 + 0.999); if (i99 > NR) i99 = NR
            printf "%-28s p50 %7.1f ms   p99 %7.1f ms\n", name, p50, t[i99]
        }'
}

measure "aggregate 30 d" "$base/api/v1/aggregate?$range"
measure "aggregate 30 d + compare" "$base/api/v1/aggregate?$range&compare=previous"
measure "timeseries day 30 d" "$base/api/v1/timeseries?$range&interval=day"
measure "breakdown page 30 d" "$base/api/v1/breakdown?$range&dimension=page"
measure "breakdown country 30 d" "$base/api/v1/breakdown?$range&dimension=country"
measure "consent 30 d" "$base/api/v1/consent?$range"
measure "realtime" "$base/api/v1/realtime?site=$site"
