"""What was measured: the project's version and the checkout's commit."""

from __future__ import annotations

import subprocess
from importlib import metadata

from bench.env import ROOT


def engine_version() -> str:
    try:
        version = metadata.version("agentops")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"{version} ({commit()})"


def commit() -> str:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"
