"""The local lab: killercoda's two hosts, `controlplane` and `node01`, on this machine.

`Lab.up()` builds, as root:

* a bridge `grader-br0` (172.30.0.1/16) and, per host, a network namespace named for
  the host with an `eth0` veth into the bridge (controlplane 172.30.1.2, node01
  172.30.2.2; no default route, no NAT: the lab reaches nothing but itself);
* per host, a process tree started by `ip netns exec HOST unshare --uts --mount
  --propagation private --pid --fork --mount-proc`: its own hostname, its own PID
  numbering, and tmpfs over the host-local places (PRIVATE_DIRS), the generated
  /etc/hosts and /etc/hostname bound in, and `sshd -D -f <own config>` as its init;
* a state folder (GRADER_LAB_DIR, default /var/lib/grader/lab) with the client key,
  host keys, known_hosts, sshd configs, logs and `inventory.yaml`.

`Lab.down()` kills every process of the hosts (found by network and UTS namespace,
so whatever a task started goes too), deletes the namespaces, links, bridge, the
iptables rule it may have added, the mount points it had to create, and the folder.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from grader.lab import kubebuild, kubelab, labnet
from grader.lab.labhost import DISK_DIRS, HOSTS, OVERLAY_DIRS, PRIVATE_DIRS, SSHD_CONFIG, init_script, ssh_command
from grader.errors import LabError
from grader.lab.labnet import run

KUBE_HOST = "controlplane"
ENV_DIR = "GRADER_LAB_DIR"
DEFAULT_DIR = "/var/lib/grader/lab"
LOCK_FILE = "/run/lock/grader-lab.lock"     # held while up/down run
LEASE_FILE = "/run/lock/grader-lab.users"   # held (shared) by sessions using the lab
MARKER = ".grader-lab"


def default_dir() -> Path:
    return Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)


@dataclass
class HostStatus:
    name: str
    address: str
    running: bool        # the host's processes exist
    ssh: bool            # root@address answered with the right hostname
    detail: str = ""


@dataclass
class Lab(labnet.LabFolder):

    @classmethod
    def default(cls) -> "Lab":
        return cls(default_dir())

    @classmethod
    def current(cls) -> "Lab":
        """The lab that is up on this machine, whatever folder it uses; else the default one."""
        alias = labnet.bridge_alias() if labnet.which("ip") else None
        return cls(Path(alias)) if alias else cls.default()

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    # --- public operations ---------------------------------------------------

    def up(self, *, kube: bool = False, kube_bin: Path | None = None, progress=None) -> bool:
        """Build the lab; True if built, False if it was already up (then nothing changes).

        With `kube`, a real kubeadm cluster runs inside the hosts (grader/lab/kubelab.py); on a
        lab that is up without one, the cluster is added to it.  A bring-up that fails
        leaves no half-built lab behind (everything is removed; GRADER_LAB_KEEP=1 keeps it
        for a look).
        """
        labnet.require_root()
        labnet.require_tools()
        progress = progress or (lambda msg: None)
        bin_dir = None
        if kube:
            bin_dir = kubebuild.ensure_binaries(kube_bin, progress=progress)
        with labnet.lock(LOCK_FILE, "grader lab", timeout=900 if kube else 180):
            if self.is_up():
                if not kube or self.kube_built():
                    return False
                progress("lab: up without a cluster; adding the cluster to it")
                self._guard(lambda: self._kube_up(bin_dir, progress))
                return True
            self._teardown()
            conflicts = labnet.range_conflicts(HOSTS)
            if conflicts:
                raise LabError(f"the lab's address range {labnet.NETWORK} is already in use on this machine: "
                               f"{'; '.join(conflicts)} (remove it, or run the lab on another machine)")
            progress("lab: network namespaces, bridge, hosts, sshd")
            self._guard(self._build)
            if kube:
                self._guard(lambda: self._kube_up(bin_dir, progress))
            return True

    def _guard(self, work) -> None:
        try:
            work()
        except BaseException:
            if os.environ.get("GRADER_LAB_KEEP") != "1":
                try:
                    self._teardown()
                except LabError:
                    pass
            raise

    def kube_built(self) -> bool:
        """The cluster was brought up in this lab (whatever state its nodes are in now)."""
        return self._load_state(self.dir).get("kube") == "ready"

    def kube(self, progress=print):
        """The cluster inside this lab's hosts (grader.lab.kubelab.KubeCluster)."""
        return kubelab.KubeCluster(self, kubebuild.cache_dir() / "bin", progress)

    def _kube_up(self, bin_dir: Path, progress) -> None:
        state = self._load_state(self.dir)
        if not state.get("layout"):
            raise LabError("the lab that is up was built by an older grader without room for a cluster: "
                           "run `grader lab down`, then `grader lab up --kube`")
        state["kube"] = "building"
        self._save_state(state)
        kubelab.KubeCluster(self, bin_dir, progress).up(state, lambda: self._save_state(state))
        state["kube"] = "ready"
        self._save_state(state)

    def down(self, *, force: bool = False) -> bool:
        """Remove everything `up` created; True if there was something to remove.

        Refuses while a test session holds the lab's lease, unless `force`.
        """
        labnet.require_root()
        labnet.require_tools({"ip": "iproute2", "mount": "mount"})
        if not force:
            labnet.refuse_if_in_use(LEASE_FILE, "lab")
        with labnet.lock(LOCK_FILE, "grader lab"):
            return self._teardown()

    def status(self) -> list[HostStatus]:
        result = []
        built = self.inventory_path.is_file()
        names = labnet.netns_names() if labnet.which("ip") else set()
        for host, address in HOSTS.items():
            running = host in names and bool(labnet.netns_pids(host))
            ok, detail = (self._ssh_check(host, address) if built and running
                          else (False, "not running" if built or running else "lab is down"))
            result.append(HostStatus(host, address, running, ok, detail))
        return result

    def is_up(self) -> bool:
        return all(h.ssh for h in self.status())

    # --- building -------------------------------------------------------------

    def _build(self) -> None:
        state = {"created_dirs": [], "iptables": False, "pins": [], "layout": 2}
        self._prepare_dir(state)
        self._save_state(state)
        self._write_files()
        for path in (*PRIVATE_DIRS, *DISK_DIRS, *OVERLAY_DIRS):
            labnet.mkdirs(Path(path), state["created_dirs"])
        state["run_netns"] = not Path("/run/netns").exists()  # `ip netns add` makes it a mount point
        self._save_state(state)
        labnet.create_network(HOSTS, alias=str(self.dir))
        state["iptables"] = labnet.allow_bridge_forwarding()
        self._save_state(state)
        for host in HOSTS:
            self._start_host(host)
        for host in HOSTS:
            state["pins"].append(self._pin_uts(host))
            self._save_state(state)
        deadline = time.monotonic() + 8
        for host, address in HOSTS.items():
            _wait_for_ssh(host, address, deadline, self.dir / host / "sshd.log")
            ok, detail = self._ssh_check(host, address)
            if not ok:
                raise LabError(f"host {host}: ssh root@{address} does not work: {detail}")
        self._write_inventory()

    def _prepare_dir(self, state: dict) -> None:
        resolved = self.dir.resolve()
        for private in (*PRIVATE_DIRS, *DISK_DIRS, *OVERLAY_DIRS):
            if resolved == Path(private) or Path(private) in resolved.parents:
                raise LabError(f"{self.dir}: the lab folder cannot be under {private}, which each host has "
                               f"its own copy of; set {ENV_DIR} elsewhere (default {DEFAULT_DIR})")
        if self.dir.exists() and any(self.dir.iterdir()) and not (self.dir / MARKER).exists():
            raise LabError(f"{self.dir}: exists and is not a lab folder; set {ENV_DIR} to an empty or new folder")
        labnet.mkdirs(self.dir, state["created_dirs"])
        os.chmod(self.dir, 0o700)
        (self.dir / MARKER).write_text("created by grader lab up; removed by grader lab down\n")

    def _write_files(self) -> None:
        d = self.dir
        _keygen(self.key, "grader-lab")
        lines, hosts_lines = [], ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
        for host, address in HOSTS.items():
            hostdir = d / host
            hostdir.mkdir(mode=0o700, exist_ok=True)
            for name in DISK_DIRS.values():
                (hostdir / "disk" / name).mkdir(parents=True, exist_ok=True)
            for name in OVERLAY_DIRS.values():
                for layer in ("upper", "work"):
                    (hostdir / "overlay" / name / layer).mkdir(parents=True, exist_ok=True)
            _keygen(hostdir / "ssh_host_ed25519_key", f"grader-lab-{host}")
            pub = (hostdir / "ssh_host_ed25519_key.pub").read_text().split()
            lines.append(f"{host},{address} {pub[0]} {pub[1]}")
            hosts_lines.append(f"{address} {host}")
            (hostdir / "sshd_config").write_text(SSHD_CONFIG.format(host=host, hostdir=hostdir))
        self.known_hosts.write_text("\n".join(lines) + "\n")
        names = " ".join(list(HOSTS) + list(HOSTS.values()))
        (d / "ssh_config").write_text(f"Host {names}\n  User root\n  IdentityFile ~/.ssh/id_ed25519\n"
                                      "  StrictHostKeyChecking yes\n")
        for host in HOSTS:
            (d / host / "hosts").write_text("\n".join(hosts_lines) + "\n")
            (d / host / "hostname").write_text(host + "\n")
            (d / host / "init.sh").write_text(init_script(host, d))

    def _start_host(self, host: str) -> None:
        import subprocess
        hostdir = self.dir / host
        argv = ["setsid", "-f", "ip", "netns", "exec", host,
                "unshare", "--uts", "--mount", "--propagation", "private", "--pid", "--fork", "--mount-proc",
                "sh", str(hostdir / "init.sh")]
        with open(hostdir / "sshd.log", "ab") as log:  # not a pipe: the host outlives this call
            try:
                code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=10,
                                      env={"PATH": labnet.SBIN_PATH, "LANG": "C.UTF-8"}).returncode
            except subprocess.TimeoutExpired:
                code = "timeout"
        if code != 0:
            raise LabError(f"host {host}: could not start ({code}); see {hostdir / 'sshd.log'}")

    def _pin_uts(self, host: str) -> str:
        """Bind the host's UTS namespace to a file: it names the host's processes until down."""
        own = labnet.ns_inode("self", "uts")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            for pid in sorted(labnet.netns_pids(host)):
                if labnet.ns_inode(pid, "uts") not in (None, own):
                    pin = self.dir / host / "uts"
                    pin.touch()
                    run(["mount", "--bind", f"/proc/{pid}/ns/uts", pin])
                    return str(pin)
            time.sleep(0.02)
        log = (self.dir / host / "sshd.log").read_text(errors="replace").strip()[-500:]
        raise LabError(f"host {host} did not start: {log or 'no output'}")

    def _ssh_check(self, host: str, address: str) -> tuple[bool, str]:
        proc = run(ssh_command(self, address, "hostname"), check=False, timeout=10)
        out = proc.stdout.decode(errors="replace").strip()
        if proc.returncode == 0 and out == host:
            return True, "ssh answers"
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        return False, (err[-1] if err else f"hostname said {out!r}, exit {proc.returncode}")

    def _write_inventory(self) -> None:
        d = self.dir
        lines = ["# written by `grader lab up`; removed by `grader lab down`", "name: grader-lab",
                 f"kube_host: {KUBE_HOST}", "hosts:"]
        for host, address in HOSTS.items():
            lines += [f"  {host}:", "    transport: ssh", f"    address: {address}", "    user: root",
                      f"    key: {json.dumps(str(self.key))}", f"    known_hosts: {json.dumps(str(self.known_hosts))}",
                      f"    node: {host}", f"    ip: {address}"]
        tmp = d / "inventory.yaml.tmp"
        tmp.write_text("\n".join(lines) + "\n")
        tmp.replace(self.inventory_path)

    # --- tearing down -----------------------------------------------------------

    def _teardown(self) -> bool:
        dirs = {self.dir}
        alias = labnet.bridge_alias()
        if alias and Path(alias) != self.dir:  # a lab made with another GRADER_LAB_DIR
            dirs.add(Path(alias))
        states = {d: self._load_state(d) for d in dirs}
        did = False
        for host in HOSTS:
            inodes = set()
            for d in dirs:
                pin = d / host / "uts"
                if _is_mount(pin):
                    inodes.add(os.stat(pin).st_ino)
            if labnet.host_processes(host, inodes):
                did = True
            labnet.kill_all(lambda h=host, i=inodes: labnet.host_processes(h, i) | kubelab.cgroup_pids(h))
            for d in dirs:
                pin = d / host / "uts"
                if _is_mount(pin):
                    run(["umount", pin], timeout=10)
        present = labnet.netns_names()
        if any(h in present for h in HOSTS) or labnet.link_exists(labnet.BRIDGE):
            did = True
        labnet.delete_network(HOSTS)
        if any(s.get("iptables") for s in states.values()) or labnet.bridge_filtered():
            labnet.remove_bridge_forwarding()
        if any(s.get("run_netns") for s in states.values()) and not labnet.netns_names():
            _remove_empty_mountpoint(Path("/run/netns"))
        kubelab.remove_cgroups(HOSTS)
        for d, state in states.items():
            kubelab.restore_sysctls(state.get("sysctls", {}))
        for d, state in states.items():
            if (d / MARKER).exists():
                shutil.rmtree(d, ignore_errors=False)
                did = True
            labnet.remove_created(state.get("created_dirs", []))
        return did

    def _save_state(self, state: dict) -> None:
        tmp = self.dir / "state.json.tmp"
        tmp.write_text(json.dumps(state, indent=1))
        tmp.replace(self.dir / "state.json")

    @staticmethod
    def _load_state(d: Path) -> dict:
        try:
            return json.loads((d / "state.json").read_text())
        except (OSError, ValueError):
            return {}


def _keygen(path: Path, comment: str) -> None:
    if not path.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path], timeout=15)


def _remove_empty_mountpoint(path: Path) -> None:
    try:
        if any(path.iterdir()):
            return
    except OSError:
        return
    if _is_mount(path):
        run(["umount", path], check=False, timeout=10)
    try:
        path.rmdir()
    except OSError:
        pass


def _is_mount(path: Path) -> bool:
    try:
        with open("/proc/self/mountinfo") as fh:
            return any(line.split()[4] == str(path) for line in fh)
    except OSError:
        return False


def _wait_for_ssh(host: str, address: str, deadline: float, log: Path) -> None:
    while True:
        try:
            with socket.create_connection((address, 22), timeout=1) as sock:
                sock.settimeout(1)
                if sock.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace").strip()[-500:] if log.exists() else ""
            raise LabError(f"host {host}: sshd did not answer on {address}:22 in time: {tail or 'no log'}")
        time.sleep(0.05)
