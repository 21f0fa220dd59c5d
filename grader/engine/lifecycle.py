"""Per-task lifecycle (setup, check, solve, reset): rendering, checking, result building.

`validate`, the pack self-test, is in grader.engine.validate.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from grader.errors import InventoryError
from grader.packs.model import Pack, Task
from grader.engine.results import ERROR, CheckResult, RunResult, TaskResult
from grader.packs.templating import render_task


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def render(pack: Pack, specs, *, seed: int, inventory) -> list[Task]:
    check_hosts(pack, inventory)
    return [render_task(s, seed=seed, inventory=inventory) for s in specs]


def check_hosts(pack: Pack, inventory) -> None:
    """InventoryError unless the inventory has every host the pack needs."""
    missing = [r for r in pack.hosts if r not in inventory.hosts]
    if missing:
        raise InventoryError(f"{pack.dir / 'pack.yaml'}: hosts: pack {pack.name} needs host(s) {', '.join(missing)} "
                             f"that the inventory {inventory.source} lacks (it has: {', '.join(sorted(inventory.hosts))})")


def task_result(task: Task, checks: list[CheckResult], *, error: str = "") -> TaskResult:
    return TaskResult(id=task.id, title=task.title, domain=task.domain, checks=checks,
                      target_minutes=task.spec.minutes, description=task.description, hints=list(task.hints),
                      explanation=task.explanation, solution=[s.display() for s in task.solution], error=error)


def unjudged(task: Task, message: str) -> list[CheckResult]:
    """ERROR results for every check of a task that could not be graded at all, so its
    points stay in the total instead of vanishing from it."""
    return [CheckResult(name=c.name, status=ERROR, points=c.points, host=c.host, kind=c.kind,
                        expected="(not judged)", actual="(not judged)", message=message) for c in task.checks]


def new_run(pack: Pack, *, mode: str, seed: int, inventory) -> RunResult:
    return RunResult(pack=pack.name, pack_title=pack.title, pack_version=pack.version, mode=mode, seed=seed,
                     inventory=inventory.name, hosts=sorted(inventory.hosts), started=now_iso(),
                     pass_percent=pack.pass_percent, domain_weights=dict(pack.domains))


def check_tasks(runner, pack: Pack, tasks: list[Task], *, mode: str = "check", seed: int = 0) -> RunResult:
    run = new_run(pack, mode=mode, seed=seed, inventory=runner.inventory)
    t0 = time.monotonic()
    env = {c.key: t.env for t in tasks for c in t.checks}
    results = runner.check([c for t in tasks for c in t.checks], env_of=lambda c: env[c.key])
    run.tasks = [task_result(t, [results[c.key] for c in t.checks]) for t in tasks]
    run.ended = now_iso()
    run.time_used = round(time.monotonic() - t0, 3)
    return run
