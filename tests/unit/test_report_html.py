from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

try:
    from .test_report_fixtures import XSS_ACTUAL, passing_run, sample_run
except ImportError:
    from test_report_fixtures import XSS_ACTUAL, passing_run, sample_run

from grader import report
from grader.report.html import render_html
from grader.engine.results import RunResult

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.text = tag, dict(attrs), parent, [], []

    def iter(self):
        yield self
        for c in self.children:
            yield from c.iter()

    def all_text(self) -> str:
        return "".join(self.text) + "".join(c.all_text() for c in self.children)

    def ancestors(self):
        node = self.parent
        while node:
            yield node
            node = node.parent

    def find_all(self, tag=None, **attrs):
        return [n for n in self.iter() if (tag is None or n.tag == tag)
                and all(n.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]

    def classes(self):
        return (self.attrs.get("class") or "").split()


class Tree(HTMLParser):
    """A tiny DOM, good enough to ask what the browser would see."""

    def __init__(self, html):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", [])
        self.cur = self.root
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, attrs, self.cur))

    def handle_endtag(self, tag):
        node = self.cur
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.cur = node.parent

    def handle_data(self, data):
        self.cur.text.append(data)


@pytest.fixture(scope="module")
def html():
    return render_html(sample_run())


@pytest.fixture(scope="module")
def dom(html):
    return Tree(html).root


def test_header_verdict_score_pass_mark_and_time(dom):
    assert dom.find_all(id="verdict")[0].all_text().strip() == "INCOMPLETE"
    assert dom.find_all(id="score")[0].all_text().strip() == "50%"          # 7 of 14 points
    hero = dom.find_all("header", data_verdict="INCOMPLETE")[0]
    assert "pass mark 66%" in hero.all_text()
    assert "hero-incomplete" in hero.classes()
    time_used = " ".join(dom.find_all(id="time-used")[0].all_text().split())
    assert "52:30 / 1:00:00" in time_used and "late" not in time_used


def test_each_check_shows_its_status_in_order(dom):
    statuses = [(a.attrs["data-task"], [li.attrs["data-status"] for li in a.find_all("li") if "check" in li.classes()])
                for a in dom.find_all("article")]
    assert statuses == [("fix-kubelet", ["PASS", "PASS"]), ("deploy-replicas", ["FAIL", "PASS"]),
                        ("netpol", ["PASS", "ERROR", "FAIL"])]
    assert [a.attrs["data-status"] for a in dom.find_all("article")] == ["PASS", "FAIL", "ERROR"]


def test_fail_shows_expected_found_and_reason(dom):
    fail = [li for li in dom.find_all("li", data_status="FAIL") if "check" in li.classes()][0]
    text = fail.all_text()
    assert "3 replicas available" in text and "value >= 3" in text and "only 1 replica is available" in text
    assert XSS_ACTUAL in text                                   # shown, as text
    assert "0/3" in " ".join(text.split()).replace(" /", "/")


def test_errors_stand_apart_and_say_what_to_fix(dom):
    section = dom.find_all(id="environment-problems")[0]
    assert section.tag == "section"
    assert not any(a.tag == "article" for a in section.ancestors())
    text = section.all_text()
    assert "api can reach db" in text and "start kube-apiserver" in text
    assert "3 replicas available" not in text and "web cannot reach db" not in text   # FAILs are not here
    error_check = [li for li in dom.find_all("li", data_status="ERROR") if "check" in li.classes()][0]
    assert "check-error" in error_check.classes()
    assert "Fix the environment" in error_check.all_text()
    assert "not judged" in error_check.all_text()


def test_hostile_text_is_inert(html, dom):
    tags = [n.tag for n in dom.iter()]
    assert "script" not in tags and "img" not in tags and "iframe" not in tags
    assert not [n for n in dom.find_all("b") if n.all_text() == "frontend"]   # raw <b> stayed text
    for node in dom.iter():
        for name, value in node.attrs.items():
            assert not name.startswith("on"), (node.tag, name)
            if name in ("src", "href", "action", "formaction", "xlink:href"):
                assert not re.match(r"\s*(https?:|//|javascript:|data:)", value or "", re.I), (node.tag, value)
    assert not re.search(r"<script|<img|<iframe|<[a-z][^>]*\son\w+\s*=", html, re.I)
    description = dom.find_all(data_task="deploy-replicas")[0].find_all("details")[0].all_text()
    assert "<script>alert('desc')</script>" in description and "<b>frontend</b>" in description
    assert "https://kubernetes.io/docs/" in description            # a link is text, not a href


