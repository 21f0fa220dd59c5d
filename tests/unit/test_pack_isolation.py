"""The tasks of one pack run side by side in a whole-exam drill, so none may reach into another's
objects: their namespaces never coincide, and a selector that spans every namespace (a drain's
--pod-selector) matches no label value another task may choose.  (Found by the whole-exam drill
test: node-maintenance's `app=checkout` drained networkpolicy-allow's bare pod `checkout`.)"""
import itertools
import re
from pathlib import Path

import pytest
import yaml

TASKS = Path(__file__).resolve().parents[2] / "tasks"
PACKS = sorted(p.name for p in TASKS.iterdir() if (p / "pack.yaml").exists())


def tasks(pack):
    return {d.name: yaml.safe_load((d / "task.yaml").read_text())
            for d in sorted((TASKS / pack).iterdir()) if (d / "task.yaml").exists()}


def choices(task, name):
    spec = (task.get("params") or {}).get(name)
    if isinstance(spec, dict) and "choice" in spec:
        return {str(v) for v in spec["choice"]}
    return {str(spec)} if isinstance(spec, (str, int)) else set()


def every_value(task):
    return set().union(*(choices(task, n) for n in task.get("params") or {}))


@pytest.mark.parametrize("pack", PACKS)
def test_no_two_tasks_of_a_pack_can_pick_the_same_namespace(pack):
    found = {tid: choices(t, "ns") for tid, t in tasks(pack).items()}
    for (a, na), (b, nb) in itertools.combinations(found.items(), 2):
        assert not na & nb, f"{pack}: {a} and {b} may both use namespace {sorted(na & nb)}"


@pytest.mark.parametrize("pack", PACKS)
def test_a_selector_over_every_namespace_matches_only_its_own_tasks_pods(pack):
    all_tasks = tasks(pack)
    for tid, task in all_tasks.items():
        text = yaml.safe_dump(task)
        for param in set(re.findall(r"--pod-selector\s+\S+=\{\{\s*(\w+)", text)):
            mine = choices(task, param)
            for other, t in all_tasks.items():
                if other != tid:
                    assert not mine & every_value(t), (f"{pack}: {tid}'s --pod-selector value may be "
                                                       f"{sorted(mine & every_value(t))}, which {other} uses")
