"""The built-in cluster packs on the real cluster of the kube lab: each validates (setup
breaks every task, the reference solution and every alternative fix it, every near miss
loses exactly the checks it names), and the whole mock exam as a candidate drills it.

Slow (minutes): these are the proof that a cluster task works, which no unit test gives.

The whole mock exam validates in about 27 minutes here (its six exclusive tasks run one at
a time), which does not fit CI's hour next to the rest, so CI validates one of its
MOCK_PARTS parts per run, chosen by the day (part = date ordinal % MOCK_PARTS): each part
holds every MOCK_PARTS-th exclusive and every MOCK_PARTS-th shared task, so three
consecutive days of CI validate every task. GRADER_TEST_MOCK_EXAM=1 validates the whole pack
instead; GRADER_TEST_MOCK_PART=K picks part K (0-based). bench/README.md has the figures.
The whole-exam drill (every task set up, half of them solved, one grade) runs every time.

Every grader command here runs with GRADER_KUBE_VERIFY=1: each kube check answered from the
pass's one kubectl listing (grader.engine.kubefetch) is also run with its own kubectl, and a
difference in verdict or evidence is an ERROR, which fails validate and the drill. That makes
these tests the equivalence test of the grouping, on every task's broken and fixed states,
alternatives and near misses.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.kube]

REPO = Path(__file__).resolve().parents[2]
JOBS = os.environ.get("GRADER_TEST_VALIDATE_JOBS", "8")
WHOLE_MOCK_EXAM = os.environ.get("GRADER_TEST_MOCK_EXAM") == "1"
MOCK_PARTS = 3


def grader(*args, home: Path | None = None, timeout: float = 3600) -> subprocess.CompletedProcess:
    env = {**os.environ, "NO_COLOR": "1", "GRADER_KUBE_VERIFY": "1"}
    env.pop("GRADER_INVENTORY", None)
    if home:
        env["GRADER_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=timeout)


def nodes_ready(lab) -> dict[str, str]:
    out = lab.ssh("controlplane", "kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}="
                  "{.status.conditions[?(@.type==\"Ready\")].status}{\"\\n\"}{end}'", check=True).stdout
    return dict(line.split("=", 1) for line in out.split())


def mock_exam_part(part: int, parts: int = MOCK_PARTS) -> list[str]:
    """The ids of one part of the mock exam: every parts-th exclusive task and every parts-th
    shared task from the part-th on, so each part costs about the same."""
    from grader.packs.loader import load_pack

    specs = load_pack("cka-mock-exam").tasks
    exclusive = [t.id for t in specs if t.exclusive]
    shared = [t.id for t in specs if not t.exclusive]
    return exclusive[part::parts] + shared[part::parts]


def todays_part() -> int:
    chosen = os.environ.get("GRADER_TEST_MOCK_PART")
    return int(chosen) % MOCK_PARTS if chosen else datetime.date.today().toordinal() % MOCK_PARTS


def test_the_mock_exam_parts_cover_every_task_once():
    from grader.packs.loader import load_pack

    ids = [t.id for t in load_pack("cka-mock-exam").tasks]
    parts = [mock_exam_part(k) for k in range(MOCK_PARTS)]
    assert sorted(i for part in parts for i in part) == sorted(ids)
    assert all(len(part) >= len(ids) // MOCK_PARTS for part in parts)


def validated(kube_lab, pack: str, out: Path, *tasks: str) -> dict:
    only = ("--task", ",".join(tasks)) if tasks else ()
    proc = grader("validate", pack, *only, "-i", kube_lab.inventory_path, "--jobs", JOBS, "-o", out)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return json.loads((out / "results.json").read_text())


def variants(results: dict) -> dict[str, set[str]]:
    """task -> the kinds of rows validate reported for it (reference checks, alternatives, near misses)."""
    return {t["id"]: {c.get("kind", "") for c in t["checks"]} for t in results["tasks"]}


@pytest.mark.parametrize("pack, at_least", [("cka-road-trip", 9), ("cka-mock-exam", 17)])
def test_a_cluster_pack_validates_on_the_real_cluster(kube_lab, tmp_path, pack, at_least):
    if pack == "cka-mock-exam" and not WHOLE_MOCK_EXAM:
        part = mock_exam_part(todays_part())
        results = validated(kube_lab, pack, tmp_path / "results", *part)
        assert [t["id"] for t in results["tasks"]] == part
    else:
        results = validated(kube_lab, pack, tmp_path / "results")
        assert len(results["tasks"]) >= at_least
    for task, kinds in variants(results).items():
        assert {"alternative", "near_miss"} <= kinds, f"{task}: validate ran no alternative or near miss"
    assert set(nodes_ready(kube_lab).values()) == {"True"}, "validate left a node NotReady"


def test_the_whole_mock_exam_half_solved_scores_about_half_with_a_domain_chart(kube_lab, tmp_path):
    """A candidate's exam: every task set up (the exclusive ones staged), the reference
    solutions of every other task (a staged one begun first), one grade."""
    from grader.engine.lifecycle import render
    from grader.packs.loader import load_pack
    from grader.engine.results import from_dict
    from grader.engine.runner import Runner
    from grader.engine.scoring import score

    home, inv, seed = tmp_path / "home", str(kube_lab.inventory_path), 515
    r = grader("drill", "start", "cka-mock-exam", "--mode", "exam", "--seed", seed, "-i", inv, home=home)
    try:
        assert r.returncode == 0, r.stderr[-4000:]
        assert "Solve this task on:" in r.stdout
        state = json.loads((home / "drill.json").read_text())
        ids = state["tasks"]
        assert len(ids) >= 17
        staged = [t for t in ids if state["setup"][t] == "staged"]
        assert staged, "the mock exam stages the tasks that break a node"
        # the even half, which holds node-maintenance: its drain must leave the other tasks'
        # pods alone and its uncordon must let every later task's new pods schedule
        solved = ids[0::2]
        assert "node-maintenance" in solved
        pack = load_pack("cka-mock-exam", inventory=kube_lab.inventory)
        tasks = {t.id: t for t in render(pack, [pack.task(i) for i in solved], seed=seed,
                                          inventory=kube_lab.inventory)}
        with Runner(kube_lab.inventory) as runner:
            for task_id in solved:
                if task_id in staged:
                    b = grader("drill", "begin", task_id, "-i", inv, home=home)
                    assert b.returncode == 0, b.stderr[-3000:]
                runner.run_steps(tasks[task_id], "solution")
        g = grader("drill", "grade", "-i", inv, home=home)
        out = Path(next(ln for ln in g.stdout.splitlines() if ln.startswith("report: ")).split(": ", 1)[1]).parent
        run = from_dict(json.loads((out / "results.json").read_text()))
        s = score(run)
        assert g.returncode == (0 if s.passed else 1), g.stdout[-3000:] + g.stderr[-3000:]
        by_id = {t.id: t for t in run.tasks}
        for t in solved:
            assert {c.status for c in by_id[t].checks} == {"PASS"}, (t, [(c.name, c.status, c.actual)
                                                                         for c in by_id[t].checks])
        for t in set(ids) - set(solved):
            statuses = {c.status for c in by_id[t].checks}
            assert "FAIL" in statuses and "ERROR" not in statuses, (t, statuses)
        assert s.errors == 0 and 30 <= s.percent <= 70, s.percent
        assert len(s.domains) == 5
        html = (out / "report.html").read_text()
        assert "Score per domain" in html
        # the same checks once more, each kube check from the listing and from its own kubectl
        everything = render(pack, [pack.task(i) for i in ids], seed=seed, inventory=kube_lab.inventory)
        checks = [dataclasses.replace(c, within=0) for t in everything for c in t.checks]
        with Runner(kube_lab.inventory, grouping=True, verify=True) as runner:
            compared = runner.check(checks)
            stats = dict(runner.kube_stats)
        differ = [(k, r.message) for k, r in compared.items() if "differs from kubectl's own" in r.message]
        assert not differ, differ
        kube = sum(c.kind == "kube" for c in checks)
        assert stats["grouped"] >= 0.8 * kube, (stats, kube)
    finally:
        a = grader("drill", "abort", "-i", inv, home=home)
        assert a.returncode == 0, a.stderr[-3000:]
        assert set(nodes_ready(kube_lab).values()) == {"True"}, "the mock exam left a node NotReady"
