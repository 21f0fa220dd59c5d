"""The quick start's first command (install.sh) and CI (.ci/run) install the same things."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def ci_packages() -> set[str]:
    text = (REPO / ".ci" / "run").read_text().replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if re.match(r"\s*apt-get install", ln))
    return {w for w in line.split()[2:] if not w.startswith("-")}


def install_packages() -> set[str]:
    text = (REPO / "install.sh").read_text()
    return set(re.search(r"PACKAGES=\(([^)]*)\)", text).group(1).split())


def test_install_sh_installs_what_ci_installs():
    if not (REPO / ".ci" / "run").is_file():
        pytest.skip("no .ci/run in this tree")
    assert install_packages() == ci_packages()


def test_install_sh_covers_the_lab_tools_and_runs_the_demo():
    from grader.lab.labnet import TOOLS

    assert set(TOOLS.values()) <= install_packages()
    text = (REPO / "install.sh").read_text()
    assert "pip install -q -e '.[test,lint]'" in text          # the README's second command needs pytest
    assert re.search(r"^exec \.venv/bin/grader demo", text, re.M)


def test_install_sh_covers_the_kube_lab_and_its_images():
    from grader.lab import kubeimages, kubelab

    needed = set(kubelab.TOOLS.values()) | set(kubeimages.apt_packages()) - {"apt", "dpkg"}
    assert needed <= install_packages(), needed - install_packages()
    assert "containernetworking-plugins" in install_packages()


def test_install_sh_is_valid_bash_and_refuses_non_root():
    assert subprocess.run(["bash", "-n", str(REPO / "install.sh")]).returncode == 0
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash",
                           str(REPO / "install.sh")], capture_output=True, text=True)
    if proc.returncode in (126, 127) or "not permitted" in proc.stderr or "Permission denied" in proc.stderr:
        pytest.skip("cannot drop privileges here")
    assert proc.returncode == 3 and "run it as root" in proc.stderr
