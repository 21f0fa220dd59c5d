"""`grader validate`, the self-test of tasks.

Per task:
1. the reference: reset, setup, setup again (setup must be idempotent), every check must
   FAIL (unless it declares passes_before_fix), the solution, every check must PASS;
2. each alternative from a fresh setup (reset, setup, its steps): full marks;
3. each near miss from a fresh setup: exactly its `fails` checks FAIL, the others PASS; a
   must-fail check is retried for a few times what it took to converge after the reference
   (grader.verdicts.settle), not its whole `within`, unless `full_within`;
4. reset.
With `repeat` N every check pass judges the checks N times on the same state; a check
whose verdict changes is FLAKY.  With `jobs` N the tasks that are not `exclusive`
validate concurrently (one Runner, whose transports are thread-safe, serves every
worker); exclusive tasks run alone, after them.  On a kubernetes pack the cluster must be
healthy before anything runs (grader.clusterhealth) and again after each exclusive task.  The outcome is a RunResult (mode "validate"): one row
per check for the reference, then one per alternative and per near miss
(grader.verdicts), so CI can publish it as JUnit and HTML like any run.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from grader.engine import clusterhealth, verdicts
from grader.errors import StepFailed
from grader.packs.model import Pack, Task
from grader.engine.results import RunResult, TaskResult


def validate(runner, pack: Pack, tasks: list[Task], *, seed: int = 0, progress=None, repeat: int = 1,
             jobs: int = 1, cluster: bool | None = None, full_within: bool = False) -> RunResult:
    """Validate `tasks`; `jobs` > 1 validates the non-exclusive ones concurrently.  `cluster`
    (default: a kubernetes pack) asks first that every node is Ready and refuses otherwise
    (ClusterUnhealthy), and after each exclusive task waits for that again."""
    from grader.engine.lifecycle import new_run, now_iso

    say = progress or (lambda m: None)
    cluster = pack.target == "kubernetes" if cluster is None else cluster
    if cluster:
        clusterhealth.preflight(runner)
    run = new_run(pack, mode="validate", seed=seed, inventory=runner.inventory)
    t0 = time.monotonic()
    done: dict[str, TaskResult] = {}
    started = iter(range(1, len(tasks) + 1))
    lock = threading.Lock()

    def one(task: Task) -> TaskResult:
        with lock:
            n = next(started)
        alone = " alone: exclusive" if task.exclusive and jobs > 1 else ""
        say(f"validating {task.id} ({n}/{len(tasks)}){alone}, {time.monotonic() - t0:.0f}s so far")
        result = validate_task(runner, task, repeat=repeat, progress=say, full_within=full_within)
        if cluster and task.exclusive:
            say(f"validating {task.id}: waiting for every node to be Ready, {time.monotonic() - t0:.0f}s so far")
            result.checks.append(verdicts.cluster_after(task.id, clusterhealth.wait_healthy(runner),
                                                        clusterhealth.WAIT_AFTER_EXCLUSIVE))
        return result

    waves = schedule(tasks, jobs)
    for k, wave in enumerate(waves):
        if len(wave) == 1:
            results = [one(wave[0])]
        else:
            results = concurrently(one, wave, jobs)
        done.update((r.id, r) for r in results)
        broke = next((r for r in results if verdicts.left_unhealthy(r)), None)
        if broke:
            for task in (t for later in waves[k + 1:] for t in later):
                done[task.id] = _not_run(task, f"not validated: task {broke.id} left the cluster unhealthy")
            break
    run.tasks = [done[t.id] for t in tasks]
    run.ended = now_iso()
    run.time_used = round(time.monotonic() - t0, 3)
    return run


def schedule(tasks: list[Task], jobs: int, *, exclusive_first: bool = False) -> list[list[Task]]:
    """Waves of tasks, run one after the other; a wave of several runs concurrently.  With one
    job: every task alone, in pack order.  With more: the non-exclusive tasks together first,
    then each exclusive task alone, both in pack order; `exclusive_first` (resets: they restore
    a node or the control plane the others may need) puts the exclusive ones first."""
    if jobs <= 1:
        return [[t] for t in tasks]
    shared = [[t for t in tasks if not t.exclusive]] if any(not t.exclusive for t in tasks) else []
    alone = [[t] for t in tasks if t.exclusive]
    return alone + shared if exclusive_first else shared + alone


def concurrently(one, wave: list[Task], jobs: int) -> list:
    """`one(task)` for every task of the wave, `jobs` at a time, results in the wave's order.  On
    Ctrl-C or an exception the tasks not yet started are dropped; the running ones end their
    current task, then the first exception is raised (also `drill start`'s setups)."""
    ex = ThreadPoolExecutor(max_workers=min(jobs, len(wave)), thread_name_prefix="grader-tasks")
    try:
        return list(ex.map(one, wave))
    except BaseException:
        ex.shutdown(wait=False, cancel_futures=True)
        raise
    finally:
        ex.shutdown(wait=True)


def _not_run(task: Task, why: str) -> TaskResult:
    from grader.engine.lifecycle import task_result, unjudged

    return task_result(task, unjudged(task, why), error=why)


def judge(runner, task: Task, checks, repeat: int = 1) -> dict:
    """check.key -> CheckResult: the checks judged `repeat` times on the same state, combined."""
    env_of = (lambda c: task.env)
    runs = [runner.check(list(checks), env_of=env_of) for _ in range(max(1, repeat))]
    return {c.key: verdicts.combine([r[c.key] for r in runs]) for c in checks}


def validate_task(runner, task: Task, *, repeat: int = 1, progress=None, full_within: bool = False) -> TaskResult:
    from grader.engine.lifecycle import task_result

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
    took = {c.key: verdicts.converged(c, fixed[c.key], repeat) for c in checks}
    variants = [(verdicts.ALTERNATIVE, a.name, a.steps, None) for a in task.alternatives]
    variants += [(verdicts.NEAR_MISS, m.name, m.steps, m.fails) for m in task.near_misses]
    for n, (kind, name, steps, fails) in enumerate(variants, 1):
        label = "alternative" if kind == verdicts.ALTERNATIVE else "near miss"
        say(f"validating {task.id}: {label} '{name}' ({n}/{len(variants)})")
        settled = None if full_within or kind != verdicts.NEAR_MISS else {
            c.key: verdicts.settle(c, took[c.key]) for c in checks if c.index in fails}
        rows.append(_variant(runner, task, kind, name, steps, fails, repeat, settled))
    try:
        runner.run_steps(task, "reset")
    except StepFailed as exc:
        return task_result(task, rows, error=f"reset failed: {exc}")
    return task_result(task, rows)


def _variant(runner, task: Task, kind: str, name: str, steps, fails, repeat: int, settled: dict | None = None):
    """An alternative's or a near miss's row, from a fresh setup.  `settled`: check.key -> the
    `within` a near miss's must-fail check is judged with."""
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
    checks = [replace(c, within=settled[c.key]) if settled and c.key in settled else c for c in task.checks]
    got = judge(runner, task, checks, repeat)
    if kind == verdicts.ALTERNATIVE:
        return verdicts.alternative(name, task.checks, got)
    return verdicts.near_miss(name, task.checks, fails, got, settled)


def _try_reset(runner, task: Task) -> None:
    try:
        runner.run_steps(task, "reset")
    except StepFailed:
        pass
