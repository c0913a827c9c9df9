#!/usr/bin/env bash
# veil on a real cluster on this machine, from nothing: Apache ZooKeeper, four
# ClickHouse 18.16 servers (2 shards x 2 replicas), three veil nodes and HAProxy
# in front of both veil and ClickHouse, all on 127.0.0.1 (see
# scripts/cluster-lib.sh for ports and files, README "Cluster" for the layout).
#
#   scripts/cluster.sh up      build veil, start everything, migrate (idempotent)
#   scripts/cluster.sh down    stop everything (data stays in $VEIL_CLUSTER_DIR)
#   scripts/cluster.sh test    a fresh cluster, load through HAProxy, faults, and an
#                              exact loss check after each scenario; then down
#   scripts/cluster.sh status  what runs
#   scripts/cluster.sh bench-shard  rows/s one shard absorbs (on a running cluster;
#                              VEIL_CLUSTER_BENCH_ROWS, _BATCHES, _HASHES)
#
# Environment: see scripts/cluster-lib.sh (VEIL_CLUSTER_*), and
#   VEIL_CLUSTER_REQUESTS   requests of the 3-node vs 1-node comparison (15000)
#   VEIL_CLUSTER_LOAD_SECS  seconds of load in each fault scenario      (16)
#   VEIL_CLUSTER_ZK_SECS    seconds ZooKeeper is stopped                 (30)
#   VEIL_CLUSTER_SHARD_SECS seconds both servers of shard 02 are stopped (20)
#   VEIL_CLUSTER_ROLL_REQUESTS  requests of the rolling-restart twins  (16000)
#   VEIL_CLUSTER_ROLL_RATE      their rate, requests/s                  (500)
#   VEIL_CLUSTER_KILL_CHECK_SECS  the SIGKILL run's wait for its lost window (15)
#   VEIL_CLUSTER_KEEP=1     `test` leaves the cluster running
#   VEIL_CLUSTER_BUILD=0    use the veil and veil-bench binaries already built
#                           for VEIL_CLUSTER_PROFILE (scripts/test.sh) instead of
#                           running cargo build
#   VEIL_CLUSTER_ONLY       `test` runs only these scenarios (space-separated:
#                           compare stats close equal move rolling sigterm sigkill
#                           replica zookeeper shard reload audit; stats needs compare)
# CARGO_TARGET_DIR is honoured. Exit status of `test`: 0 when every scenario met
# its bound, 1 otherwise.
# shellcheck disable=SC2317 # (the scenarios are called by name, scenario_$s)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
# shellcheck source=scripts/cluster-lib.sh
source scripts/cluster-lib.sh

: "${VEIL_CLUSTER_REQUESTS:=15000}"
: "${VEIL_CLUSTER_LOAD_SECS:=16}"
: "${VEIL_CLUSTER_ZK_SECS:=30}"
: "${VEIL_CLUSTER_SHARD_SECS:=20}"
: "${VEIL_CLUSTER_ROLL_REQUESTS:=16000}"
: "${VEIL_CLUSTER_KILL_CHECK_SECS:=15}"
: "${VEIL_CLUSTER_ROLL_RATE:=500}"
: "${VEIL_CLUSTER_KEEP:=}"
: "${VEIL_CLUSTER_BUILD:=1}"
: "${VEIL_CLUSTER_ONLY:=}"

cluster_build() {
    if [[ "$VEIL_CLUSTER_BUILD" == 0 ]]; then
        # scripts/test.sh: cargo test has built these; another `cargo build` with a
        # different package selection could rebuild dependencies.
        [[ -x "$(cl_veil_bin)" && -x "$(cl_bench_bin)" ]] ||
            die "VEIL_CLUSTER_BUILD=0 but no $(cl_veil_bin) and $(cl_bench_bin): build them first"
        say "using the built $(cl_veil_bin) and $(cl_bench_bin) (VEIL_CLUSTER_BUILD=0)"
        return 0
    fi
    ensure_cargo
    local flag=()
    [[ "$VEIL_CLUSTER_PROFILE" == release ]] && flag=(--release)
    say "cargo build ${flag[*]} -p veil -p veil-bench ($VEIL_CLUSTER_PROFILE)"
    local t0=$SECONDS
    cargo build "${flag[@]}" -p veil -p veil-bench >&2
    BUILD_SECS=$((SECONDS - t0))
    [[ -x "$(cl_veil_bin)" && -x "$(cl_bench_bin)" ]] || die "no $(cl_veil_bin) after the build"
}

cluster_up() {
    ensure_apt_packages clickhouse-server zookeeper haproxy curl python3
    cluster_build
    # ZooKeeper first: a ClickHouse server with replicated tables exits when it
    # cannot reach ZooKeeper at start.
    cl_zk_start
    local i j
    for i in 1 2 3 4; do cl_ch_start "$i"; done
    say "ClickHouse: 4 servers on $(cl_ch_url 1) .. $(cl_ch_url 4) (shards 01, 02 x replicas)"
    cl_haproxy_start
    cl_wait_http "$CL_CH_LB_URL/ping" "ClickHouse through HAProxy" 30
    cl_veil_write_config 1
    say "veil migrate (cluster $CL_NAME, database $CL_DB)"
    "$(cl_veil_bin)" migrate --config "$CL/veil1/veil.toml" >&2
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do cl_veil_start "$j"; done
    cl_wait_lb_up "$VEIL_CLUSTER_NODES"
    say "cluster up: veil on $CL_LB_URL ($VEIL_CLUSTER_NODES nodes), ClickHouse on $CL_CH_LB_URL"
}

cluster_down() {
    local j i
    for ((j = 1; j <= 9; j++)); do cl_signal "veil$j" TERM 40; done
    cl_signal haproxy TERM 5
    # The four servers at once: each takes a few seconds to stop. (Only these
    # jobs are waited for: the servers themselves are jobs of this shell too.)
    local stops=()
    for i in 1 2 3 4; do
        cl_signal "ch$i" TERM 30 &
        stops+=($!)
    done
    wait "${stops[@]}"
    cl_signal zk TERM 10
    say "cluster down (data kept in $CL)"
}

