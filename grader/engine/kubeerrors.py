"""What kubectl's stderr says about the cluster, as opposed to the candidate's work.  Pure.

kubectl exits 1 for nearly everything, so the exit code tells nothing; its last plain line
of stderr (after the klog lines it prints before it) does.  `classify(stderr)` recognises
kubectl's own wording for the faults of the environment and returns a `KubeProblem`: what
happened, naming the server ("the apiserver at 172.30.1.2:6443 refused the connection"),
and what to look at.  An answer the apiserver gave about an object ("Error from server
(NotFound): ...") is a fact about the cluster, not a problem: `not_found(stderr)`.

Only kubectl's own phrases count, never a bare "connection refused": a run check's command
may print that about the candidate's own service, and then it is the candidate's FAIL.

    kind          kubectl said (last plain line)
    refused       The connection to the server ADDR was refused - did you specify ...
    no-kubeconfig the same for localhost:8080 (kubectl found no kubeconfig at all)
    timeout       Unable to connect to the server: ... Client.Timeout / i/o timeout / TLS handshake timeout
    certificate   Unable to connect to the server: tls: ... x509: ...
    unreachable   Unable to connect to the server: anything else (no route, reset, EOF)
    unauthorized  error: You must be logged in to the server (Unauthorized | ... credentials)
    kubeconfig    error: error loading config file "F": ... | error: stat F: no such file ...
    server        Error from server (ServiceUnavailable | Timeout | TooManyRequests), or etcdserver: ...
    internal      Error from server (InternalError) without etcd: a webhook of the candidate's may say
                  that too, so a run check does not count it (RUN_KINDS), a kube check does
    kubelet       Error from server: ... IP:10250 ... (logs, exec: the apiserver cannot reach a kubelet)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

KLOG_LINE = re.compile(r"^[IWEF]\d{4} \d\d:\d\d:\d\d")
REFUSED = re.compile(r"^The connection to the server (\S+) was refused")
UNABLE = re.compile(r"^Unable to connect to the server: (.*)")
UNAUTHORIZED = re.compile(r"^error: You must be logged in to the server \((.*)\)")
CONFIG_FILE = re.compile(r'^error: error loading config file "([^"]*)": (.*)')
CONFIG_STAT = re.compile(r"^error: stat (\S+): (no such file or directory|permission denied|not a directory)")
CONFIG_OTHER = re.compile(r"^(?:error: )?(?:invalid configuration: .*|Error in configuration: .*"
                          r"|context was not found for specified context: .*|no configuration has been provided.*)")
SERVER = re.compile(r"^Error from server \((ServiceUnavailable|InternalError|Timeout|TooManyRequests)\): (.*)")
NOT_FOUND_OBJECT = re.compile(r'^Error from server \(NotFound\): .*" not found$')
ETCD = re.compile(r"^Error from server(?: \(\w+\))?: .*etcdserver: ")
KUBELET = re.compile(r"^(?:Error from server|error): .*?(?:https://)?(\[[0-9a-f:]+\]|\d+\.\d+\.\d+\.\d+):10250\b")
KUBELET_WHY = re.compile(r"(connection refused|i/o timeout|no route to host|connection reset by peer|"
                         r"context deadline exceeded|EOF)")
TIMEOUT = re.compile(r"Client\.Timeout|i/o timeout|TLS handshake timeout|context deadline exceeded|timed out",
                     re.IGNORECASE)
CERT = re.compile(r"x509:|tls: failed to verify|certificate", re.IGNORECASE)
ADDRESS = re.compile(r'(?:dial tcp |(?:Get|Post) \\?"https?://)(\[[0-9a-f:]+\]:\d+|[\w.-]+:\d+)')
FALLBACK = "localhost:8080"
# what a run or script check's stderr may show without it being the candidate's doing
RUN_KINDS = frozenset({"refused", "no-kubeconfig", "timeout", "certificate", "unreachable", "unauthorized",
                       "kubeconfig", "server", "kubelet"})

HINTS = {
    "refused": "is kube-apiserver running, and does the kubeconfig name the right server? On a kubeadm "
               "cluster it is the static pod /etc/kubernetes/manifests/kube-apiserver.yaml; `crictl ps` there",
    "no-kubeconfig": "is the kubeconfig there and readable ($KUBECONFIG, ~/.kube/config, or the inventory's "
                     "kubeconfig)? Nothing on this host points kubectl at an apiserver",
    "timeout": "is the apiserver overloaded, or etcd down? `kubectl get --raw='/readyz?verbose'` there",
    "certificate": "does the kubeconfig's certificate-authority belong to this cluster, and is this host's "
                   "clock right?",
    "unreachable": "is the control-plane host up and reachable from here, and the kubeconfig's server right?",
    "unauthorized": "are the kubeconfig's credentials still valid for this apiserver?",
    "kubeconfig": "restore or fix the kubeconfig; `kubectl config view` there says what kubectl reads",
    "server": "is etcd up? `kubectl get --raw='/readyz?verbose'` there; the apiserver answered but could not serve",
    "internal": "the apiserver failed to serve the request; `kubectl get --raw='/readyz?verbose'` there",
    "kubelet": "is the kubelet running on that node? `systemctl status kubelet` there",
}


@dataclass(frozen=True)
class KubeProblem:
    kind: str        # see the table above
    cause: str       # one line, naming the server, node or file
    hint: str        # what to look at

    def text(self) -> str:
        return f"{self.cause} ({self.hint})"


def last_word(stderr: str) -> str:
    """kubectl's own last line ("The connection to the server ... was refused"), not the
    klog lines (E1126 12:00:00 ... memcache.go ...) it prints before it."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    plain = [ln for ln in lines if not KLOG_LINE.match(ln)]
    return (plain or lines or [""])[-1]


