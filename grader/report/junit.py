"""JUnit XML: one <testsuite> per task inside <testsuites>, one <testcase> per check.

FAIL -> <failure message=... type="FAIL"> with the evidence as text (FLAKY, validate's changing verdict,
likewise with type="FLAKY"); ERROR -> <error>.
A task-level error (setup failed, ...) becomes a testcase of its own with an <error>.
Built with xml.etree so escaping is right; characters XML 1.0 forbids are dropped.
The layout follows the common Jenkins/Surefire dialect that CI viewers (GitLab, GitHub
actions, Jenkins, Azure) accept.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from grader.report import fmt
from grader.engine.results import ERROR, FAIL, FLAKY, RunResult
from grader.engine.scoring import score

_ILLEGAL = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_MESSAGE_MAX = 300


def clean(text) -> str:
    """Text safe for XML 1.0 (no control characters, no lone surrogates)."""
    return _ILLEGAL.sub("", str(text if text is not None else ""))


def _secs(value: float | None) -> str:
    return f"{max(0.0, float(value or 0)):.3f}"


def _one_line(text: str) -> str:
    text = " ".join(clean(text).split())
    return text if len(text) <= _MESSAGE_MAX else text[: _MESSAGE_MAX - 3] + "..."


def _evidence(check) -> str:
    parts = []
    if check.expected:
        parts.append(f"expected: {check.expected}")
    parts.append(f"found: {check.actual}" if check.actual else "found: (nothing)")
    if check.message:
        parts.append(("fix the environment: " if check.status == ERROR else "why: ") + check.message)
    if check.host:
        parts.append(f"host: {check.host}" + (f" ({check.kind} check)" if check.kind else ""))
    if check.attempts and check.attempts > 1:
        parts.append(f"attempts: {check.attempts}")
    return clean("\n".join(parts))


def build(run: RunResult) -> ET.Element:
    s = score(run)
    root = ET.Element("testsuites", name=clean(f"grader {run.pack}" + (f" {run.pack_version}" if run.pack_version else "")))
    totals = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
    hostname = clean(",".join(run.hosts)) or "localhost"
    for n, task in enumerate(run.tasks, 1):
        suite = ET.SubElement(root, "testsuite", name=clean(f"{task.id}: {task.title}" if task.title else task.id),
                              id=str(n - 1), package=clean(run.pack), hostname=hostname)
        if run.started:
            suite.set("timestamp", clean(run.started.replace("+00:00", "").rstrip("Z")))
        props = ET.SubElement(suite, "properties")
        for key, value in (("domain", task.domain), ("points", fmt.num(task.points)), ("earned", fmt.num(task.earned)),
                           ("status", task.status), ("target_minutes", fmt.num(task.target_minutes)),
                           ("time_spent", "" if task.time_spent is None else fmt.num(task.time_spent)),
                           ("flagged", str(task.flagged).lower())):
            ET.SubElement(props, "property", name=key, value=clean(value))
        counts = {"tests": 0, "failures": 0, "errors": 0, "time": 0.0}
        classname = clean(f"{run.pack}.{task.id}")
        if task.error:
            case = ET.SubElement(suite, "testcase", name="task setup", classname=classname, time=_secs(0))
            err = ET.SubElement(case, "error", message=_one_line(task.error), type="ERROR")
            err.text = clean(task.error)
            counts["tests"] += 1
            counts["errors"] += 1
        for check in task.checks:
            case = ET.SubElement(suite, "testcase", name=clean(check.name), classname=classname,
                                 time=_secs(check.duration))
            counts["tests"] += 1
            counts["time"] += max(0.0, float(check.duration or 0))
            if check.status in (FAIL, FLAKY):
                summary = check.message or (f"expected {check.expected}, found {check.actual or '(nothing)'}"
                                            if check.expected else "check failed")
                el = ET.SubElement(case, "failure", message=_one_line(summary), type=check.status)
                el.text = _evidence(check)
                counts["failures"] += 1
            elif check.status == ERROR:
                el = ET.SubElement(case, "error", message=_one_line(check.message or "could not be judged"),
                                   type="ERROR")
                el.text = _evidence(check)
                counts["errors"] += 1
            out = ET.SubElement(case, "system-out")
            out.text = clean(f"{check.status} {fmt.num(check.earned)}/{fmt.num(check.points)} points"
                             + (f"\nfound: {check.actual}" if check.status != FAIL and check.actual else ""))
        for key in ("tests", "failures", "errors"):
            suite.set(key, str(counts[key]))
            totals[key] += counts[key]
        suite.set("skipped", "0")
        suite.set("time", _secs(task.time_spent if task.time_spent is not None else counts["time"]))
        totals["time"] += counts["time"]
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    root.set("time", _secs(run.time_used or totals["time"]))
    root.insert(0, ET.Comment(clean(f" {s.verdict}: {fmt.num(s.percent)}% ({fmt.num(s.earned)}/{fmt.num(s.possible)}"
                                    f" points), pass mark {fmt.num(s.pass_percent)}% ").replace("--", "- -")))
    return root


def render_junit(run: RunResult) -> str:
    root = build(run)
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(run: RunResult, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(render_junit(run), encoding="utf-8")
    return path