cluster_status() {
    local name
    for name in zk ch1 ch2 ch3 ch4 haproxy veil1 veil2 veil3; do
        if cl_pid "$name" >/dev/null; then echo "$name running (pid $(cl_pid "$name"))"; else echo "$name stopped"; fi
    done
    cl_pid haproxy >/dev/null && cl_haproxy_state
    return 0
}

# cl_wait_lb_up N — until HAProxy sees N veil nodes UP.
cl_wait_lb_up() {
    local want="$1" deadline=$((SECONDS + 30))
    until (($(cl_haproxy_state | grep -c '^veil[0-9]* UP') >= want)); do
        ((SECONDS < deadline)) || die "HAProxy does not see $want veil nodes up: $(cl_haproxy_state | tr '\n' ' ')"
        sleep 0.3
    done
}

# ------------------------------------------------------------------ test ---

OUT=""
MOVE_NOTE=""
BUILD_SECS=0
ROWS=()
FAILED=()

# sql QUERY — through HAProxy's ClickHouse frontend, TSV out.
sql() { curl -sS --fail-with-body --max-time 60 "$CL_CH_LB_URL/?database=$CL_DB" --data-binary "$1"; }

# field FILE KEY — KEY's value on the last `check result=` line of FILE.
field() {
    { grep '^check result=' "$1" 2>/dev/null || true; } | tail -n 1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# lg NAME ARGS... — veil-bench loadgen through HAProxy with the loss check.
lg() {
    local name="$1"
    shift
    "$(cl_bench_bin)" loadgen --target "$CL_LB_URL" --clickhouse "$CL_CH_LB_URL" --database "$CL_DB" \
        --connections 16 --quiet --summary "$OUT/$name.summary" "$@" >"$OUT/$name.txt" 2>&1 || true
}

# record RUN LABEL BOUND NOTE — one table row from the summary of loadgen run
# RUN; BOUND is the most pageviews (and decisions) it may lose (0 = none).
record() {
    local run="$1" name="$2" bound="$3" note="$4" sent stored lost verdict
    sent="$(field "$OUT/$run.summary" pageviews)"
    stored="$(field "$OUT/$run.summary" stored_pageviews)"
    [[ -n "$stored" ]] || stored="$sent"
    if [[ -z "$sent" ]]; then
        ROWS+=("| $name | - | - | - | no check result (see $OUT/$run.txt) | FAIL |")
        FAILED+=("$name")
        return
    fi
    lost=$((sent - stored))
    local dsent dstored
    dsent="$(field "$OUT/$run.summary" decisions)"
    dstored="$(field "$OUT/$run.summary" stored_decisions)"
    [[ -n "$dstored" ]] || dstored="$dsent"
    if ((lost >= 0 && lost <= bound && dsent - dstored >= 0 && dsent - dstored <= bound)); then
        verdict=ok
    else
        verdict=FAIL
        FAILED+=("$name")
    fi
    ROWS+=("| $name | $sent | $stored | $lost | $((dsent - dstored)) of $dsent | $note | $verdict |")
}

# under_load NAME SECS ACTION... — runs the load for SECS s in the background,
# ACTION a few seconds in, waits for the load and its check.
under_load() {
    local name="$1" secs="$2"
    shift 2
    lg "$name" --duration "$secs" --check-timeout "${CHECK_TIMEOUT:-40}" --seed "$RANDOM" &
    local pid=$!
    sleep 5
    "$@"
    wait "$pid" || true
}

metric() { curl -s --max-time 2 "$1/metrics" | awk -v m="$2" '$1 == m {print $2}'; }

scenario_compare() {
    say "scenario: the same traffic through 3 nodes, then through 1"
    lg three --requests "$VEIL_CLUSTER_REQUESTS" --sites three1,three2,three3 --seed 7 --check-timeout 30
    record three "3 nodes" 0 "$(veil_spread)"
    cl_haproxy_cmd "disable server veil_nodes/veil2" >/dev/null
    cl_haproxy_cmd "disable server veil_nodes/veil3" >/dev/null
    lg one --requests "$VEIL_CLUSTER_REQUESTS" --sites one1,one2,one3 --seed 7 --check-timeout 30
    cl_haproxy_cmd "enable server veil_nodes/veil2" >/dev/null
    cl_haproxy_cmd "enable server veil_nodes/veil3" >/dev/null
    record one "1 node" 0 "veil2, veil3 in maintenance"
    # Per site: counters exactly equal, visitors within 1 %.
    local q diff
    q="SELECT replaceRegexpOne(site, '^(three|one)', '') AS n, dim, value,
         sumMergeIf(pageviews, site LIKE 'three%') AS p3, sumMergeIf(pageviews, site LIKE 'one%') AS p1,
         sumMergeIf(events, site LIKE 'three%') AS e3, sumMergeIf(events, site LIKE 'one%') AS e1,
         sumMergeIf(hits, site LIKE 'three%') AS h3, sumMergeIf(hits, site LIKE 'one%') AS h1
       FROM open_aggregates WHERE dim IN ('total', 'decision') AND (site LIKE 'three%' OR site LIKE 'one%')
       GROUP BY n, dim, value HAVING p3 != p1 OR e3 != e1 OR h3 != h1"
    diff="$(sql "$q")"
    local uv
    uv="$(sql "SELECT replaceRegexpOne(site, '^(three|one)', '') AS n,
         uniqCombinedArrayMergeIf(visitors, site LIKE 'three%') AS v3, uniqCombinedArrayMergeIf(visitors, site LIKE 'one%') AS v1
       FROM open_aggregates WHERE dim = 'total' GROUP BY n ORDER BY n FORMAT TSV")"
    local worst
    worst="$(awk '{ d = ($2 > $3 ? $2 - $3 : $3 - $2) / ($3 > 0 ? $3 : 1) * 100; if (d > w) w = d } END { printf "%.2f", w + 0 }' <<<"$uv")"
    echo "$uv" >"$OUT/visitors.tsv"
    if [[ -z "$diff" ]] && awk -v w="$worst" 'BEGIN { exit !(w <= 1.0) }'; then
        ROWS+=("| 3 nodes = 1 node | | | | | pageviews, events, decisions equal per site; visitors differ by at most $worst % | ok |")
    else
        ROWS+=("| 3 nodes = 1 node | | | | | counters differ: $(tr '\n\t' '; ' <<<"$diff") visitors worst $worst % | FAIL |")
        FAILED+=("3 vs 1")
    fi
}

# veil_spread — how many requests each veil node answered so far.
veil_spread() {
    local j out=""
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
        out+="veil$j $(metric "$(cl_veil_url "$j")" veil_requests_total) "
    done
    echo "requests per node: $out"
}

# The stats API, through HAProxy, answers from the Distributed tables: the
# aggregate and a page breakdown of a 3-node site equal its 1-node twin's and
# the stored sums.
scenario_stats() {
    say "check: the stats API through a veil node of the cluster"
    local day a3 a1 b3 b1 pv_sql
    day="$(date -u +%F)"
    a3="$(curl -sf "$CL_LB_URL/api/v1/aggregate?site=three1&from=$day&to=$day")" || a3=""
    a1="$(curl -sf "$CL_LB_URL/api/v1/aggregate?site=one1&from=$day&to=$day")" || a1=""
    b3="$(curl -sf "$CL_LB_URL/api/v1/breakdown?site=three1&from=$day&to=$day&dimension=page&sort=pageviews&limit=10")" || b3=""
    b1="$(curl -sf "$CL_LB_URL/api/v1/breakdown?site=one1&from=$day&to=$day&dimension=page&sort=pageviews&limit=10")" || b1=""
    pv_sql="$(sql "SELECT sumMerge(pageviews) FROM open_aggregates WHERE site = 'three1' AND dim = 'total'")"
    echo "$a3" >"$OUT/aggregate-three1.json"
    echo "$b3" >"$OUT/breakdown-three1.json"
    local verdict
    verdict="$(python3 - "$a3" "$a1" "$b3" "$b1" "$pv_sql" <<'PY'
import json, sys
try:
    a3, a1, b3, b1 = (json.loads(x) for x in sys.argv[1:5])
    pv_sql = int(sys.argv[5])
except Exception as e:  # an empty or broken answer
    print(f"FAIL unreadable answer ({e})"); sys.exit()
def val(m, k):
    return m["metrics"][k]
p3, p1 = val(a3, "pageviews"), val(a1, "pageviews")
v3, v1 = val(a3, "visitors"), val(a1, "visitors")
rows = lambda b: [(r.get("value"), r.get("pageviews")) for r in b["rows"]]
ok = p3 == p1 == pv_sql and abs(v3 - v1) <= 0.01 * max(v1, 1) and rows(b3) == rows(b1) and rows(b3)
print(("ok" if ok else "FAIL") + f" aggregate pageviews {p3} (1 node {p1}, SQL {pv_sql}), visitors {v3} (1 node {v1}); top-10 page breakdown {'equal' if rows(b3) == rows(b1) else 'DIFFERS'}")
PY
)"
    ROWS+=("| stats API | | | | | ${verdict#* } | ${verdict%% *} |")
    [[ "$verdict" == ok* ]] || FAILED+=("stats API")
}

