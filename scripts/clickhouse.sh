#!/usr/bin/env bash
# A private ClickHouse server for veil development and tests: its own config,
# data and logs under $VEIL_DATA_DIR/clickhouse, its own ports, 127.0.0.1 only.
#
# Usage: scripts/clickhouse.sh start|stop|restart|status|client [clickhouse-client args]
#
# Environment: VEIL_DATA_DIR (default <repo>/.data), VEIL_CH_HTTP_PORT (18123),
# VEIL_CH_TCP_PORT (19000), VEIL_CH_INTERSERVER_PORT (19009),
# VEIL_CH_MAX_MEMORY (bytes, 4 GiB), VEIL_CH_START_TIMEOUT (seconds, 60).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

usage() {
    cat >&2 <<USAGE
usage: $0 start|stop|restart|status|client [clickhouse-client args...]

  start     start the private server (no-op when it already runs)
  stop      stop it and wait until its ports are closed
  restart   stop, then start (regenerates config.xml and users.xml)
  status    show whether it runs; exit 0 if it answers, 3 otherwise
  client    clickhouse-client connected to it, e.g.
            $0 client --query "SHOW TABLES FROM veil"

  data dir: $VEIL_CH_DIR
  ports:    http $VEIL_CH_HTTP_PORT, native $VEIL_CH_TCP_PORT, interserver $VEIL_CH_INTERSERVER_PORT
USAGE
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    start)
        clickhouse_start
        ;;
    stop)
        clickhouse_stop
        ;;
    restart)
        clickhouse_stop
        clickhouse_start
        ;;
    status)
        if pid="$(clickhouse_pid)" && clickhouse_ping; then
            echo "running: pid $pid, $VEIL_CH_URL (native port $VEIL_CH_TCP_PORT), version $(curl -s "$VEIL_CH_URL/?query=SELECT%20version()")"
            echo "data: $VEIL_CH_DIR  logs: $VEIL_CH_DIR/log"
        elif clickhouse_ping; then
            echo "a ClickHouse answers on $VEIL_CH_URL, but not one started from $VEIL_CH_DIR (no live pid file)"
        elif pid="$(clickhouse_pid)"; then
            echo "starting or unhealthy: pid $pid is alive but $VEIL_CH_URL/ping does not answer"
            exit 3
        else
            echo "stopped (data: $VEIL_CH_DIR)"
            exit 3
        fi
        ;;
    client)
        ensure_apt_packages clickhouse-client
        clickhouse_ping || die "ClickHouse is not answering on $VEIL_CH_URL; start it with: bash scripts/clickhouse.sh start"
        exec clickhouse-client --host 127.0.0.1 --port "$VEIL_CH_TCP_PORT" "$@"
        ;;
    -h | --help | help)
        usage
        ;;
    *)
        usage
        exit 2
        ;;
esac
