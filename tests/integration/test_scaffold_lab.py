"""`grader pack new` gives a pack whose example task validates on the local lab."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.lab
def test_the_scaffolded_pack_validates_on_the_lab(lab, tmp_path):
    name = f"scaffold-{os.getpid()}"      # the example writes under /tmp/grader-NAME on the lab
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def grader(*args):
        return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                              env=env, timeout=300)

    made = grader("pack", "new", name, "-o", str(tmp_path))
    assert made.returncode == 0, made.stderr
    pack = Path(made.stdout.strip())
    assert grader("lint", str(pack)).returncode == 0
    proc = grader("validate", str(pack), "-i", str(lab.inventory_path), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = json.loads(proc.stdout)
    assert [t["id"] for t in run["tasks"]] == ["fix-config-file"]
    assert all(c["status"] == "PASS" for c in run["tasks"][0]["checks"])
    assert [c["kind"] for c in run["tasks"][0]["checks"]] == ["file", "run", "alternative", "near_miss", "near_miss"]
    built = grader("pack", "build", str(pack), "-o", str(tmp_path / "dist"))
    assert built.returncode == 0, built.stderr
    assert Path(built.stdout.strip()).name == f"{name}-0.1.0.tar.gz"