# Each node has its own salt: a visitor HAProxy moves to another node is a new
# visitor there that day. The same visitors three times: 3 nodes, veil2 away
# (its visitors move), veil2 back (they return to it, whose salt knows them).
scenario_move() {
    say "measure: visitors of one day when a node leaves and returns"
    local uv=() n
    uvisitors() { sql "SELECT uniqCombinedArrayMerge(visitors) FROM open_aggregates WHERE site = 'move' AND dim = 'total'"; }
    n=$((VEIL_CLUSTER_REQUESTS / 3))
    lg move1 --requests "$n" --visitors "$n" --sites move --seed 11 --check-timeout 30
    uv+=("$(uvisitors)")
    cl_haproxy_cmd "disable server veil_nodes/veil2" >/dev/null
    lg move2 --requests "$n" --visitors "$n" --sites move --seed 11 --check-timeout 30
    uv+=("$(uvisitors)")
    cl_haproxy_cmd "enable server veil_nodes/veil2" >/dev/null
    cl_wait_lb_up "$VEIL_CLUSTER_NODES"
    lg move3 --requests "$n" --visitors "$n" --sites move --seed 11 --check-timeout 30
    uv+=("$(uvisitors)")
    MOVE_NOTE="$n visits of $n visitors, 3 times: ${uv[0]} visitors; ${uv[1]} after a repeat with veil2 away (+$(((uv[1] - uv[0]) * 100 / uv[0])) %); ${uv[2]} after one more with veil2 back"
    ROWS+=("| node leaves, returns | | | | | visitors $MOVE_NOTE | info |")
}

