"""Pure logic: scoring (no I/O)."""
from grader.engine.results import ERROR, FAIL, PASS, CheckResult, RunResult, TaskResult
from grader.engine.scoring import FAILED, INCOMPLETE, PASSED, exit_code, score


def run_with(*tasks, weights=None, mode="exam", pass_percent=66):
    return RunResult(pack="p", mode=mode, tasks=list(tasks), domain_weights=weights or {}, pass_percent=pass_percent)


def task(domain, *statuses_points):
    return TaskResult(id=domain + str(len(statuses_points)), title="t", domain=domain,
                      checks=[CheckResult(name=f"c{i}", status=s, points=p) for i, (s, p) in enumerate(statuses_points)])


def test_partial_credit_and_pass_mark():
    run = run_with(task("Net", (PASS, 2), (FAIL, 1)), task("Kube", (PASS, 3), (PASS, 1)))
    s = score(run)
    assert (s.earned, s.possible, s.percent) == (6, 7, 85.7)
    assert s.verdict == PASSED and exit_code(run) == 0
    assert [(d.domain, d.earned, d.possible) for d in s.domains] == [("Kube", 4, 4), ("Net", 2, 3)]


def test_below_pass_mark_fails_with_exit_1():
    run = run_with(task("Net", (PASS, 1), (FAIL, 2)))
    assert score(run).verdict == FAILED and exit_code(run) == 1


def test_errors_are_counted_apart_and_exit_3():
    run = run_with(task("Net", (PASS, 1), (ERROR, 2)))
    s = score(run)
    assert s.unjudged == 2 and s.errors == 1 and s.verdict == INCOMPLETE
    assert exit_code(run) == 3


def test_domain_weights_give_a_weighted_mean():
    run = run_with(task("A", (PASS, 1)), task("B", (FAIL, 9)), weights={"A": 3, "B": 1})
    assert score(run).percent == 75.0        # (3*100 + 1*0) / 4, not 1/10 of the points


def test_check_mode_demands_every_check():
    run = run_with(task("A", (PASS, 9), (FAIL, 1)), mode="check", pass_percent=50)
    assert score(run).passed and exit_code(run) == 1


def test_empty_run_is_zero_not_a_crash():
    s = score(run_with())
    assert s.percent == 0.0 and s.possible == 0


def test_the_pass_mark_is_judged_on_the_unrounded_percent():
    run = run_with(task("A", *([(PASS, 1)] * 6595 + [(FAIL, 1)] * 3405)), pass_percent=66)
    s = score(run)
    assert s.percent == 66.0 and not s.passed          # 65.95 % shows as 66.0 but does not pass
