"""Faults on the real cluster of the kube lab, in the middle of a drill: grading completes,
what could not be judged is an ERROR naming the cause (never a FAIL), what could be judged
keeps its verdict, the CLI exits 3, the drill's state survives, and once the fault is undone
the same drill grades right.

The faults are real: the apiserver's and etcd's static pod manifests moved out of
/etc/kubernetes/manifests on controlplane (the kubelet stops the pods), node01's kubelet
stopped (`systemctl stop kubelet`, grader-svc), controlplane's kubeconfig moved away or
garbled.  Root ignores mode bits, so `chmod 000` would change nothing for kubectl run as
root: "unreadable" is a kubeconfig that is missing or not YAML.  node01's clock cannot be
moved here (see docs/reliability.md).

Every test runs with the cluster alone (flock -x on /tmp/grader-kube.lock, as the spec asks of
node-breaking work, taken once and held to the end of the session), undoes its fault in a
`finally`, and ends only when both nodes are Ready and the apiserver answers (bounded wait).

The drill's pack is written here: one task in a namespace of its own, with kube, run and
file checks on both hosts, some passing and some failing on purpose.
"""
from __future__ import annotations

import fcntl
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from needs import unavailable  # tests/needs.py

pytestmark = [pytest.mark.lab, pytest.mark.kube]

REPO = Path(__file__).resolve().parents[2]
LOCK = "/tmp/grader-kube.lock"
LOCK_WAIT = 1800          # other sessions' validations hold the lock shared for minutes
HEAL_WAIT = 300           # a restored static pod or kubelet is back well within this
MANIFESTS = "/etc/kubernetes/manifests"
PARKED = "/etc/kubernetes/grader-faults"   # controlplane's own /etc/kubernetes (private to the host)

# name -> verdict on a healthy cluster
HEALTHY = {
    "configmap colour is red": "PASS", "configmap colour is blue": "FAIL", "secret db exists": "FAIL",
    "pod sleeper is Ready": "PASS", "pod sleeper runs busybox": "PASS", "logs of sleeper say hello": "PASS",
    "controlplane answers": "PASS", "controlplane says no": "FAIL", "marker on node01": "PASS",
    "no such file on node01": "FAIL", "node01 answers": "PASS",
}
KUBE = ("configmap colour is red", "configmap colour is blue", "secret db exists", "pod sleeper is Ready",
        "pod sleeper runs busybox")
HOSTS_ONLY = ("controlplane answers", "controlplane says no", "marker on node01", "no such file on node01",
              "node01 answers")


_HELD: list[int] = []     # the fd holding the lock, once taken (shared by the modules that import this one)


@pytest.fixture(scope="session")
def kube_exclusive(kube_lab):
    """An exclusive flock on the shared kube lock, taken once per process and held until it
    exits (waiting in the queue again before each test could take an hour when other sessions
    validate; test_kube_load.py imports this fixture, and a second flock of ours would wait for
    the first).  GRADER_KUBE_LOCK_HELD=1: the caller holds it already
    (`flock -x /tmp/grader-kube.lock .venv/bin/python -m pytest ...`)."""
    if not _HELD and os.environ.get("GRADER_KUBE_LOCK_HELD") != "1":
        fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        take_exclusive(fd)
        _HELD.append(fd)
    yield


@pytest.fixture
def cluster_alone(kube_exclusive, kube_lab):
    """The cluster for this test alone, healthy when the test starts."""
    wait_healthy(kube_lab)
    return kube_lab


