"""Pure logic: validate's verdicts for the reference, alternatives, near misses and repeated runs."""
from grader.engine import verdicts
from grader.packs.model import Check
from grader.engine.results import ERROR, FAIL, FLAKY, PASS, CheckResult

CHECKS = [Check(task_id="t", index=0, name="port", kind="run", host="cp", points=2, id="p"),
          Check(task_id="t", index=1, name="mode", kind="run", host="cp", points=1)]


def r(status, actual="x", message=""):
    return CheckResult(name="c", status=status, points=1, expected="exit 0", actual=actual, message=message)


def got(*statuses):
    return {c.key: r(s, actual=f"{c.name} {s.lower()}") for c, s in zip(CHECKS, statuses)}


def test_combine_same_verdicts_is_that_verdict():
    out = verdicts.combine([r(PASS), r(PASS), r(PASS)])
    assert out.status == PASS and out.attempts == 3


def test_combine_changing_verdict_is_flaky_and_says_the_sequence():
    out = verdicts.combine([r(PASS), r(FAIL, actual="exit 1"), r(PASS)])
    assert out.status == FLAKY
    assert "PASS, FAIL, PASS" in out.message and "3 runs" in out.message and "exit 1" in out.actual


def test_combine_error_outranks_flaky():
    out = verdicts.combine([r(PASS), r(ERROR, message="host down")])
    assert out.status == ERROR and "host down" in out.message and "run 2 of 2" in out.message


def test_reference_verdicts():
    c = CHECKS[0]
    assert verdicts.reference(c, r(FAIL), r(PASS)).status == PASS
    assert verdicts.reference(c, r(PASS), r(PASS)).status == FAIL
    assert verdicts.reference(c, r(FAIL), r(FAIL)).status == FAIL
    flaky = verdicts.reference(c, r(FAIL), verdicts.combine([r(PASS), r(FAIL)]))
    assert flaky.status == FLAKY and "after the reference solution" in flaky.message
    assert verdicts.reference(c, r(ERROR, message="m"), verdicts.combine([r(PASS), r(FAIL)])).status == ERROR


def test_alternative_full_marks_passes():
    row = verdicts.alternative("sed", CHECKS, got(PASS, PASS))
    assert row.status == PASS and row.name == "alternative: sed" and row.kind == "alternative" and row.points == 0
    assert row.verdicts == [{"check": "port", "want": PASS, "got": PASS}, {"check": "mode", "want": PASS, "got": PASS}]


def test_alternative_losing_a_point_names_the_checks_it_lost():
    row = verdicts.alternative("spaces", CHECKS, got(FAIL, PASS))
    assert row.status == FAIL
    assert "loses 2 of 3 point(s)" in row.message and "'port'" in row.message and "port fail" in row.message
    assert "'mode'" not in row.message


def test_near_miss_exactly_its_checks_fail():
    row = verdicts.near_miss("only mode", CHECKS, (0,), got(FAIL, PASS))
    assert row.status == PASS and row.expected == "FAIL: 'port'; every other check PASS"
    assert row.verdicts[0] == {"check": "port", "want": FAIL, "got": FAIL}


def test_near_miss_with_full_marks_is_a_task_bug_naming_the_checks():
    row = verdicts.near_miss("commented", CHECKS, (0,), got(PASS, PASS))
    assert row.status == FAIL and "scores full marks" in row.message and "'port'" in row.message


def test_near_miss_that_passes_a_named_check_or_fails_another():
    row = verdicts.near_miss("x", CHECKS, (0,), got(PASS, FAIL))
    assert row.status == FAIL
    assert "let it through: 'port'" in row.message and "also fails (expected PASS): 'mode'" in row.message


def test_near_miss_error_and_flaky_outrank_fail():
    g = got(FAIL, PASS)
    g[CHECKS[1].key] = r(ERROR, message="kubectl cannot reach the apiserver")
    row = verdicts.near_miss("x", CHECKS, (0,), g)
    assert row.status == ERROR and "apiserver" in row.message
    g[CHECKS[1].key] = verdicts.combine([r(PASS), r(FAIL)])
    assert verdicts.near_miss("x", CHECKS, (0,), g).status == FLAKY


def test_step_failed_row_is_an_error():
    row = verdicts.step_failed("near_miss", "typo", "its steps failed: exit 1")
    assert row.status == ERROR and row.name == "near miss: typo" and "exit 1" in row.message


# --- --jobs scheduling and the cluster's health (pure parts) -----------------------------------

class _T:
    def __init__(self, id, exclusive=False):
        self.id, self.exclusive = id, exclusive

    def __repr__(self):
        return self.id


