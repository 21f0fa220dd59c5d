"""The local lab (grader/lab/lab.py): what a candidate and a task pack rely on.

Tests marked `lab` share the session's lab (fixture `lab` in tests/conftest.py) and
undo what they change inside it.  The lifecycle test (marker `lab_lifecycle`) brings
the lab down and up again: conftest runs it after every other test and only when no
other test session is using the lab, and it leaves the lab up as it found it.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from grader.lab import labnet
from grader.errors import LabError

ADDRESSES = {"controlplane": "172.30.1.2", "node01": "172.30.2.2"}


def grader(*args, timeout=60, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=Path(__file__).resolve().parents[2])


# --- without a lab: the checks that keep up from half-building --------------------

def test_missing_tools_name_their_debian_packages(monkeypatch):
    monkeypatch.setattr(labnet, "which", lambda tool: None if tool in ("sshd", "ping") else f"/usr/bin/{tool}")
    with pytest.raises(LabError) as err:
        labnet.require_tools()
    text = str(err.value)
    assert "sshd (Debian package openssh-server)" in text
    assert "ping (Debian package iputils-ping)" in text
    assert "apt-get install -y iputils-ping openssh-server" in text
    assert err.value.exit_code == 3


def test_not_root_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="needs root"):
        labnet.require_root()


def test_range_conflicts_spot_foreign_addresses_and_routes(monkeypatch):
    addrs = [{"ifname": "eth0", "addr_info": [{"local": "192.0.2.2", "prefixlen": 24}]},
             {"ifname": "grader-br0", "addr_info": [{"local": "172.30.0.1", "prefixlen": 16}]},
             {"ifname": "wg0", "addr_info": [{"local": "172.30.9.9", "prefixlen": 24}]}]
    routes = [{"dst": "default", "gateway": "192.0.2.1", "dev": "eth0"},
              {"dst": "172.30.0.0/16", "dev": "grader-br0"},
              {"dst": "172.16.0.0/12", "gateway": "10.0.0.1", "dev": "tun0"},
              {"dst": "10.0.0.0/8", "dev": "tun0"}]
    monkeypatch.setattr(labnet, "ip_json", lambda *a: addrs if "addr" in a else routes)
    found = labnet.range_conflicts(ADDRESSES)
    assert found == ["address 172.30.9.9/24 on wg0", "route 172.16.0.0/12 via 10.0.0.1"]


def test_range_in_use_is_detected_for_real():
    """In a scratch network namespace (never the machine's own network) with 172.30.5.5 on a dummy link."""
    if os.geteuid() != 0 or not labnet.which("ip"):
        pytest.skip("needs root and iproute2")
    ns = f"grader-scratch-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True, timeout=10)
    try:
        for cmd in (["link", "add", "d0", "type", "veth", "peer", "name", "d1"],
                    ["addr", "add", "172.30.5.5/24", "dev", "d0"], ["link", "set", "d0", "up"]):
            subprocess.run(["ip", "-n", ns, *cmd], check=True, timeout=10)
        code = "from grader.lab import labnet; print(labnet.range_conflicts({'controlplane': '172.30.1.2'}))"
        out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-c", code], capture_output=True,
                             text=True, timeout=30, cwd=Path(__file__).resolve().parents[2], check=True).stdout
        assert "address 172.30.5.5/24 on d0" in out
        assert "route 172.30.5.0/24 via d0" in out
    finally:
        subprocess.run(["ip", "netns", "del", ns], timeout=10)


def test_lab_command_without_action_is_a_usage_error():
    proc = grader("lab")
    assert proc.returncode == 2
    assert "grader lab up | down | status" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- the shared lab ----------------------------------------------------------

@pytest.mark.lab
def test_inventory_loads_and_describes_both_hosts(lab):
    inv = lab.inventory
    assert inv.name == "grader-lab" and inv.kube_host == "controlplane"
    assert set(inv.hosts) == {"controlplane", "node01"}
    for role, address in ADDRESSES.items():
        h = inv.hosts[role]
        assert (h.transport, h.address, h.user, h.node, h.ip) == ("ssh", address, "root", role, address)
        assert Path(h.key) == lab.dir / "id_ed25519" and Path(h.key).is_file()
        assert Path(h.known_hosts) == lab.dir / "known_hosts"
    known = (lab.dir / "known_hosts").read_text()
    for role, address in ADDRESSES.items():
        assert f"{role},{address} ssh-ed25519 " in known


@pytest.mark.lab
def test_status_shows_both_hosts_answering(lab):
    hosts = lab.lab.status()
    assert [(h.name, h.address, h.ssh) for h in hosts] == [("controlplane", "172.30.1.2", True),
                                                          ("node01", "172.30.2.2", True)]
    proc = grader("lab", "status", "--dir", str(lab.dir))
    assert proc.returncode == 0, proc.stderr
    assert "controlplane" in proc.stdout and "node01" in proc.stdout and "lab is up" in proc.stdout


