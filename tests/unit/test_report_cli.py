from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

try:
    from .test_report_fixtures import failing_run, passing_run, sample_run
except ImportError:
    from test_report_fixtures import failing_run, passing_run, sample_run

from grader.cli import main


def write(tmp_path, run, name="results.json"):
    path = tmp_path / name
    path.write_text(run.to_json())
    return path


@pytest.mark.parametrize("run, code", [
    (passing_run("check"), 0),
    (passing_run("exam"), 0),
    (failing_run("exam"), 1),
    (failing_run("check"), 1),
    (sample_run(), 3),               # an ERROR check: something could not be judged
])
def test_exit_codes_follow_scoring(tmp_path, capsys, run, code):
    from grader.engine.scoring import exit_code

    assert exit_code(run) == code
    assert main(["report", str(write(tmp_path, run))]) == code
    out = capsys.readouterr().out
    assert "\x1b" not in out                                   # not a terminal: no colour
    assert out.rstrip().splitlines()[-1] in ("PASSED", "FAILED", "INCOMPLETE")


def test_writes_html_and_junit(tmp_path, capsys):
    results = write(tmp_path, sample_run())
    html, junit = tmp_path / "out.html", tmp_path / "out.xml"
    assert main(["report", str(results), "--html", str(html), "--junit", str(junit)]) == 3
    out = capsys.readouterr().out
    assert f"wrote {html}" in out and f"wrote {junit}" in out
    assert "INCOMPLETE: 50% (7/14 points), pass mark 66%" in out
    assert html.read_text().startswith("<!DOCTYPE html>")
    assert ET.parse(junit).getroot().get("tests") == "7"


def test_only_junit(tmp_path, capsys):
    junit = tmp_path / "only.xml"
    assert main(["report", str(write(tmp_path, passing_run())), "--junit", str(junit)]) == 0
    assert junit.exists() and not list(tmp_path.glob("*.html"))


@pytest.mark.parametrize("content, message", [
    (json.dumps({"hello": "world"}), "not a grader results file"),
    ("this is not json", "not a grader results file (not JSON"),
    (json.dumps({"schema": "grader-results/1", "pack": "p", "tasks": [{"id": "t", "title": "T", "domain": "D",
                 "checks": [{"name": "c", "status": "PASS", "points": "lots"}]}]}), "malformed results"),
])
def test_not_a_results_file_is_one_line_exit_2(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["report", str(bad), "--html", str(tmp_path / "x.html")]) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.startswith("grader: ") and message in err
    assert "Traceback" not in err and captured.out == ""
    assert not (tmp_path / "x.html").exists()


def test_missing_file_and_unwritable_output(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err
    results = write(tmp_path, passing_run())
    assert main(["report", str(results), "--html", str(tmp_path / "no" / "dir" / "r.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot write" in err


def test_colour_only_on_a_terminal_without_no_color(monkeypatch):
    from grader.cli import report

    class Tty:
        def __init__(self, tty):
            self.tty = tty

        def isatty(self):
            return self.tty

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setattr("sys.stdout", Tty(True))
    assert report._color() is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert report._color() is False
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr("sys.stdout", Tty(False))
    assert report._color() is False


def test_help_lists_report(capsys):
    with pytest.raises(SystemExit):
        main(["report", "--help"])
    out = capsys.readouterr().out
    assert "--html FILE" in out and "--junit FILE" in out