def take_exclusive(fd: int) -> None:
    """flock(LOCK_EX), waiting in the kernel's queue with the others (a polling LOCK_NB would
    lose to every blocked waiter), for LOCK_WAIT seconds at most."""
    def late(*_):
        raise TimeoutError
    previous = signal.signal(signal.SIGALRM, late)
    signal.alarm(LOCK_WAIT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except TimeoutError:
        unavailable(f"{LOCK} stayed locked by others for {LOCK_WAIT}s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def cp(lab, command: str, *, timeout: float = 60, check: bool = False):
    return lab.ssh("controlplane", command, timeout=timeout, check=check)


def health(lab) -> str:
    """'' when both nodes are Ready and the apiserver is ready, else what is not."""
    try:
        ready = cp(lab, "kubectl get --raw=/readyz --request-timeout=5s", timeout=20)
        if ready.returncode != 0 or ready.stdout.strip() != "ok":
            return f"apiserver: {(ready.stdout + ready.stderr).strip()[-200:]}"
        nodes = cp(lab, "kubectl get nodes --request-timeout=5s -o jsonpath='{range .items[*]}{.metadata.name}="
                        "{.status.conditions[?(@.type==\"Ready\")].status} {end}'", timeout=20).stdout.split()
    except subprocess.TimeoutExpired:
        return "kubectl timed out"
    bad = [n for n in nodes if not n.endswith("=True")]
    return f"nodes {nodes}" if bad or len(nodes) != 2 else ""


def wait_healthy(lab, limit: float = HEAL_WAIT) -> None:
    deadline = time.monotonic() + limit
    while (problem := health(lab)) and time.monotonic() < deadline:
        time.sleep(3)
    assert not problem, f"the cluster did not heal within {limit:.0f}s: {problem}"


def wait_until(what: str, predicate, limit: float = 120) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < limit, f"{what} did not happen within {limit:.0f}s"
        time.sleep(1)
    return time.monotonic() - start


def apiserver_says(lab) -> str:
    r = cp(lab, "kubectl get --raw=/readyz --request-timeout=3s 2>&1", timeout=20)
    return r.stdout.strip()


# --- the drill ------------------------------------------------------------------------


def write_pack(root: Path, ns: str, checks_before: list | None = None) -> Path:
    shared = f"/var/lib/grader/{ns}"          # the test machine sees it too (not a private folder)
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper", "namespace": ns},
           "spec": {"nodeName": "node01", "terminationGracePeriodSeconds": 0,
                    "containers": [{"name": "c", "image": "busybox:1.36",
                                    "command": ["sh", "-c", "echo hello-from-sleeper; sleep 36000"]}]}}
    kube = {"resource": "configmap", "name": "colours", "namespace": ns}
    checks = (checks_before or []) + [
        {"name": "configmap colour is red", "kube": kube, "expect": {"jsonpath": "{.data.colour}", "value": "red"}},
        {"name": "configmap colour is blue", "kube": kube, "expect": {"jsonpath": "{.data.colour}", "value": "blue"}},
        {"name": "secret db exists", "kube": {"resource": "secret", "name": "db", "namespace": ns}},
        {"name": "pod sleeper is Ready", "kube": {"resource": "pod", "name": "sleeper", "namespace": ns},
         "expect": {"jsonpath": '{.status.conditions[?(@.type=="Ready")].status}', "value": "True"}},
        {"name": "pod sleeper runs busybox", "kube": {"resource": "pod", "name": "sleeper", "namespace": ns},
         "expect": {"jsonpath": "{.spec.containers[0].image}", "value": "busybox:1.36"}},
        {"name": "logs of sleeper say hello", "run": f"kubectl -n {ns} logs sleeper", "timeout": 15,
         "expect": {"stdout": "hello-from-sleeper"}},
        {"name": "controlplane answers", "run": "hostname", "expect": {"stdout": "controlplane"}},
        {"name": "controlplane says no", "run": "echo no", "expect": {"stdout": "yes"}},
        {"name": "marker on node01", "host": "node01", "file": f"/var/tmp/{ns}/marker",
         "expect": {"content": "placed"}},
        {"name": "no such file on node01", "host": "node01", "file": f"/var/tmp/{ns}/nothing"},
        {"name": "node01 answers", "host": "node01", "run": "hostname", "expect": {"stdout": "node01"}},
    ]
    task = {"id": "faulty", "title": "Checks of every kind while the cluster breaks", "minutes": 5,
            "description": "Nothing to do: the test breaks the cluster around this task.",
            "setup": [{"run": f"kubectl create namespace {ns} --dry-run=client -o yaml | kubectl apply -f -"},
                      {"run": f"kubectl -n {ns} create configmap colours --from-literal=colour=red"},
                      {"run": f"printf '%s' {json.dumps(json.dumps(pod))} | kubectl apply -f -"},
                      {"run": f"kubectl -n {ns} wait pod/sleeper --for=condition=Ready --timeout=120s", "timeout": 150},
                      {"run": f"mkdir -p /var/tmp/{ns} && printf placed > /var/tmp/{ns}/marker", "host": "node01"},
                      {"run": f"mkdir -p {shared}"}],
            "reset": [{"run": f"kubectl delete namespace {ns} --ignore-not-found --wait=true --timeout=120s",
                       "timeout": 150},
                      {"run": f"rm -rf /var/tmp/{ns}", "host": "node01"},
                      {"run": f"rm -rf {shared}"}],
            "checks": checks}
    (root / "faulty").mkdir(parents=True)
    (root / "pack.yaml").write_text(yaml.safe_dump({"name": "kube-faults", "title": "Kube faults", "version": "0.1.0",
                                                    "target": "kubernetes", "hosts": ["controlplane", "node01"]}))
    (root / "faulty" / "task.yaml").write_text(yaml.safe_dump(task, sort_keys=False))
    return root


class Drill:
    def __init__(self, lab, tmp_path: Path, first=None):
        """`first(ns)`: checks to put before the usual ones."""
        self.lab, self.home = lab, tmp_path / "home"
        self.ns = f"grader-faults-{secrets.token_hex(3)}"
        self.shared = Path(f"/var/lib/grader/{self.ns}")
        self.pack = write_pack(tmp_path / "pack", self.ns, first(self.ns) if first else None)

    def grader(self, *args, timeout: float = 600) -> subprocess.CompletedProcess:
        env = {**os.environ, "NO_COLOR": "1", "GRADER_HOME": str(self.home)}
        env.pop("GRADER_INVENTORY", None)
        proc = subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=timeout, stdin=subprocess.DEVNULL)
        assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
        return proc

    def start(self) -> None:
        proc = self.grader("drill", "start", self.pack, "-i", self.lab.inventory_path, "--mode", "training",
                           "--seed", 1)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    def state(self) -> dict:
        return json.loads((self.home / "drill.json").read_text())

    def check(self, *, code: int) -> tuple[dict, subprocess.CompletedProcess]:
        proc = self.grader("drill", "check", "--json")
        assert proc.returncode == code, f"exit {proc.returncode}, wanted {code}\n{proc.stdout[-3000:]}\n{proc.stderr}"
        return verdicts(json.loads(proc.stdout)), proc

    def grade(self, *, code: int) -> dict:
        proc = self.grader("drill", "grade", "--json")
        assert proc.returncode == code, f"exit {proc.returncode}, wanted {code}\n{proc.stdout[-3000:]}\n{proc.stderr}"
        data = json.loads(proc.stdout)
        out = Path(self.state()["results"])
        for name in ("results.json", "report.html", "junit.xml"):
            assert (out / name).is_file(), name
        return verdicts(data)

    def abort(self) -> None:
        if (self.home / "drill.json").exists():
            self.grader("drill", "abort")


