"""scripts/lib.sh chooses the interpreter of .venv before installing anything: a supported Python
(3.11 to 3.13) named by PYTHON, found on PATH or among pyenv's versions, or a readable refusal."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def choose(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", f"source {ROOT}/scripts/lib.sh && python_choose"],
                          env={"HOME": "/nonexistent", "PATH": "/usr/bin:/bin", **env},
                          capture_output=True, text=True, timeout=60)


def fake_python(path: Path, version: str) -> Path:
    """An interpreter that answers the script's questions as Python `version` would."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_a_supported_python_named_by_path_is_chosen():
    result = choose({"PYTHON": sys.executable})

    assert result.returncode == 0 and result.stdout.strip() == sys.executable


def test_an_unsupported_python_is_refused_naming_the_versions_and_how_to_choose(tmp_path):
    old = fake_python(tmp_path / "python3.9", "3.9")

    result = choose({"PYTHON": str(old)})

    assert result.returncode == 1 and result.stdout == ""
    assert "is Python 3.9" in result.stderr and "3.11, 3.12 or 3.13" in result.stderr
    assert "PYTHON=python3.13 make run" in result.stderr


def test_a_python_that_does_not_run_is_refused(tmp_path):
    result = choose({"PYTHON": str(tmp_path / "nope")})

    assert result.returncode == 1 and "does not run" in result.stderr


def test_a_version_installed_with_pyenv_but_not_on_path_is_found(tmp_path):
    pyenv_python = fake_python(tmp_path / "versions" / "3.13.2" / "bin" / "python3.13", "3.13")

    result = choose({"PYTHON": "python3.13", "PYENV_ROOT": str(tmp_path)})

    assert result.returncode == 0 and result.stdout.strip() == str(pyenv_python)


def test_without_python_the_newest_supported_one_found_is_chosen(tmp_path):
    bin_dir = tmp_path / "bin"
    fake_python(bin_dir / "python3", "3.10")  # too old: passed over
    fake_python(bin_dir / "python3.11", "3.11")
    newest = fake_python(bin_dir / "python3.12", "3.12")

    result = choose({"PATH": f"{bin_dir}:/usr/bin:/bin"})

    assert result.returncode == 0 and result.stdout.strip() == str(newest)
