"""`drill grade` while the environment keeps checks from being judged: the drill stays handed
in (same hand-in time, same results folder, no history line), and once the environment is
fixed a second `drill grade` gives the verdicts and closes it (local transport, no lab).

The environment fault is a stand-in kubectl on PATH that answers as the real one does when
the apiserver is down, while a control file exists.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
REFUSED = "The connection to the server 172.30.1.2:6443 was refused - did you specify the right host or port?"


def test_a_grade_with_errors_can_be_graded_again(tmp_path):
    broken = tmp_path / "apiserver-down"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(f"#!/bin/bash\nif [ -e {broken} ]; then echo '{REFUSED}' >&2; exit 1; fi\n"
                                     "echo red\n")
    (bin_dir / "kubectl").chmod(0o755)
    pack = tmp_path / "pack"
    (pack / "t1").mkdir(parents=True)
    (pack / "pack.yaml").write_text(yaml.safe_dump({"name": "regrade", "title": "Regrade", "version": "0.1.0",
                                                    "target": "linux", "hosts": ["controlplane"]}))
    checks = [{"name": "colour", "run": "kubectl get cm c -o jsonpath={.data.colour}", "expect": {"stdout": "red"}},
              {"name": "wrong colour", "run": "kubectl get cm c -o jsonpath={.data.colour}",
               "expect": {"stdout": "blue"}},
              {"name": "plain", "run": "echo ok", "expect": {"stdout": "ok"}}]
    (pack / "t1" / "task.yaml").write_text(yaml.safe_dump({"id": "t1", "title": "T", "minutes": 1,
                                                          "description": "Nothing.", "checks": checks}))
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  controlplane: {transport: local}\n")
    env = {**os.environ, "GRADER_HOME": str(tmp_path / "home"), "NO_COLOR": "1",
           "PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    env.pop("GRADER_INVENTORY", None)

    def grader(*args):
        return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=120)

    def state():
        return json.loads((tmp_path / "home" / "drill.json").read_text())

    assert grader("drill", "start", pack, "-i", inv, "--mode", "exam", "--seed", 3).returncode == 0
    broken.touch()
    first = grader("drill", "grade", "--json")
    assert first.returncode == 3, first.stderr
    got = {c["name"]: c for t in json.loads(first.stdout)["tasks"] for c in t["checks"]}
    assert got["colour"]["status"] == got["wrong colour"]["status"] == "ERROR"
    assert "172.30.1.2:6443 refused the connection" in got["colour"]["message"]
    assert got["plain"]["status"] == "PASS"
    assert "could not be judged" in first.stderr and "drill grade` again" in first.stderr
    s = state()
    assert s["phase"] == "grading" and s["pid"] is None and s["owner"] is None
    handed_in, results = s["submitted"], s["results"]
    assert (Path(results) / "results.json").is_file()
    assert not (tmp_path / "home" / "history.jsonl").exists() or \
        (tmp_path / "home" / "history.jsonl").read_text().strip() == ""
    assert grader("drill", "check").returncode == 2        # handed in: no more checks

    broken.unlink()                                     # the environment is fixed
    second = grader("drill", "grade", "--json")
    assert second.returncode == 0, second.stderr        # 2 of 3 points: the pass mark; no ERROR
    got = {c["name"]: c["status"] for t in json.loads(second.stdout)["tasks"] for c in t["checks"]}
    assert got == {"colour": "PASS", "wrong colour": "FAIL", "plain": "PASS"}
    s = state()
    assert s["phase"] == "graded" and s["submitted"] == handed_in and s["results"] == results
    history = [json.loads(line) for line in (tmp_path / "home" / "history.jsonl").read_text().splitlines()]
    assert len(history) == 1 and history[0]["id"] == s["id"]
    assert "already graded" in grader("drill", "grade").stderr
