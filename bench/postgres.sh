#!/usr/bin/env bash
# PostgreSQL and Redis for the benchmark: scripts/services.sh with PostgreSQL's stock durability
# (fsync=on, synchronous_commit=on, full_page_writes=on; the test suite runs without fsync, but a
# benchmark of durable execution must pay for durable commits).
#
# Usage:
#   bench/postgres.sh start DIR [--no-redis]   start on free loopback ports; DIR/env also exports
#                                              BENCH_PG_URL (the form the peer scripts read),
#                                              BENCH_DATABASE_URL and, unless --no-redis, BENCH_REDIS_URL
#   bench/postgres.sh stop DIR                 stop exactly the servers started in DIR; safe to repeat
#   bench/postgres.sh env DIR                  print DIR/env, e.g.  eval "$(bench/postgres.sh env DIR)"
set -euo pipefail
services="$(dirname "$0")/../scripts/services.sh"

usage() {
    printf 'usage: %s start DIR [--no-redis] | stop DIR | env DIR\n' "$(basename "$0")" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
command="$1" dir="$2"
case "$command" in
    start)
        PG_DURABLE=1 "$services" start "$dir"
        # shellcheck source=/dev/null
        source "$dir/env"
        {
            printf 'export BENCH_PG_URL=%s\n' "${DATABASE_URL/#postgres:/postgresql:}"
            printf 'export BENCH_DATABASE_URL=%s\n' "$DATABASE_URL"
            [[ "${3:-}" == --no-redis ]] || printf 'export BENCH_REDIS_URL=%s\n' "$REDIS_URL"
        } >>"$dir/env"
        ;;
    stop) "$services" stop "$dir" ;;
    env) "$services" env "$dir" ;;
    *) usage ;;
esac