# A past day's sketches on both shards, closed by the three nodes' closers at
# once: every replica ends with the day's counters (visitors merged across the
# shards) and no shard keeps its sketches.
scenario_close() {
    say "check: day close of a past day on the cluster"
    local day=2026-11-20 i got want="7 4" bad="" deadline
    # Batch ids 1001 and 1002 land on different shards (sharding key: batch id);
    # visitor 3 is in both.
    curl -sS --fail-with-body "$CL_CH_LB_URL/?database=$CL_DB&insert_distributed_sync=1" --data-binary \
        "INSERT INTO aggregates_in (date, zone, hour, site, dim, value, batch, hits, pageviews, visitors) VALUES
         ('$day', 'UTC', '$day 10:00:00', 'bench1', 'total', '', 1001, 5, 5, [1, 2, 3]),
         ('$day', 'UTC', '$day 11:00:00', 'bench1', 'total', '', 1002, 2, 2, [3, 4])" >/dev/null
    deadline=$((SECONDS + 60))
    while :; do
        bad=""
        for i in 1 2 3 4; do
            got="$(cl_ch_sql "$i" "SELECT sum(pageviews), sum(visitors) FROM $CL_DB.daily WHERE date = '$day' AND site = 'bench1' AND dim = 'total' FORMAT TSV" | tr '\t' ' ')"
            left="$(cl_ch_sql "$i" "SELECT count() FROM $CL_DB.open_aggregates_local WHERE date = '$day'")"
            [[ "$got" == "$want" && "$left" == 0 ]] || bad+="ch$i: daily '$got', sketches left $left; "
        done
        [[ -z "$bad" ]] && break
        ((SECONDS < deadline)) || break
        sleep 1
    done
    local stages
    stages="$(for i in 1 2 3 4; do cl_ch_sql "$i" "SELECT count() FROM system.tables WHERE database = '$CL_DB' AND name LIKE 'close_stage_%'"; done | awk '{ s += $1 } END { print s + 0 }')"
    if [[ -z "$bad" ]]; then
        ROWS+=("| day close | 7 | 7 | 0 | | $day closed by 3 nodes at once: every replica has pageviews 7, visitors 4 (shards merged), sketches dropped on both shards, $stages staging tables left | ok |")
    else
        ROWS+=("| day close | 7 | | | | $bad | FAIL |")
        FAILED+=("day close")
    fi
}

# Two different batches with equal cells (a quiet site's count-only pageview of
# the same page in the same hour), on the same shard: both stored. A replicated
# table drops a block equal to a recent one, which must only ever be a retry.
scenario_equal() {
    say "check: two equal batches on one shard are both stored"
    # A future day: no day close moves it meanwhile.
    local day=2030-03-01 b got
    # Batch ids 3001 and 3003: the same shard (sharding key: batch id).
    for b in 3001 3003; do
        curl -sS --fail-with-body "$CL_CH_LB_URL/?database=$CL_DB&insert_distributed_sync=1" --data-binary \
            "INSERT INTO aggregates_in (date, zone, hour, site, dim, value, batch, hits, pageviews, visitors) VALUES
             ('$day', 'UTC', '$day 09:00:00', 'move', 'page', '/', $b, 1, 1, [])" >/dev/null
    done
    got="$(sql "SELECT sumMerge(pageviews) FROM open_aggregates WHERE date = '$day' AND site = 'move' AND dim = 'page'")"
    got="${got:-0} $(sql "SELECT count() FROM batches WHERE date = '$day'")"
    if [[ "$got" == "2 2" ]]; then
        ROWS+=("| equal batches | 2 | 2 | 0 | | two batches with the same cell on one shard: pageviews 2, batch ids 2 | ok |")
    else
        ROWS+=("| equal batches | 2 | ${got%% *} | | | pageviews, batch ids stored: $got (a replicated table took one for a repeat of the other) | FAIL |")
        FAILED+=("equal batches")
    fi
}

scenario_sigterm() {
    say "scenario: SIGTERM veil2 under load"
    under_load sigterm "$VEIL_CLUSTER_LOAD_SECS" cl_signal veil2 TERM 40
    record sigterm "SIGTERM veil2" 0 "drained and flushed; HAProxy moved its clients"
    cl_veil_start 2
}

scenario_sigkill() {
    say "scenario: SIGKILL veil3 under load"
    local r1 r2 rate bound
    kill_veil3() {
        r1="$(metric "$(cl_veil_url 3)" veil_requests_total)"
        sleep 1
        r2="$(metric "$(cl_veil_url 3)" veil_requests_total)"
        cl_signal veil3 KILL 5
    }
    # The check waits this long in vain for the lost window: keep it short.
    CHECK_TIMEOUT="$VEIL_CLUSTER_KILL_CHECK_SECS" under_load sigkill "$VEIL_CLUSTER_LOAD_SECS" kill_veil3
    rate=$((${r2:-0} - ${r1:-0}))
    # Its open window: at most one flush interval (plus the in-flight second) of
    # its hits, every one a pageview at most.
    bound=$((rate * (VEIL_CLUSTER_FLUSH_MS + 1000) / 1000))
    record sigkill "SIGKILL veil3" "$bound" "bound = its open window: ${rate} req/s x $((VEIL_CLUSTER_FLUSH_MS + 1000)) ms = $bound"
    cl_veil_start 3
}

scenario_replica() {
    say "scenario: kill -9 ClickHouse ch4 (shard 02) under load"
    kill_ch4() {
        cl_signal ch4 KILL 5
        sleep 6
        cl_ch_start 4
    }
    under_load replica "$VEIL_CLUSTER_LOAD_SECS" kill_ch4
    # The replica catches up: the same batch ids and sketch rows as its twin.
    # ClickHouse 18.16 takes ~25 s to start and then fetches every part it
    # missed, so the wait allows 90 s (and says how long it took).
    local t a b started=$SECONDS deadline=$((SECONDS + 90)) caught=""
    while ((SECONDS < deadline)); do
        a="$(cl_ch_sql 3 "SELECT count() FROM $CL_DB.batches_local") $(cl_ch_sql 3 "SELECT count() FROM $CL_DB.open_aggregates_local")"
        b="$(cl_ch_sql 4 "SELECT count() FROM $CL_DB.batches_local") $(cl_ch_sql 4 "SELECT count() FROM $CL_DB.open_aggregates_local")"
        [[ "$a" == "$b" ]] && { caught="ch4 caught up in $((SECONDS - started)) s after the load (batches, sketch rows: $b)"; break; }
        sleep 1
    done
    t="${caught:-ch4 NOT caught up: ch3 $a, ch4 $b}"
    record replica "kill -9 ch4" 0 "$t"
    [[ -n "$caught" ]] || FAILED+=("replica catch-up")
}

