"""The kube lab's add-ons on the real cluster (grader/lab/kubeaddons.py): NetworkPolicy is
enforced (kube-router's firewall on the bridge CNI), and a claim of StorageClass
`local-path` gets a volume of its own on the node its pod runs on.

These are the proof that the tasks built on them check something real: a policy nothing
enforces, or a class nothing provisions, would make those checks meaningless.
"""
from __future__ import annotations

import shlex
import time

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.kube]

NS = "grader-addons-test"


def sh(lab, script: str, timeout: float = 180) -> str:
    proc = lab.ssh("controlplane", f"bash -c {shlex.quote(script)}", timeout=timeout)
    assert proc.returncode == 0, f"{script[:200]}: {proc.stdout[-1500:]} {proc.stderr[-1500:]}"
    return proc.stdout


def code(lab, client: str, ip: str) -> str:
    """The HTTP status `client` gets from http://IP/ (000: no answer)."""
    proc = lab.ssh("controlplane", f"kubectl -n {NS} exec {client} -- curl -s -o /dev/null -w '%{{http_code}}' "
                                   f"--max-time 3 http://{ip}/", timeout=30)
    return proc.stdout.strip()[-3:] or "000"


def until(lab, client: str, ip: str, want_ok: bool, seconds: float = 40) -> str:
    deadline = time.monotonic() + seconds
    while True:
        got = code(lab, client, ip)
        if (got == "200") == want_ok or time.monotonic() > deadline:
            return got
        time.sleep(2)


PODS = f"""apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: web, namespace: {NS}, labels: {{app: web}}}}
spec:
  nodeName: node01
  containers: [{{name: web, image: nginx:1.27, ports: [{{containerPort: 80}}]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {NS}, labels: {{role: client}}}}
spec:
  nodeName: node01
  terminationGracePeriodSeconds: 1
  containers: [{{name: c, image: curlimages/curl:8.8.0, command: [sleep, "3600"]}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: remote, namespace: {NS}, labels: {{role: other}}}}
spec:
  nodeName: controlplane
  terminationGracePeriodSeconds: 1
  tolerations: [{{operator: Exists}}]
  containers: [{{name: c, image: curlimages/curl:8.8.0, command: [sleep, "3600"]}}]
"""

DENY = f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: deny-all, namespace: {NS}}}
spec: {{podSelector: {{}}, policyTypes: [Ingress]}}
"""

ALLOW = f"""apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {{name: allow-client, namespace: {NS}}}
spec:
  podSelector: {{matchLabels: {{app: web}}}}
  policyTypes: [Ingress]
  ingress: [{{from: [{{podSelector: {{matchLabels: {{role: client}}}}}}], ports: [{{port: 80, protocol: TCP}}]}}]
"""


@pytest.fixture
def namespace(kube_lab):
    clean = f"kubectl delete namespace {NS} --ignore-not-found --wait=true --timeout=120s"
    sh(kube_lab, clean)
    yield NS
    sh(kube_lab, clean)


def apply(lab, text: str) -> None:
    sh(lab, f"kubectl apply -f - >/dev/null <<'EOF'\n{text}EOF")


def test_a_deny_all_policy_blocks_pod_traffic_and_an_allow_policy_lets_one_client_through(kube_lab, namespace):
    apply(kube_lab, PODS)
    sh(kube_lab, f"kubectl -n {NS} wait pod --all --for=condition=Ready --timeout=120s")
    ip = sh(kube_lab, f"kubectl -n {NS} get pod web -o jsonpath='{{.status.podIP}}'").strip()
    # no policy: the same node (through the bridge) and the other node (routed) both get in
    assert until(kube_lab, "client", ip, True) == "200"
    assert until(kube_lab, "remote", ip, True) == "200"
    apply(kube_lab, DENY)
    assert until(kube_lab, "client", ip, False) != "200", "a deny-all policy did not stop the same-node client"
    assert until(kube_lab, "remote", ip, False) != "200", "a deny-all policy did not stop the other node's pod"
    apply(kube_lab, ALLOW)
    assert until(kube_lab, "client", ip, True) == "200", "the allow policy did not let role=client through"
    time.sleep(3)
    assert code(kube_lab, "remote", ip) != "200", "the allow policy let a pod without role=client through"
    sh(kube_lab, f"kubectl -n {NS} delete networkpolicy --all >/dev/null")
    assert until(kube_lab, "remote", ip, True) == "200", "deleting the policies did not open the pod again"


CLAIM = f"""apiVersion: v1
kind: Namespace
metadata: {{name: {NS}}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: data, namespace: {NS}}}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  resources: {{requests: {{storage: 32Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: writer, namespace: {NS}}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
    - name: w
      image: busybox:1.36
      command: [sh, -c, 'echo written-by-writer > /data/proof.txt && sleep 3600']
      volumeMounts: [{{name: d, mountPath: /data}}]
  volumes: [{{name: d, persistentVolumeClaim: {{claimName: data}}}}]
"""


def test_a_local_path_claim_gets_its_own_volume_on_the_pods_node_and_loses_it_with_the_claim(kube_lab, namespace):
    apply(kube_lab, CLAIM)
    sh(kube_lab, f"kubectl -n {NS} wait pod/writer --for=condition=Ready --timeout=120s")
    pv = sh(kube_lab, f"kubectl -n {NS} get pvc data -o jsonpath='{{.status.phase}} {{.spec.volumeName}}'").split()
    assert pv[0] == "Bound", pv
    row = sh(kube_lab, f"kubectl get pv {pv[1]} -o jsonpath='{{.metadata.annotations.pv\\.kubernetes\\.io/provisioned-by}} "
                       "{.spec.storageClassName} {.spec.hostPath.path} "
                       "{.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}'").split()
    node = sh(kube_lab, f"kubectl -n {NS} get pod writer -o jsonpath='{{.spec.nodeName}}'").strip()
    assert row[:2] == ["rancher.io/local-path", "local-path"] and row[3] == node, row
    path = row[2]
    proc = kube_lab.ssh(node, f"cat {shlex.quote(path)}/proof.txt", timeout=30)
    assert proc.stdout.strip() == "written-by-writer", proc.stderr
    assert f"/{node}/" in path, f"{path} is not in {node}'s own volume folder"
    sh(kube_lab, f"kubectl delete namespace {NS} --wait=true --timeout=120s")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        gone = kube_lab.ssh(node, f"test -e {shlex.quote(path)}", timeout=30).returncode != 0
        pv_left = sh(kube_lab, f"kubectl get pv {pv[1]} --ignore-not-found -o name").strip()
        if gone and not pv_left:
            break
        time.sleep(2)
    assert gone and not pv_left, f"the claim's volume outlived it (PV {pv_left or 'gone'}, folder {path})"
