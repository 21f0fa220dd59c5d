"""validate's verdicts: pure functions from check results to result rows.  No I/O.

- `combine`: the N results of one check judged N times on the same state (`--repeat N`)
  become one; a verdict that changed between runs is FLAKY.
- `reference`: per check, after setup it must FAIL (unless passes_before_fix), after the
  reference solution it must PASS.
- `alternative`: another correct solution must get full marks.
- `near_miss`: a plausible wrong fix must FAIL exactly the checks it names and PASS the
  others.
- `settle`: how long a near miss's must-fail check is retried.  Waiting out its whole
  `within` (time a correct fix may take to converge) mostly idles: the reference run has
  just measured how long this check takes to converge on this lab, so a wrong state gets
  SETTLE_FACTOR times that, at least SETTLE_FLOOR seconds, never more than the `within`.
  `validate --full-within` waits out every `within` instead.
ERROR (an environment problem) outranks FLAKY, which outranks FAIL.
"""
from __future__ import annotations

from grader.engine.matchers import excerpt
from grader.engine.results import ERROR, FAIL, FLAKY, PASS, CheckResult

ALTERNATIVE, NEAR_MISS, CLUSTER = "alternative", "near_miss", "cluster"
VARIANT_KINDS = (ALTERNATIVE, NEAR_MISS)
UNSCORED_KINDS = (ALTERNATIVE, NEAR_MISS, CLUSTER)     # validate's rows that are no check of the task
CLUSTER_ROW = "the cluster is healthy after the task"
_EVIDENCE = 200
SETTLE_FLOOR = 15.0     # seconds a near miss's must-fail check is retried, at least (when it has a within)
SETTLE_FACTOR = 3.0     # times what the check took to converge after the reference solution


def converged(check, fixed: CheckResult, repeat: int = 1) -> float:
    """Seconds the check took to PASS after the reference solution, from its attempts: each
    retry waited `interval`; with `repeat` N the later runs judge the converged state once."""
    retries = max(0, fixed.attempts - max(1, repeat))
    return retries * check.interval + fixed.duration


def settle(check, took: float) -> float:
    """The `within` a near miss's must-fail check is judged with, given the seconds `took` the
    check needed to converge after the reference solution (see the module docstring)."""
    if check.within <= 0:
        return 0.0
    return round(min(check.within, max(SETTLE_FLOOR, SETTLE_FACTOR * took)), 1)


def combine(runs: list[CheckResult]) -> CheckResult:
    """One result for a check judged len(runs) times on the same state."""
    first = runs[0]
    attempts = sum(r.attempts for r in runs)
    duration = round(max(r.duration for r in runs), 4)
    statuses = [r.status for r in runs]
    if len(set(statuses)) == 1:
        return _with(first, attempts=attempts, duration=duration)
    if ERROR in statuses:
        bad = runs[statuses.index(ERROR)]
        return _with(bad, attempts=attempts, duration=duration,
                     message=f"{bad.message} (run {statuses.index(ERROR) + 1} of {len(runs)})")
    failed = runs[statuses.index(FAIL)]
    seq = ", ".join(statuses)
    return CheckResult(name=first.name, status=FLAKY, points=first.points, host=first.host, kind=first.kind,
                       expected=first.expected, actual=f"{seq} over {len(runs)} runs; when it failed: {failed.actual}",
                       message=f"the verdict changed between {len(runs)} runs on the same state ({seq}): a race, a "
                               "`within` too short, or output that varies; make the check deterministic",
                       duration=duration, attempts=attempts)


def reference(check, broken: CheckResult, fixed: CheckResult) -> CheckResult:
    """PASS when the check failed after setup (or may pass) and passed after the solution."""
    expected = ("after setup: FAIL" if not check.passes_before_fix else "after setup: any") + "; after solution: PASS"
    actual = f"after setup: {broken.status}; after solution: {fixed.status}"
    problems = []
    status = PASS
    if ERROR in (broken.status, fixed.status):
        status = ERROR
        bad = broken if broken.status == ERROR else fixed
        problems.append(bad.message)
    elif FLAKY in (broken.status, fixed.status):
        status = FLAKY
        for when, r in (("after setup", broken), ("after the reference solution", fixed)):
            if r.status == FLAKY:
                problems.append(f"{when}: {r.message}; {r.actual}")
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


def alternative(name: str, checks, got: dict) -> CheckResult:
    """An alternative solution's row: PASS only with full marks."""
    want = {c.key: PASS for c in checks}
    row = _row(ALTERNATIVE, name, checks, got, want, "full marks: every check PASS")
    if row.status != FAIL:
        return row
    lost = [c for c in checks if got[c.key].status == FAIL]
    points = sum(c.points for c in lost)
    total = sum(c.points for c in checks)
    row.message = (f"alternative '{name}' loses {points:g} of {total:g} point(s), a correct solution that the "
                   f"checks refuse (too strict?): " + "; ".join(_why(c, got[c.key]) for c in lost))
    return row


