#!/usr/bin/env bash
# Runs AgentOps on this machine: web server and worker, demo data, a demo API key.
# `make run` calls this. Ctrl-C stops both processes; if either dies, the other is stopped too.
#
# The first run writes .env (git-ignored; an existing one is never touched) with DEBUG=1 and a
# generated SECRET_KEY. Django reads it in every process, so `.venv/bin/python manage.py ...`
# afterwards runs with the same settings; a variable set in the environment wins over the file.
#
# Environment (all optional, passed through to Django):
#   PORT (8000), DEBUG (1 from .env), DATABASE_URL (SQLite db.sqlite3), REDIS_URL, SECRET_KEY,
#   ALLOWED_HOSTS, OPENAI_API_KEY, OPENAI_BASE_URL
#   DEMO_TENANT   slug of the tenant seed_demo creates (demo); the API key is minted for it
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

export PORT="${PORT:-8000}"
DEMO_TENANT="${DEMO_TENANT:-demo}"
KEY_FILE="$AGENTOPS_ROOT/.demo-api-key"
ENV_FILE="$AGENTOPS_ROOT/.env"
BASE_URL="http://127.0.0.1:$PORT"

web_pid=""
worker_pid=""

manage() { "$VENV_PY" "$AGENTOPS_ROOT/manage.py" "$@"; }

# Writes .env unless one exists: readable by its owner only (it holds the secret key), created
# with noclobber so that of two first runs at once only one writes it.
write_env_file() {
    [[ -e "$ENV_FILE" ]] && return 0
    local secret
    secret="$("$VENV_PY" -c 'import secrets; print(secrets.token_urlsafe(50))')"
    if (umask 077 && set -o noclobber && printf '%s\n' \
        "# Written by make run for this development machine; never commit it. Django reads it in" \
        "# every process (agentops/settings.py); a variable set in the environment wins over it." \
        "DEBUG=1" "SECRET_KEY=$secret" >"$ENV_FILE") 2>/dev/null; then
        info "Wrote .env (DEBUG=1 and a generated SECRET_KEY); manage.py commands read it too"
    fi
}

# The DEBUG Django runs with: the environment's, else the last DEBUG line of .env.
debug_setting() {
    if [[ -n "${DEBUG+set}" ]]; then
        printf '%s\n' "$DEBUG"
    elif [[ -f "$ENV_FILE" ]]; then
        sed -n "s/^\(export \)\{0,1\}DEBUG=['\"]\{0,1\}\([^'\"]*\).*/\2/p" "$ENV_FILE" | tail -n1
    fi
}

prepare_database() {
    info "Migrating the database"
    manage migrate --noinput
    info "Seeding demo data"
    manage seed_demo
}

# Keeps the key in .demo-api-key while this database knows it (a second `make run` must not
# invalidate the key of the first); issues a new one when the file is missing, or the key was
# revoked or made in another database (db.sqlite3 deleted, another DATABASE_URL).
ensure_api_key() {
    manage create_api_key --tenant "$DEMO_TENANT" --name "demo (make run)" --key-file "$KEY_FILE" >/dev/null
}

# Status code of GET $1, or 000 when nothing answers (Python's urllib: no curl needed).
http_status() {
    "$VENV_PY" - "$BASE_URL$1" <<'PY'
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=5).status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    print("000")
PY
}

# A web server already on the port (another `make run`, say) would answer our readiness check
# while ours fails to start: say so before starting anything.
ensure_port_free() {
    "$VENV_PY" - "$PORT" <<'PY' || die "port $PORT on 127.0.0.1 is in use (another make run?); stop it or choose another: PORT=8001 make run"
import socket, sys
with socket.socket() as sock:
    # As the server binds: a port left in TIME_WAIT by the last run is free; a listening one is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", int(sys.argv[1])))
    except OSError:
        sys.exit(1)
PY
}

# Each server runs in a process group of its own (job control is on), so stopping one stops
# every process it forked (qcluster's workers) and Ctrl-C in the terminal reaches only this script,
# which then stops them in order.
start_servers() {
    set -m
    "$VENV_DIR/bin/daphne" -b 127.0.0.1 -p "$PORT" agentops.asgi:application </dev/null &
    web_pid=$!
    "$VENV_PY" "$AGENTOPS_ROOT/manage.py" qcluster </dev/null &
    worker_pid=$!
    set +m
}

alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# SIGTERM to the group leader alone, so qcluster shuts its own workers down in order; after a
# grace period, SIGKILL for whatever is left of the group.
stop_group() {
    local pid="$1" tries=150
    [[ -n "$pid" ]] || return 0
    kill -TERM "$pid" 2>/dev/null || true
    while alive "$pid" && [[ $tries -gt 0 ]]; do
        sleep 0.1
        tries=$((tries - 1))
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

stop_servers() {
    trap - INT TERM
    stop_group "$web_pid"
    stop_group "$worker_pid"
    web_pid=""
    worker_pid=""
}

# shellcheck disable=SC2317  # reached through the INT/TERM traps
on_signal() {
    printf '\n'
    info "Stopping web server and worker"
    stop_servers
    exit "$1"
}

wait_until_ready() {
    local tries=600
    until [[ "$(http_status /healthz)" == 200 ]]; do
        alive "$web_pid" || return 1
        tries=$((tries - 1))
        [[ $tries -gt 0 ]] || return 1
        sleep 0.1
    done
}

print_banner() {
    local key
    key="$(cat "$KEY_FILE")"
    cat <<EOF

  AgentOps is running at $BASE_URL/
    admin            $BASE_URL/admin/
    login            $BASE_URL/accounts/login/
    API docs         $BASE_URL/api/docs/
EOF
    if [[ "$(debug_setting)" =~ ^(1|true|True|yes|on)$ ]]; then
        cat <<EOF
    demo logins      operator / demo   owner / demo   approver / demo   sam / demo (may not refund)
    platform admin   admin / demo (superuser: every tenant in the admin; operator sees the demo tenant's rows)
EOF
    fi
    cat <<EOF
    demo API key     $key

  Try the API:
    curl -H 'Authorization: Bearer $key' $BASE_URL/api/v1/agents/
    curl -H 'Authorization: Bearer $key' -H 'Content-Type: application/json' \\
         -d '{"agent": "support", "message": "Please refund order #1043"}' $BASE_URL/api/v1/runs/
  then approve the refund in the inbox as approver and watch the run finish under Runs.

  Ctrl-C stops the web server and the worker.

EOF
}

main() {
    cd "$AGENTOPS_ROOT"
    venv_ensure run
    ensure_port_free
    write_env_file
    prepare_database
    ensure_api_key

    trap 'on_signal 130' INT
    trap 'on_signal 143' TERM
    info "Starting web server on $BASE_URL and worker"
    start_servers
    wait_until_ready || {
        stop_servers
        die "the web server did not become ready on $BASE_URL"
    }
    print_banner

    # Returns when the first of the two exits; a signal interrupts it and runs the trap.
    local status=0
    wait -n "$web_pid" "$worker_pid" || status=$?
    local which="worker"
    alive "$web_pid" || which="web server"
    stop_servers
    die "the $which exited (status $status); stopped the other process"
}

main "$@"
