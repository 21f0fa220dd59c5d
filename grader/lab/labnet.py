"""Low-level pieces of the local lab: commands, tools, the lab network, its processes.

Everything here works on names and addresses the lab owns (the bridge `grader-br0`,
the namespaces named after the hosts, the veths `gr-<host>` and 172.30.0.0/16) and
never on anything else.  Commands run as argument lists with a timeout each.
"""
from __future__ import annotations

import fcntl
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from grader import inventory
from grader.errors import LabError

NETWORK = ipaddress.ip_network("172.30.0.0/16")
BRIDGE = "grader-br0"
BRIDGE_IP = "172.30.0.1"
SBIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
IPT_COMMENT = "grader-lab"

# tool -> Debian package that ships it
TOOLS = {
    "ip": "iproute2",
    "unshare": "util-linux",
    "setsid": "util-linux",
    "mount": "mount",
    "sshd": "openssh-server",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "iptables": "iptables",
    "ping": "iputils-ping",
}


def which(tool: str) -> str | None:
    return shutil.which(tool, path=os.environ.get("PATH", "") + ":" + SBIN_PATH)


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab needs root (it creates network namespaces, a bridge and mounts): run it with sudo")


def require_tools(tools=TOOLS) -> dict[str, str]:
    found, missing = {}, []
    for tool, package in tools.items():
        path = which(tool)
        if path:
            found[tool] = path
        else:
            missing.append((tool, package))
    if missing:
        names = ", ".join(f"{t} (Debian package {p})" for t, p in missing)
        packages = " ".join(sorted({p for _, p in missing}))
        raise LabError(f"missing tools for the lab: {names}; install them with: apt-get install -y {packages}")
    return found


def run(argv: list[str], *, timeout: float = 10.0, check: bool = True, input: bytes | None = None,
        env: dict | None = None) -> subprocess.CompletedProcess:
    """Run one command (argument list, never a shell string) and capture its output."""
    argv = [str(a) for a in argv]
    try:
        proc = subprocess.run(argv, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout, env=env, stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise LabError(f"command timed out after {timeout:g}s: {' '.join(argv)}") from None
    except OSError as exc:
        raise LabError(f"cannot run {argv[0]}: {exc.strerror}") from None
    if check and proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip() or proc.stdout.decode(errors="replace").strip()
        raise LabError(f"command failed ({proc.returncode}): {' '.join(argv)}: {err}")
    return proc


def ip_json(*args: str) -> list:
    out = run(["ip", "-j", *args], timeout=10).stdout.decode() or "[]"
    return json.loads(out)


# --- the lab network ---------------------------------------------------------

def veth_name(host: str) -> str:
    return ("gr-" + host)[:15]


def netns_names() -> set[str]:
    proc = run(["ip", "netns", "list"], check=False, timeout=10)
    return {line.split()[0] for line in proc.stdout.decode().splitlines() if line.strip()}


def link_exists(name: str) -> bool:
    return run(["ip", "link", "show", "dev", name], check=False, timeout=10).returncode == 0


def bridge_alias() -> str | None:
    """The lab records its state folder in the bridge's alias, so a stale lab can be found."""
    if not link_exists(BRIDGE):
        return None
    info = ip_json("link", "show", "dev", BRIDGE)
    return (info[0].get("ifalias") or None) if info else None


def range_conflicts(hosts: dict[str, str]) -> list[str]:
    """Addresses and routes in the lab's range that are not the lab's own."""
    ours = {BRIDGE} | {veth_name(h) for h in hosts}
    problems = []
    for link in ip_json("-4", "addr", "show"):
        if link.get("ifname") in ours:
            continue
        for addr in link.get("addr_info", []):
            net = ipaddress.ip_interface(f"{addr['local']}/{addr.get('prefixlen', 32)}").network
            if net.overlaps(NETWORK):
                problems.append(f"address {addr['local']}/{addr.get('prefixlen')} on {link.get('ifname')}")
    for route in ip_json("-4", "route", "show"):
        dst, dev = route.get("dst", ""), route.get("dev")
        if dst in ("default", "") or dev in ours:
            continue
        net = ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False)
        if net.prefixlen and net.overlaps(NETWORK):
            problems.append(f"route {dst} via {route.get('gateway') or dev}")
    return problems