def verdicts(run: dict) -> dict:
    return {c["name"]: c for t in run["tasks"] for c in t["checks"]}


def assert_healthy_verdicts(got: dict) -> None:
    wrong = {n: (c["status"], c["actual"], c["message"]) for n, c in got.items()
             if n in HEALTHY and c["status"] != HEALTHY[n]}
    assert not wrong, wrong


def assert_errors(got: dict, names, *words: str) -> None:
    for name in names:
        c = got[name]
        assert c["status"] == "ERROR", f"{name}: {c['status']}: {c['actual']} / {c['message']}"
        for w in words:
            assert w in c["message"], f"{name}: {w!r} not in {c['message']!r}"
        print(f"  {name}: {c['message']}")


def assert_kept(got: dict, names) -> None:
    for name in names:
        assert got[name]["status"] == HEALTHY[name], f"{name}: {got[name]}"


STABLE = ("id", "pack", "tasks", "seed", "mode", "started", "setup", "phase", "inventory")


@pytest.fixture
def drill(cluster_alone, tmp_path):
    d = Drill(cluster_alone, tmp_path)
    d.start()
    try:
        yield d
    finally:
        d.abort()


def fault_check_heal(drill: Drill, apply, undo, *, after_fault=None) -> dict:
    """Baseline check, fault, check under the fault (returned), undo, check, grade."""
    got, _ = drill.check(code=1)
    assert_healthy_verdicts(got)
    before = {k: drill.state()[k] for k in STABLE}
    try:
        apply()
        if after_fault:
            after_fault()
        start = time.monotonic()
        faulty, proc = drill.check(code=3)
        print(f"graded under the fault in {time.monotonic() - start:.1f}s")
        assert {k: drill.state()[k] for k in STABLE} == before, "the drill's state changed under the fault"
        assert drill.state()["checked"]["faulty"]["count"] == 1, "an ERROR check was recorded as a try"
    finally:
        undo()
        wait_healthy(drill.lab)
    again, _ = drill.check(code=1)
    assert_healthy_verdicts(again)
    assert drill.state()["checked"]["faulty"]["count"] == 2
    final = drill.grade(code=1)
    assert_healthy_verdicts(final)
    assert drill.state()["phase"] == "graded"
    return faulty


