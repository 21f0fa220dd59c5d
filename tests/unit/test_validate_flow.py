"""validate's orchestration, with a stand-in for the hosts: which steps run in which order, what the
rows say, and what happens when the cluster is not healthy.  The stand-in keeps a set of facts per
task: a step `add X` adds fact X, `clear` removes them all; a check `has X` passes when X is there."""
from __future__ import annotations

import threading

import pytest

from grader.engine import clusterhealth
from grader.inventory import killercoda_default
from grader.packs.loader import load_pack
from grader.engine.results import CheckResult
from grader.engine.validate import validate

TASK = """\
id: {id}
title: T {id}
minutes: 1
exclusive: {exclusive}
setup: [{{run: clear}}]
solution: [{{run: add port}}, {{run: add mode}}]
reset: [{{run: clear}}]
checks:
  - {{id: port, name: port is set, run: has port}}
  - {{id: mode, name: mode is set, run: has mode}}
alternatives:
  - {{name: mode first, steps: [{{run: add mode}}, {{run: add port}}]}}
near_misses:
  - {{name: port only, steps: [{{run: add port}}], fails: [mode]}}
"""


class Hosts:
    """Runner's interface (run_steps, run_step, check) over the facts of each task."""

    def __init__(self):
        self.inventory = killercoda_default()
        self.facts: dict[str, set] = {}
        self.log: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def run_steps(self, task, section):
        for step in getattr(task, section):
            self.run_step(task, step)

    def run_step(self, task, step):
        verb, _, fact = step.command.partition(" ")
        with self._lock:
            self.log.append((task.id, step.command))
            facts = self.facts.setdefault(task.id, set())
            facts.clear() if verb == "clear" else facts.add(fact)

    def check(self, checks, env_of=None):
        out = {}
        for c in checks:
            fact = c.target.split(" ", 1)[1]
            status = "PASS" if fact in self.facts.get(c.task_id, set()) else "FAIL"
            out[c.key] = CheckResult(name=c.name, status=status, points=c.points, expected=f"has {fact}",
                                     actual="there" if status == "PASS" else "missing")
        return out


def make_pack(tmp_path, tasks: dict[str, bool], target="linux"):
    root = tmp_path / "p"
    root.mkdir()
    (root / "pack.yaml").write_text(f"name: p\ntitle: P\nversion: '1'\ntarget: {target}\n")
    for task_id, exclusive in tasks.items():
        (root / task_id).mkdir()
        (root / task_id / "task.yaml").write_text(TASK.format(id=task_id, exclusive=str(exclusive).lower()))
        (root / task_id / "description.md").write_text("Do it.")
    pack = load_pack(root)
    from grader.packs.templating import render_task

    return pack, [render_task(s, seed=0, inventory=killercoda_default()) for s in pack.tasks]


def test_each_variant_starts_from_a_fresh_setup_and_gets_its_row(tmp_path):
    pack, tasks = make_pack(tmp_path, {"a": False})
    hosts = Hosts()
    run = validate(hosts, pack, tasks)
    assert [c.name for c in run.tasks[0].checks] == ["port is set", "mode is set", "alternative: mode first",
                                                      "near miss: port only"]
    assert all(c.status == "PASS" for c in run.tasks[0].checks)
    assert [cmd for _, cmd in hosts.log] == [
        "clear", "clear", "clear", "add port", "add mode",          # reset, setup twice, the solution
        "clear", "clear", "add mode", "add port",                    # the alternative: reset, setup, its steps
        "clear", "clear", "add port",                                # the near miss
        "clear"]                                                     # reset


def test_a_kubernetes_pack_refuses_to_start_on_an_unhealthy_cluster(tmp_path, monkeypatch):
    pack, tasks = make_pack(tmp_path, {"a": False}, target="kubernetes")
    monkeypatch.setattr(clusterhealth, "probe", lambda runner: "node NotReady: node01 (Ready=Unknown)")
    hosts = Hosts()
    with pytest.raises(clusterhealth.ClusterUnhealthy, match="node NotReady: node01") as exc:
        validate(hosts, pack, tasks)
    assert exc.value.exit_code == 3 and hosts.log == []


def test_a_task_that_leaves_the_cluster_unhealthy_fails_and_stops_validate(tmp_path, monkeypatch):
    pack, tasks = make_pack(tmp_path, {"a": False, "x": True, "y": True}, target="kubernetes")
    monkeypatch.setattr(clusterhealth, "preflight", lambda runner: None)
    monkeypatch.setattr(clusterhealth, "wait_healthy", lambda runner: "node NotReady: node01 (Ready=Unknown)")
    hosts = Hosts()
    run = validate(hosts, pack, tasks, jobs=2)
    a, x, y = run.tasks
    assert a.status == "PASS" and not any(c.kind == "cluster" for c in a.checks)
    assert x.status == "FAIL" and x.checks[-1].kind == "cluster" and "x left the cluster unhealthy" in x.checks[-1].message
    assert y.status == "ERROR" and "task x left the cluster unhealthy" in y.error
    assert all(task == "a" or task == "x" for task, _ in hosts.log)     # y never ran


def test_jobs_validate_shared_tasks_concurrently_with_the_same_results(tmp_path):
    pack, tasks = make_pack(tmp_path, {f"t{i}": False for i in range(5)})
    serial = validate(Hosts(), pack, tasks)
    parallel = validate(Hosts(), pack, tasks, jobs=3)
    assert [t.id for t in parallel.tasks] == [t.id for t in serial.tasks]
    assert [[c.status for c in t.checks] for t in parallel.tasks] == [[c.status for c in t.checks]
                                                                       for t in serial.tasks]


class TimedHosts(Hosts):
    """Hosts that also record the `within` each check was judged with, per judged pass."""

    def __init__(self):
        super().__init__()
        self.withins: list[dict[str, float]] = []

    def check(self, checks, env_of=None):
        self.withins.append({c.id: c.within for c in checks})
        return super().check(checks, env_of)


def _with_within(tmp_path, within: int):
    pack, tasks = make_pack(tmp_path, {"a": False})
    from dataclasses import replace

    task = tasks[0]
    return pack, [replace(task, checks=[replace(c, within=within) for c in task.checks])]


def test_a_near_miss_must_fail_check_is_retried_for_the_settle_time_not_its_within(tmp_path):
    pack, tasks = _with_within(tmp_path, 120)
    hosts = TimedHosts()
    run = validate(hosts, pack, tasks)
    # broken (within 0), fixed, the alternative: as written; the near miss: 'mode' must fail, settled
    assert hosts.withins == [{"port": 0, "mode": 0}, {"port": 120, "mode": 120}, {"port": 120, "mode": 120},
                             {"port": 120, "mode": 15.0}]
    near = run.tasks[0].checks[-1]
    assert near.status == "PASS" and "retried 'mode is set' 15s of its 120s" in near.expected


def test_full_within_waits_out_every_within_in_near_misses(tmp_path):
    pack, tasks = _with_within(tmp_path, 120)
    hosts = TimedHosts()
    validate(hosts, pack, tasks, full_within=True)
    assert hosts.withins[-1] == {"port": 120, "mode": 120}
