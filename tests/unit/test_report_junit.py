from __future__ import annotations

import xml.etree.ElementTree as ET

try:
    from .test_report_fixtures import XSS_ACTUAL, sample_run
except ImportError:
    from test_report_fixtures import XSS_ACTUAL, sample_run

from grader.report.junit import clean, render_junit, write_junit
from grader.engine.results import CheckResult, RunResult, TaskResult


def parse(run) -> ET.Element:
    return ET.fromstring(render_junit(run).encode("utf-8"))


def test_suites_per_task_with_counts():
    root = parse(sample_run())
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "2", "1")
    suites = root.findall("testsuite")
    counts = [(s.get("name"), s.get("tests"), s.get("failures"), s.get("errors")) for s in suites]
    assert counts == [("fix-kubelet: Bring node01 back to Ready", "2", "0", "0"),
                      ("deploy-replicas: Scale the frontend to 3 replicas", "2", "1", "0"),
                      ("netpol: Allow only the api pods", "3", "1", "1")]
    for suite in suites:                                  # the attributes agree with the children
        cases = suite.findall("testcase")
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(1 for c in cases if c.find("failure") is not None)
        assert int(suite.get("errors")) == sum(1 for c in cases if c.find("error") is not None)
        float(suite.get("time"))
        for case in cases:
            assert float(case.get("time")) >= 0
            assert case.get("classname") == f"cka-troubleshooting.{suite.get('name').split(':')[0]}"
    float(root.get("time"))


def test_failure_carries_the_evidence():
    root = parse(sample_run())
    case = root.find(".//testcase[@name='3 replicas available']")
    failure = case.find("failure")
    assert failure.get("message") == "only 1 replica is available"
    assert failure.get("type") == "FAIL"
    assert "expected: value >= 3" in failure.text and f"found: {XSS_ACTUAL}" in failure.text
    assert case.get("time") == "30.500"
    # no message given: the summary says expected vs found
    other = root.find(".//testcase[@name='web cannot reach db']/failure")
    assert other.get("message").startswith("expected exit 1, found exit 0")


def test_error_checks_are_errors_not_failures():
    root = parse(sample_run())
    case = root.find(".//testcase[@name='api can reach db']")
    assert case.find("failure") is None
    error = case.find("error")
    assert "start kube-apiserver" in error.get("message") and "10.0.0.1:6443" in error.text
    passed = root.find(".//testcase[@name='kubelet active']")
    assert passed.find("failure") is None and passed.find("error") is None


def test_illegal_xml_characters_are_dropped(tmp_path):
    run = sample_run()
    run.tasks[0].checks[0].name = "bell\x07 and \x00nul \ud800"
    path = write_junit(run, tmp_path / "j.xml")
    root = ET.parse(path).getroot()                       # parses: nothing illegal left
    assert root.find(".//testcase[@name='bell and nul ']") is not None
    text = root.find(".//testcase[@name='web cannot reach db']/failure").text
    assert "\x01" not in text and "\x1b" not in text and "connected" in text
    assert clean("a\x0bb\tc\n") == "ab\tc\n"


def test_task_level_error_and_domain_properties():
    run = RunResult(pack="p", tasks=[TaskResult(id="t1", title="T", domain="Storage",
                                                error="setup step 1 failed on node01: exit 2"),
                                     TaskResult(id="t2", title="U", domain="Storage",
                                                checks=[CheckResult("c", "PASS", 1)])])
    root = parse(run)
    assert (root.get("tests"), root.get("errors"), root.get("failures")) == ("2", "1", "0")
    first = root.findall("testsuite")[0]
    assert first.find("testcase").get("name") == "task setup"
    assert "setup step 1 failed" in first.find("testcase/error").get("message")
    props = {p.get("name"): p.get("value") for p in first.findall("properties/property")}
    assert props["domain"] == "Storage" and props["status"] == "ERROR"