@pytest.mark.lab
def test_each_host_has_its_own_hostname_and_pid_numbering(lab):
    for role in ADDRESSES:
        out = lab.ssh(role, "hostname; cat /etc/hostname; cat /proc/1/comm", check=True).stdout.split()
        assert out == [role, role, "sshd"]


@pytest.mark.lab
def test_ssh_by_name_between_hosts(lab):
    assert lab.ssh("controlplane", "ssh node01 hostname", check=True).stdout.strip() == "node01"
    assert lab.ssh("node01", "ssh controlplane hostname", check=True).stdout.strip() == "controlplane"
    assert lab.ssh("node01", "getent hosts controlplane", check=True).stdout.split()[0] == "172.30.1.2"


@pytest.mark.lab
def test_hosts_and_root_reach_each_other_but_nothing_else(lab):
    for role, address in ADDRESSES.items():
        subprocess.run(["ping", "-c1", "-W2", address], check=True, capture_output=True, timeout=10)
    lab.ssh("controlplane", "ping -c1 -W2 node01 && ping -c1 -W2 172.30.0.1", check=True)
    routes = lab.ssh("node01", "ip route", check=True).stdout
    assert "default" not in routes


@pytest.mark.lab
def test_etc_kubernetes_is_private_per_host(lab):
    name = f"private-{uuid.uuid4().hex}"
    lab.ssh("node01", f"echo secret > /etc/kubernetes/{name}", check=True)
    try:
        assert lab.ssh("node01", f"cat /etc/kubernetes/{name}").stdout.strip() == "secret"
        assert lab.ssh("controlplane", f"test -e /etc/kubernetes/{name}").returncode == 1
        assert not Path("/etc/kubernetes", name).exists()
        for place in ("/var/lib/kubelet", "/etc/netns", "/run/netns", "/root", "/tmp"):
            lab.ssh("node01", f"touch {place}/{name}", check=True)
            assert lab.ssh("controlplane", f"test -e {place}/{name}").returncode == 1, place
            assert not Path(place, name).exists(), place
    finally:
        lab.ssh("node01", f"rm -f /etc/kubernetes/{name} /var/lib/kubelet/{name} /etc/netns/{name} "
                          f"/run/netns/{name} /root/{name} /tmp/{name}")


@pytest.mark.lab
def test_netns_added_in_a_host_stays_in_it(lab):
    name = f"t{uuid.uuid4().hex[:8]}"
    lab.ssh("controlplane", f"ip netns add {name}", check=True)
    try:
        assert name in lab.ssh("controlplane", "ip netns list", check=True).stdout
        assert name not in lab.ssh("node01", "ip netns list", check=True).stdout
        assert name not in labnet.netns_names()
    finally:
        lab.ssh("controlplane", f"ip netns del {name}")


@pytest.mark.lab
def test_linux_networking_task_tools_work_inside_a_host(lab):
    """What the linux-networking pack does: netns + veth, ip_forward, NAT, ping, a service that outlives ssh.

    Other sessions may use the lab at the same time: random names, a random subnet, and
    only this test's own objects are looked at and removed.
    """
    tag = uuid.uuid4().hex[:6]
    n = int(tag, 16)
    ns, port, net = f"n{tag}", 18000 + n % 1000, f"10.{200 + n % 50}.{n % 250}"
    script = f"""set -e
ip netns add {ns}
ip link add vh{tag} type veth peer name vn{tag} netns {ns}
ip addr add {net}.1/24 dev vh{tag}; ip link set vh{tag} up
ip -n {ns} addr add {net}.2/24 dev vn{tag}; ip -n {ns} link set vn{tag} up; ip -n {ns} link set lo up
ping -c1 -W2 {net}.2
ip netns exec {ns} sysctl -qw net.ipv4.ip_forward=1
iptables -t nat -A POSTROUTING -s {net}.0/24 -m comment --comment {tag} -j MASQUERADE
setsid nohup ip netns exec {ns} python3 -m http.server {port} --bind {net}.2 >/dev/null 2>&1 </dev/null &
setsid nohup python3 -m http.server {port} --bind 172.30.1.2 >/dev/null 2>&1 </dev/null &
"""
    forward = {role: lab.ssh(role, "sysctl -n net.ipv4.ip_forward").stdout for role in ADDRESSES}
    root_forward = Path("/proc/sys/net/ipv4/ip_forward").read_text()
    try:
        proc = lab.ssh("controlplane", script)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        # both services outlived the session that started them
        probe = (f"for i in $(seq 100); do python3 -c 'import urllib.request,sys; "
                 f"urllib.request.urlopen(sys.argv[1], timeout=2)' http://%s:{port}/ 2>/dev/null && exit 0; "
                 f"sleep 0.1; done; exit 1")
        assert lab.ssh("controlplane", probe % f"{net}.2").returncode == 0
        assert lab.ssh("node01", probe % "controlplane").returncode == 0
        # ip_forward is per network namespace: set in the inner one, nowhere else changed
        assert lab.ssh("controlplane", f"ip netns exec {ns} sysctl -n net.ipv4.ip_forward").stdout.strip() == "1"
        assert {role: lab.ssh(role, "sysctl -n net.ipv4.ip_forward").stdout for role in ADDRESSES} == forward
        assert Path("/proc/sys/net/ipv4/ip_forward").read_text() == root_forward
        assert tag in lab.ssh("controlplane", "iptables -t nat -S").stdout
        assert tag not in lab.ssh("node01", "iptables -t nat -S").stdout
        assert tag not in subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True,
                                         timeout=15).stdout
    finally:
        lab.ssh("controlplane", f"pkill -f '[h]ttp.server {port}'; ip link del vh{tag}; ip netns del {ns}; "
                                f"iptables -t nat -D POSTROUTING -s {net}.0/24 -m comment --comment {tag} "
                                f"-j MASQUERADE")


