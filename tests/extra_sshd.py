"""An sshd of a test's own inside the lab's controlplane host, for tests that must bring a
host down, freeze it, change its key or refuse our key without touching the shared lab.

It listens on the controlplane address (172.30.1.2) on a random free port, with its own
host key and the lab's client key authorised.  Used by tests/integration/test_faults.py
and tests/integration/test_transport_ssh.py.

It runs inside the controlplane host's own namespaces (`nsenter` into the mount, UTS,
network and PID namespaces of the host's first process), like the host's own sshd: the
host's private /run already has the /run/sshd that sshd needs, and its files (config,
host key, authorized_keys) live in the host's private /tmp, so nothing is created on the
machine itself and nothing depends on what the machine happens to have.  `close()`
removes them.  The client's side (known_hosts, the sshd's log) stays in the test's folder.
"""
from __future__ import annotations

import os
import random
import signal
import socket
import shutil
import subprocess
import time
import uuid
from pathlib import Path

ADDRESS = "172.30.1.2"          # the lab's controlplane: the extra sshd listens there too
HOST = "controlplane"
SSHD_CONFIG = """\
# an extra sshd of grader's tests (tests/extra_sshd.py)
Port {port}
ListenAddress {address}
HostKey {dir}/host_key
PidFile none
PermitRootLogin prohibit-password
PubkeyAuthentication yes
AuthorizedKeysFile {dir}/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PrintMotd no
MaxSessions 64
LogLevel INFO
"""


def keygen(path: Path) -> str:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "grader-faults", "-f", str(path)],
                   check=True, timeout=30)
    return path.with_suffix(".pub").read_text().strip()


def _children() -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        out.setdefault(ppid, []).append(int(p.name))
    return out


def tree(pid: int) -> list[int]:
    """pid and all its descendants (sshd's per-connection processes, their shells...)."""
    children, todo, found = _children(), [pid], []
    while todo:
        p = todo.pop()
        found.append(p)
        todo.extend(children.get(p, []))
    return found


def host_init_pid(host: str) -> int:
    """The first process of a lab host (its sshd), as grader.lab.labnet finds it."""
    from grader.lab import labnet

    pid = labnet.host_init_pid(host)
    if pid is None:
        raise AssertionError(f"no process of lab host {host} found (is the lab up? grader lab status)")
    return pid


class ExtraSSHD:
    """An sshd of our own in the controlplane host's namespaces."""

    def __init__(self, lab, dir: Path):
        self.lab, self.dir = lab, dir
        dir.mkdir(parents=True, exist_ok=True)
        self.host_pid = host_init_pid(HOST)
        # the host's /tmp is private to it: seen from here through its process's root
        self.inner = Path(f"/tmp/grader-extra-sshd-{uuid.uuid4().hex[:12]}")
        self.outer = Path(f"/proc/{self.host_pid}/root{self.inner}")
        self.outer.mkdir(mode=0o700)
        self.host_pub = keygen(self.outer / "host_key")
        (self.outer / "authorized_keys").write_text(Path(f"{lab.lab.key}.pub").read_text())
        self.known_hosts = dir / "known_hosts"
        self.proc: subprocess.Popen | None = None    # nsenter, whose one child is the sshd
        self.pid = 0                                  # the sshd (its listener)
        self.port = 0

    def file(self, name: str) -> tuple[str, Path]:
        """A file of ours in the host: (its path inside the host, the same file seen from here)."""
        return str(self.inner / name), self.outer / name

    @property
    def known_name(self) -> str:
        return f"[{ADDRESS}]:{self.port}"

    def trust(self) -> None:
        """known_hosts with our host key (the normal, verified case)."""
        kind, key = self.host_pub.split()[:2]
        self.known_hosts.write_text(f"{self.known_name} {kind} {key}\n")

    def start(self) -> "ExtraSSHD":
        sshd = "/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else "sshd"
        nsenter = ["nsenter", f"--target={self.host_pid}", "--mount", "--uts", "--net", "--pid", "--wd=/", "--"]
        for _ in range(10):
            port = random.randint(20000, 29999)
            (self.outer / "sshd_config").write_text(SSHD_CONFIG.format(port=port, address=ADDRESS, dir=self.inner))
            log = open(self.dir / "sshd.log", "wb")
            proc = subprocess.Popen([*nsenter, sshd, "-D", "-e", "-f", str(self.inner / "sshd_config")],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
            log.close()
            if self._wait(port, proc):
                self.proc, self.port = proc, port
                self.pid = _children()[proc.pid][0]
                return self
            self._kill(proc.pid)
            proc.wait(timeout=10)
        raise AssertionError(f"the extra sshd did not start: {(self.dir / 'sshd.log').read_text()[-500:]}")

    @staticmethod
    def _wait(port: int, proc) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection((ADDRESS, port), timeout=1) as sock:
                    sock.settimeout(2)
                    if sock.recv(64).startswith(b"SSH-"):
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    @staticmethod
    def _kill(pid: int) -> None:
        """SIGKILL pid and its descendants until none is alive (forks meanwhile are caught too).

        What dies inside the host is reaped by the host's first process, in its own time:
        a zombie counts as dead."""
        from grader.lab import labnet

        labnet.kill_all(lambda: {p for p in tree(pid) if not dead(p)}, timeout=10)

    def kill(self) -> None:
        """SIGKILL the sshd and everything it started: every connection drops at once."""
        if self.proc is not None:
            self.signal(signal.SIGCONT)
            self._kill(self.proc.pid)
            self.proc.wait(timeout=10)
            self.proc, self.pid = None, 0

    def close(self) -> None:
        """kill(), then remove our files from the host's /tmp."""
        self.kill()
        shutil.rmtree(self.outer, ignore_errors=True)

    def signal(self, sig: int) -> None:
        """Send `sig` to the sshd and everything it started (SIGSTOP: the host freezes)."""
        for p in tree(self.proc.pid):
            try:
                os.kill(p, sig)
            except ProcessLookupError:
                pass

    def reserve_dead_port(self) -> None:
        """A port of the controlplane address where nothing listens (the host is 'down')."""
        self.port = self.port or random.randint(30000, 39999)

    def freeze_sessions(self) -> list[int]:
        """SIGSTOP the per-connection sshd processes (not the listener) and wait until
        they are stopped: the host accepted our connection and now answers nothing."""
        pids = []
        for p in tree(self.pid)[1:]:     # below the listener
            try:
                if _cmdline(p).startswith(b"sshd: "):
                    os.kill(p, signal.SIGSTOP)
                    pids.append(p)
            except OSError:  # gone meanwhile
                pass
        assert pids, "no sshd session process found"
        deadline = time.monotonic() + 5
        while not all(map(_stopped, pids)):
            assert time.monotonic() < deadline, "the sshd session processes did not stop"
            time.sleep(0.01)
        return pids


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def dead(pid: int) -> bool:
    """Gone, or a zombie (dead, waiting for its parent to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] in "Tt"
    except OSError:
        return True  # gone
