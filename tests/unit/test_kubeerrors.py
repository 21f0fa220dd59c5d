"""kubectl's stderr: the cluster's fault (ERROR, naming the cause) or a fact (NotFound).

The stderr texts are what kubectl v1.35/1.36 printed for each fault (collected from the
real kubectl against 127.0.0.1 servers and the kube lab), klog lines included.
"""
from __future__ import annotations

import pytest

from grader.engine import kubeerrors
from grader.engine.checks import evaluate
from grader.packs.model import Check
from grader.engine.results import ERROR, FAIL, PASS
from grader.transport.base import CommandResult

NAMES = {"172.30.1.2": "controlplane", "172.30.2.2": "node01"}


def klog(url: str, why: str) -> str:
    line = (f'E1202 10:56:31.703602   29365 memcache.go:265] "Unhandled Error" err="couldn\'t get current server '
            f'API group list: Get \\"{url}/api?timeout=9s\\": {why}"\n')
    return line * 5


REFUSED = klog("https://172.30.1.2:6443", "dial tcp 172.30.1.2:6443: connect: connection refused") + \
    "The connection to the server 172.30.1.2:6443 was refused - did you specify the right host or port?\n"
FALLBACK = klog("http://localhost:8080", "dial tcp 127.0.0.1:8080: connect: connection refused") + \
    "The connection to the server localhost:8080 was refused - did you specify the right host or port?\n"
CLIENT_TIMEOUT = ("Unable to connect to the server: net/http: request canceled while waiting for connection "
                  "(Client.Timeout exceeded while awaiting headers)\n")
IO_TIMEOUT = klog("https://172.30.1.2:6443", "dial tcp 172.30.1.2:6443: i/o timeout") + \
    "Unable to connect to the server: dial tcp 172.30.1.2:6443: i/o timeout\n"
NO_ROUTE = "Unable to connect to the server: dial tcp [::2]:6443: connect: no route to host\n"
X509 = klog("https://172.30.1.2:6443", "tls: failed to verify certificate: x509: certificate signed by unknown "
                                       "authority") + \
    ("Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown "
     "authority (possibly because of \"x509: invalid signature\" while trying to verify candidate authority "
     "certificate \"kubernetes\")\n")
EXPIRED = ("Unable to connect to the server: tls: failed to verify certificate: x509: certificate has expired or "
           "is not yet valid: current time 2026-12-02T12:00:00Z is before 2026-12-02T12:30:00Z\n")
UNAUTHORIZED = "error: You must be logged in to the server (Unauthorized)\n"
CREDENTIALS = "error: You must be logged in to the server (the server has asked for the client to provide credentials)\n"
GARBLED = "error: error loading config file \"/root/.kube/config\": yaml: line 4: did not find expected ',' or '}'\n"
BINARY = "error: error loading config file \"/root/.kube/config\": yaml: invalid trailing UTF-8 octet\n"
A_DIRECTORY = "error: error loading config file \"/tmp\": read /tmp: is a directory\n"
MISSING = "error: stat /etc/kubernetes/admin.conf: no such file or directory\n"
UNAVAILABLE = "Error from server (ServiceUnavailable): the server is currently unable to handle the request\n"
SERVER_TIMEOUT = ("Error from server (Timeout): the server was unable to return a response in the time allotted, "
                  "but may still be processing the request (get pods web)\n")
ETCD = "Error from server: etcdserver: request timed out\n"
ETCD_INTERNAL = "Error from server (InternalError): Internal error occurred: etcdserver: leader changed\n"
WEBHOOK = ('Error from server (InternalError): error when creating "x.yaml": Internal error occurred: failed calling '
           'webhook "v.example.com": failed to call webhook: Post "https://v.example.svc:443/validate": '
           'dial tcp 10.96.0.99:443: connect: connection refused\n')
LOGS_KUBELET = ('Error from server: Get "https://172.30.2.2:10250/containerLogs/probe-ns/apiserver-probe/probe?'
                'tailLines=3": dial tcp 172.30.2.2:10250: connect: connection refused\n')
EXEC_KUBELET = "error: unable to upgrade connection: error dialing backend: dial tcp 172.30.2.2:10250: i/o timeout\n"
NOT_FOUND = 'Error from server (NotFound): namespaces "nginx-ns" not found\n'
NO_RESOURCE = "Error from server (NotFound): the server could not find the requested resource\n"