def near_miss(name: str, checks, fails, got: dict, settled: dict | None = None) -> CheckResult:
    """A near miss's row: PASS when exactly the checks at indices `fails` FAIL and the others PASS.
    `settled` (check.key -> seconds) says how long each must-fail check was retried when that was
    shorter than its `within` (grader.verdicts.settle); the row's expectation says so."""
    want = {c.key: FAIL if c.index in fails else PASS for c in checks}
    named = ", ".join(f"'{c.name}'" for c in checks if c.index in fails)
    shorter = [f"'{c.name}' {settled[c.key]:g}s of its {c.within:g}s" for c in checks
               if settled and c.key in settled and settled[c.key] < c.within]
    retried = f" (retried {', '.join(shorter)}: the reference converged sooner)" if shorter else ""
    row = _row(NEAR_MISS, name, checks, got, want, f"FAIL: {named}{retried}; every other check PASS")
    if row.status != FAIL:
        return row
    through = [c for c in checks if want[c.key] == FAIL and got[c.key].status == PASS]
    extra = [c for c in checks if want[c.key] == PASS and got[c.key].status == FAIL]
    if all(got[c.key].status == PASS for c in checks):
        row.message = (f"near miss '{name}' scores full marks, a task bug: the checks "
                       f"{', '.join(repr(c.name) for c in through)} let it through (a wrong fix passes them)")
        return row
    problems = []
    if through:
        problems.append(f"let it through: {', '.join(repr(c.name) for c in through)} pass (expected FAIL)")
    if extra:
        problems.append("also fails (expected PASS): " + "; ".join(_why(c, got[c.key]) for c in extra))
    row.message = f"near miss '{name}': " + " | ".join(problems)
    return row


def _row(kind: str, name: str, checks, got: dict, want: dict, expected: str) -> CheckResult:
    label = "alternative" if kind == ALTERNATIVE else "near miss"
    verdicts = [{"check": c.name, "want": want[c.key], "got": got[c.key].status} for c in checks]
    actual = ", ".join(f"{c.name}: {got[c.key].status}" for c in checks)
    row = CheckResult(name=f"{label}: {name}", status=PASS, points=0, kind=kind, expected=expected, actual=actual,
                      duration=round(sum(r.duration for r in got.values()), 4),
                      attempts=sum(r.attempts for r in got.values()), verdicts=verdicts)
    errors = [c for c in checks if got[c.key].status == ERROR]
    flaky = [c for c in checks if got[c.key].status == FLAKY]
    if errors:
        row.status = ERROR
        row.message = f"{label} '{name}': not judged: " + "; ".join(f"'{c.name}': {got[c.key].message}"
                                                                   for c in errors)
    elif flaky:
        row.status = FLAKY
        row.message = f"{label} '{name}': flaky: " + "; ".join(f"'{c.name}': {got[c.key].actual}" for c in flaky)
    elif any(got[c.key].status != want[c.key] for c in checks):
        row.status = FAIL
    return row


def step_failed(kind: str, name: str, message: str) -> CheckResult:
    """The row of an alternative or near miss whose reset, setup or steps did not run through."""
    label = "alternative" if kind == ALTERNATIVE else "near miss"
    return CheckResult(name=f"{label}: {name}", status=ERROR, points=0, kind=kind, expected="its steps run",
                       actual="(not judged)", message=f"{label} '{name}': {message}")


def cluster_after(task_id: str, found: str | None, waited: float) -> CheckResult:
    """The row of an exclusive task on a cluster: every node Ready again after its reset."""
    row = CheckResult(name=CLUSTER_ROW, status=PASS, points=0, kind=CLUSTER,
                      expected="every node Ready and the apiserver answering after the reset", actual=found or "healthy")
    if found:
        row.status = FAIL
        row.message = (f"task {task_id} left the cluster unhealthy ({waited:g} s after its reset): {found}; "
                       "its reset must restore what it broke (validate stops there)")
    return row


def left_unhealthy(task_result) -> bool:
    return any(c.kind == CLUSTER and c.status != PASS for c in task_result.checks)


def _why(check, r: CheckResult) -> str:
    return f"'{check.name}' (expected {excerpt(r.expected, _EVIDENCE)}; got {excerpt(r.actual, _EVIDENCE)})"


def _with(r: CheckResult, **changes) -> CheckResult:
    from dataclasses import replace

    return replace(r, **changes)