def test_self_contained(html, dom):
    assert not dom.find_all("link") and not dom.find_all("script")
    assert not re.search(r"@import|url\(|https?://(?!kubernetes\.io/docs/)", html)   # only the link's text
    style = dom.find_all("style")[0].all_text()
    assert "@media print" in style
    assert all(n.attrs["href"].startswith("#") for n in dom.iter() if "href" in n.attrs)


def test_svg_charts(dom):
    domains = dom.find_all("svg", id="chart-domains")[0]
    labels = [t.all_text() for t in domains.find_all("text") if "label" in t.classes()]
    assert labels == ["Networking", "Troubleshooting", "Workloads"]
    bars = [r for r in domains.find_all("rect") if "bar" in r.classes()]
    assert ["bar-fail", "bar-pass", "bar-fail"] == [r.classes()[1] for r in bars]
    assert float(bars[1].attrs["width"]) > float(bars[0].attrs["width"]) > 0
    assert any("pass 66%" in t.all_text() for t in domains.find_all("text"))
    timing = dom.find_all("svg", id="chart-time")[0]
    values = [t.all_text() for t in timing.find_all("text") if "value" in t.classes()]
    assert values == ["14:00 / 12:00", "12:00 / 6:00", "not recorded / 8:00"]
    assert len([r for r in timing.find_all("rect") if "bar-target" in r.classes()]) == 3


def test_markdown_and_after_the_drill(dom):
    task = dom.find_all(data_task="fix-kubelet")[0]
    assert [n.all_text() for n in task.find_all("strong")] == ["NotReady"]
    assert "systemctl status kubelet" in [n.all_text() for n in task.find_all("code")]
    order = [n for n in task.iter() if n.tag == "ol" and ("checks" in n.classes() or "hints" in n.classes())]
    assert [o.classes()[0] for o in order] == ["checks", "hints"]        # hints after the checks
    solution = task.find_all("pre")[-1].all_text()
    assert "systemctl daemon-reload && systemctl restart kubelet" in solution
    assert "The kubelet reads" in task.all_text()


def test_passing_late_run(tmp_path):
    run = passing_run("exam")
    run.late = True
    dom = Tree(render_html(run)).root
    assert dom.find_all(id="verdict")[0].all_text().strip() == "PASSED"
    assert not dom.find_all(id="environment-problems")
    assert "late" in dom.find_all(id="time-used")[0].all_text()


def test_task_level_error_and_empty_run():
    run = sample_run()
    run.tasks[0].error = "setup step 2 failed on node01: exit 1"
    dom = Tree(render_html(run)).root
    env = dom.find_all(id="environment-problems")[0].all_text()
    assert "setup step 2 failed on node01" in env
    assert dom.find_all(data_task="fix-kubelet")[0].attrs["data-status"] == "ERROR"
    empty = Tree(render_html(RunResult(pack="empty"))).root
    assert empty.find_all(id="verdict")[0].all_text().strip() == "FAILED"
    assert not empty.find_all("svg")


def test_write_reports_and_templates_dir(tmp_path, monkeypatch):
    paths = report.write_reports(sample_run(), html=tmp_path / "r.html", junit=tmp_path / "r.xml",
                                 json_path=tmp_path / "r.json")
    assert [p.name for p in paths] == ["r.json", "r.html", "r.xml"] and all(p.stat().st_size for p in paths)
    assert (report.templates_dir() / "report.html.j2").is_file()
    pkg = tmp_path / "site" / "grader"
    (pkg / "_data" / "templates").mkdir(parents=True)
    (pkg / "_data" / "templates" / "report.html.j2").write_text("x")
    monkeypatch.setattr(report, "_PACKAGE", pkg)
    assert report.templates_dir() == pkg / "_data" / "templates"     # a wheel install wins
    monkeypatch.setattr(report, "_PACKAGE", tmp_path / "nowhere" / "grader")
    with pytest.raises(FileNotFoundError):
        report.templates_dir()
