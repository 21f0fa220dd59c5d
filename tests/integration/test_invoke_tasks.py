"""Every developer task of tasks.py does its job, not only `invoke --list`.

Each runs for real, with the venv's invoke and from another folder than the checkout (a
task must not depend on the caller's working directory): `lint` on the built-in packs,
`build` into a temporary folder (archives verified, the wheel carries the packs),
`test` as the README's test command with a narrow -k, and `validate` of one
linux-networking task on the lab.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.packs.packs import builtin_names, peek_pack
from needs import tool  # tests/needs.py

ROOT = Path(__file__).resolve().parents[2]
PACK_LOCK = "/run/lock/grader-pack-linux-networking.lock"   # as tests/integration/test_pack_linux_networking.py


def invoke(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GRADER_INVENTORY", "PYTEST_ADDOPTS")}
    env["NO_COLOR"] = "1"
    proc = subprocess.run([tool("invoke"), "-r", str(ROOT), *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def test_invoke_lint_lints_every_built_in_pack(tmp_path):
    proc = invoke("lint", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in builtin_names():
        assert f"{name}: ok" in proc.stderr


def test_invoke_build_writes_verified_archives_and_the_wheel(tmp_path):
    out = tmp_path / "dist"
    proc = invoke("build", "-o", str(out), cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in builtin_names():
        version = peek_pack(name)["version"]
        archive = out / "packs" / f"{name}-{version}.tar.gz"
        assert f"{archive}: ok: {name} {version}" in proc.stdout
        with tarfile.open(archive) as tar:
            assert f"{name}/pack.yaml" in tar.getnames()
    wheels = list(out.glob("grader-*.whl"))
    assert len(wheels) == 1, list(out.iterdir())
    with zipfile.ZipFile(wheels[0]) as whl:
        names = set(whl.namelist())
    assert "grader/cli/__init__.py" in names
    assert {f"grader/_data/tasks/{name}/pack.yaml" for name in builtin_names()} <= names


def test_invoke_test_is_the_readme_command(tmp_path):
    dry = invoke("--dry", "test", cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    line = re.sub(r"\x1b\[[0-9;]*m", "", dry.stdout).strip()
    cd, _, command = line.partition(" && ")
    assert cd == f"cd {ROOT}"
    # the README's `.venv/bin/python -m pytest -q`, with the interpreter that runs invoke
    assert shlex.split(command) == [str(Path(tool("invoke")).parent / "python"), "-m", "pytest", "-q"]
    proc = invoke("test", "-k", "test_shards_split_without_overlap", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^1 passed, \d+ deselected", proc.stdout, re.M), proc.stdout


@pytest.mark.lab
def test_invoke_validate_one_task_on_the_lab(lab, tmp_path):
    Path(PACK_LOCK).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(PACK_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # another session validating the pack would undo this one's drill
        proc = invoke("validate", "--pack", "linux-networking", "--task", "loopback-down",
                      "-i", str(lab.inventory_path), "-o", str(tmp_path / "results"), cwd=tmp_path, timeout=600)
    finally:
        os.close(fd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "results" / "linux-networking" / "results.json").read_text())
    assert [t["id"] for t in results["tasks"]] == ["loopback-down"]
    assert (tmp_path / "results" / "linux-networking" / "junit.xml").is_file()


def test_invoke_validate_refuses_a_task_without_a_pack(tmp_path):
    proc = invoke("validate", "--task", "loopback-down", cwd=tmp_path)
    assert proc.returncode != 0 and "--task needs --pack" in proc.stderr
