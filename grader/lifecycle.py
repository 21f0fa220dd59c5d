"""Per-task lifecycle (setup, check, solve, reset) and `validate`, the pack self-test.

validate, per task: reset, setup, setup again (must be idempotent), every check must
FAIL (unless it declares passes_before_fix), solve, every check must PASS, reset.
Its outcome is a RunResult (mode "validate") in which each check is PASS when it
behaved as a correct task demands, so CI can publish it as JUnit and HTML like any run.
"""
from __future__ import annotations

import time
from dataclasses import replace
from datetime import datetime, timezone

from grader.errors import StepFailed
from grader.model import Pack, Task
from grader.results import ERROR, FAIL, PASS, CheckResult, RunResult, TaskResult


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def render(pack: Pack, specs, *, seed: int, inventory) -> list[Task]:
    from grader.templating import render_task

    missing = [r for r in pack.hosts if r not in inventory.hosts]
    if missing:
        from grader.errors import InventoryError

        raise InventoryError(f"{pack.dir / 'pack.yaml'}: hosts: pack {pack.name} needs host(s) {', '.join(missing)} "
                             f"that the inventory {inventory.source} lacks (it has: {', '.join(sorted(inventory.hosts))})")
    return [render_task(s, seed=seed, inventory=inventory) for s in specs]


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


def validate(runner, pack: Pack, tasks: list[Task], *, seed: int = 0, progress=None) -> RunResult:
    say = progress or (lambda m: None)
    run = new_run(pack, mode="validate", seed=seed, inventory=runner.inventory)
    t0 = time.monotonic()
    for task in tasks:
        say(f"validating {task.id}")
        run.tasks.append(validate_task(runner, task))
    run.ended = now_iso()
    run.time_used = round(time.monotonic() - t0, 3)
    return run


def validate_task(runner, task: Task) -> TaskResult:
    env = {c.key: task.env for c in task.checks}
    checks = list(task.checks)
    stage = "reset"
    try:
        runner.run_steps(task, "reset")
        stage = "setup"
        runner.run_steps(task, "setup")
        stage = "setup (second run: setup must be idempotent)"
        runner.run_steps(task, "setup")
        # right after setup a check must fail: waiting out its `within` would only idle
        broken = runner.check([replace(c, within=0) for c in checks], env_of=lambda c: env[c.key])
        stage = "solution"
        runner.run_steps(task, "solution")
        fixed = runner.check(checks, env_of=lambda c: env[c.key])
        stage = "reset"
        runner.run_steps(task, "reset")
    except StepFailed as exc:
        _try_reset(runner, task, stage)
        return task_result(task, [], error=f"{stage} failed: {exc}")
    verdicts = [_verdict(c, broken[c.key], fixed[c.key]) for c in checks]
    return task_result(task, verdicts)


def _try_reset(runner, task: Task, stage: str) -> None:
    if stage == "reset":
        return
    try:
        runner.run_steps(task, "reset")
    except StepFailed:
        pass


def _verdict(check, broken: CheckResult, fixed: CheckResult) -> CheckResult:
    """PASS when the check failed after setup (or may pass) and passed after the solution."""
    expected = ("after setup: FAIL" if not check.passes_before_fix else "after setup: any") + "; after solution: PASS"
    actual = f"after setup: {broken.status}; after solution: {fixed.status}"
    problems = []
    status = PASS
    if ERROR in (broken.status, fixed.status):
        status = ERROR
        bad = broken if broken.status == ERROR else fixed
        problems.append(bad.message)
    else:
        if broken.status == PASS and not check.passes_before_fix:
            status = FAIL
            problems.append(f"already passes after setup (setup does not break it, or the check cannot fail; "
                            f"mark it passes_before_fix if that is intended): {broken.actual}")
        if fixed.status != PASS:
            status = FAIL
            problems.append(f"still fails after the reference solution: expected {fixed.expected}; got {fixed.actual}")
    return CheckResult(name=check.name, status=status, points=check.points, host=check.host, kind=check.kind,
                       expected=expected, actual=actual, message=" | ".join(problems),
                       duration=round(broken.duration + fixed.duration, 4),
                       attempts=broken.attempts + fixed.attempts)
