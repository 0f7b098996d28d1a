#!/usr/bin/env bash
# Throwaway PostgreSQL and Redis servers for the scaled-out test run, kept entirely in DIR.
#
# Usage:
#   scripts/services.sh start DIR   start both on free loopback ports, create database `agentops`,
#                                   write DIR/env (export DATABASE_URL=... REDIS_URL=...)
#   scripts/services.sh stop DIR    stop exactly the servers started in DIR; safe to repeat
#   scripts/services.sh env DIR     print DIR/env, e.g.  eval "$(scripts/services.sh env DIR)"
#
# Both servers listen on 127.0.0.1 only. PostgreSQL trusts every local connection and runs
# without fsync: the data is thrown away with DIR, so durability buys nothing but slower tests.
# Programs come from Debian's packages (scripts/system-deps.sh services); PG_BIN overrides the
# PostgreSQL binary directory.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

usage() {
    printf 'usage: %s start|stop|env DIR\n' "$(basename "$0")" >&2
    exit 2
}

# --- helpers -------------------------------------------------------------------------------

is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Debian keeps the server binaries off PATH, one directory per major version: take the newest.
find_pg_bin() {
    if [[ -n "${PG_BIN:-}" ]]; then
        printf '%s\n' "$PG_BIN"
        return
    fi
    local newest
    newest="$(compgen -G '/usr/lib/postgresql/*/bin' | sort -V | tail -n1 || true)"
    if [[ -n "$newest" && -x "$newest/pg_ctl" ]]; then
        printf '%s\n' "$newest"
    elif command -v pg_ctl >/dev/null; then
        dirname "$(command -v pg_ctl)"
    else
        die "PostgreSQL server binaries not found; run scripts/system-deps.sh services"
    fi
}

# Asks the kernel for a port nobody is using. Another process could take it before the server
# binds it, but on a test machine that window is too small to matter.
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PostgreSQL refuses to run as root, so as root its files belong to, and it runs as, the
# `postgres` OS user that Debian's package creates. Started from / because root's working
# directory is usually unreadable for that user.
as_pg_owner() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# Waits up to $1 tenths of a second for the command that follows to succeed.
wait_until() {
    local tries="$1"
    shift
    while ! "$@" >/dev/null 2>&1; do
        tries=$((tries - 1))
        [[ $tries -gt 0 ]] || return 1
        sleep 0.1
    done
}

process_gone() { ! kill -0 "$1" 2>/dev/null; }

redis_answers() { [[ "$(redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" == PONG ]]; }

# The state file tells `stop` which servers belong to DIR. Written as each server comes up, so a
# start that fails half way can still be cleaned up.
save_state() {
    printf 'PG_BIN=%q\nPG_PORT=%q\nREDIS_PORT=%q\n' \
        "${PG_BIN:-}" "${PG_PORT:-}" "${REDIS_PORT:-}" >"$DIR/services.state"
}

# --- PostgreSQL ----------------------------------------------------------------------------

pg_prepare_dirs() {
    mkdir -p "$DIR/pg" "$DIR/pg-socket"
    touch "$DIR/pg.log"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' OS user to run PostgreSQL as; run scripts/system-deps.sh services"
        chmod 755 "$DIR"   # mktemp makes 0700 dirs; the postgres user must reach its files
        chown postgres: "$DIR/pg" "$DIR/pg-socket" "$DIR/pg.log"
        as_pg_owner test -w "$DIR/pg-socket" ||
            die "the postgres OS user cannot reach $DIR; choose a DIR under /tmp"
    fi
    chmod 700 "$DIR/pg"
}