scenario_zookeeper() {
    say "scenario: ZooKeeper stopped ${VEIL_CLUSTER_ZK_SECS} s under load"
    stop_zk() {
        cl_signal zk KILL 5
        sleep "$VEIL_CLUSTER_ZK_SECS"
        cl_zk_start
    }
    CHECK_TIMEOUT=90 under_load zookeeper $((VEIL_CLUSTER_ZK_SECS + 10)) stop_zk
    local spooled=0 j
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
        spooled=$((spooled + $(metric "$(cl_veil_url "$j")" veil_batches_spooled_total || echo 0)))
    done
    record zookeeper "ZooKeeper down ${VEIL_CLUSTER_ZK_SECS} s" 0 "batches spooled (all nodes, since start): $spooled"
}

scenario_shard() {
    say "scenario: shard 02 (ch3 and ch4) stopped ${VEIL_CLUSTER_SHARD_SECS} s under load"
    local before=0 after=0 j
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
        before=$((before + $(metric "$(cl_veil_url "$j")" veil_batches_spooled_total || echo 0)))
    done
    stop_shard() {
        cl_signal ch3 KILL 5
        cl_signal ch4 KILL 5
        sleep "$VEIL_CLUSTER_SHARD_SECS"
        cl_ch_start 3
        cl_ch_start 4
    }
    CHECK_TIMEOUT=60 under_load shard $((VEIL_CLUSTER_SHARD_SECS + 8)) stop_shard
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
        after=$((after + $(metric "$(cl_veil_url "$j")" veil_batches_spooled_total || echo 0)))
    done
    record shard "shard 02 down ${VEIL_CLUSTER_SHARD_SECS} s" 0 "batches spooled meanwhile: $((after - before)), replayed after"
}