# --- the faults -------------------------------------------------------------------------


def park(lab, name: str) -> None:
    cp(lab, f"mkdir -p {PARKED} && mv {MANIFESTS}/{name} {PARKED}/{name}", check=True)


def unpark(lab, name: str) -> None:
    cp(lab, f"if [ -e {PARKED}/{name} ]; then mv {PARKED}/{name} {MANIFESTS}/{name}; fi; rmdir {PARKED} 2>/dev/null; "
            f"test -e {MANIFESTS}/{name}", check=True)


def test_apiserver_stopped_mid_pass(cluster_alone, tmp_path):
    """The apiserver goes away while the kube host's batch runs: the check before keeps its
    verdict, the ones after are ERRORs naming the refused apiserver; node01 is judged as usual.

    The faulty pass runs with one kubectl per check (GRADER_KUBE_GROUPING=off): a grouped pass
    reads every kube check from one listing at its start, beside the run checks, so a fault
    that comes later cannot reach them; this is the pass that meets it in mid-flight (and the
    one a grouped pass falls back to)."""
    lab = cluster_alone

    def first(ns: str) -> list:
        flag = f"/var/lib/grader/{ns}/mid-pass"
        before = {"name": "configmap read before", "kube": {"resource": "configmap", "name": "colours",
                                                            "namespace": ns},
                  "expect": {"jsonpath": "{.data.colour}", "value": "red"}}
        # runs early on controlplane: without the flag it passes at once; with it, it says it
        # started, then waits (bounded) until the apiserver is gone
        trigger = {"name": "the apiserver goes away", "timeout": 60, "expect": {"stdout": "gone"},
                   "run": f"[ -e {flag} ] || {{ echo gone; exit 0; }}; touch {flag}.started; "
                          "for i in $(seq 200); do kubectl get --raw=/readyz --request-timeout=1s >/dev/null 2>&1 "
                          "|| { echo gone; exit 0; }; sleep 0.25; done; echo still-up"}
        return [before, trigger]

    d = Drill(lab, tmp_path, first)
    flag = d.shared / "mid-pass"
    d.start()
    try:
        got, _ = d.check(code=1)
        assert_healthy_verdicts(got)
        assert got["configmap read before"]["status"] == got["the apiserver goes away"]["status"] == "PASS"
        before = {k: d.state()[k] for k in STABLE}
        flag.touch()
        try:
            env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
            with subprocess.Popen([sys.executable, "-m", "grader", "drill", "check", "--json"], cwd=REPO,
                                  env={**env, "NO_COLOR": "1", "GRADER_HOME": str(d.home),
                                       "GRADER_KUBE_GROUPING": "off"},
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  stdin=subprocess.DEVNULL) as run:
                try:
                    wait_until("the trigger check starting", Path(f"{flag}.started").exists, 120)
                    park(lab, "kube-apiserver.yaml")
                    took = wait_until("the apiserver refusing", lambda: "refused" in apiserver_says(lab), 90)
                    print(f"apiserver gone {took:.0f}s after its manifest moved")
                    stdout, stderr = run.communicate(timeout=600)
                finally:
                    if run.poll() is None:
                        run.kill()
            assert "Traceback" not in stdout + stderr
            assert run.returncode == 3, stdout[-3000:] + stderr
            got = verdicts(json.loads(stdout))
            assert got["configmap read before"]["status"] == "PASS", "the verdict judged before the fault was lost"
            assert got["the apiserver goes away"]["status"] == "PASS"
            assert_errors(got, KUBE, "kubectl on controlplane could not answer",
                          "the apiserver at 172.30.1.2:6443 (controlplane) refused the connection")
            assert_errors(got, ["logs of sleeper say hello"], "172.30.1.2:6443 (controlplane) refused")
            assert_kept(got, HOSTS_ONLY)
            assert {k: d.state()[k] for k in STABLE} == before, "the drill's state changed under the fault"
        finally:
            unpark(lab, "kube-apiserver.yaml")
            flag.unlink(missing_ok=True)
            wait_healthy(lab)
        got, _ = d.check(code=1)
        assert_healthy_verdicts(got)
        final = d.grade(code=0)                 # 9 of 13 points: over the pass mark
        assert_healthy_verdicts(final)
    finally:
        d.abort()


