"""Which nodes are NotReady, and which checks' verdicts that makes stale.  Pure: no I/O.

A stopped kubelet leaves the apiserver answering, but from the moment the node controller
marks its node NotReady (about 40-50 s later) the status of that node's pods says what the
controller concluded, not what runs there: their Ready condition turns False, and a
Deployment's or DaemonSet's ready count drops with them.  A kube check that reads `.status`
and FAILs for that reason did not judge the candidate's work.

So each grading pass with kube checks first runs `command(inventory)` on the kube host
(one round trip, one kubectl call, two when a node is NotReady): the nodes' Ready condition
and the pods bound to nodes that are not Ready.  `parse()` reads its answer.  When kubectl
got no answer at all (`Health.down`, see grader.engine.kubeerrors: apiserver refused, timed out,
kubeconfig unreadable...), the pass's kube checks are ERRORs naming that cause without
being run (with etcd down, each would wait for its whole timeout).  Otherwise
`stale(check, health)` says why a failing check's verdict cannot stand, or None when it
can: checks that do not read `.status` (a spec, a ConfigMap's data, whether an object
exists) keep their verdicts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.engine.checks import kubectl_prefix
from grader.engine.kubeerrors import KubeProblem, classify
from grader.shell import quote

REQUEST_TIMEOUT = 5     # seconds kubectl waits for the apiserver, per call
POD = {"pod", "pods", "po"}
WORKLOADS = {"deployment", "deployments", "deploy", "daemonset", "daemonsets", "ds", "replicaset", "replicasets",
             "rs", "statefulset", "statefulsets", "sts", "job", "jobs", "replicationcontroller", "rc"}
NODE_LINE = re.compile(r"^N\t(\S+)\t(\S*)\t(\S*)\t(.*)$")
POD_LINE = re.compile(r"^P\t(\S+)\t(\S+)\t(\S+)$")
READY = '{.status.conditions[?(@.type=="Ready")]'     # a node's Ready condition, in kubectl's jsonpath


@dataclass
class Health:
    down: KubeProblem | None = None                                 # kubectl got no answer at all
    not_ready: dict[str, str] = field(default_factory=dict)        # node -> "Unknown: Kubelet stopped posting..."
    pods: dict[tuple[str, str], str] = field(default_factory=dict)  # (namespace, pod) -> its NotReady node

    def namespaces(self) -> set[str]:
        return {ns for ns, _ in self.pods}


def command(inventory, timeout: int = REQUEST_TIMEOUT) -> str:
    """Lines `N name status reason message` per node, then `P namespace pod node` per pod
    bound to a node that is not Ready."""
    kubectl = kubectl_prefix(inventory)
    nodes = (f"{{range .items[*]}}N\t{{.metadata.name}}\t{READY}.status}}\t{READY}.reason}}\t{READY}.message}}"
             f"{{\"\\n\"}}{{end}}")
    pods = '{range .items[*]}P\t{.metadata.namespace}\t{.metadata.name}\t{.spec.nodeName}{"\\n"}{end}'
    return (f"n=$({kubectl} get nodes --request-timeout={timeout}s -o {quote('jsonpath=' + nodes)}) || exit 1\n"
            "printf '%s\\n' \"$n\"\n"
            "printf '%s\\n' \"$n\" | while IFS=$'\\t' read -r _ node status _; do\n"
            "  [ \"$status\" = True ] && continue\n"
            f"  {kubectl} get pods -A --request-timeout={timeout}s --field-selector \"spec.nodeName=$node\" "
            f"-o {quote('jsonpath=' + pods)}\n"
            "done\n")


def parse(exit_code: int, stdout: str, stderr: str, *, names: dict | None = None) -> Health | None:
    """The cluster's health from `command()`'s answer; None when it says nothing usable
    (e.g. the kubeconfig may not list nodes: then the checks speak for themselves)."""
    if exit_code != 0:
        down = classify(stderr, names=names)
        return Health(down=down) if down and down.kind not in ("internal", "kubelet") else None
    health = Health()
    for line in stdout.splitlines():
        if m := NODE_LINE.match(line):
            name, status, reason, message = m.groups()
            if status != "True":
                why = ": ".join(x for x in (reason, message.strip()) if x)
                health.not_ready[name] = f"Ready={status or 'missing'}" + (f", {why}" if why else "")
        elif m := POD_LINE.match(line):
            health.pods[(m.group(1), m.group(2))] = m.group(3)
    return health


LISTED = ("nodes", "pods")   # what a grouped pass's listing holds for from_listing (grader.engine.kubefetch)


def from_listing(listing: dict) -> Health:
    """The same Health as parse(command()'s answer), from a `kubectl get nodes,pods,... -A -o json`
    listing: a grouped pass needs no probe of its own."""
    health = Health()
    items = listing.get("items", [])
    for node in (o for o in items if o.get("kind") == "Node" and o.get("apiVersion") == "v1"):
        ready = next((c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"), {})
        status = str(ready.get("status", ""))
        if status != "True":
            why = ": ".join(x for x in (str(ready.get("reason", "")), str(ready.get("message", "")).strip()) if x)
            health.not_ready[node["metadata"]["name"]] = f"Ready={status or 'missing'}" + (f", {why}" if why else "")
    for pod in (o for o in items if o.get("kind") == "Pod" and o.get("apiVersion") == "v1"):
        node = (pod.get("spec") or {}).get("nodeName")
        if node in health.not_ready:
            health.pods[(pod["metadata"]["namespace"], pod["metadata"]["name"])] = node
    return health


def stale(check, health: Health | None) -> str | None:
    """Why a failing kube check's verdict comes from a NotReady node rather than the
    candidate's work, or None."""
    if health is None or not health.not_ready or check.kind != "kube":
        return None
    spec = check.target
    if ".status" not in str(check.expect.get("jsonpath", "")):
        return None
    resource = str(spec.get("resource", "")).split(".")[0].lower()
    ns = spec.get("namespace")
    if resource in POD and spec.get("name"):
        nodes = {node for (pns, name), node in health.pods.items()
                 if name == spec["name"] and (ns is None or pns == ns)}
        what = f"pod {spec['name']} runs on"
    elif resource in POD or resource in WORKLOADS:
        nodes = {node for (pns, _), node in health.pods.items() if ns is None or pns == ns}
        what = f"pods{' of namespace ' + ns if ns else ''} run on"
    else:
        return None
    if not nodes:
        return None
    named = "; ".join(f"node {n} is NotReady ({health.not_ready.get(n, 'not Ready')})" for n in sorted(nodes))
    return (f"{what} {', '.join(sorted(nodes))}, and {named}: the status this check read is what the node "
            "controller concluded, not what runs there (is the kubelet running on that node? "
            "`systemctl status kubelet` there; then grade again)")