# lb_counter SERVER COLUMN — a counter of veil node SERVER in HAProxy's stats CSV
# (wretr: retries, wredis: redispatches, chkdown: times marked down).
lb_counter() {
    curl -s --max-time 2 "http://127.0.0.1:$CL_LB_STATS_PORT/;csv" | awk -F, -v s="$1" -v c="$2" '
        NR == 1 { for (i = 1; i <= NF; i++) { n = $i; sub(/^# /, "", n); col[n] = i } }
        $1 == "veil_nodes" && $2 == s { print $col[c] + 0 }'
}

lb_sum() {
    local c="$1" j n=0
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do n=$((n + $(lb_counter "veil$j" "$c"))); done
    echo "$n"
}

# summary_errors RUN — requests of loadgen run RUN that got no answer.
summary_errors() {
    { grep '^run kind=target' "$OUT/$1.summary" 2>/dev/null || true; } | tail -n 1 | tr ' ' '\n' | sed -n 's/^errors=//p' | awk '{ print $1 + 0 } END { if (NR == 0) print 0 }'
}

# restart_node J — a rolling restart's step: SIGTERM, wait until the process has
# exited (it closes its visits and flushes), start it again with the same config
# and salt state file, wait until it is ready and HAProxy has checked it up again.
restart_node() {
    local j="$1" t0
    t0=$(date +%s%N)
    cl_signal "veil$j" TERM 40
    cl_veil_start "$j"
    RESTART_MS+=("veil$j $((($(date +%s%N) - t0) / 1000000)) ms")
    # One health-check interval (inter 1s): HAProxy has checked the new process.
    sleep 1.2
    cl_wait_lb_up "$VEIL_CLUSTER_NODES"
}

# The same seeded visitors twice: undisturbed to site `steady`, then to its twin
# `rolling` while the three nodes are restarted one after another. Nothing lost;
# pageviews and events equal; visitors within 1 % (a restarted node takes its
# salt back from the state file, so a returning visitor is the same visitor);
# visits grow by the visits the restarts closed early (closed at SIGTERM,
# continued as new visits).
scenario_rolling() {
    say "scenario: rolling restart of the veil nodes under load"
    local n="$VEIL_CLUSTER_ROLL_REQUESTS" v rate="$VEIL_CLUSTER_ROLL_RATE" j
    # Two hits per visitor, a round of the visitors apart: the restarts fall
    # between many visitors' hits.
    v=$((n / 2))
    lg steady --requests "$n" --rate "$rate" --visitors "$v" --sites steady --seed 23 --check-timeout 30
    local r0 d0 k0
    r0="$(lb_sum wretr)" d0="$(lb_sum wredis)" k0="$(lb_sum chkdown)"
    RESTART_MS=()
    roll() {
        sleep 2
        for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do restart_node "$j"; done
    }
    lg rolling --requests "$n" --rate "$rate" --visitors "$v" --sites rolling --seed 23 --check-timeout 30 &
    local pid=$!
    roll
    wait "$pid" || true
    local retries redis downs
    retries=$(($(lb_sum wretr) - r0)) redis=$(($(lb_sum wredis) - d0)) downs=$(($(lb_sum chkdown) - k0))
    record rolling "rolling restart" 0 "SIGTERM + start per node (${RESTART_MS[*]}); HAProxy: $retries retries, $redis redispatched, marked down $downs times"
    # The twins, per dimension total: counters equal, visitors within 1 %.
    local t
    t="$(sql "SELECT
            sumMergeIf(pageviews, site = 'steady'), sumMergeIf(pageviews, site = 'rolling'),
            sumMergeIf(events, site = 'steady'), sumMergeIf(events, site = 'rolling'),
            uniqCombinedArrayMergeIf(visitors, site = 'steady'), uniqCombinedArrayMergeIf(visitors, site = 'rolling'),
            sumMergeIf(visits, site = 'steady'), sumMergeIf(visits, site = 'rolling')
          FROM open_aggregates WHERE dim = 'total' AND site IN ('steady', 'rolling') FORMAT TSV")"
    echo "$t" >"$OUT/rolling-twins.tsv"
    local p1 p2 e1 e2 u1 u2 s1 s2 worst err1 err2 unanswered
    read -r p1 p2 e1 e2 u1 u2 s1 s2 <<<"$t"
    worst="$(awk -v a="$u1" -v b="$u2" 'BEGIN { d = (a > b ? a - b : b - a) / (a > 0 ? a : 1) * 100; printf "%.2f", d }')"
    # A request no node answered is not accepted (and not in the loss check):
    # the twins' counters may differ by at most those.
    err1="$(summary_errors steady)" err2="$(summary_errors rolling)"
    unanswered=$((err1 > err2 ? err1 - err2 : err2 - err1))
    local note="$n requests of $v visitors at $rate/s: pageviews $p1 / $p2, events $e1 / $e2, visitors $u1 / $u2 ($worst %), visits $s1 / $s2 (undisturbed / rolling); unanswered requests $err1 / $err2"
    if [[ -n "$p1" && -n "$p2" ]] && ((${p1:-0} - ${p2:-0} <= unanswered && ${p2:-0} - ${p1:-0} <= unanswered &&
        ${e1:-0} - ${e2:-0} <= unanswered && ${e2:-0} - ${e1:-0} <= unanswered)) &&
        awk -v w="$worst" 'BEGIN { exit !(w <= 1.0) }'; then
        ROWS+=("| rolling = undisturbed | | | | | $note | ok |")
    else
        ROWS+=("| rolling = undisturbed | | | | | $note | FAIL |")
        FAILED+=("rolling vs undisturbed")
    fi
}

# reload_edit FILE — the reload scenario's edit of one node's config: a new site
# `fresh`, site `reload` from eu-strict to us-opt-out, the key of `keyed` rotated.
reload_edit() {
    python3 - "$1" "$(printf '%s' "$CL_API_KEY" | "$(cl_veil_bin)" hash-key)" \
        "$(printf '%s' "$CL_API_KEY_NEW" | "$(cl_veil_bin)" hash-key)" <<'PY'
import sys
path, old, new = sys.argv[1:4]
text = open(path).read()
block = 'id = "reload"\nhostnames = ["reload.example"]\npublic_dashboard = true\nconsent = { preset = "eu-strict" }\n'
assert block in text and old in text, "unexpected config layout"
text = text.replace(block, block.replace("eu-strict", "us-opt-out")).replace(old, new)
text += '\n[[sites]]\nid = "fresh"\nhostnames = ["fresh.example"]\npublic_dashboard = true\nconsent = { preset = "eu-strict" }\n'
tmp = path + ".new"
open(tmp, "w").write(text)
import os
os.replace(tmp, path)  # one rename: a watcher never reads half a file
PY
}

# probe_hits SITE N TAG — N pixel pageviews without consent signals straight to
# every node (distinct addresses), page /TAG; prints how many were answered 200.
probe_hits() {
    local site="$1" n="$2" tag="$3" j i ok=0 code
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
        for ((i = 1; i <= n; i++)); do
            code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
                -A "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0" \
                -H "X-Forwarded-For: 198.51.100.$((j * 40 + i))" -H "Accept-Language: en" -H "Sec-Fetch-Mode: no-cors" \
                "$(cl_veil_url "$j")/p.gif?s=$site&u=https%3A%2F%2F$site.example%2F$tag&w=1280")" || true
            [[ "$code" == 200 ]] && ok=$((ok + 1))
        done
    done
    echo "$ok"
}

# `veil audit` of the cluster's database with a node's config: the cluster
# schema's tables checked by their role, every shard's content scanned.
scenario_audit() {
    say "check: veil audit of the cluster"
    local rc=0 summary
    "$(cl_veil_bin)" audit --config "$CL/veil1/veil.toml" >"$OUT/audit.txt" 2>&1 || rc=$?
    summary="$(grep -E '^(PASSED|FAILED)' "$OUT/audit.txt" | tail -n 1)"
    if ((rc == 0)); then
        ROWS+=("| veil audit | | | | | exit 0: ${summary:-no summary} | ok |")
    else
        ROWS+=("| veil audit | | | | | exit $rc: ${summary:-see $OUT/audit.txt}; $(grep '^FAIL' "$OUT/audit.txt" | head -n 3 | tr '\n|' '; ') | FAIL |")
        FAILED+=("veil audit")
    fi
}

# Under load, every node's config file is edited (a site added, a consent preset
# changed, a stats API key rotated) and each node gets SIGHUP: the generation goes
# up on every node, the new site's hits are stored, the preset and the key take
# effect, and nothing of the load is lost. Skipped (with a row saying so) on a
# build without configuration reload (no veil_config_generation in /metrics).
scenario_reload() {
    say "scenario: configuration reload (SIGHUP) under load"
    local j gen0=() gen1=() bad="" day
    day="$(date -u +%F)"
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do gen0+=("$(metric "$(cl_veil_url "$j")" veil_config_generation)"); done
    if [[ -z "${gen0[0]}" ]]; then
        warn "reload scenario skipped: this veil build has no veil_config_generation in /metrics (no SIGHUP reload)"
        ROWS+=("| config reload | | | | | skipped: no veil_config_generation in /metrics (this build cannot reload) | skip |")
        return 0
    fi
    local before_anon code_old
    before_anon="$(probe_hits reload 3 before-reload)"
    code_old="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CL_API_KEY" "$CL_LB_URL/api/v1/aggregate?site=keyed&from=$day&to=$day")"
    reload_all() {
        for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
            reload_edit "$CL/veil$j/veil.toml"
            kill -HUP "$(cl_pid "veil$j")"
        done
        local deadline=$((SECONDS + 15))
        for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
            until (($(metric "$(cl_veil_url "$j")" veil_config_generation || echo 0) > gen0[j - 1])); do
                ((SECONDS < deadline)) || break
                sleep 0.2
            done
        done
    }
    under_load reload "$VEIL_CLUSTER_LOAD_SECS" reload_all
    record reload "config reload" 0 "load on bench* while every node reloaded"
    for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
        gen1+=("$(metric "$(cl_veil_url "$j")" veil_config_generation)")
        ((${gen1[j - 1]:-0} > gen0[j - 1])) || bad+="veil$j generation ${gen0[j - 1]} -> ${gen1[j - 1]:-?}; "
        [[ "$(metric "$(cl_veil_url "$j")" veil_config_reloads_failed_total)" == 0 ]] || bad+="veil$j has failed reloads; "
    done
    # The new site: accepted by every node and stored.
    local fresh_ok fresh_pv after_ok decisions old_after new_after
    fresh_ok="$(probe_hits fresh 3 after-reload)"
    after_ok="$(probe_hits reload 3 after-reload)"
    old_after="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CL_API_KEY" "$CL_LB_URL/api/v1/aggregate?site=keyed&from=$day&to=$day")"
    new_after="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CL_API_KEY_NEW" "$CL_LB_URL/api/v1/aggregate?site=keyed&from=$day&to=$day")"
    sleep $((VEIL_CLUSTER_FLUSH_MS / 1000 + 3))
    # Every accepted hit has its decision counted (eu-strict without consent: the
    # anonymous count only).
    fresh_pv="$(sql "SELECT sumMerge(hits) FROM open_aggregates WHERE site = 'fresh' AND dim = 'decision'")"
    # eu-strict without consent: anonymous counts only; us-opt-out: collected.
    decisions="$(sql "SELECT sumMergeIf(hits, value = 'anonymous'), sumMergeIf(hits, value != 'anonymous')
        FROM open_aggregates WHERE site = 'reload' AND dim = 'decision' FORMAT TSV" | tr '\t' ' ')"
    local want=$((3 * VEIL_CLUSTER_NODES))
    [[ "$fresh_ok" == "$want" && "$fresh_pv" == "$want" ]] || bad+="site fresh: $fresh_ok of $want accepted, $fresh_pv stored; "
    # Before: anonymous counts only (eu-strict, no consent); after: collected.
    [[ "$before_anon" == "$want" && "$after_ok" == "$want" && "$decisions" == "$want $want" ]] ||
        bad+="site reload: decisions anonymous / collected $decisions, want $want $want; "
    [[ "$code_old" == 200 && "$old_after" == 401 && "$new_after" == 200 ]] || bad+="stats API key: old $code_old then $old_after, new $new_after; "
    # An invalid file on veil1: refused, the running configuration stays.
    local good="$CL/veil1/veil.toml" url1 failed gen_bad code_bad
    url1="$(cl_veil_url 1)"
    cp "$good" "$OUT/veil1.toml.good"
    printf '\n[[sites]]\nid = "broken"\nconsent = { preset = "lax" }\n' >>"$good"
    kill -HUP "$(cl_pid veil1)"
    local deadline=$((SECONDS + 10))
    until (($(metric "$url1" veil_config_reloads_failed_total || echo 0) > 0)) || ((SECONDS >= deadline)); do sleep 0.2; done
    failed="$(metric "$url1" veil_config_reloads_failed_total)" gen_bad="$(metric "$url1" veil_config_generation)"
    code_bad="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $CL_API_KEY_NEW" "$url1/api/v1/aggregate?site=keyed&from=$day&to=$day")"
    cp "$OUT/veil1.toml.good" "$good"
    kill -HUP "$(cl_pid veil1)"
    [[ "${failed:-0}" -ge 1 && "$gen_bad" == "${gen1[0]}" && "$code_bad" == 200 ]] ||
        bad+="invalid file on veil1: failed reloads ${failed:-?}, generation ${gen1[0]} -> $gen_bad, new key $code_bad; "
    local note="generation ${gen0[*]} -> ${gen1[*]}; an invalid file refused (veil1: $failed failed, generation stays $gen_bad); site fresh $fresh_pv of $want stored; reload decisions anonymous / collected $decisions; old key $code_old -> $old_after, new key $new_after"
    if [[ -z "$bad" ]]; then
        ROWS+=("| config reload checks | | | | | $note | ok |")
    else
        ROWS+=("| config reload checks | | | | | $bad | FAIL |")
        FAILED+=("config reload")
    fi
}

