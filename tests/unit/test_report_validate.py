"""The HTML, terminal and JUnit reports of a `validate` run: the reference, each alternative, each near
miss and the cluster's health, with every check's verdict, autoescaped."""
from __future__ import annotations

try:
    from .test_report_html import Tree
except ImportError:
    from test_report_html import Tree

from grader.engine import verdicts
from grader.packs.model import Check
from grader.report.html import render_html
from grader.report.junit import render_junit
from grader.report.terminal import render_run
from grader.engine.results import CheckResult, RunResult, TaskResult

XSS = "<script>alert('near')</script>"
CHECKS = [Check(task_id="t", index=0, name=f"port {XSS}", kind="run", host="cp", points=2),
          Check(task_id="t", index=1, name="mode", kind="run", host="cp", points=1)]


def r(status, actual="x"):
    return CheckResult(name="c", status=status, points=1, expected="exit 0", actual=actual)


def validate_run() -> RunResult:
    ref = [verdicts.reference(CHECKS[0], r("FAIL"), r("PASS")),
           verdicts.reference(CHECKS[1], r("FAIL"), verdicts.combine([r("PASS"), r("FAIL"), r("PASS")]))]
    alt = verdicts.alternative("sed <b>in place</b>", CHECKS, {CHECKS[0].key: r("PASS"), CHECKS[1].key: r("PASS")})
    miss = verdicts.near_miss("commented out", CHECKS, (0,), {CHECKS[0].key: r("PASS"), CHECKS[1].key: r("PASS")})
    cluster = verdicts.cluster_after("t", "node NotReady: node01 (Ready=Unknown)", 180)
    task = TaskResult(id="t", title="T", domain="D", checks=ref + [alt, miss, cluster])
    return RunResult(pack="p", mode="validate", tasks=[task])


def test_html_shows_reference_alternatives_near_misses_and_cluster_apart():
    html = render_html(validate_run())
    dom = Tree(html).root
    titles = [h.all_text() for h in dom.find_all("h3") if "section-title" in h.classes()]
    assert titles[:4] == ["Reference solution", "Alternative solutions", "Near misses", "The cluster after the task"]
    items = dom.find_all("li")
    statuses = [li.attrs["data-status"] for li in items if "check" in li.classes()]
    assert statuses == ["PASS", "FLAKY", "PASS", "FAIL", "FAIL"]
    miss = next(li for li in items if "near miss: commented out" in li.all_text())
    cells = [[td.all_text().strip() for td in tr.find_all("td")] for tr in miss.find_all("tr")[1:]]
    assert cells == [[f"port {XSS}", "FAIL", "PASS"], ["mode", "PASS", "PASS"]]
    assert "scores full marks" in miss.all_text()
    assert XSS not in html and "<b>in place</b>" not in html and "&lt;b&gt;in place&lt;/b&gt;" in html
    assert "1 flaky" in html


def test_a_check_run_keeps_its_one_checks_section():
    run = validate_run()
    run.mode = "check"
    titles = [h.all_text() for h in Tree(render_html(run)).root.find_all("h3") if "section-title" in h.classes()]
    assert titles.count("Checks") == 1 and "Near misses" not in titles


def test_terminal_and_junit_show_flaky_apart_from_fail():
    text = render_run(validate_run(), color=False, width=100)
    assert "~ mode" in text and "0/1 FLAKY" in text
    assert "✗ near miss: commented out" in text and "FAIL" in text
    junit = render_junit(validate_run())
    assert 'type="FLAKY"' in junit and junit.count('type="FAIL"') == 2


def test_a_validate_run_passes_only_when_every_row_passed():
    from grader.engine.scoring import exit_code, score

    run = validate_run()
    assert score(run).verdict == "FAILED" and exit_code(run) == 1
    assert "FAILED" in render_run(run, color=False)
    run.tasks[0].checks = [c for c in run.tasks[0].checks if c.status == "PASS"]
    assert score(run).verdict == "PASSED" and exit_code(run) == 0
    near_miss_only = validate_run()
    near_miss_only.tasks[0].checks = [c for c in near_miss_only.tasks[0].checks if c.status == "PASS"
                                      or c.kind == "near_miss"]
    assert score(near_miss_only).percent == 100.0 and score(near_miss_only).verdict == "FAILED"