@pytest.mark.parametrize("stderr, kind, words", [
    (REFUSED, "refused", ["the apiserver at 172.30.1.2:6443 (controlplane) refused the connection", "kube-apiserver.yaml"]),
    (FALLBACK, "no-kubeconfig", ["no kubeconfig", "localhost:8080", "~/.kube/config"]),
    (CLIENT_TIMEOUT, "timeout", ["the apiserver did not answer in time", "Client.Timeout"]),
    (IO_TIMEOUT, "timeout", ["the apiserver at 172.30.1.2:6443 (controlplane) did not answer in time"]),
    (NO_ROUTE, "unreachable", ["the apiserver at [::2]:6443 could not be reached", "no route to host"]),
    (X509, "certificate", ["172.30.1.2:6443 (controlplane) was not trusted", "unknown authority"]),
    (EXPIRED, "certificate", ["expired or is not yet valid", "clock"]),
    (UNAUTHORIZED, "unauthorized", ["refused the kubeconfig's credentials (Unauthorized)"]),
    (CREDENTIALS, "unauthorized", ["credentials"]),
    (GARBLED, "kubeconfig", ["cannot load the kubeconfig /root/.kube/config: yaml: line 4"]),
    (BINARY, "kubeconfig", ["invalid trailing UTF-8"]),
    (A_DIRECTORY, "kubeconfig", ["is a directory"]),
    (MISSING, "kubeconfig", ["the kubeconfig /etc/kubernetes/admin.conf cannot be read: no such file"]),
    (UNAVAILABLE, "server", ["ServiceUnavailable", "etcd"]),
    (SERVER_TIMEOUT, "server", ["answered Timeout"]),
    (ETCD, "server", ["could not reach etcd: etcdserver: request timed out"]),
    (ETCD_INTERNAL, "server", ["leader changed"]),
    (WEBHOOK, "internal", ["InternalError"]),
    (LOGS_KUBELET, "kubelet", ["the kubelet at 172.30.2.2:10250 (node01): connection refused", "systemctl status kubelet"]),
    (EXEC_KUBELET, "kubelet", ["172.30.2.2:10250 (node01): i/o timeout"]),
])
def test_each_fault_is_told_apart_and_named(stderr, kind, words):
    problem = kubeerrors.classify(stderr, names=NAMES)
    assert problem is not None and problem.kind == kind, problem
    text = problem.text()
    for w in words:
        assert w in text, f"{w!r} not in {text!r}"
    assert "memcache" not in text and "Unhandled Error" not in text and "\n" not in text


@pytest.mark.parametrize("stderr", [
    NOT_FOUND, "", "No resources found in default namespace.\n",
    "curl: (7) Failed to connect to 10.0.0.2 port 80: Connection refused\n",   # the candidate's own service
    "nc: connect to 127.0.0.1 port 8080 (tcp) failed: Connection refused\n",
    'Error from server (Forbidden): pods is forbidden: User "jane" cannot list resource "pods"\n',
    'Error from server (BadRequest): container "web" in pod "web" is waiting to start: ContainerCreating\n',
    'error: the server doesn\'t have a resource type "widgets"\n',
])
def test_facts_and_other_programs_are_no_kube_problem(stderr):
    assert kubeerrors.classify(stderr, names=NAMES) is None


def test_not_found_is_the_apiserver_answering_about_an_object():
    assert kubeerrors.not_found(NOT_FOUND)
    assert kubeerrors.not_found(klog("https://172.30.1.2:6443", "http2: client connection lost") + NOT_FOUND)
    assert not kubeerrors.not_found(NO_RESOURCE)       # about the URL: no such API here
    assert not kubeerrors.not_found(REFUSED)
    assert not kubeerrors.not_found(NOT_FOUND + REFUSED)


def test_last_word_skips_klog_lines():
    assert kubeerrors.last_word(REFUSED).startswith("The connection to the server 172.30.1.2:6443")
    assert kubeerrors.last_word(klog("https://x:1", "y")).startswith("E1202")   # nothing else: keep it
    assert kubeerrors.last_word("") == ""


# --- the verdicts: evaluate() -----------------------------------------------------------


