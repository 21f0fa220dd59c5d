"""Who owns a drill while it is set up or graded: a PID, that process's start time and a
random token.  Real grader processes on the local transport (the drill test pack's
hooks hold a `drill start` at a known moment), plus the Store's guarded writes.

* a crashed `drill start` whose PID now belongs to another, live process (simulated:
  the live process's PID with a wrong start time) does not block `drill grade`;
* a `drill start` still running after `drill abort` and a new `drill start` never
  writes into the new drill, nor clears it, nor resets its tasks.
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
from pathlib import Path

import pytest

from grader.errors import DrillSuperseded
from grader.drill.session import Session, Store, owner_alive, process_started

REPO = Path(__file__).resolve().parents[2]
DRILL_PACK = str(REPO / "tests" / "data" / "packs" / "drill")


def wait_for(predicate, what: str, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def env(tmp_path):
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  controlplane: {transport: local}\n")
    home = tmp_path / "home"
    e = {**os.environ, "GRADER_HOME": str(home), "NO_COLOR": "1"}
    e.pop("GRADER_INVENTORY", None)
    seeds = [random.randrange(10**6, 10**7) for _ in range(2)]
    ctls = [Path(f"/tmp/grader-drill-ctl-{s}") for s in seeds]
    for ctl in ctls:
        ctl.mkdir()

    class H:
        pass
    h = H()
    h.inv, h.home, h.seeds, h.ctls = str(inv), home, seeds, ctls
    h.grader = lambda *a, timeout=90: subprocess.run([sys.executable, "-m", "grader", *map(str, a)],
                                                     capture_output=True, text=True, env=e, cwd=REPO,
                                                     timeout=timeout)
    h.spawn = lambda *a: subprocess.Popen([sys.executable, "-m", "grader", *map(str, a)], env=e, cwd=REPO,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                          start_new_session=True)
    h.state_path = home / "drill.json"
    h.state = lambda: json.loads(h.state_path.read_text())
    yield h
    if h.state_path.exists():
        h.grader("drill", "abort")
    for seed, ctl in zip(seeds, ctls):
        shutil.rmtree(ctl, ignore_errors=True)
        shutil.rmtree(f"/tmp/grader-drill-{seed}", ignore_errors=True)


def rewrite(h, **fields) -> None:
    """Edit drill.json as a crashed owner would have left it (atomically, like grader)."""
    data = h.state()
    data.update(fields)
    tmp = h.state_path.with_suffix(".edit")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, h.state_path)


def test_the_start_time_tells_a_live_owner_from_a_reused_pid(env):
    # a drill start killed while setting up `note`
    (env.ctls[0] / "slow-setup").touch()
    proc = env.spawn("drill", "start", DRILL_PACK, "-i", env.inv, "--seed", env.seeds[0])
    wait_for(lambda: (env.ctls[0] / "setup-waiting").exists(), "the setup hook")
    state = env.state()
    assert state["pid"] == proc.pid and state["pid_started"] == process_started(proc.pid) and state["owner"]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    (env.ctls[0] / "slow-setup").unlink()

    # its PID now names an unrelated live process
    other = subprocess.Popen(["sleep", "300"])
    try:
        started = process_started(other.pid)
        assert started is not None and owner_alive(other.pid, started)

        # the same start time: that process *is* the owner, still at work; grade waits for it
        rewrite(env, pid=other.pid, pid_started=started)
        r = env.grader("drill", "grade")
        assert r.returncode == 2 and "still being set up" in r.stderr, r.stderr
        assert json.loads(env.grader("drill", "status", "--json").stdout)["interrupted"] is False

        # another start time: the PID was reused, the owner is gone; grade goes ahead
        rewrite(env, pid=other.pid, pid_started=started + 12345)
        assert json.loads(env.grader("drill", "status", "--json").stdout)["interrupted"] is True
        r = env.grader("drill", "grade")
        assert r.returncode == 3, r.stderr                # two tasks were never set up: not judged
        assert "setup did not finish" in r.stdout
        assert env.state()["phase"] == "graded" and env.state()["pid"] is None
    finally:
        other.kill()
        other.wait()


def test_a_stale_start_cannot_touch_the_drill_that_replaced_it(env):
    old_seed, new_seed = env.seeds
    (env.ctls[0] / "slow-setup").touch()
    old = env.spawn("drill", "start", DRILL_PACK, "-i", env.inv, "--seed", old_seed)
    try:
        wait_for(lambda: (env.ctls[0] / "setup-waiting").exists(), "the old start's setup hook")
        old_drill = env.state()

        r = env.grader("drill", "abort")
        assert r.returncode == 0, r.stderr
        r = env.grader("drill", "start", DRILL_PACK, "-i", env.inv, "--seed", new_seed, "--tasks", "marker")
        assert r.returncode == 0, r.stderr
        new_drill = env.state()
        assert new_drill["id"] != old_drill["id"] and new_drill["phase"] == "running"
        assert Path(f"/tmp/grader-drill-{new_seed}").is_dir()     # the new drill's setup on the host

        # the old start's step now ends well: it would go on to record it and set up the next task
        (env.ctls[0] / "slow-setup").unlink()
        out, err = old.communicate(timeout=90)
    finally:
        if old.poll() is None:
            os.killpg(old.pid, signal.SIGKILL)
            old.wait()
    assert old.returncode == 2, err
    assert "drill not started" in err and "aborted or taken over" in err and "left the drill state alone" in err
    assert env.state() == new_drill, "the stale start wrote into the new drill"
    assert Path(f"/tmp/grader-drill-{new_seed}").is_dir(), "the stale start reset the new drill's tasks"
    assert not (Path(f"/tmp/grader-drill-{old_seed}") / "password").exists(), "the stale start went on"
    r = env.grader("drill", "grade")
    assert r.returncode == 1, r.stderr                    # the new drill grades normally (marker not made)
    assert env.state()["id"] == new_drill["id"] and env.state()["phase"] == "graded"


def session(drill_id: str, owner: str) -> Session:
    return Session(id=drill_id, pack="drill", pack_name="drill", pack_title="Drill", pack_version="0.1.0",
                   tasks=["marker", "note"], seed=1, mode="exam", started="2025-01-01T00:00:00+00:00",
                   setup={"marker": "pending", "note": "pending"}, pid=os.getpid(),
                   pid_started=process_started(os.getpid()), owner=owner)


def test_an_old_owner_token_cannot_write_or_clear_after_abort_and_a_new_start(tmp_path):
    store = Store(tmp_path)
    store.save(session("old", "token-old"))
    store.update(lambda s: s.setup.__setitem__("marker", "done"), owner="token-old")   # its own: fine
    assert store.clear() is True                                                         # drill abort
    store.save(session("new", "token-new"))
    before = store.state_path.read_text()
    with pytest.raises(DrillSuperseded, match="aborted or taken over meanwhile .*drill new of drill"):
        store.update(lambda s: s.setup.__setitem__("note", "done"), owner="token-old")
    assert store.clear(owner="token-old") is False
    assert store.state_path.read_text() == before
    with pytest.raises(DrillSuperseded):
        store.update(lambda s: s.record_check("marker", True), drill="old")
    assert store.state_path.read_text() == before
    store.clear()
    with pytest.raises(DrillSuperseded, match="no drill is there now"):
        store.update(lambda s: None, owner="token-new")
    assert not store.state_path.exists()
