"""The kube lab's images (grader/lab/kubeimages.py), imported into and run by a real containerd.

The module starts one private Debian containerd (its own root, state, socket, runc root
and FIFO folder under a temp dir, CRI plugin off), inside a network namespace made here
with `ip netns add` and a mount and PID namespace of its own (`unshare`), so that:
every `ctr run --net-host` container lives in that network namespace (nginx's port 80
is never on the machine's network); the snapshot mounts never leave that mount
namespace; and ending containerd (PID 1 there) ends every shim and container with it.
Containers get no cgroup path of their own (`--cgroup ""`), so runc's leaf cgroup is
removed with the container.  At the end the namespace and the temp dir are gone and no
process of it is left.

Images whose Kubernetes binary is not built yet (see GRADER_KUBE_BIN) are skipped,
naming the missing binary; in CI (CI=true) that is a failure.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from needs import unavailable  # tests/needs.py: fail in CI, skip elsewhere

from grader.lab import kubeimages
from grader.lab import kubeimages_rootfs as rootfs

pytestmark = pytest.mark.kube

KUBE_BIN = Path(os.environ.get("GRADER_KUBE_BIN") or Path.home() / ".cache/grader/kube/v1.35.4/bin")
TOOLS = ("containerd", "ctr", "runc", "ip", "nsenter", "unshare", "curl", "chroot")
BUSYBOX = "docker.io/library/busybox:1.36"
NGINX = "docker.io/library/nginx:1.27"
CURL = "docker.io/curlimages/curl:8.8.0"
PAUSE = f"registry.k8s.io/pause:{kubeimages.PAUSE_TAG}"
PROXY = f"registry.k8s.io/kube-proxy:{kubeimages.KUBE_VERSION}"



def needs_binary(ref: str) -> None:
    missing = [name for name in kubeimages.IMAGES[ref].binaries if not (KUBE_BIN / name).is_file()]
    if missing:
        unavailable(f"{', '.join(missing)} not built yet in {KUBE_BIN}: image {ref} not tested")


@pytest.fixture(scope="module")
def machine():
    if os.geteuid() != 0:
        unavailable("containerd and network namespaces need root")
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        unavailable(f"missing tools: {', '.join(missing)} (apt-get install containerd runc iproute2 curl)")


@pytest.fixture(scope="module")
def built(machine, tmp_path_factory):
    """Every image whose inputs are on this machine, built cold into a temp folder."""
    out = tmp_path_factory.mktemp("kubeimages")
    refs = [ref for ref, spec in kubeimages.IMAGES.items() if all((KUBE_BIN / b).is_file() for b in spec.binaries)]
    start = time.monotonic()
    tars = kubeimages.build_images(KUBE_BIN, out, refs, progress=lambda line: None)
    return {"out": out, "tars": tars, "cold": time.monotonic() - start}


class Containerd:
    def __init__(self, top: Path, netns: str, proc: subprocess.Popen):
        self.top, self.netns, self.proc = top, netns, proc
        self.sock = str(top / "containerd.sock")

    def ctr(self, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(["ctr", "--address", self.sock, "-n", "k8s.io", *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc

    def run_argv(self, ref: str, name: str, argv: tuple[str, ...], privileged: bool = False) -> list[str]:
        return ["ctr", "--address", self.sock, "-n", "k8s.io", "run", "--rm", "--net-host", "--cgroup=",
                "--runc-root", str(self.top / "runc"), "--fifo-dir", str(self.top / "fifo"),
                *(["--privileged"] if privileged else []), ref, name, *argv]

    def run(self, ref: str, *argv: str, privileged: bool = False, timeout: float = 60) -> subprocess.CompletedProcess:
        name = f"t-{uuid.uuid4().hex[:8]}"
        return subprocess.run(self.run_argv(ref, name, argv, privileged), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def in_netns(self, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess:
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def containerd(machine):
    top = Path(tempfile.mkdtemp(prefix="kimg-", dir="/tmp"))   # short: the socket path has a length limit
    netns = f"kimg-{uuid.uuid4().hex[:8]}"
    (top / "runc").mkdir()
    (top / "fifo").mkdir()
    config = top / "config.toml"
    config.write_text(f'version = 2\nroot = "{top}/root"\nstate = "{top}/state"\n'
                      'disabled_plugins = ["io.containerd.grpc.v1.cri"]\n'
                      f'[grpc]\n  address = "{top}/containerd.sock"\n'
                      f'[plugins."io.containerd.internal.v1.opt"]\n  path = "{top}/opt"\n')
    subprocess.run(["ip", "netns", "add", netns], check=True, timeout=10)
    proc = None
    try:
        subprocess.run(["ip", "-n", netns, "link", "set", "lo", "up"], check=True, timeout=10)
        log = open(top / "containerd.log", "wb")
        # nsenter (not `ip netns exec`, which remounts /sys and so hides the cgroup mounts)
        proc = subprocess.Popen(["nsenter", f"--net=/run/netns/{netns}", "--",
                                 "unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
                                 "containerd", "--config", str(config)],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        handle = Containerd(top, netns, proc)
        deadline = time.monotonic() + 30
        while handle.ctr("version", timeout=10, check=False).returncode != 0:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"containerd did not start: {(top / 'containerd.log').read_text()[-2000:]}")
            time.sleep(0.2)
        yield handle
    finally:
        leftovers = _stop(proc) if proc else []
        subprocess.run(["ip", "netns", "delete", netns], timeout=10, check=False)
        mounts = [line for line in Path("/proc/self/mountinfo").read_text().splitlines() if str(top) in line]
        if not mounts:
            shutil.rmtree(top, ignore_errors=True)
        assert not leftovers and not mounts, f"left behind: processes {leftovers}, mounts {mounts}"


def _stop(proc: subprocess.Popen) -> list[int]:
    """End containerd (PID 1 of its namespace: every shim and container goes with it)."""
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        children = []
    for pid in children:
        os.kill(int(pid), signal.SIGTERM)   # containerd, which unshare forked and waits for
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        for pid in children:
            os.kill(int(pid), signal.SIGKILL)
        proc.wait(timeout=10)
    return [int(pid) for pid in children if Path(f"/proc/{pid}").exists()]


@pytest.fixture(scope="module")
def imported(built, containerd):
    for ref, tar in built["tars"].items():
        proc = containerd.ctr("images", "import", str(tar), timeout=300, check=False)
        assert proc.returncode == 0, f"{ref}: containerd cannot import {tar.name}: {proc.stderr.strip()}"
    return containerd


def _images(ctrd: Containerd) -> dict[str, str]:
    lines = ctrd.ctr("images", "ls").stdout.splitlines()[1:]
    return {line.split()[0]: line.split()[2] for line in lines}


# --- import ---------------------------------------------------------------------

def test_every_image_imports_under_its_exact_name(built, imported):
    names = _images(imported)
    for ref in built["tars"]:
        assert ref in names, f"{ref} missing from ctr images ls: {sorted(names)}"


def test_importing_again_changes_nothing(built, imported):
    before = _images(imported)
    for tar in built["tars"].values():
        imported.ctr("images", "import", str(tar), timeout=300)
    assert _images(imported) == before


def test_a_warm_build_reuses_every_tar(built):
    stamps = {ref: tar.stat().st_mtime_ns for ref, tar in built["tars"].items()}
    lines: list[str] = []
    start = time.monotonic()
    again = kubeimages.build_images(KUBE_BIN, built["out"], list(built["tars"]), progress=lines.append)
    warm = time.monotonic() - start
    assert again == built["tars"]
    assert {ref: tar.stat().st_mtime_ns for ref, tar in again.items()} == stamps
    assert all("unchanged" in line for line in lines), lines
    print(f"build_images of {len(again)} images: cold {built['cold']:.1f}s, warm {warm:.1f}s")
    assert warm < max(30.0, built["cold"])


# --- running them -----------------------------------------------------------------

def test_busybox_runs_a_shell(imported):
    proc = imported.run(BUSYBOX, "sh", "-c", "echo ok; id -un nobody; ls /bin/wget /bin/nslookup /bin/sleep")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["ok", "nobody"]


def test_nginx_answers_200_on_port_80_and_the_curl_image_fetches_it(imported):
    name = f"nginx-{uuid.uuid4().hex[:8]}"
    server = subprocess.Popen(imported.run_argv(NGINX, name, ()), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              stdin=subprocess.DEVNULL)
    try:
        deadline, code = time.monotonic() + 30, ""
        while time.monotonic() < deadline and code != "200":
            code = imported.in_netns("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "2",
                                     "http://127.0.0.1:80/").stdout
            time.sleep(0.2)
        assert code == "200", f"nginx never answered 200 (last: {code!r})"
        page = imported.run(CURL, "curl", "-s", "--max-time", "5", "http://127.0.0.1/")
        assert page.returncode == 0 and "<h1>Welcome to nginx!</h1>" in page.stdout, page.stderr
        shell = imported.ctr("task", "exec", "--exec-id", "sh", name, "sh", "-c", "echo in-nginx; id -u nginx")
        assert shell.stdout.split() == ["in-nginx", "101"]
    finally:
        imported.ctr("task", "kill", name, check=False)    # the image's StopSignal: SIGQUIT
        out = server.communicate(timeout=30)[0].decode(errors="replace")
    assert server.returncode == 0, out
    assert '"GET / HTTP/1.1" 200' in out   # the access log goes to stdout


def test_curl_image(imported):
    plain = imported.run(CURL, "curl", "--version")
    assert plain.returncode == 0 and plain.stdout.startswith("curl "), plain.stderr
    assert "https" in plain.stdout.split("Protocols:")[1].split()
    entry = imported.run(CURL, "/entrypoint.sh", "--version")   # what `-- --version` gives in a pod
    assert entry.returncode == 0 and entry.stdout.startswith("curl "), entry.stderr
    sh = imported.run(CURL, "sh", "-c", "id -u; ls /etc/ssl/certs/ca-certificates.crt")
    assert sh.returncode == 0 and sh.stdout.split()[0] == "100", sh.stderr


def test_pause_runs_until_sigterm(imported):
    name = f"pause-{uuid.uuid4().hex[:8]}"
    proc = subprocess.Popen(imported.run_argv(PAUSE, name, ()), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while f"{name} " not in imported.ctr("task", "ls").stdout and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)
        tasks = imported.ctr("task", "ls").stdout
        assert any(line.split()[0] == name and "RUNNING" in line for line in tasks.splitlines()[1:]), tasks
        assert proc.poll() is None
    finally:
        imported.ctr("task", "kill", "-s", "SIGTERM", name, check=False)
        out = proc.communicate(timeout=20)[0].decode(errors="replace")
    assert proc.returncode == 0, out
    assert "got signal: Terminated" in out


def test_iptables_of_kube_proxy_work_in_a_network_namespace(machine, containerd, tmp_path):
    """The iptables part of kube-proxy's image, chrooted in the test namespace (needs no kube build)."""
    ctx = rootfs.Context("test/iptables:1", KUBE_BIN, tmp_path / "work", lambda line: None)
    fs = rootfs.base(ctx)
    rootfs.add_iptables(fs)
    layer = tmp_path / "layer.tar"
    with open(layer, "wb") as fh:
        kubeimages.write_layer(fs, fh)
    root = tmp_path / "root"
    root.mkdir()
    subprocess.run(["tar", "-xf", str(layer), "-C", str(root)], check=True, timeout=60)
    for argv in (["iptables", "-t", "nat", "-N", "KUBE-SERVICES"],
                 ["iptables", "-t", "nat", "-A", "KUBE-SERVICES", "-p", "tcp", "-m", "comment", "--comment", "t",
                  "-m", "tcp", "--dport", "80", "-m", "statistic", "--mode", "random", "--probability", "0.5",
                  "-j", "DNAT", "--to-destination", "10.96.0.10:80"],
                 ["ip6tables", "-t", "nat", "-L"], ["conntrack", "-L"]):
        proc = containerd.in_netns("chroot", str(root), *argv)
        assert proc.returncode == 0, f"{argv}: {proc.stderr}"
    saved = containerd.in_netns("chroot", str(root), "iptables-save", "-t", "nat").stdout
    assert "(nf_tables)" in saved and "--to-destination 10.96.0.10:80" in saved
    assert "KUBE-SERVICES" in containerd.in_netns("iptables-nft", "-t", "nat", "-S").stdout  # the host sees them


