"""Evidence never shows a traceback from a pack's own helper code.

A candidate reads the evidence of a failed check ("veth-host does not exist"), never a
Python stack from the inline code a check pipes `ip -j` into.  For every built-in pack,
every check is run on the real lab, and no result's evidence may contain `Traceback` or
span more than one line:

* linux packs: in the state before setup (reset: nothing of the task exists, so every
  device and namespace the checks look at is missing) and right after setup;
* kubernetes packs (cka-road-trip): their setup needs a cluster, and the lab has one only
  when it was brought up with --kube, so what is covered here is every check in the state
  before setup (read-only: kubectl finds nothing, or answers that it cannot reach an
  apiserver); the checks after setup are exercised by `grader validate cka-road-trip` on
  the kube lab (tests/integration/test_kube_lab.py), which asserts verdicts, not evidence.
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import replace
from pathlib import Path

import pytest

from grader.engine.lifecycle import render
from grader.packs.loader import load_pack
from grader.packs.packs import builtin_names, peek_pack
from grader.engine.runner import Runner

pytestmark = pytest.mark.lab

PACKS = builtin_names()


def pack_lock(name: str):
    """The lock test_pack_linux_networking.py holds: two sessions running one pack's drills on
    the one lab would undo each other's setup."""
    path = f"/run/lock/grader-pack-{name}.lock"
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def check_now(runner, task):
    """Every check of the task, once (no `within` retries)."""
    results = runner.check([replace(c, within=0) for c in task.checks], env_of=lambda c: task.env)
    return [results[c.key] for c in task.checks]


def assert_readable(pack: str, task: str, state: str, results) -> None:
    for r in results:
        where = f"{pack}/{task} {state}: {r.name}"
        for field in ("actual", "message", "expected"):
            text = getattr(r, field)
            assert "Traceback" not in text, f"{where}: {field} shows a traceback: {text}"
        assert "\n" not in r.actual and "\n" not in r.message, f"{where}: more than one line: {r.actual!r}"


@pytest.mark.parametrize("name", PACKS)
def test_no_check_evidence_shows_a_traceback(lab, name):
    pack = load_pack(name)
    inventory = lab.inventory
    tasks = render(pack, pack.tasks, seed=0, inventory=inventory)
    seen = {}
    linux = peek_pack(name)["target"] == "linux"
    fd = pack_lock(name) if linux else None
    try:
        with Runner(inventory) as runner:
            for task in tasks:
                if not linux:          # no cluster objects are created: read-only checks
                    assert_readable(name, task.id, "before setup", check_now(runner, task))
                    continue
                runner.run_steps(task, "reset")
                try:
                    before = check_now(runner, task)
                    runner.run_steps(task, "setup")
                    after = check_now(runner, task)
                finally:
                    runner.run_steps(task, "reset")
                assert_readable(name, task.id, "before setup", before)
                assert_readable(name, task.id, "after setup", after)
                seen[task.id] = {r.name: r.actual for r in after}
    finally:
        if fd is not None:
            os.close(fd)
    if name == "linux-networking":   # the example: the reason, in words
        wire = seen["netns-veth-wire"]
        assert wire["veth-host carries 10.0.0.1/24 on the host"] == "stdout 'veth-host does not exist'"
        assert wire["veth-container is a veth and is up inside myns"] == \
            "stdout 'veth-container does not exist inside myns'"
