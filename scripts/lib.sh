# shellcheck shell=bash
# Helpers shared by the scripts in this folder and by .ci/run. Source it; it runs nothing.

# The repository root, whatever directory the caller was started from.
AGENTOPS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_DIR="$AGENTOPS_ROOT/.venv"
VENV_PY="$VENV_DIR/bin/python"
# Holds a fingerprint of what the last successful install was made from (see venv_ensure).
INSTALL_STAMP="$VENV_DIR/.install-stamp"

info() { printf '==> %s\n' "$*"; }
warn() { printf 'warning: %s\n' "$*" >&2; }
die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# What the editable install depends on: pyproject.toml, the interpreter and the checkout path
# (an editable install points at the source tree, so a moved checkout needs a new one).
install_fingerprint() {
    {
        cat "$AGENTOPS_ROOT/pyproject.toml"
        "$VENV_PY" -c 'import sys; print(sys.version)'
        printf '%s\n' "$AGENTOPS_ROOT"
    } | sha256sum | cut -d' ' -f1
}

# Creates .venv if it is missing or its interpreter no longer runs, and installs the project
# with its dev extras when the fingerprint changed. Cheap when nothing changed, so every entry
# point calls it. The stamp is touched either way, which keeps make's timestamp rule satisfied.
venv_ensure() {
    local python="${PYTHON:-python3}"
    if ! "$VENV_PY" -c 'import sys' >/dev/null 2>&1; then
        command -v "$python" >/dev/null || die "$python not found; install Python 3.11 or set PYTHON=/path/to/python3.11"
        info "Creating $VENV_DIR with $("$python" --version 2>&1)"
        rm -rf "$VENV_DIR"
        "$python" -m venv "$VENV_DIR"
    fi
    local want have=""
    want="$(install_fingerprint)"
    [[ -f "$INSTALL_STAMP" ]] && have="$(cat "$INSTALL_STAMP")"
    if [[ "$want" != "$have" ]]; then
        # pip's build output is long and mostly warnings: keep it in a log, show it on failure.
        local log="$VENV_DIR/install.log"
        info "Installing agentops with dev extras into $VENV_DIR (log: ${log#"$AGENTOPS_ROOT"/})"
        if ! "$VENV_PY" -m pip install --disable-pip-version-check -e "${AGENTOPS_ROOT}[dev]" >"$log" 2>&1; then
            tail -n 40 "$log" >&2
            die "pip install failed; the whole log is in $log"
        fi
        printf '%s\n' "$want" >"$INSTALL_STAMP"
    fi
    touch "$INSTALL_STAMP"
}

# Prints "executed passed failed errors skipped" read from a pytest JUnit XML report.
junit_counts() {
    python3 - "$1" <<'PY'
import sys
import xml.etree.ElementTree as ET

root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.iter("testsuite")
tests = failures = errors = skipped = 0
for suite in suites:
    tests += int(suite.get("tests", 0))
    failures += int(suite.get("failures", 0))
    errors += int(suite.get("errors", 0))
    skipped += int(suite.get("skipped", 0))
passed = tests - failures - errors - skipped
print(tests - skipped, passed, failures, errors, skipped)
PY
}
