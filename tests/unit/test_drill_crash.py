"""A drill survives `kill -9`: during setup and during grading (local transport, no lab).

The drill test pack's hooks make grader wait at a known moment: while
/tmp/grader-drill-ctl-SEED/slow-setup exists, the setup of `note` touches
setup-waiting and sleeps; while slow-grade exists, the check of `note` touches
grading and sleeps.  The test then kills grader's whole process group, as closing
a terminal would.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DRILL_PACK = str(REPO / "tests" / "data" / "packs" / "drill")


def wait_for(predicate, timeout=30.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def env(tmp_path):
    seed = random.randrange(10**6, 10**7)
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  controlplane: {transport: local}\n")
    ctl = Path(f"/tmp/grader-drill-ctl-{seed}")
    ctl.mkdir()
    e = {**os.environ, "GRADER_HOME": str(tmp_path / "home"), "NO_COLOR": "1"}
    e.pop("GRADER_INVENTORY", None)

    def grader(*args, timeout=90):
        return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                              env=e, cwd=REPO, timeout=timeout)

    def spawn(*args):
        return subprocess.Popen([sys.executable, "-m", "grader", *map(str, args)], env=e, cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    class H:
        pass
    h = H()
    h.grader, h.spawn, h.seed, h.inv, h.ctl, h.home = grader, spawn, seed, str(inv), ctl, tmp_path / "home"
    h.state = lambda: json.loads((tmp_path / "home" / "drill.json").read_text())
    h.status = lambda: json.loads(grader("drill", "status", "--json").stdout)
    yield h
    if (tmp_path / "home" / "drill.json").exists():
        grader("drill", "abort")
    shutil.rmtree(ctl, ignore_errors=True)
    shutil.rmtree(f"/tmp/grader-drill-{seed}", ignore_errors=True)


def kill(proc):
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL


def test_killed_during_setup_then_during_grading(env):
    # --- killed while setting up `note` (the 2nd of 3 tasks, one at a time) ---------------
    (env.ctl / "slow-setup").touch()
    proc = env.spawn("drill", "start", DRILL_PACK, "-i", env.inv, "--seed", env.seed, "--jobs", "1")
    wait_for(lambda: (env.ctl / "setup-waiting").exists(), what="the setup hook")
    before = env.state()
    kill(proc)
    (env.ctl / "slow-setup").unlink()

    st = env.status()
    assert st["phase"] == "setting-up"
    assert (st["started"], st["deadline"]) == (before["started"], before["deadline"])
    started = datetime.fromisoformat(st["started"])
    assert datetime.fromisoformat(st["deadline"]) == started + timedelta(minutes=5)
    assert [t["setup"] for t in st["tasks"]] == ["done", "running", "pending"]
    r = env.grader("drill", "start", DRILL_PACK, "-i", env.inv)
    assert r.returncode == 2 and "being set up" in r.stderr
    text = env.grader("drill", "status").stdout
    assert "setting-up (interrupted" in text and "setup interrupted" in text and st["interrupted"]

    r = env.grader("drill", "grade")
    assert r.returncode == 3, r.stderr               # two tasks could not be judged
    res = json.loads((Path(env.state()["results"]) / "results.json").read_text())
    assert res["deadline"] == before["deadline"] and res["started"] == before["started"]
    tasks = {t["id"]: t for t in res["tasks"]}
    assert [c["status"] for c in tasks["marker"]["checks"]] == ["FAIL"]
    for t in ("note", "password"):
        assert "setup did not finish" in tasks[t]["error"]
        # its checks stay in the total as ERROR (not judged), so the score cannot pass on them
        assert tasks[t]["checks"] and all(c["status"] == "ERROR" for c in tasks[t]["checks"])
    assert "setup did not finish" in r.stdout
    assert env.grader("drill", "abort").returncode == 0

    # --- killed while grading -----------------------------------------------------------
    assert env.grader("drill", "start", DRILL_PACK, "-i", env.inv, "--seed", env.seed).returncode == 0
    Path(f"/tmp/grader-drill-{env.seed}/ready").touch()
    (env.ctl / "slow-grade").touch()
    proc = env.spawn("drill", "grade")
    wait_for(lambda: (env.ctl / "grading").exists(), what="the grading hook")
    handed_in = env.state()
    assert handed_in["phase"] == "grading" and handed_in["submitted"]
    kill(proc)
    (env.ctl / "slow-grade").unlink()

    st = env.status()
    assert st["phase"] == "grading" and st["interrupted"]
    time.sleep(1.1)                                   # a re-grade later must not move the hand-in time
    r = env.grader("drill", "grade")
    assert r.returncode == 1, r.stderr
    out = Path(env.state()["results"])
    assert {p.name for p in out.iterdir()} == {"results.json", "report.html", "junit.xml"}
    res = json.loads((out / "results.json").read_text())
    assert res["ended"] == handed_in["submitted"] and res["deadline"] == handed_in["deadline"]
    assert [c["status"] for t in res["tasks"] for c in t["checks"]] == ["PASS", "FAIL", "FAIL"]
    history = json.loads(env.grader("history", "--json").stdout)
    assert [h["id"] for h in history] == [before["id"], handed_in["id"]]     # one line per drill


def test_tasks_are_set_up_several_at_once_and_a_kill_leaves_only_the_unfinished_one_out(env):
    (env.ctl / "slow-setup").touch()
    proc = env.spawn("drill", "start", DRILL_PACK, "-i", env.inv, "--seed", env.seed)   # --jobs 4
    wait_for(lambda: (env.ctl / "setup-waiting").exists(), what="the setup hook")
    # `note` is held in its setup; one at a time, `password` (after it) would wait for it
    wait_for(lambda: [t["setup"] for t in env.status()["tasks"]] == ["done", "running", "done"],
             what="the other two tasks set up while note's setup is held")
    kill(proc)
    (env.ctl / "slow-setup").unlink()
    r = env.grader("drill", "grade")
    assert r.returncode == 3, r.stderr               # note could not be judged
    res = json.loads((Path(env.state()["results"]) / "results.json").read_text())
    tasks = {t["id"]: t for t in res["tasks"]}
    assert "setup did not finish" in tasks["note"]["error"]
    assert not tasks["marker"].get("error") and not tasks["password"].get("error")