def create_network(hosts: dict[str, str], alias: str) -> None:
    run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    run(["ip", "link", "set", "dev", BRIDGE, "alias", alias])
    run(["ip", "addr", "add", f"{BRIDGE_IP}/{NETWORK.prefixlen}", "dev", BRIDGE])
    run(["ip", "link", "set", "dev", BRIDGE, "up"])
    for host, address in hosts.items():
        veth = veth_name(host)
        run(["ip", "netns", "add", host])
        run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host])
        run(["ip", "link", "set", "dev", veth, "master", BRIDGE, "up"])
        run(["ip", "-n", host, "addr", "add", f"{address}/{NETWORK.prefixlen}", "dev", "eth0"])
        run(["ip", "-n", host, "link", "set", "dev", "eth0", "up"])
        run(["ip", "-n", host, "link", "set", "dev", "lo", "up"])


def bridge_filtered() -> bool:
    """True when bridged frames pass the root namespace's iptables (br_netfilter)."""
    try:
        with open("/proc/sys/net/bridge/bridge-nf-call-iptables") as fh:
            return fh.read().strip() == "1"
    except OSError:
        return False


FORWARD_RULE = ["FORWARD", "-i", BRIDGE, "-o", BRIDGE, "-m", "comment", "--comment", IPT_COMMENT, "-j", "ACCEPT"]


def allow_bridge_forwarding() -> bool:
    """Let lab hosts reach each other even if the machine's FORWARD policy drops (docker does)."""
    if not bridge_filtered():
        return False
    run(["iptables", "-w", "5", "-I", *FORWARD_RULE], timeout=15)
    return True


def remove_bridge_forwarding() -> None:
    if not which("iptables"):
        return
    for _ in range(10):
        if run(["iptables", "-w", "5", "-D", *FORWARD_RULE], check=False, timeout=15).returncode != 0:
            break


def delete_network(hosts) -> None:
    present = netns_names()
    for host in hosts:
        if host in present:
            run(["ip", "netns", "del", host], check=False)
        if link_exists(veth_name(host)):
            run(["ip", "link", "del", "dev", veth_name(host)], check=False)
    if link_exists(BRIDGE):
        run(["ip", "link", "del", "dev", BRIDGE], check=False)


# --- processes ---------------------------------------------------------------

def ns_inode(pid: int | str, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def netns_pids(host: str) -> set[int]:
    proc = run(["ip", "netns", "pids", host], check=False, timeout=10)
    return {int(p) for p in proc.stdout.decode().split() if p.isdigit()}


def _nspid(pid) -> list[str]:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return []
    return next((line.split()[1:] for line in status.splitlines() if line.startswith("NSpid:")), [])


def host_init_pid(host: str) -> int | None:
    """PID 1 of a lab host's PID namespace (its sshd), one level below ours.  The level
    matters: a hostNetwork pod of the kube lab has a PID 1 in the host's network namespace
    too, a level deeper, with a container's root."""
    depth = len(_nspid("self")) + 1
    for pid in sorted(netns_pids(host)):
        nspid = _nspid(pid)
        if len(nspid) == depth and nspid[-1] == "1":
            return pid
    return None


def pids_in_uts(inodes: set[int]) -> set[int]:
    if not inodes:
        return set()
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and ns_inode(entry, "uts") in inodes:
            found.add(int(entry))
    return found


def host_processes(host: str, uts_inodes: set[int]) -> set[int]:
    """Every process of a lab host: in its network namespace or in its UTS namespace.

    Processes a task starts in a namespace of its own (`ip netns exec myns ...`) keep
    the host's UTS namespace, so they are found too.
    """
    own = ns_inode("self", "uts")
    pids = netns_pids(host)
    inodes = set(uts_inodes) | {i for p in pids if (i := ns_inode(p, "uts")) and i != own}
    return (pids | pids_in_uts(inodes)) - {os.getpid()}


def kill_all(find, *, timeout: float = 5.0) -> None:
    """SIGKILL what `find()` returns until it returns nothing (forks are caught on the next round)."""
    deadline = time.monotonic() + timeout
    while True:
        pids = find()
        if not pids:
            return
        if time.monotonic() > deadline:
            raise LabError(f"processes of the lab would not die: {' '.join(map(str, sorted(pids)))}")
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)


