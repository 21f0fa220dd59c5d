"""The kube lab: a real kubeadm cluster in the lab's two hosts (grader/lab/kubelab.py).

Everything here talks to the real cluster over the lab's real sshd, as a candidate on
killercoda would: kubectl on controlplane, `ssh node01`, systemctl/journalctl stand-ins.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.lab, pytest.mark.kube]

STATIC_PODS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


def kubectl(kube_lab, args: str, *, timeout: float = 60, check: bool = True):
    return kube_lab.ssh("controlplane", f"kubectl {args}", timeout=timeout, check=check)


def test_both_nodes_ready_with_killercoda_names_and_the_control_plane_taint(kube_lab):
    nodes = json.loads(kubectl(kube_lab, "get nodes -o json").stdout)["items"]
    by_name = {n["metadata"]["name"]: n for n in nodes}
    assert sorted(by_name) == ["controlplane", "node01"]
    for name, node in by_name.items():
        ready = [c["status"] for c in node["status"]["conditions"] if c["type"] == "Ready"]
        assert ready == ["True"], f"{name} is not Ready: {node['status']['conditions']}"
        assert node["status"]["nodeInfo"]["kubeletVersion"] == "v1.35.4"
    taints = by_name["controlplane"]["spec"].get("taints", [])
    assert {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"} in taints
    assert not by_name["node01"]["spec"].get("taints")


def test_the_four_control_plane_components_are_static_pods_from_manifests(kube_lab):
    files = kube_lab.ssh("controlplane", "ls /etc/kubernetes/manifests", check=True).stdout.split()
    assert sorted(files) == sorted(f"{c}.yaml" for c in STATIC_PODS)
    pods = json.loads(kubectl(kube_lab, "-n kube-system get pods -o json").stdout)["items"]
    by_name = {p["metadata"]["name"]: p for p in pods}
    for comp in STATIC_PODS:
        pod = by_name.get(f"{comp}-controlplane")
        assert pod, f"no static pod {comp}-controlplane: {sorted(by_name)}"
        assert pod["metadata"]["annotations"].get("kubernetes.io/config.source") == "file"
        assert pod["status"]["phase"] == "Running"
    assert kube_lab.ssh("controlplane", "test -r /etc/kubernetes/admin.conf").returncode == 0


def test_a_busybox_pod_on_node01_runs_logs_execs_and_resolves_cluster_dns(kube_lab):
    name = f"probe-{int(time.time())}"
    manifest = json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
        "spec": {"nodeName": "node01", "restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                 "containers": [{"name": "c", "image": "busybox:1.36",
                                 "command": ["sh", "-c", "echo hello-from-node01; sleep 3600"]}]}})
    kube_lab.ssh("controlplane", "kubectl apply -f -", input=manifest.encode(), check=True)
    try:
        kubectl(kube_lab, f"wait pod/{name} --for=condition=Ready --timeout=90s", timeout=120, check=True)
        logs = kubectl(kube_lab, f"logs {name}", check=True).stdout
        assert "hello-from-node01" in logs
        out = kubectl(kube_lab, f"exec {name} -- hostname", check=True).stdout.strip()
        assert out == name
        # the pod's resolv.conf points at CoreDNS's Service; the name resolves to the
        # apiserver's Service address
        look = kubectl(kube_lab, f"exec {name} -- nslookup kubernetes.default.svc.cluster.local", check=False)
        svc_ip = kubectl(kube_lab, "get svc kubernetes -o jsonpath={.spec.clusterIP}", check=True).stdout.strip()
        assert look.returncode == 0 and svc_ip in look.stdout, look.stdout + look.stderr
        # and the apiserver answers it through kube-proxy's rules, across the two hosts
        nc = kubectl(kube_lab, f"exec {name} -- sh -c 'nc -w 3 kubernetes.default.svc 443 </dev/null && echo open'",
                     check=False)
        assert nc.stdout.strip() == "open", nc.stdout + nc.stderr
    finally:
        kubectl(kube_lab, f"delete pod {name} --now --ignore-not-found", timeout=90, check=False)


def test_systemctl_and_journalctl_stand_ins_restart_the_kubelet(kube_lab):
    status = kube_lab.ssh("node01", "systemctl status kubelet")
    assert status.returncode == 0 and "active (running)" in status.stdout, status.stdout + status.stderr
    pid_before = kube_lab.ssh("node01", "cat /run/grader-svc/kubelet.pid", check=True).stdout.strip()
    kube_lab.ssh("node01", "systemctl restart kubelet", check=True)
    pid_after = kube_lab.ssh("node01", "cat /run/grader-svc/kubelet.pid", check=True).stdout.strip()
    assert pid_after and pid_after != pid_before
    assert kube_lab.ssh("node01", "systemctl is-active kubelet").stdout.strip() == "active"
    journal = kube_lab.ssh("node01", "journalctl -u kubelet -n 20 --no-pager", check=True).stdout
    assert journal.strip(), "journalctl -u kubelet printed nothing"
    crictl = kube_lab.ssh("node01", "crictl ps", check=True).stdout
    assert "kube-proxy" in crictl
    kubectl(kube_lab, "wait node/node01 --for=condition=Ready --timeout=60s", timeout=90, check=True)


def test_a_second_lab_up_kube_does_nothing(kube_lab):
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", "lab", "up", "--kube"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "already up" in proc.stderr
    assert proc.stdout.strip() == str(kube_lab.inventory_path)
    assert time.monotonic() - start < 30


def _lab_processes() -> list[str]:
    """Processes of the kube lab left on the machine (found by their command lines; the
    docker lab's containerd shims, namespace moby, are not the kube lab's)."""
    from pathlib import Path
    marks = (b"/usr/local/sbin/kubelet", b"/etc/containerd/config.toml", b"kube-apiserver", b"etcd\x00--",
             b"containerd-shim-runc-v2\x00-namespace\x00k8s.io", b"kube-proxy", b"/coredns", b"grader-svc")
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes()
            except OSError:
                continue
            if any(m in cmd for m in marks):
                found.append(f"{p.name}: {cmd[:80]!r}")
    return found


@pytest.mark.lab_lifecycle
def test_lab_down_leaves_nothing_of_the_cluster_behind(kube_lab, lab_alone):
    from pathlib import Path

    from grader.lab import kubelab, labnet
    state = json.loads((lab_alone.dir / "state.json").read_text())
    recorded = state["sysctls"]
    assert Path("/proc/sys/kernel/panic").read_text().strip() == "10"  # the kubelet's value while up
    assert _lab_processes(), "the probe finds nothing even while the cluster runs"
    assert any(h.joinpath("grader-node01").is_dir() for h in kubelab.hierarchies())

    lab_alone.lab.down(force=True)

    assert _lab_processes() == []
    assert [str(h / kubelab.cgroup_name(n)) for h in kubelab.hierarchies() for n in ("controlplane", "node01")
            if (h / kubelab.cgroup_name(n)).exists()] == []
    assert {"controlplane", "node01"}.isdisjoint(labnet.netns_names())
    assert not labnet.link_exists(labnet.BRIDGE)
    for key, value in recorded.items():
        assert Path("/proc/sys", key).read_text().strip() == value, key
    mounts = Path("/proc/self/mountinfo").read_text()
    # (the docker lab, up in the same session, has mounts of its own under /var/lib/grader)
    assert str(lab_alone.dir) not in mounts and " grader-lab " not in mounts
    assert not lab_alone.dir.exists()
    for created in state["created_dirs"]:
        assert not Path(created).exists() or created in ("/var/lib/grader",), created