def test_schedule_one_job_is_pack_order_one_at_a_time():
    from grader.engine.validate import schedule

    tasks = [_T("a"), _T("b", True), _T("c")]
    assert schedule(tasks, 1) == [[tasks[0]], [tasks[1]], [tasks[2]]]


def test_schedule_jobs_run_shared_tasks_together_then_exclusive_ones_alone():
    from grader.engine.validate import schedule

    a, b, c, d, e = _T("a"), _T("b", True), _T("c"), _T("d", True), _T("e")
    assert schedule([a, b, c, d, e], 3) == [[a, c, e], [b], [d]]
    assert schedule([b, d], 4) == [[b], [d]]
    assert schedule([], 2) == []
    # resets (drill abort): the exclusive ones first, each alone, then the shared ones together
    assert schedule([a, b, c, d, e], 3, exclusive_first=True) == [[b], [d], [a, c, e]]
    assert schedule([a, c], 2, exclusive_first=True) == [[a, c]]


def test_cluster_problem_parses_kubectl_get_nodes():
    from grader.engine.clusterhealth import problem

    assert problem(0, "controlplane\tTrue\tKubeletReady\nnode01\tTrue\tKubeletReady\n", "") is None
    found = problem(0, "controlplane\tTrue\tKubeletReady\nnode01\tUnknown\tNodeStatusUnknown\n", "")
    assert found == "node NotReady: node01 (Ready=Unknown, NodeStatusUnknown)"
    assert problem(0, "a\tFalse\t\nb\t\t\n", "") == "nodes NotReady: a (Ready=False), b (Ready=missing)"
    assert "no nodes" in problem(0, "\n", "")
    refused = problem(1, "", "The connection to the server 172.30.1.2:6443 was refused")
    assert refused.startswith("the apiserver does not answer") and "6443 was refused" in refused


def test_cluster_command_quotes_the_kubeconfig():
    from grader.engine.clusterhealth import command
    from grader.inventory import killercoda_default

    from dataclasses import replace

    cmd = command(replace(killercoda_default(), kubeconfig="/etc/my kube/admin.conf"))
    assert cmd.startswith("kubectl --kubeconfig '/etc/my kube/admin.conf' get nodes --request-timeout=")


def test_cluster_row_after_an_exclusive_task():
    from grader.engine.results import TaskResult

    ok = verdicts.cluster_after("kubelet-down", None, 180)
    bad = verdicts.cluster_after("kubelet-down", "node NotReady: node01 (Ready=Unknown)", 180)
    assert ok.status == PASS and ok.kind == "cluster" and ok.points == 0
    assert bad.status == FAIL and "kubelet-down left the cluster unhealthy" in bad.message and "node01" in bad.message
    assert verdicts.left_unhealthy(TaskResult("t", "T", "D", checks=[bad]))
    assert not verdicts.left_unhealthy(TaskResult("t", "T", "D", checks=[ok]))


def test_converged_counts_the_retries_of_the_reference_run():
    check = Check(task_id="t", index=0, name="ready", kind="run", host="cp", points=1, within=60, interval=2)
    fixed = CheckResult(name="ready", status=PASS, points=1, duration=0.5, attempts=4)
    assert verdicts.converged(check, fixed) == 6.5
    # with --repeat 3 the two later runs judged the converged state once each
    fixed3 = CheckResult(name="ready", status=PASS, points=1, duration=0.5, attempts=6)
    assert verdicts.converged(check, fixed3, repeat=3) == 6.5


def test_settle_is_a_few_times_the_convergence_within_bounds():
    slow = Check(task_id="t", index=0, name="ready", kind="run", host="cp", points=1, within=120)
    assert verdicts.settle(slow, 0.2) == verdicts.SETTLE_FLOOR       # converged at once: the floor
    assert verdicts.settle(slow, 10.0) == 30.0                       # three times what it took
    assert verdicts.settle(slow, 50.0) == 120.0                      # never past its within
    now = Check(task_id="t", index=1, name="set", kind="run", host="cp", points=1)
    assert verdicts.settle(now, 5.0) == 0.0                          # no within: judged once, as ever
    short = Check(task_id="t", index=2, name="up", kind="run", host="cp", points=1, within=10)
    assert verdicts.settle(short, 0.1) == 10.0                       # a within under the floor is kept


def test_near_miss_row_says_when_a_must_fail_check_was_retried_less_than_its_within():
    checks = [Check(task_id="t", index=0, name="port", kind="run", host="cp", points=2, within=120), CHECKS[1]]
    row = verdicts.near_miss("only mode", checks, (0,), got(FAIL, PASS), {checks[0].key: 15.0})
    assert row.status == PASS
    assert row.expected == ("FAIL: 'port' (retried 'port' 15s of its 120s: the reference converged sooner); "
                            "every other check PASS")
