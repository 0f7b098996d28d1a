#!/usr/bin/env bash
# PostgreSQL (and Redis) for the benchmark, kept entirely in DIR.
#
# Unlike scripts/services.sh (which runs PostgreSQL without fsync, for fast tests) this server
# keeps PostgreSQL's stock durability: fsync=on, synchronous_commit=on, full_page_writes=on,
# the platform's default wal_sync_method (fdatasync on Linux). A benchmark of durable execution
# must pay for durable commits.
#
# Usage:
#   bench/postgres.sh start DIR [--no-redis]   start on free loopback ports, create role and
#                                              database `bench` (password `bench`), write DIR/env
#   bench/postgres.sh stop DIR                 stop exactly the servers started in DIR; safe to repeat
#   bench/postgres.sh env DIR                  print DIR/env, e.g.  eval "$(bench/postgres.sh env DIR)"
#
# DIR/env exports BENCH_PG_URL (the form the peer scripts read), BENCH_DATABASE_URL and, unless
# --no-redis, BENCH_REDIS_URL. Redis keeps no snapshots or AOF: it only carries task messages.
# Both servers listen on 127.0.0.1 only; PostgreSQL's unix socket is in DIR/sock.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/../scripts/lib.sh"

usage() {
    printf 'usage: %s start DIR [--no-redis] | stop DIR | env DIR\n' "$(basename "$0")" >&2
    exit 2
}

is_root() { [[ "$(id -u)" -eq 0 ]]; }

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

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PostgreSQL refuses to run as root: as root, its files belong to and it runs as `postgres`.
as_pg_owner() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

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

save_state() {
    printf 'PG_BIN=%q\nPG_PORT=%q\nREDIS_PORT=%q\n' "${PG_BIN:-}" "${PG_PORT:-}" "${REDIS_PORT:-}" >"$DIR/bench.state"
}

pg_start() {
    PG_BIN="$(find_pg_bin)"
    mkdir -p "$DIR/pg" "$DIR/sock"
    touch "$DIR/pg.log"
    if is_root; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' OS user to run PostgreSQL as"
        chmod 755 "$DIR"
        chown postgres: "$DIR/pg" "$DIR/sock" "$DIR/pg.log"
    fi
    chmod 700 "$DIR/pg"
    if [[ ! -f "$DIR/pg/PG_VERSION" ]]; then
        # Local (socket) connections are trusted, to create the role; TCP needs the password.
        as_pg_owner "$PG_BIN/initdb" -D "$DIR/pg" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
            -E UTF8 --no-locale >"$DIR/initdb.log" 2>&1 || die "initdb failed; see $DIR/initdb.log"
    fi
    PG_PORT="$(free_port)"
    save_state
    local opts="-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories='$DIR/sock'"
    opts+=" -c fsync=on -c synchronous_commit=on -c full_page_writes=on"
    as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" -l "$DIR/pg.log" -o "$opts" -w -t 60 start >/dev/null ||
        die "PostgreSQL did not start; see $DIR/pg.log"
    wait_until 100 "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" ||
        die "PostgreSQL does not accept connections on port $PG_PORT; see $DIR/pg.log"
    local psql=("$PG_BIN/psql" -h "$DIR/sock" -p "$PG_PORT" -U postgres -d postgres -X -q -v ON_ERROR_STOP=1)
    as_pg_owner "${psql[@]}" -c "CREATE ROLE bench WITH LOGIN PASSWORD 'bench' CREATEDB" \
        -c "CREATE DATABASE bench OWNER bench" >/dev/null
}

pg_stop() {
    [[ -n "${PG_BIN:-}" && -f "$DIR/pg/PG_VERSION" ]] || return 0
    # pg_ctl reads this data directory's own postmaster.pid: it names this server only.
    if as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; then
        as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" -m fast -w -t 60 stop >/dev/null
        info "PostgreSQL on port $PG_PORT stopped"
    fi
}

redis_start() {
    command -v redis-server >/dev/null || die "redis-server not found (or use --no-redis)"
    REDIS_PORT="$(free_port)"
    save_state
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
        --daemonize yes --dir "$DIR" --pidfile "$DIR/redis.pid" --logfile "$DIR/redis.log" >/dev/null ||
        die "redis-server did not start; see $DIR/redis.log"
    wait_until 100 redis_answers "$REDIS_PORT" || die "Redis does not answer on port $REDIS_PORT"
}

# Stops Redis only if the server answering on the port is the one whose pid DIR recorded.
redis_stop() {
    [[ -n "${REDIS_PORT:-}" && -f "$DIR/redis.pid" ]] || return 0
    local pid
    pid="$(cat "$DIR/redis.pid")"
    redis_answers "$REDIS_PORT" || return 0
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" info server | tr -d '\r' | grep -qx "process_id:$pid" || return 0
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
    wait_until 100 process_gone "$pid" || true
    info "Redis on port $REDIS_PORT stopped"
}

cmd_start() {
    local with_redis=1
    [[ "${1:-}" == "--no-redis" ]] && with_redis=0
    if [[ -f "$DIR/bench.state" ]]; then
        # shellcheck source=/dev/null
        source "$DIR/bench.state"
        if [[ -n "${PG_BIN:-}" ]] && as_pg_owner "$PG_BIN/pg_ctl" -D "$DIR/pg" status >/dev/null 2>&1; then
            die "a benchmark server is already running in $DIR; stop it first"
        fi
        rm -rf "$DIR/pg"  # a stopped cluster from an earlier start: begin from a clean one
    fi
    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd)"
    trap 'cmd_stop >/dev/null 2>&1 || true' EXIT
    pg_start
    local env_text
    env_text="export BENCH_PG_URL=postgresql://bench:bench@127.0.0.1:$PG_PORT/bench"$'\n'
    env_text+="export BENCH_DATABASE_URL=postgresql://bench:bench@127.0.0.1:$PG_PORT/bench"$'\n'
    if [[ $with_redis -eq 1 ]]; then
        redis_start
        env_text+="export BENCH_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"$'\n'
    fi
    printf '%s' "$env_text" >"$DIR/env"
    trap - EXIT
    info "PostgreSQL (fsync=on, synchronous_commit=on) on 127.0.0.1:$PG_PORT; environment in $DIR/env"
}

cmd_stop() {
    [[ -f "$DIR/bench.state" ]] || return 0
    # shellcheck source=/dev/null
    source "$DIR/bench.state"
    redis_stop
    pg_stop
    rm -f "$DIR/env"
}

cmd_env() {
    [[ -f "$DIR/env" ]] || die "no benchmark servers running in $DIR (no $DIR/env)"
    cat "$DIR/env"
}

main() {
    [[ $# -ge 2 && -n "$2" ]] || usage
    DIR="$2"
    case "$1" in
        start) cmd_start "${3:-}" ;;
        stop) cmd_stop ;;
        env) cmd_env ;;
        *) usage ;;
    esac
}

main "$@"