cluster_test() {
    local started=$SECONDS
    OUT="$CL/test-$(date -u +%Y%m%dT%H%M%SZ)"
    cluster_down 2>/dev/null
    say "previous cluster stopped in $((SECONDS - started)) s"
    # Moved aside and deleted in the background: ClickHouse leaves many small files.
    local trash="$CL/.trash.$$" d
    mkdir -p "$trash"
    for d in "$CL/zk" "$CL/ch1" "$CL/ch2" "$CL/ch3" "$CL/ch4" "$CL"/veil[0-9] "$CL/run"; do
        if [[ -e "$d" ]]; then mv "$d" "$trash/"; fi
    done
    (rm -rf "$CL"/.trash.* &)
    mkdir -p "$OUT"
    cluster_up
    local up_secs=$((SECONDS - started)) build_secs=$BUILD_SECS
    local s t secs=""
    for s in compare stats close equal move rolling sigterm sigkill replica zookeeper shard reload audit; do
        if [[ -n "$VEIL_CLUSTER_ONLY" && " $VEIL_CLUSTER_ONLY " != *" $s "* ]]; then continue; fi
        t=$SECONDS
        "scenario_$s"
        cl_wait_lb_up "$VEIL_CLUSTER_NODES"
        secs+="$s $((SECONDS - t)), "
    done
    {
        echo "## veil cluster test, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "ZooKeeper 3.8, 4 x ClickHouse $(cl_ch_sql 1 'SELECT version()') (2 shards x 2 replicas), $VEIL_CLUSTER_NODES veil nodes ($VEIL_CLUSTER_PROFILE build, flush every $VEIL_CLUSTER_FLUSH_MS ms), HAProxy $(haproxy -v 2>/dev/null | head -n1 | awk '{print $3}'); $(nproc) cores. Counts are pageviews; decisions are every accepted hit's consent-decision count."
        echo
        echo "| scenario | sent | stored | lost | decisions lost | note | |"
        echo "|---|---:|---:|---:|---:|---|---|"
        printf '%s\n' "${ROWS[@]}"
        echo
        echo "seconds per scenario: ${secs%, }"
        echo
        echo "build ${build_secs} s; cluster up (with the build) in ${up_secs} s; whole test $((SECONDS - started)) s before the final down; reports in $OUT"
    } | tee "$OUT/results.md"
    [[ -n "$VEIL_CLUSTER_KEEP" ]] || cluster_down
    if ((${#FAILED[@]})); then
        warn "failed: ${FAILED[*]}"
        return 1
    fi
}

# cluster_bench_shard — what one shard absorbs: batches of veil's rows (the shape
# sink/row.rs writes: one row per (site, dim, hour, value) cell of a flush, a few
# visitor hashes each) posted to server ch1's aggregates_in_local (shard 01: the
# Null table, both views, the replicated sketches and batch ids), one batch after
# another and then from 2 writers at once, with ch2 fetching every part
# (replication on). Prints rows/s until ch1 answered and until ch2 had them all.
# On a running cluster (`up`); the rows are of a future day, dropped afterwards.
cluster_bench_shard() {
    if ! cl_pid ch1 >/dev/null || ! cl_pid ch2 >/dev/null; then die "the cluster is not up: scripts/cluster.sh up"; fi
    local rows="${VEIL_CLUSTER_BENCH_ROWS:-50000}" files="${VEIL_CLUSTER_BENCH_BATCHES:-12}" d="$CL/shard-bench"
    # Mean visitor hashes per row (each row's visitors array): the other half of
    # the work, beside the rows.
    local hashes="${VEIL_CLUSTER_BENCH_HASHES:-2}"
    # A future day: no day close touches it meanwhile.
    local day=2030-01-15
    mkdir -p "$d"
    say "generating $files batches of $rows rows, $hashes visitor hashes per row on average"
    python3 - "$d" "$files" "$rows" "$day" "$hashes" <<'PY'
import random, sys
out, nfiles, rows, day, mean = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
dims = ["total", "page", "page", "page", "source", "referrer", "country", "region", "browser", "os", "device",
        "screen", "language", "decision", "entry", "exit", "page*source", "page*country", "source*goal"]
for f in range(nfiles):
    rnd = random.Random(f)
    with open(f"{out}/batch{f}.tsv", "w") as fh:
        for i in range(rows):
            dim = dims[i % len(dims)]
            value = "" if dim == "total" else f"/{dim}/{int(rnd.paretovariate(1.0)) % 2000}/{i}"
            n = 1 + int(rnd.expovariate(1.0 / (mean - 1))) if mean > 1 else 1
            vis = "[" + ",".join(str(rnd.getrandbits(64)) for _ in range(n)) + "]"
            hits = n + rnd.randint(0, 3)
            fh.write(f"{day}\tUTC\t{day} {f % 24:02d}:00:00\tbench{i % 3 + 1}\t{dim}\t{value}\t{90_000_000 + f}\t"
                     f"{hits}\t{hits}\t0\t{n}\t{n // 2}\t{30 * n}\t0\t0\t0\t0\t{vis}\n")
PY
    local url q i t0 t1 t2 half=$((files / 2))
    url="$(cl_ch_url 1)/?database=$CL_DB&query=$(python3 -c 'import urllib.parse; print(urllib.parse.quote("INSERT INTO aggregates_in_local FORMAT TabSeparated"))')"
    q="SELECT count() FROM $CL_DB.batches_local WHERE date = '$day'"
    cl_ch_sql 1 "ALTER TABLE $CL_DB.open_aggregates_local ON CLUSTER $CL_NAME DROP PARTITION ('$day', 'UTC')" >/dev/null
    cl_ch_sql 1 "ALTER TABLE $CL_DB.batches_local ON CLUSTER $CL_NAME DROP PARTITION '$day'" >/dev/null
    bench_wait_ch2() {
        local want="$1"
        until [[ "$(cl_ch_sql 2 "$q")" == "$want" ]]; do sleep 0.05; done
    }
    t0=$(date +%s%N)
    for ((i = 0; i < half; i++)); do curl -sS --fail-with-body "$url" --data-binary "@$d/batch$i.tsv"; done
    t1=$(date +%s%N)
    bench_wait_ch2 "$half"
    t2=$(date +%s%N)
    echo "one writer: $half batches x $rows rows: $((half * rows * 1000000000 / (t1 - t0))) rows/s stored on ch1, $((half * rows * 1000000000 / (t2 - t0))) rows/s with ch2 caught up"
    t0=$(date +%s%N)
    for ((i = half; i < files; i += 2)); do
        curl -sS --fail-with-body "$url" --data-binary "@$d/batch$i.tsv" &
        if ((i + 1 < files)); then curl -sS --fail-with-body "$url" --data-binary "@$d/batch$((i + 1)).tsv"; fi
        wait
    done
    t1=$(date +%s%N)
    bench_wait_ch2 "$files"
    t2=$(date +%s%N)
    echo "two writers: $((files - half)) batches x $rows rows: $(((files - half) * rows * 1000000000 / (t1 - t0))) rows/s stored on ch1, $(((files - half) * rows * 1000000000 / (t2 - t0))) rows/s with ch2 caught up"
    cl_ch_sql 1 "ALTER TABLE $CL_DB.open_aggregates_local ON CLUSTER $CL_NAME DROP PARTITION ('$day', 'UTC')" >/dev/null
    cl_ch_sql 1 "ALTER TABLE $CL_DB.batches_local ON CLUSTER $CL_NAME DROP PARTITION '$day'" >/dev/null
    rm -rf "$d"
}

case "${1:-}" in
    up) cluster_up ;;
    down) cluster_down ;;
    status) cluster_status ;;
    bench-shard) cluster_bench_shard ;;
    test) cluster_test ;;
    *)
        echo "usage: $0 up|down|test|status|bench-shard" >&2
        exit 2
        ;;
esac