def check(kind, target, expect=None, **kw) -> Check:
    return Check(task_id="t", index=0, name="c", points=1, host="controlplane", kind=kind, target=target,
                 expect=expect or {}, **kw)


def result(rc, out="", err=""):
    return CommandResult("controlplane", "...", rc, out, err, 0.1)


KUBE = check("kube", {"resource": "pod", "name": "web", "namespace": "default"},
             {"jsonpath": "{.status.phase}", "value": "Running"})
ABSENT = check("kube", {"resource": "pod", "name": "web"}, {"exists": False})


@pytest.mark.parametrize("stderr", [REFUSED, FALLBACK, CLIENT_TIMEOUT, X509, UNAUTHORIZED, GARBLED, MISSING,
                                    UNAVAILABLE, ETCD, WEBHOOK, NO_RESOURCE])
def test_a_kube_check_that_gets_no_answer_is_an_error_never_a_verdict(stderr):
    for c in (KUBE, ABSENT):
        out = evaluate(c, result(1, err=stderr), names=NAMES)
        assert out.status == ERROR, (stderr, out)
        assert out.message.startswith("kubectl on controlplane could not answer: "), out.message
        assert "memcache" not in out.message


def test_a_kube_check_names_the_cause():
    out = evaluate(KUBE, result(1, err=REFUSED), names=NAMES)
    assert "the apiserver at 172.30.1.2:6443 (controlplane) refused the connection" in out.message
    assert out.actual.startswith("kubectl exit code 1: The connection to the server 172.30.1.2:6443 was refused")


def test_a_kube_not_found_stays_a_fact():
    assert evaluate(KUBE, result(1, err=NOT_FOUND)).status == FAIL
    assert evaluate(ABSENT, result(1, err=NOT_FOUND)).status == PASS


LOGS = check("run", "kubectl -n probe-ns logs apiserver-probe --tail=3", {"stdout": {"regex": "^healthz=ok$"}})
GONE = check("run", "kubectl get pod web", {"exit": 1})        # passes whenever kubectl fails...
COUNT = check("run", "n=$(kubectl get nodes -o name | wc -l); echo \"$n nodes\"", {"stdout": "2 nodes"})


@pytest.mark.parametrize("stderr", [REFUSED, FALLBACK, CLIENT_TIMEOUT, IO_TIMEOUT, X509, EXPIRED, UNAUTHORIZED,
                                    GARBLED, MISSING, UNAVAILABLE, SERVER_TIMEOUT, ETCD, LOGS_KUBELET])
def test_a_run_check_whose_kubectl_got_no_answer_is_an_error(stderr):
    for c, rc, out in ((LOGS, 1, ""), (GONE, 1, ""), (COUNT, 0, "0 nodes\n")):
        got = evaluate(c, result(rc, out, stderr), names=NAMES)
        assert got.status == ERROR, (c.target, stderr, got)
        assert got.message.startswith("kubectl in this check on controlplane could not get an answer: ")


def test_a_run_check_keeps_its_verdict_when_kubectl_got_an_answer():
    assert evaluate(GONE, result(1, err=NOT_FOUND)).status == PASS
    assert evaluate(LOGS, result(0, "healthz=ok\n")).status == PASS
    assert evaluate(LOGS, result(0, "healthz=failed\n")).status == FAIL
    assert evaluate(LOGS, result(1, err=WEBHOOK)).status == FAIL          # may be the candidate's webhook
    assert evaluate(COUNT, result(0, "1 nodes\n", "")).status == FAIL
    curl = check("run", "curl -sS http://10.0.0.2/", {"exit": 0})
    assert evaluate(curl, result(7, err="curl: (7) Failed to connect to 10.0.0.2 port 80: Connection refused\n")
                    ).status == FAIL
    stdout_only = check("run", "kubectl get nodes 2>&1", {"exit": 1, "stdout": {"contains": "refused"}})
    assert evaluate(stdout_only, result(1, REFUSED)).status == PASS       # judged on what it printed


def test_a_sensitive_run_check_hides_kubectl_s_words_too():
    c = check("run", "kubectl get secret s -o jsonpath='{.data.p}'", {"stdout": "x"}, sensitive=True)
    got = evaluate(c, result(1, err=UNAUTHORIZED), names=NAMES)
    assert got.status == ERROR and "Unauthorized" not in got.actual
