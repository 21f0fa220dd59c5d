"""The drill's connection holder on the lab, through the `grader` command: `drill start`
starts it, `drill check` is served by it with the same verdicts and evidence as direct
connections, it dies with the drill (grade, abort, drill.json gone, idle), and a killed or
hung holder is detected and replaced.

Each test has its own GRADER_HOME and aborts or grades its drill, so no holder is left.
The pack only reads the hosts (no setup), so the shared lab is left as it was found."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from grader.holder import socket_path, state_path
from grader.drill.session import owner_alive

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]

CHECKS = """\
- name: hostname on controlplane
  host: controlplane
  run: hostname
  expect: {stdout: controlplane}
- name: stderr and an exit code
  host: node01
  run: echo to-stderr >&2; exit 3
  expect: {exit: 3, stderr: {contains: to-stderr}}
- name: fails with evidence
  host: node01
  run: echo actual-value
  expect: {stdout: expected-value}
- name: a file
  host: node01
  file: /etc/hostname
  expect: {exists: true, type: file}
- name: times out
  host: controlplane
  run: sleep 30
  timeout: 1
"""


def make_pack(root: Path) -> Path:
    pack = root / "holderpack"
    for task in ("a", "b"):
        (pack / task).mkdir(parents=True)
        (pack / task / "task.yaml").write_text(f"id: {task}\ntitle: {task}\nminutes: 1\nchecks:\n"
                                               + textwrap.indent(CHECKS, "  "))
        (pack / task / "description.md").write_text("read-only checks\n")
    (pack / "pack.yaml").write_text("name: holderpack\ntitle: holder pack\nversion: '1'\ntarget: linux\n")
    return pack


class Drill:
    """A drill's holder seen from outside (Checker, in test_check_holder_lab.py, the check holder's)."""
    # its files' stem; what holder.log says of each request (a command run through it, a command
    # line handed to it)
    slot, serves = "holder", ("run on ", "ran grader drill check")

    def __init__(self, lab, home: Path, **env):
        self.home, self.inv = home, str(lab.inventory_path)
        self.env = {**os.environ, "GRADER_HOME": str(home), "NO_COLOR": "1", **env}
        self.env.pop("GRADER_HOLDER", None)

    def grader(self, *args, timeout=120, **env) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                              env={**self.env, **env}, cwd=REPO, timeout=timeout)

    def state(self) -> dict | None:
        try:
            return json.loads(state_path(self.home, self.slot).read_text())
        except (OSError, ValueError):
            return None

    def holder(self, *, other_than: int | None = None, within: float = 15.0) -> dict:
        """The state of a live holder (another than `other_than`), waiting for it."""
        end = time.monotonic() + within
        while time.monotonic() < end:
            state = self.state()
            if state and state["pid"] != other_than and owner_alive(state["pid"], state["pid_started"]) \
                    and socket_path(self.home, self.slot).exists():
                return state
            time.sleep(0.1)
        raise AssertionError(f"no holder came up; log: {self.log()}")

    def log(self) -> str:
        path = self.home / "holder.log"
        return path.read_text() if path.exists() else ""

    def served_by(self, pid: int) -> int:
        return sum(any(f"holder {pid}: {mark}" in line for mark in self.serves) for line in self.log().splitlines())

    def check_json(self, **env) -> list:
        out = self.grader("drill", "check", "--json", **env)
        assert out.returncode in (1, 3), out.stderr      # FAIL and ERROR checks, by design
        return [{k: v for k, v in c.items() if k not in ("duration",)}
                for t in json.loads(out.stdout)["tasks"] for c in t["checks"]]


def gone(pid: int, started, within: float = 5.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not owner_alive(pid, started):
            return True
        time.sleep(0.1)
    return False


@pytest.fixture
def drill(lab, tmp_path):
    d = Drill(lab, tmp_path / "home")
    pack = make_pack(tmp_path)
    out = d.grader("drill", "start", pack, "--mode", "training", "--seed", "1", "-i", d.inv)
    assert out.returncode == 0, out.stderr
    yield d
    if (d.home / "drill.json").exists():
        d.grader("drill", "abort")
    state = d.state()
    if state and owner_alive(state["pid"], state["pid_started"]):
        os.kill(state["pid"], signal.SIGKILL)
        pytest.fail("a holder outlived its drill")


def test_start_starts_it_and_check_is_served_with_the_same_verdicts_and_evidence(drill):
    state = drill.holder()
    assert state["socket"] == str(socket_path(drill.home))
    held = drill.check_json()
    log = drill.log()
    assert f"holder {state['pid']}: ran grader drill check --json: exit" in log    # handed over to it...
    assert f"holder {state['pid']}: run on " not in log        # ...and run over its own connections
    direct = drill.check_json(GRADER_HOLDER="off")
    assert held == direct
    assert [c["status"] for c in held] == ["PASS", "PASS", "FAIL", "PASS", "ERROR"] * 2
    assert "actual-value" in json.dumps(held) and "timed out after 1s" in json.dumps(held)
    assert drill.state()["pid"] == state["pid"]               # one holder all along


def test_it_dies_with_the_drill_when_graded(drill):
    state = drill.holder()
    out = drill.grader("drill", "grade")
    assert out.returncode in (1, 3), out.stderr
    assert drill.served_by(state["pid"]) >= 2
    assert gone(state["pid"], state["pid_started"])
    assert not socket_path(drill.home).exists() and drill.state() is None


def test_it_dies_with_the_drill_when_aborted_or_when_the_drill_file_goes(drill):
    state = drill.holder()
    assert drill.grader("drill", "abort").returncode == 0
    assert gone(state["pid"], state["pid_started"])
    assert drill.state() is None


def test_it_ends_when_the_drill_state_is_removed_behind_its_back(drill):
    state = drill.holder()
    (drill.home / "drill.json").unlink()
    assert gone(state["pid"], state["pid_started"])
    assert not socket_path(drill.home).exists()


def test_a_killed_holder_is_replaced(drill):
    first = drill.holder()
    os.kill(first["pid"], signal.SIGKILL)
    assert gone(first["pid"], first["pid_started"])
    assert socket_path(drill.home).exists()                    # what a killed holder leaves behind
    results = drill.check_json()                               # direct this once, and starts another
    assert [c["status"] for c in results] == ["PASS", "PASS", "FAIL", "PASS", "ERROR"] * 2
    second = drill.holder(other_than=first["pid"])
    drill.check_json()
    assert drill.served_by(second["pid"]) == 1


def test_a_hung_holder_is_killed_and_replaced(drill):
    first = drill.holder()
    os.kill(first["pid"], signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        results = drill.check_json()
        assert time.monotonic() - t0 < 30
        assert [c["status"] for c in results] == ["PASS", "PASS", "FAIL", "PASS", "ERROR"] * 2
        assert gone(first["pid"], first["pid_started"])
    finally:
        if owner_alive(first["pid"], first["pid_started"]):
            os.kill(first["pid"], signal.SIGKILL)
    second = drill.holder(other_than=first["pid"])
    assert second["drill"] == first["drill"]


def test_it_ends_when_idle(lab, tmp_path):
    d = Drill(lab, tmp_path / "home", GRADER_HOLDER_IDLE="2")
    assert d.grader("drill", "start", make_pack(tmp_path), "--mode", "training", "-i", d.inv).returncode == 0
    try:
        state = d.holder()
        assert gone(state["pid"], state["pid_started"], within=10)
        assert "idle for 2s" in d.log()
        assert d.check_json()                                  # the drill goes on, directly (and a new holder)
    finally:
        d.grader("drill", "abort")