pg_start() {
    PG_BIN="$(find_pg_bin)"
    pg_prepare_dirs
    if [[ ! -f "$DIR/pg/PG_VERSION" ]]; then
        as_pg_owner "$PG_BIN/initdb" -D "$DIR/pg" -U postgres -A trust -E UTF8 --no-locale --no-sync \
            >"$DIR/initdb.log" 2>&1 || die "initdb failed; see $DIR/initdb.log"
    fi
    PG_PORT="$(free_port)"
    save_state
    local opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='$DIR/pg-socket'"
    # PG_DURABLE=1 keeps PostgreSQL's stock durability, for benchmarks of durable commits.
    [[ "${PG_DURABLE:-0}" == 1 ]] || opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg.log" -o "$opts" -w -t 60 start >/dev/null ||
        die "PostgreSQL did not start; see $DIR/pg.log"
    wait_until 100 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres ||
        die "PostgreSQL does not accept connections on port $PG_PORT; see $DIR/pg.log"
    pg_create_database agentops
}

pg_create_database() {
    local psql=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -X -q -t -A)
    if [[ "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = '$1'")" != 1 ]]; then
        "${psql[@]}" -c "CREATE DATABASE $1"
    fi
}

pg_stop() {
    [[ -n "${PG_BIN:-}" && -f "$DIR/pg/PG_VERSION" ]] || return 0
    # pg_ctl status reads the data directory's own postmaster.pid: it names this server only.
    if as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; then
        as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" -m fast -w -t 60 stop >/dev/null
        info "PostgreSQL on port $PG_PORT stopped"
    fi
}

# --- Redis ---------------------------------------------------------------------------------

redis_start() {
    command -v redis-server >/dev/null || die "redis-server not found; run scripts/system-deps.sh services"
    REDIS_PORT="$(free_port)"
    save_state
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize yes --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null ||
        die "redis-server did not start; see $DIR/redis.log"
    wait_until 100 redis_answers "$REDIS_PORT" ||
        die "Redis does not answer on port $REDIS_PORT; see $DIR/redis.log"
}

# Stops the server only if the one answering on the port is the one whose pid DIR recorded.
redis_stop() {
    [[ -n "${REDIS_PORT:-}" && -f "$DIR/redis.pid" ]] || return 0
    local pid
    pid="$(cat "$DIR/redis.pid")"
    redis_answers "$REDIS_PORT" || return 0
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server | tr -d '\r' | grep -qx "process_id:$pid" || return 0
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    wait_until 100 process_gone "$pid" || kill "$pid" 2>/dev/null || true
    info "Redis on port $REDIS_PORT stopped"
}

# --- commands ------------------------------------------------------------------------------

cmd_start() {
    if [[ -f "$DIR/services.state" ]]; then
        # shellcheck source=/dev/null
        source "$DIR/services.state"
        if { [[ -n "${REDIS_PORT:-}" ]] && redis_answers "$REDIS_PORT"; } ||
            { [[ -n "${PG_BIN:-}" ]] && as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; }; then
            die "services already running in $DIR; stop them first"
        fi
    fi
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    # Anything that fails below leaves no server behind.
    trap 'cmd_stop >/dev/null 2>&1 || true' EXIT
    pg_start
    redis_start
    local url_db="postgres://postgres@127.0.0.1:$PG_PORT/agentops"
    local url_redis="redis://127.0.0.1:$REDIS_PORT/0"
    printf 'export DATABASE_URL=%s\nexport REDIS_URL=%s\n' "$url_db" "$url_redis" >"$DIR/env"
    trap - EXIT
    info "PostgreSQL: $url_db"
    info "Redis:      $url_redis"
    info "Environment written to $DIR/env"
}

cmd_stop() {
    [[ -f "$DIR/services.state" ]] || return 0
    # shellcheck source=/dev/null
    source "$DIR/services.state"
    redis_stop
    pg_stop
    rm -f "$DIR/env"
}

cmd_env() {
    [[ -f "$DIR/env" ]] || die "no services running in $DIR (no $DIR/env)"
    cat "$DIR/env"
}

main() {
    [[ $# -eq 2 && -n "$2" ]] || usage
    DIR="$2"
    case "$1" in
        start) cmd_start ;;
        stop) cmd_stop ;;
        env) cmd_env ;;
        *) usage ;;
    esac
}

main "$@"
