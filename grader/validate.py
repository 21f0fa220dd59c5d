"""`grader validate`, the self-test of tasks.

Per task:
1. the reference: reset, setup, setup again (setup must be idempotent), every check must
   FAIL (unless it declares passes_before_fix), the solution, every check must PASS;
2. each alternative from a fresh setup (reset, setup, its steps): full marks;
3. each near miss from a fresh setup: exactly its `fails` checks FAIL, the others PASS;
4. reset.
With `repeat` N every check pass judges the checks N times on the same state; a check
whose verdict changes is FLAKY.  The outcome is a RunResult (mode "validate"): one row
per check for the reference, then one per alternative and per near miss
(grader.verdicts), so CI can publish it as JUnit and HTML like any run.
"""
from __future__ import annotations

import time
from dataclasses import replace

from grader import verdicts
from grader.errors import StepFailed
from grader.model import Pack, Task
from grader.results import RunResult, TaskResult


def validate(runner, pack: Pack, tasks: list[Task], *, seed: int = 0, progress=None, repeat: int = 1) -> RunResult:
    from grader.lifecycle import new_run, now_iso

    say = progress or (lambda m: None)
    run = new_run(pack, mode="validate", seed=seed, inventory=runner.inventory)
    t0 = time.monotonic()
    for n, task in enumerate(tasks, 1):
        say(f"validating {task.id} ({n}/{len(tasks)})")
        run.tasks.append(validate_task(runner, task, repeat=repeat, progress=say))
    run.ended = now_iso()
    run.time_used = round(time.monotonic() - t0, 3)
    return run


def judge(runner, task: Task, checks, repeat: int = 1) -> dict:
    """check.key -> CheckResult: the checks judged `repeat` times on the same state, combined."""
    env_of = (lambda c: task.env)
    runs = [runner.check(list(checks), env_of=env_of) for _ in range(max(1, repeat))]
    return {c.key: verdicts.combine([r[c.key] for r in runs]) for c in checks}


def validate_task(runner, task: Task, *, repeat: int = 1, progress=None) -> TaskResult:
    from grader.lifecycle import task_result

    say = progress or (lambda m: None)
    checks = list(task.checks)
    stage = "reset"
    try:
        runner.run_steps(task, "reset")
        stage = "setup"
        runner.run_steps(task, "setup")
        stage = "setup (second run: setup must be idempotent)"
        runner.run_steps(task, "setup")
        # right after setup a check must fail: waiting out its `within` would only idle
        broken = judge(runner, task, [replace(c, within=0) for c in checks], repeat)
        stage = "solution"
        runner.run_steps(task, "solution")
        fixed = judge(runner, task, checks, repeat)
    except StepFailed as exc:
        _try_reset(runner, task)
        return task_result(task, [], error=f"{stage} failed: {exc}")
    rows = [verdicts.reference(c, broken[c.key], fixed[c.key]) for c in checks]
    variants = [(verdicts.ALTERNATIVE, a.name, a.steps, None) for a in task.alternatives]
    variants += [(verdicts.NEAR_MISS, m.name, m.steps, m.fails) for m in task.near_misses]
    for n, (kind, name, steps, fails) in enumerate(variants, 1):
        label = "alternative" if kind == verdicts.ALTERNATIVE else "near miss"
        say(f"validating {task.id}: {label} '{name}' ({n}/{len(variants)})")
        rows.append(_variant(runner, task, kind, name, steps, fails, repeat))
    try:
        runner.run_steps(task, "reset")
    except StepFailed as exc:
        return task_result(task, rows, error=f"reset failed: {exc}")
    return task_result(task, rows)


def _variant(runner, task: Task, kind: str, name: str, steps, fails, repeat: int):
    """An alternative's or a near miss's row, from a fresh setup."""
    stage = "reset"
    try:
        runner.run_steps(task, "reset")
        stage = "setup"
        runner.run_steps(task, "setup")
        stage = "its steps"
        for step in steps:
            runner.run_step(task, step)
    except StepFailed as exc:
        return verdicts.step_failed(kind, name, f"{stage} failed: {exc}")
    got = judge(runner, task, task.checks, repeat)
    if kind == verdicts.ALTERNATIVE:
        return verdicts.alternative(name, task.checks, got)
    return verdicts.near_miss(name, task.checks, fails, got)


def _try_reset(runner, task: Task) -> None:
    try:
        runner.run_steps(task, "reset")
    except StepFailed:
        pass
