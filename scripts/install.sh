#!/usr/bin/env bash
# Creates .venv and installs agentops with its dev extras; does nothing when pyproject.toml,
# the interpreter and the checkout path are unchanged since the last install.
# Usage: scripts/install.sh   (PYTHON=/path/to/python3.11 to choose the interpreter)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

venv_ensure