def cgroup_mount_lines() -> list[str]:
    """Shell lines that mount the machine's cgroup hierarchies again under /sys/fs/cgroup.

    A lab host starts under `ip netns exec`, which mounts a fresh sysfs over /sys (so
    /sys/class/net shows the host's own links) and with it hides /sys/fs/cgroup; the
    kube lab's kubelet and runc need the hierarchies, which are the machine's own
    (mounting a v1 hierarchy again with the same options gives the same tree).
    """
    from shlex import quote as q
    lines = []
    try:
        with open("/proc/self/mounts") as fh:
            mounts = [line.split() for line in fh]
    except OSError:
        return lines
    root = next((m for m in mounts if len(m) > 2 and m[1] == "/sys/fs/cgroup"), None)
    subs = [m for m in mounts if len(m) > 3 and m[2] in ("cgroup", "cgroup2") and m[1].startswith("/sys/fs/cgroup")]
    if not subs:
        return lines
    if root is not None or all(m[1] != "/sys/fs/cgroup" for m in subs):
        lines.append("mount -t tmpfs -o mode=0755 cgroup /sys/fs/cgroup")
    for _dev, point, fstype, opts, *_ in subs:
        if point == "/sys/fs/cgroup":
            lines.append(f"mount -t {fstype} -o {q(opts)} {fstype} /sys/fs/cgroup")
            continue
        options = opts
        if fstype == "cgroup" and all(o.startswith("name=") or o in ("rw", "ro", "relatime", "nosuid", "nodev",
                                                                     "noexec", "xattr") for o in opts.split(",")):
            options = "none," + opts
        lines.append(f"mkdir -p {q(point)} && mount -t {fstype} -o {q(options)} {fstype} {q(point)}")
    return lines


# --- files -------------------------------------------------------------------

def mkdirs(path: Path, created: list) -> None:
    """mkdir -p that records each folder it had to create (so down removes exactly those)."""
    missing = []
    p = Path(path)
    while not p.exists():
        missing.append(p)
        p = p.parent
    for p in reversed(missing):
        p.mkdir(mode=0o755)
        created.append(str(p))


PRODUCT_DIR = "/var/lib/grader"  # shared parent of both labs' default folders


def remove_created(created: list) -> None:
    for path in list(reversed(created)) + [PRODUCT_DIR]:
        try:
            os.rmdir(path)  # only if still empty: never removes anything of anyone else
        except OSError:
            pass


@contextmanager
def lock(path: str, what: str, timeout: float = 180.0):
    """Take turns with every other process that builds or removes the same lab."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(f"another {what} up/down holds {path} for more than {timeout:g}s") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


@dataclass
class LabFolder:
    """A lab's state folder and the inventory `up` writes into it (both lab kinds)."""
    dir: Path

    @property
    def inventory_path(self) -> Path:
        return self.dir / "inventory.yaml"

    def inventory(self):
        return inventory.load(self.inventory_path)


class Lease:
    """A shared flock meaning "a session is using this lab" (test sessions hold one).

    `down` without force refuses while anyone holds it; a lifecycle test upgrades its
    own to exclusive to know it is alone.
    """

    def __init__(self, path: str):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_SH)

    def try_exclusive(self) -> bool:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            fcntl.flock(self.fd, fcntl.LOCK_SH)  # Linux drops the old lock when an upgrade fails
            return False

    def shared(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_SH)

    def close(self) -> None:
        os.close(self.fd)


def in_use(path: str) -> bool:
    """True while some process holds a Lease on `path`."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def refuse_if_in_use(path: str, what: str) -> None:
    if in_use(path):
        raise LabError(f"the {what} is in use by a running test session (it holds {path}); "
                       "wait for it to finish, or use --force")
