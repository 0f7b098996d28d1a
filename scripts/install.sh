#!/usr/bin/env bash
# Creates .venv and installs agentops, with its test extras unless told `run`; does nothing when
# pyproject.toml, the interpreter and the checkout path are unchanged since the last install.
# Usage: scripts/install.sh [run|test]   (PYTHON=python3.13 or a path to choose the interpreter:
# Python 3.11, 3.12 or 3.13)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

case "${1:-test}" in
    run | test) venv_ensure "${1:-test}" ;;
    *) die "usage: scripts/install.sh [run|test]" ;;
esac
