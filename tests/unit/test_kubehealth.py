"""The cluster's health before a pass: no answer at all, or a NotReady node whose pods'
status the node controller rewrote.  Pure logic; the real thing is tests/integration/test_kube_faults.py."""
from __future__ import annotations

import subprocess

import pytest

from grader.engine import kubehealth
from grader.inventory import resolve
from grader.packs.model import Check

NAMES = {"172.30.1.2": "controlplane", "172.30.2.2": "node01"}
HEALTHY = ("N\tcontrolplane\tTrue\tKubeletReady\tkubelet is posting ready status\n"
           "N\tnode01\tTrue\tKubeletReady\tkubelet is posting ready status\n")
NODE01_DOWN = ("N\tcontrolplane\tTrue\tKubeletReady\tkubelet is posting ready status\n"
               "N\tnode01\tUnknown\tNodeStatusUnknown\tKubelet stopped posting node status.\n"
               "P\tkube-system\tkube-proxy-abcde\tnode01\n"
               "P\tprobe-ns\tapiserver-probe\tnode01\n"
               "P\tdefault\tstatic-web-node01\tnode01\n")


def check(resource, expect, name=None, namespace=None, selector=None) -> Check:
    target = {"resource": resource}
    for k, v in (("name", name), ("namespace", namespace), ("selector", selector)):
        if v:
            target[k] = v
    return Check(task_id="t", index=0, name="c", kind="kube", host="controlplane", target=target, expect=expect)


READY = {"jsonpath": '{.status.conditions[?(@.type=="Ready")].status}', "value": "True"}
IMAGE = {"jsonpath": "{.spec.containers[0].image}", "value": "nginx:1.27"}


def test_a_healthy_cluster_makes_nothing_stale():
    health = kubehealth.parse(0, HEALTHY, "")
    assert health.down is None and health.not_ready == {} and health.pods == {}
    assert kubehealth.stale(check("pod", READY, "apiserver-probe", "probe-ns"), health) is None


def test_a_notready_node_makes_its_pods_status_stale():
    health = kubehealth.parse(0, NODE01_DOWN, "")
    assert health.not_ready == {"node01": "Ready=Unknown, NodeStatusUnknown: Kubelet stopped posting node status."}
    assert health.pods[("probe-ns", "apiserver-probe")] == "node01"
    why = kubehealth.stale(check("pod", READY, "apiserver-probe", "probe-ns"), health)
    assert why.startswith("pod apiserver-probe runs on node01, and node node01 is NotReady (Ready=Unknown")
    assert "systemctl status kubelet" in why and "grade again" in why
    # the same pod read by its spec, a pod elsewhere, a pod with no namespace given (any namespace)
    assert kubehealth.stale(check("pod", IMAGE, "apiserver-probe", "probe-ns"), health) is None
    assert kubehealth.stale(check("pod", READY, "cp-tools", "ops-ns"), health) is None
    assert kubehealth.stale(check("pods", READY, "static-web-node01"), health) is not None


def test_workloads_and_selectors_with_pods_on_the_notready_node():
    health = kubehealth.parse(0, NODE01_DOWN, "")
    ds = {"jsonpath": "{.status.numberReady}", "value": 2}
    assert "pods of namespace probe-ns run on node01" in kubehealth.stale(
        check("deployment", ds, "web", "probe-ns"), health)
    assert kubehealth.stale(check("daemonset", ds, "agent", "agent-ns"), health) is None   # no pod there
    assert kubehealth.stale(check("pod", READY, selector="app=x", namespace="default"), health) is not None
    assert kubehealth.stale(check("configmap", {"jsonpath": "{.status}", "value": "x"}, "c", "probe-ns"),
                            health) is None
    assert kubehealth.stale(check("node", READY, "node01"), health) is None   # the node's own status is a fact


def test_no_answer_is_down_and_names_the_cause():
    refused = "The connection to the server 172.30.1.2:6443 was refused - did you specify the right host or port?\n"
    health = kubehealth.parse(1, "", refused, names=NAMES)
    assert health.down.kind == "refused"
    assert "172.30.1.2:6443 (controlplane) refused" in health.down.text()
    assert kubehealth.parse(1, "", "Unable to connect to the server: context deadline exceeded\n").down.kind == "timeout"
    # an answer grader cannot use (a kubeconfig not allowed to list nodes): the checks speak for themselves
    forbidden = 'Error from server (Forbidden): nodes is forbidden: User "jane" cannot list resource "nodes"\n'
    assert kubehealth.parse(1, "", forbidden) is None
    assert kubehealth.parse(127, "", "bash: kubectl: command not found\n") is None


def test_the_command_prints_what_parse_reads(tmp_path):
    """The shell around kubectl, with a stand-in kubectl that answers as the real one does."""
    fake = tmp_path / "kubectl"
    fake.write_text("#!/bin/bash\n"
                    "case \"$*\" in\n"
                    "  *'get nodes'*) printf '" + NODE01_DOWN.split("P\t")[0].replace("\t", "\\t").replace("\n", "\\n")
                    + "';;\n"
                    "  *'spec.nodeName=node01'*) printf 'P\\tprobe-ns\\tapiserver-probe\\tnode01\\n';;\n"
                    "  *) echo \"unexpected: $*\" >&2; exit 9;;\n"
                    "esac\n")
    fake.chmod(0o755)
    inv = tmp_path / "inv.yaml"
    inv.write_text(f"kube_host: controlplane\nkubectl: {fake}\nhosts:\n  controlplane: {{transport: local}}\n")
    cmd = kubehealth.command(resolve(str(inv)))
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    health = kubehealth.parse(proc.returncode, proc.stdout, proc.stderr)
    assert sorted(health.not_ready) == ["node01"]
    assert health.pods == {("probe-ns", "apiserver-probe"): "node01"}


@pytest.mark.parametrize("stderr", ["The connection to the server localhost:8080 was refused - did you specify "
                                    "the right host or port?\n"])
def test_no_kubeconfig_is_down(stderr):
    assert kubehealth.parse(1, "", stderr).down.kind == "no-kubeconfig"


def _node(name, status, reason, message):
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": status, "reason": reason, "message": message}]}}


def _pod(ns, name, node):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": ns, "name": name}, "spec": {"nodeName": node}}


def test_a_grouped_pass_reads_the_same_health_from_its_listing():
    listing = {"kind": "List", "items": [
        _node("controlplane", "True", "KubeletReady", "kubelet is posting ready status"),
        _node("node01", "Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status."),
        _pod("kube-system", "kube-proxy-abcde", "node01"), _pod("probe-ns", "apiserver-probe", "node01"),
        _pod("default", "static-web-node01", "node01"), _pod("kube-system", "etcd-controlplane", "controlplane"),
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"namespace": "x", "name": "y"}}]}
    a, b = kubehealth.from_listing(listing), kubehealth.parse(0, NODE01_DOWN, "")
    assert (a.down, a.not_ready, a.pods) == (b.down, b.not_ready, b.pods)
    healthy = {"items": [_node("controlplane", "True", "", ""), _pod("p", "q", "controlplane")]}
    assert kubehealth.from_listing(healthy).not_ready == {} and kubehealth.from_listing(healthy).pods == {}
    missing = {"items": [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "status": {}}]}
    assert kubehealth.from_listing(missing).not_ready == {"n": "Ready=missing"}
    assert kubehealth.parse(0, "N\tn\t\t\t\n", "").not_ready == {"n": "Ready=missing"}
