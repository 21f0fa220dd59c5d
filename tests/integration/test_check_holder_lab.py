"""The check holder on the lab, through the `grader` command as a user runs it: a `grader check`
that finds none checks itself and leaves one; the next runs are handed to it and print what
the command prints without it (verdicts, evidence, text, exit codes, usage errors, reports in
the command's folder); a holder of another environment, a killed one and stale connections
are replaced; it ends when idle; GRADER_CHECK_PERSIST=0 and GRADER_HOLDER=off leave none.

Each test has its own GRADER_HOME and stops its holder; the pack only reads the hosts."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.drill.session import owner_alive
from grader.holder import CHECK_SLOT, control, socket_path
from test_holder_lab import Drill, gone, make_pack  # tests/integration/test_holder_lab.py

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]
STATUSES = ["PASS", "PASS", "FAIL", "PASS", "ERROR"] * 2


class Checker(Drill):
    slot, serves = CHECK_SLOT, ("ran grader check ",)

    def __init__(self, lab, root: Path, **env):
        self.home, self.root = root / "home", root
        self.inv = str(lab.inventory_path)
        self.pack = make_pack(root)
        self.env = {k: v for k, v in os.environ.items() if k != "GRADER_HOLDER"}
        self.env.update({"GRADER_HOME": str(self.home), "NO_COLOR": "1", "GRADER_CHECK_PERSIST": "60", **env})

    def grader(self, *args, cwd=REPO, **env) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                              env={**self.env, **env}, cwd=cwd, timeout=120)

    def check(self, *extra, **env) -> subprocess.CompletedProcess:
        return self.grader("check", self.pack, "-i", self.inv, *extra, **env)


def checks(out: subprocess.CompletedProcess) -> list:
    return [{k: v for k, v in c.items() if k != "duration"}
            for t in json.loads(out.stdout)["tasks"] for c in t["checks"]]


def text(out: subprocess.CompletedProcess) -> str:
    """The terminal report without the clock's figures (the start time, the time used)."""
    return re.sub(r"started .* UTC · time used \S+", "started ...", out.stdout)


@pytest.fixture
def checker(lab, tmp_path):
    c = Checker(lab, tmp_path)
    yield c
    control.stop(c.home, CHECK_SLOT)
    state = c.state()
    if state and owner_alive(state["pid"], state["pid_started"]):
        os.kill(state["pid"], signal.SIGKILL)
        pytest.fail("a check holder outlived stop")


def test_the_first_run_leaves_a_holder_and_the_next_is_served_with_the_same_output(checker):
    first = checker.check("--json")
    assert first.returncode == 3, first.stderr               # a FAIL and an ERROR (timed out), by design
    state = checker.holder()
    assert state["kind"] == "check" and state["socket"] == str(socket_path(checker.home, CHECK_SLOT))
    held = checker.check("--json")
    assert checker.served_by(state["pid"]) == 1, checker.log()
    direct = checker.check("--json", GRADER_HOLDER="off")
    assert (held.returncode, held.stderr) == (direct.returncode, direct.stderr) == (3, "")
    assert checks(held) == checks(direct) == checks(first)
    assert [c["status"] for c in checks(held)] == STATUSES
    assert "actual-value" in held.stdout and "timed out after 1s" in held.stdout
    held_text, direct_text = checker.check(), checker.check(GRADER_HOLDER="off")
    assert checker.served_by(state["pid"]) == 2
    assert held_text.returncode == direct_text.returncode == 3
    assert text(held_text) == text(direct_text) and "fails with evidence" in held_text.stdout
    assert checker.state()["pid"] == state["pid"]             # one holder all along


def test_usage_errors_and_reports_are_the_commands_own(checker, tmp_path):
    assert checker.check("--json").returncode == 3
    state = checker.holder()
    bad = checker.grader("check", tmp_path / "no-such-pack", "-i", checker.inv)
    bad_direct = checker.grader("check", tmp_path / "no-such-pack", "-i", checker.inv, GRADER_HOLDER="off")
    assert bad.returncode == bad_direct.returncode == 2
    assert bad.stderr == bad_direct.stderr and bad.stderr.startswith("grader: ")
    flag = checker.grader("check", checker.pack, "--no-such-flag")
    assert flag.returncode == 2 and "unrecognized arguments: --no-such-flag" in flag.stderr
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(checker.inv, work / "inv.yaml")
    out = checker.grader("check", checker.pack, "-i", "inv.yaml", "-o", "reports", cwd=work)
    assert out.returncode == 3, out.stderr
    assert (work / "reports" / "results.json").is_file() and (work / "reports" / "report.html").is_file()
    assert checker.served_by(state["pid"]) == 3, checker.log()   # all but the direct one were handed over


def test_a_holder_of_another_environment_is_replaced(checker):
    assert checker.check("--json").returncode == 3
    first = checker.holder()
    other = checker.check("--json", GRADER_TEST_SOMETHING="1")   # run here, the holder stopped
    assert [c["status"] for c in checks(other)] == STATUSES
    assert gone(first["pid"], first["pid_started"])
    assert "check not served: another environment" in checker.log()
    second = checker.holder(other_than=first["pid"])
    assert checks(checker.check("--json", GRADER_TEST_SOMETHING="1")) == checks(other)
    assert checker.served_by(second["pid"]) == 1


def test_a_killed_holder_is_replaced(checker):
    assert checker.check("--json").returncode == 3
    first = checker.holder()
    os.kill(first["pid"], signal.SIGKILL)
    assert gone(first["pid"], first["pid_started"])
    assert socket_path(checker.home, CHECK_SLOT).exists()     # what a killed holder leaves behind
    assert [c["status"] for c in checks(checker.check("--json"))] == STATUSES
    second = checker.holder(other_than=first["pid"])
    checker.check("--json")
    assert checker.served_by(second["pid"]) == 1


def test_connections_are_opened_afresh_when_the_inventory_file_changes(checker, tmp_path):
    inv = tmp_path / "inv.yaml"
    shutil.copy(checker.inv, inv)
    checker.inv = str(inv)
    assert checker.check("--json").returncode == 3
    state = checker.holder()
    assert checker.check("--json").returncode == 3
    inv.write_text(inv.read_text() + "\n# changed\n")         # a new lab writes a new inventory
    end = time.monotonic() + 5
    while "its files changed" not in checker.log() and time.monotonic() < end:
        time.sleep(0.1)
    assert f"closed the connections of {inv}: its files changed" in checker.log()
    again = checker.check("--json")
    assert [c["status"] for c in checks(again)] == STATUSES
    assert checker.served_by(state["pid"]) == 2


def test_it_ends_when_idle(lab, tmp_path):
    c = Checker(lab, tmp_path, GRADER_CHECK_PERSIST="2")
    assert c.check("--json").returncode == 3
    state = c.holder()
    assert gone(state["pid"], state["pid_started"], within=10)
    assert "idle for 2s" in c.log()
    assert not socket_path(c.home, CHECK_SLOT).exists() and c.state() is None


@pytest.mark.parametrize("env", [{"GRADER_CHECK_PERSIST": "0"}, {"GRADER_HOLDER": "off"}])
def test_turned_off_no_holder_is_left(lab, tmp_path, env):
    c = Checker(lab, tmp_path, **env)
    for _ in range(2):
        assert [x["status"] for x in checks(c.check("--json"))] == STATUSES
    time.sleep(1.0)
    assert c.state() is None and not socket_path(c.home, CHECK_SLOT).exists()
    assert "holder" not in c.log()
