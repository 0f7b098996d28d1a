#!/usr/bin/env bash
# Runs the test suite: `make test` calls this, with ARGS passed on to pytest.
#
# Usage: scripts/test.sh [pytest arguments...]
#   DATABASE_URL / REDIS_URL   run against those servers (scripts/services.sh starts them)
#   JUNIT_XML=path             keep the JUnit report there (otherwise a temporary file)
#
# Exits with pytest's status, except that a run which executed no test fails: nothing
# collected (pytest's exit 5) or everything skipped proves nothing about the code.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

# Arguments that ask pytest for information instead of a test run; such a run executes no test
# by design and keeps pytest's own exit status.
informational_run() {
    local arg
    for arg in "$@"; do
        case "$arg" in
            --collect-only | --co | -h | --help | --version | -V | --fixtures | --fixtures-per-test | --markers)
                return 0
                ;;
        esac
    done
    return 1
}

# True when the caller chose the JUnit report's path; then it is theirs to read.
junit_requested() {
    local arg
    for arg in "$@"; do
        [[ "$arg" == --junitxml* || "$arg" == --junit-xml* ]] && return 0
    done
    return 1
}

# Turns pytest's status into the script's: see the header.
judge() {
    local status="$1" report="$2"
    if [[ "$status" -eq 5 ]]; then
        printf '\nerror: pytest collected no tests; a run that executes no test does not pass.\n' >&2
        return 1
    fi
    if [[ "$status" -eq 0 && -s "$report" ]]; then
        local executed
        read -r executed _ <<<"$(junit_counts "$report")"
        if [[ "$executed" -eq 0 ]]; then
            printf '\nerror: every collected test was skipped; a run that executes no test does not pass.\n' >&2
            return 1
        fi
    fi
    return "$status"
}

main() {
    cd "$AGENTOPS_ROOT"
    venv_ensure test
    # The browser tests launch Debian's Chromium (/usr/bin/chromium) through Playwright.
    "$AGENTOPS_ROOT/scripts/system-deps.sh" browser

    local report="${JUNIT_XML:-}" cleanup=""
    if [[ -z "$report" ]]; then
        report="$(mktemp -t agentops-junit.XXXXXX)"
        cleanup="$report"
    fi
    # shellcheck disable=SC2064  # expand now: the local is gone when the trap runs
    trap "rm -f '$cleanup'" EXIT
    rm -f "$report"

    local pytest_args=("$@")
    if informational_run "$@"; then
        exec "$VENV_PY" -m pytest "$@"
    fi
    junit_requested "$@" || pytest_args=("--junitxml=$report" "${pytest_args[@]}")

    local status=0
    "$VENV_PY" -m pytest "${pytest_args[@]}" || status=$?
    judge "$status" "$report"
}

main "$@"
