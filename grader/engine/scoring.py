"""Scoring: pure functions from results to numbers.  No I/O.

- A check earns its points when it PASSes, nothing otherwise.
- A task's points are the sum of its checks' points (its weight).
- The run's percent is earned / possible over all tasks, or, when the pack gives
  domain weights, the weighted mean of the per-domain percents of the domains present.
- Points of ERROR checks could not be judged: they earn nothing, are counted apart
  (`unjudged`), and make the verdict INCOMPLETE rather than a plain FAIL.
- A validate run PASSES only when every task behaved (every row PASS: the reference's,
  each alternative's and each near miss's, which score no points), whatever its percent.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from grader.engine.results import ERROR, RunResult

PASSED, FAILED, INCOMPLETE = "PASSED", "FAILED", "INCOMPLETE"


@dataclass(frozen=True)
class DomainScore:
    domain: str
    earned: float
    possible: float

    @property
    def percent(self) -> float:
        return percent(self.earned, self.possible)


@dataclass(frozen=True)
class Score:
    earned: float
    possible: float
    percent: float
    pass_percent: float
    unjudged: float                      # points of ERROR checks
    errors: int                          # number of ERROR checks
    domains: list[DomainScore] = field(default_factory=list)
    exact_percent: float | None = None   # unrounded: the pass mark is judged on this
    all_passed: bool | None = None       # validate: passed means every row passed, whatever the percent

    @property
    def passed(self) -> bool:
        if self.all_passed is not None:
            return self.all_passed
        exact = self.percent if self.exact_percent is None else self.exact_percent
        return exact >= self.pass_percent

    @property
    def verdict(self) -> str:
        if self.passed:
            return PASSED
        return INCOMPLETE if self.errors else FAILED


def percent(earned: float, possible: float, *, exact: bool = False) -> float:
    value = 100.0 * earned / possible if possible else 0.0
    return value if exact else round(value, 1)


def score(run: RunResult) -> Score:
    by_domain: dict[str, list[float]] = {}
    unjudged = 0.0
    errors = 0
    for task, check in run.all_checks():
        cell = by_domain.setdefault(task.domain or "General", [0.0, 0.0])
        cell[0] += check.earned
        cell[1] += check.points
        if check.status == ERROR:
            unjudged += check.points
            errors += 1
    for task in run.tasks:
        if task.error and not task.checks:
            errors += 1
        by_domain.setdefault(task.domain or "General", [0.0, 0.0])
    domains = [DomainScore(d, e, p) for d, (e, p) in sorted(by_domain.items())]
    earned = sum(d.earned for d in domains)
    possible = sum(d.possible for d in domains)
    weights = {d.domain: float(run.domain_weights.get(d.domain, 0)) for d in domains if d.possible}
    if run.domain_weights and sum(weights.values()) > 0:
        total = sum(weights.values())
        exact = sum(weights[d.domain] * percent(d.earned, d.possible, exact=True)
                    for d in domains if d.domain in weights) / total
    else:
        exact = percent(earned, possible, exact=True)
    pct = round(exact, 1)
    all_passed = None
    if run.mode == "validate":   # a self-test: one row that did not behave (a near miss's, too) fails it
        all_passed = all(t.status == "PASS" for t in run.tasks)
    return Score(earned=earned, possible=possible, percent=pct, pass_percent=run.pass_percent,
                 unjudged=unjudged, errors=errors, domains=domains, exact_percent=exact, all_passed=all_passed)


def exit_code(run: RunResult) -> int:
    """3 when any check could not be judged; in a drill 0/1 by the pass mark;
    otherwise (check, validate) 0 only when every check passed."""
    s = score(run)
    if s.errors:
        return 3
    if run.mode in ("exam", "training"):
        return 0 if s.passed else 1
    return 0 if all(c.status == "PASS" for _, c in run.all_checks()) else 1
