"""The layers of pyproject.toml's import-linter contracts hold (docs/architecture.md)."""

import subprocess
import sys
from pathlib import Path

from tests.support.import_contracts import _private_imports

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_private_name_imported_from_another_module_is_reported(tmp_path):
    source = tmp_path / "views.py"
    source.write_text("from .selectors import _tenant_runs, run_list\nfrom . import _helpers\n"
                      "from __future__ import annotations\nfrom .models import __all__\n")

    found = _private_imports("runs.views", source, known_modules={"runs._helpers"})

    assert found == [("runs.views", 1, "runs.selectors", "_tenant_runs")]
