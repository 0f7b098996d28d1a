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

# The Python versions AgentOps supports, oldest first (pyproject.toml's requires-python).
SUPPORTED_PYTHONS=(3.11 3.12 3.13)

# Prints the path of a working interpreter for $1 (a command or a path). A pyenv shim of a
# version that is installed but not selected fails when run, so a `pythonX.Y` is also looked
# for among pyenv's versions.
python_resolve() {
    local name="$1" found
    if found="$(command -v "$name" 2>/dev/null)" && "$found" -c 'import sys' >/dev/null 2>&1; then
        printf '%s\n' "$found"
        return 0
    fi
    [[ "$name" =~ ^python(3\.[0-9]+)$ ]] || return 1
    found="$(compgen -G "${PYENV_ROOT:-$HOME/.pyenv}/versions/${BASH_REMATCH[1]}.*/bin/$name" | sort -V | tail -n1)"
    [[ -n "$found" ]] && "$found" -c 'import sys' >/dev/null 2>&1 && printf '%s\n' "$found"
}

python_version() { "$1" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")'; }

python_supported() {
    local version="$1" supported
    for supported in "${SUPPORTED_PYTHONS[@]}"; do
        [[ "$version" == "$supported" ]] && return 0
    done
    return 1
}

# Prints the interpreter to build .venv with: $PYTHON if set, else python3 when it is a supported
# version, else the newest supported pythonX.Y found. Dies naming the versions accepted.
python_choose() {
    local hint="AgentOps needs Python 3.11, 3.12 or 3.13; choose one with PYTHON (a command or a path), e.g. PYTHON=python3.13 make run"
    local candidate path version
    if [[ -n "${PYTHON:-}" ]]; then
        path="$(python_resolve "$PYTHON")" || die "PYTHON=$PYTHON does not run. $hint"
        version="$(python_version "$path")"
        python_supported "$version" || die "PYTHON=$PYTHON is Python $version. $hint"
        printf '%s\n' "$path"
        return 0
    fi
    for candidate in python3 python3.13 python3.12 python3.11; do
        path="$(python_resolve "$candidate")" || continue
        python_supported "$(python_version "$path")" && { printf '%s\n' "$path"; return 0; }
    done
    die "no supported Python found (python3: $(python3 --version 2>&1 || echo missing)). $hint"
}

# What the editable install depends on: pyproject.toml (the project's and the Python SDK's, which
# the tests use), the interpreter and the checkout path (an editable install points at the source
# tree, so a moved checkout needs a new one).
install_fingerprint() {
    {
        cat "$AGENTOPS_ROOT/pyproject.toml" "$AGENTOPS_ROOT/sdk/python/pyproject.toml"
        "$VENV_PY" -c 'import sys; print(sys.version)'
        printf '%s\n' "$AGENTOPS_ROOT"
    } | sha256sum | cut -d' ' -f1
}

# Creates .venv when it is missing, no longer runs, or was made by another Python version than
# a PYTHON the caller names, then installs what $1 needs: `run` the project alone, `test` also its
# dev extras (pytest, Playwright, ...). Cheap when nothing changed, so every entry point calls it.
# The stamp holds "<fingerprint> <what>"; a test install serves a run too. It is touched either
# way, which keeps make's timestamp rule satisfied.
venv_ensure() {
    local what="${1:-test}" python version
    python="$(python_choose)"
    version="$(python_version "$python")"
    if ! "$VENV_PY" -c 'import sys' >/dev/null 2>&1 \
        || { [[ -n "${PYTHON:-}" ]] && [[ "$(python_version "$VENV_PY")" != "$version" ]]; }; then
        info "Creating $VENV_DIR with Python $version ($python)"
        rm -rf "$VENV_DIR"
        "$python" -m venv "$VENV_DIR"
    fi
    local want have=""
    want="$(install_fingerprint)"
    [[ -f "$INSTALL_STAMP" ]] && have="$(cat "$INSTALL_STAMP")"
    if [[ "$have" != "$want test" && "$have" != "$want $what" ]]; then
        local targets=(-e "$AGENTOPS_ROOT")
        # The test extras, and the Python SDK (sdk/python), which tests/sdk drives against the app.
        [[ "$what" == test ]] && targets=(-e "${AGENTOPS_ROOT}[dev]" -e "$AGENTOPS_ROOT/sdk/python")
        info "Installing agentops$([[ "$what" == test ]] && printf ' with its test extras and the SDK') into $VENV_DIR (Python $(python_version "$VENV_PY"))"
        "$VENV_PY" -m pip install --disable-pip-version-check "${targets[@]}" \
            || die "pip install failed (its output is above)"
        printf '%s %s\n' "$want" "$what" >"$INSTALL_STAMP"
    fi
    touch "$INSTALL_STAMP"
    [[ "$what" == test ]] && typescript_sdk_ensure
    return 0
}

# The TypeScript client's dependencies (sdk/typescript/node_modules) for its tests, when npm is
# installed: `npm ci` from the committed package-lock.json, again only when that file changed.
# Without Node the tests that need it skip and say so.
typescript_sdk_ensure() {
    local dir="$AGENTOPS_ROOT/sdk/typescript" installed="$AGENTOPS_ROOT/sdk/typescript/node_modules/.package-lock.json"
    if ! command -v npm >/dev/null; then
        warn "npm not found: the TypeScript client's tests will be skipped (install Node.js 18 or later to run them)"
        return 0
    fi
    [[ -f "$installed" && "$installed" -nt "$dir/package-lock.json" ]] && return 0
    info "Installing the TypeScript client's dependencies (npm ci in sdk/typescript)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed (its output is above)"
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
