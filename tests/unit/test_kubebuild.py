"""grader/lab/kubebuild.py: where the kube lab's binaries come from, and when they are rebuilt.

The real build runs in CI through `grader lab build` (.ci/run) and the kube tests; these
tests pin the decisions around it with folders of their own.
"""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from grader.lab import kubebuild
from grader.errors import KubeBuildError


def _exe(path: Path, text: str = "#!/bin/sh\necho fake\n") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_the_pinned_module_replaces_every_staging_module_with_the_release_version():
    text = (kubebuild.source_dir() / "go.mod").read_text()
    assert re.search(rf"^\s*k8s\.io/kubernetes {re.escape(kubebuild.VERSION)}( //.*)?$", text, re.M)
    minor = "v0." + kubebuild.VERSION.lstrip("v").split(".", 1)[1]
    replaces = [line.split() for line in text.splitlines() if "=>" in line]
    assert len(replaces) >= 30
    assert all(r[0] == r[2] and r[3] == minor for r in replaces), replaces
    assert (kubebuild.source_dir() / "go.sum").is_file()
    for b in kubebuild.BINARIES:
        mod = (kubebuild.source_dir() / b.module / "go.mod").read_text()
        assert b.package in mod, f"{b.name}: {b.package} is not a tool of {b.module}/go.mod"


def test_version_ldflags_are_upstreams():
    flags = kubebuild.ldflags("v1.35.4")
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        assert f"-X {pkg}.gitVersion=v1.35.4" in flags
        assert f"-X {pkg}.gitMajor=1" in flags and f"-X {pkg}.gitMinor=35" in flags
        assert f"-X {pkg}.gitTreeState=clean" in flags


def test_kube_bin_must_hold_every_binary(tmp_path):
    for name in kubebuild.NAMES[:-1]:
        _exe(tmp_path / name)
    with pytest.raises(KubeBuildError, match=f"missing Kubernetes binaries: {kubebuild.NAMES[-1]}"):
        kubebuild.ensure_binaries(tmp_path)
    _exe(tmp_path / kubebuild.NAMES[-1])
    assert kubebuild.ensure_binaries(tmp_path) == tmp_path


def test_no_go_and_no_binaries_says_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv(kubebuild.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(kubebuild.ENV_BIN, raising=False)
    monkeypatch.setattr(kubebuild, "find_go", lambda: None)
    with pytest.raises(KubeBuildError) as exc:
        kubebuild.ensure_binaries()
    message = str(exc.value)
    assert "Go is not installed" in message and "--kube-bin" in message and kubebuild.ENV_BIN in message
    assert "\n" not in message


def test_a_failed_build_names_the_binary_and_its_log(tmp_path, monkeypatch):
    """A `go` that fails stands in for a broken build; the message must lead to the log."""
    go = tmp_path / "go"
    _exe(go, "#!/bin/sh\n[ \"$1\" = env ] && { echo go9.9; exit 0; }\necho 'cannot find module' >&2\nexit 1\n")
    monkeypatch.setenv(kubebuild.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(kubebuild.ENV_BIN, raising=False)
    monkeypatch.setattr(kubebuild, "find_go", lambda: str(go))
    with pytest.raises(KubeBuildError) as exc:
        kubebuild.ensure_binaries(progress=lambda m: None)
    message = str(exc.value)
    log = tmp_path / "cache" / kubebuild.VERSION / "logs" / "kube-apiserver.log"
    assert "building kube-apiserver failed" in message and "cannot find module" in message
    assert str(log) in message and log.is_file()


def test_a_stamped_binary_is_not_rebuilt_and_a_changed_input_is(tmp_path, monkeypatch):
    go = tmp_path / "go"
    _exe(go, "#!/bin/sh\n[ \"$1\" = env ] && { echo go9.9; exit 0; }\n"
             "while [ $# -gt 0 ]; do [ \"$1\" = -o ] && { printf built > \"$2\"; }; shift; done\n")
    monkeypatch.setenv(kubebuild.ENV_CACHE, str(tmp_path / "cache"))
    monkeypatch.delenv(kubebuild.ENV_BIN, raising=False)
    monkeypatch.setattr(kubebuild, "find_go", lambda: str(go))
    said = []
    bin_dir = kubebuild.ensure_binaries(progress=said.append)
    assert sorted(p.name for p in bin_dir.iterdir()) == sorted(kubebuild.NAMES)
    assert kubebuild.stale() == []
    said.clear()
    kubebuild.ensure_binaries(progress=said.append)
    assert said == []                                  # nothing to do: no build at all
    stamp = tmp_path / "cache" / kubebuild.VERSION / "stamps" / "kubelet"
    stamp.write_text("another input\n")
    assert kubebuild.stale() == ["kubelet"]


def test_lab_build_cli_reports_a_missing_kube_bin_binary_as_exit_3(tmp_path):
    _exe(tmp_path / "kubelet")
    proc = subprocess.run([sys.executable, "-m", "grader", "lab", "build", "--kube-bin", str(tmp_path)],
                          capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert proc.returncode == 3
    assert "missing Kubernetes binaries" in proc.stderr and "Traceback" not in proc.stderr