def test_kube_proxy_image(imported):
    needs_binary(PROXY)
    tables = imported.run(PROXY, "iptables", "-t", "nat", "-L", privileged=True)
    assert tables.returncode == 0 and "Chain POSTROUTING" in tables.stdout, tables.stderr
    version = imported.run(PROXY, "kube-proxy", "--version")
    assert version.returncode == 0 and kubeimages.KUBE_VERSION in version.stdout, version.stderr


@pytest.mark.parametrize("ref, argv, expect", [
    (f"registry.k8s.io/kube-apiserver:{kubeimages.KUBE_VERSION}", ("kube-apiserver", "--version"),
     kubeimages.KUBE_VERSION),
    (f"registry.k8s.io/kube-controller-manager:{kubeimages.KUBE_VERSION}", ("kube-controller-manager", "--version"),
     kubeimages.KUBE_VERSION),
    (f"registry.k8s.io/kube-scheduler:{kubeimages.KUBE_VERSION}", ("kube-scheduler", "--version"),
     kubeimages.KUBE_VERSION),
    (f"registry.k8s.io/etcd:{kubeimages.ETCD_TAG}", ("etcd", "--version"), kubeimages.ETCD_TAG.split("-")[0]),
    (f"registry.k8s.io/coredns/coredns:{kubeimages.COREDNS_TAG}", ("/coredns", "-version"),
     kubeimages.COREDNS_TAG.lstrip("v")),
])
def test_control_plane_images_run_their_binary(imported, ref, argv, expect):
    needs_binary(ref)
    proc = imported.run(ref, *argv)
    assert proc.returncode == 0, proc.stderr
    assert expect in proc.stdout + proc.stderr
