"""`grader exec` over SSH on the lab: the remote shell re-splits what it gets, so several
words must arrive quoted (argv) and one word as the command line it is."""
from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def grader(*args) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=60, stdin=subprocess.DEVNULL, cwd=REPO)


def test_exec_over_ssh_keeps_an_argv_and_runs_a_command_line(lab):
    inv = lab.inventory_path
    f = f"/tmp/grader-exec-{secrets.token_hex(4)}"
    try:
        proc = grader("exec", "node01", "-i", inv, "--", "sh", "-c", f"echo x > {f}")
        assert proc.returncode == 0, proc.stderr
        assert lab.ssh("node01", f"cat {f}").stdout == "x\n"
        proc = grader("exec", "node01", "-i", inv, "--", "printf", "[%s]\n", "a b", "$(hostname)", ";")
        assert proc.stdout == "[a b]\n[$(hostname)]\n[;]\n", proc.stderr
        proc = grader("exec", "node01", "-i", inv, "--", f"hostname; cat {f} | tr x y")
        assert proc.returncode == 0 and proc.stdout == "node01\ny\n", proc.stderr
    finally:
        lab.ssh("node01", f"rm -f {f}")