def test_etcd_stopped(drill):
    lab = drill.lab

    def apply():
        park(lab, "etcd.yaml")
        took = wait_until("the apiserver failing without etcd", lambda: apiserver_says(lab) != "ok", 120)
        print(f"apiserver not ready {took:.0f}s after etcd's manifest moved: {apiserver_says(lab)[-150:]}")

    got = fault_check_heal(drill, apply, lambda: unpark(lab, "etcd.yaml"))
    assert_errors(got, KUBE, "kubectl on controlplane could not answer", "apiserver")
    assert_errors(got, ["logs of sleeper say hello"])       # kubectl logs without a timeout hangs: timed out
    assert_kept(got, HOSTS_ONLY)


def test_node01_kubelet_stopped(drill):
    lab = drill.lab
    ns = drill.ns

    def sleeper_ready() -> str:
        return cp(lab, f"kubectl -n {ns} get pod sleeper -o "
                       "jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}'").stdout.strip()

    def apply():
        lab.ssh("node01", "systemctl stop kubelet", check=True)
        took = wait_until("node01 NotReady and its pod's Ready False", lambda: sleeper_ready() == "False", 180)
        print(f"node01's pod lost Ready {took:.0f}s after its kubelet stopped")

    def undo():
        lab.ssh("node01", "systemctl start kubelet", check=True)
        wait_until("the pod sleeper Ready again", lambda: sleeper_ready() == "True", HEAL_WAIT)

    got = fault_check_heal(drill, apply, undo)
    assert_errors(got, ["pod sleeper is Ready"], "pod sleeper runs on node01", "node node01 is NotReady",
                  "systemctl status kubelet")
    assert_errors(got, ["logs of sleeper say hello"], "the kubelet at 172.30.2.2:10250 (node01)")
    assert_kept(got, ("configmap colour is red", "configmap colour is blue", "secret db exists",
                      "pod sleeper runs busybox", *HOSTS_ONLY))


@pytest.mark.parametrize("how", ["moved away", "garbled"])
def test_kubeconfig_unreadable(drill, how):
    """The lab's inventory names no kubeconfig: kubectl on controlplane reads root's ~/.kube/config."""
    lab = drill.lab
    kc, parked = "/root/.kube/config", "/root/.kube/config.grader-fault"

    def apply():
        if how == "moved away":
            cp(lab, f"mv {kc} {parked}", check=True)
        else:
            cp(lab, f"cp -p {kc} {parked} && printf 'apiVersion: v1\\nclusters: [ {{\\n  not yaml' > {kc}",
               check=True)

    def undo():
        cp(lab, f"if [ -e {parked} ]; then mv -f {parked} {kc}; fi; test -s {kc}", check=True)

    got = fault_check_heal(drill, apply, undo)
    cause = "fell back to localhost:8080" if how == "moved away" else "cannot load the kubeconfig /root/.kube/config"
    assert_errors(got, KUBE, "kubectl on controlplane could not answer", cause)
    assert_errors(got, ["logs of sleeper say hello"], cause)
    assert_kept(got, HOSTS_ONLY)