@pytest.mark.lab
def test_lab_up_twice_changes_nothing(lab):
    def identity():  # the namespaces of the hosts: new ones if the lab had been rebuilt
        return {h: (os.stat(f"/run/netns/{h}").st_ino, os.stat(lab.dir / h / "uts").st_ino) for h in ADDRESSES}
    before = identity()
    proc = grader("lab", "up", "--dir", str(lab.dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(lab.inventory_path)
    assert "already up" in proc.stderr
    assert identity() == before


# --- lifecycle: runs last, alone, and leaves the lab up --------------------------

def lab_leftovers(lab_dir: Path) -> list[str]:
    """Every trace of a lab on this machine: namespaces, links, processes, mounts, files."""
    found = [f"netns {n}" for n in labnet.netns_names() & set(ADDRESSES)]
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, timeout=10).stdout
    for line in links.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        if name == labnet.BRIDGE or name.startswith("gr-"):
            found.append(f"link {name}")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # the hosts' own processes name their folders (sshd -f <dir>/<host>/sshd_config);
        # clients that merely read the inventory are not the lab's
        if any(f"{lab_dir}/{host}/" in cmd for host in ADDRESSES) or "sleep 98765" in cmd:
            found.append(f"process {entry}: {cmd}")
    mounts = Path("/proc/self/mountinfo").read_text()
    found += [f"mount {line.split()[4]}" for line in mounts.splitlines() if str(lab_dir) in line.split()[4]]
    if lab_dir.exists():
        found.append(f"folder {lab_dir}")
    rule = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True, timeout=15).stdout
    if labnet.IPT_COMMENT in rule:
        found.append("iptables rule grader-lab")
    return found


@pytest.mark.lab
@pytest.mark.lab_lifecycle
def test_lab_lifecycle_down_up_down(lab_alone, request):
    lab = lab_alone
    # things a task leaves behind inside the hosts must go with the lab
    lab.ssh("node01", "setsid nohup sleep 987651 >/dev/null 2>&1 </dev/null &", check=True)
    lab.ssh("controlplane", "ip netns add leftover; setsid nohup ip netns exec leftover sleep 987652 "
                            ">/dev/null 2>&1 </dev/null &", check=True)
    time.sleep(0.2)

    refused = grader("lab", "down", "--dir", str(lab.dir))  # this session holds the lease
    assert refused.returncode == 3 and "in use" in refused.stderr
    down = grader("lab", "down", "--force", "--dir", str(lab.dir))
    assert down.returncode == 0, down.stderr
    assert lab_leftovers(lab.dir) == []
    again = grader("lab", "down", "--force", "--dir", str(lab.dir))
    assert again.returncode == 0 and "nothing to remove" in again.stdout
    assert grader("lab", "status", "--dir", str(lab.dir)).returncode == 3

    start = time.monotonic()
    up = grader("lab", "up", "--dir", str(lab.dir))
    took = time.monotonic() - start
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"\n`grader lab up` from nothing: {took:.2f}s")
    assert up.returncode == 0, up.stderr
    assert took < 10, f"lab up took {took:.1f}s"
    assert up.stdout.strip() == str(lab.inventory_path)
    assert all(h.ssh for h in lab.lab.status())
    assert lab.ssh("controlplane", "ssh node01 hostname", check=True).stdout.strip() == "node01"

    assert grader("lab", "down", "--force", "--dir", str(lab.dir)).returncode == 0
    assert lab_leftovers(lab.dir) == []
    # the `lab_alone` fixture brings the lab back up for the rest of the session