def not_found(stderr: str) -> bool:
    """The apiserver answered that the object does not exist (kubectl's last word; "the server
    could not find the requested resource" is about the URL, not an object)."""
    return bool(NOT_FOUND_OBJECT.match(last_word(stderr)))


def _named(address: str, names: dict) -> str:
    host = address.rsplit(":", 1)[0].strip("[]")
    return f"{address} ({names[host]})" if host in names else address


def _server(stderr: str, line: str, names: dict) -> str:
    found = ADDRESS.search(line) or ADDRESS.search(stderr)
    return f"the apiserver at {_named(found.group(1), names)}" if found else "the apiserver"


def classify(stderr: str, *, names: dict | None = None) -> KubeProblem | None:
    """The environment fault kubectl's stderr reports, or None when it reports none.
    `names` maps an IP address to a host name, for the messages."""
    names = names or {}
    line = last_word(stderr)

    def problem(kind: str, cause: str) -> KubeProblem:
        return KubeProblem(kind, cause, HINTS[kind])
    if m := REFUSED.match(line):
        if m.group(1) == FALLBACK:
            return problem("no-kubeconfig", f"kubectl found no kubeconfig and fell back to {FALLBACK}, "
                                            "where no apiserver listens")
        return problem("refused", f"the apiserver at {_named(m.group(1), names)} refused the connection")
    if m := KUBELET.match(line):
        why = KUBELET_WHY.search(line)
        return problem("kubelet", f"the apiserver could not reach the kubelet at {_named(m.group(1) + ':10250', names)}"
                                  f"{': ' + why.group(1) if why else ''}")
    if m := UNABLE.match(line):
        detail, server = m.group(1), _server(stderr, line, names)
        if CERT.search(detail) and not TIMEOUT.search(detail):
            return problem("certificate", f"{server} was not trusted: {_short(detail)}")
        if TIMEOUT.search(detail):
            return problem("timeout", f"{server} did not answer in time ({_short(detail)})")
        return problem("unreachable", f"{server} could not be reached: {_short(detail)}")
    if m := UNAUTHORIZED.match(line):
        return problem("unauthorized", f"{_server(stderr, line, names)} refused the kubeconfig's credentials "
                                       f"({m.group(1)})")
    if m := CONFIG_FILE.match(line):
        return problem("kubeconfig", f"kubectl cannot load the kubeconfig {m.group(1)}: {_short(m.group(2))}")
    if m := CONFIG_STAT.match(line):
        return problem("kubeconfig", f"the kubeconfig {m.group(1)} cannot be read: {m.group(2)}")
    if CONFIG_OTHER.match(line):
        return problem("kubeconfig", f"the kubeconfig is not usable: {_short(line)}")
    if m := SERVER.match(line):
        kind = "internal" if m.group(1) == "InternalError" and "etcd" not in m.group(2) else "server"
        return problem(kind, f"the apiserver answered {m.group(1)}: {_short(m.group(2))}")
    if ETCD.match(line):
        return problem("server", f"the apiserver could not reach etcd: {_short(line.split(': ', 1)[1])}")
    return None


def _short(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
