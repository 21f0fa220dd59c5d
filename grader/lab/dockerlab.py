"""The docker variant of the local lab: two containers named like kind nodes.

`DockerLab.up()` starts a private `dockerd` (Debian's docker.io) with its own data
root, exec root, pid file and socket, kept off the machine's network
(`--bridge=none --iptables=false --ip6tables=false`); builds a small root
filesystem from this machine's own binaries (no registry is reachable) and
`docker import`s it as `grader-node:lab`; runs `grader-control-plane` and
`grader-worker` (`--network none`, hostname = name, `sleep infinity`); writes an
inventory whose hosts use the docker transport.  `DockerLab.down()` removes the
containers and the image, stops dockerd and removes its folders.
"""
from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from grader.lab import labnet
from grader.errors import LabError
from grader.lab.labnet import run

ENV_DIR = "GRADER_DOCKER_LAB_DIR"
DEFAULT_DIR = "/var/lib/grader/docker-lab"
RUN_DIR = "/run/grader-lab"
LOCK_FILE = "/run/lock/grader-docker-lab.lock"
LEASE_FILE = "/run/lock/grader-docker-lab.users"
IMAGE = "grader-node:lab"
NODES = {"controlplane": "grader-control-plane", "node01": "grader-worker"}
LABEL = "grader-lab=1"
MARKER = ".grader-docker-lab"
TOOLS = {"dockerd": "docker.io", "docker": "docker.io", "containerd": "containerd", "runc": "runc",
         "ldd": "libc-bin"}
# what a node needs to run grader's checks and simple tasks; missing ones are skipped
ROOTFS_TOOLS = (
    "bash sh cat stat timeout sleep mktemp rm rmdir ls id grep egrep env echo printf mkdir touch cp mv chmod "
    "chown ln head tail wc sed tr cut sort uniq base64 sha256sum md5sum find xargs test true false date "
    "hostname uname dirname basename readlink realpath tee seq expr awk ps kill nohup setsid whoami du df "
    "which tar gzip diff cmp nproc pgrep pkill mkfifo").split()


def default_dir() -> Path:
    return Path(os.environ.get(ENV_DIR) or DEFAULT_DIR)


@dataclass
class DockerLab(labnet.LabFolder):
    run_dir: Path = Path(RUN_DIR)

    @classmethod
    def default(cls) -> "DockerLab":
        return cls(default_dir())

    @property
    def socket(self) -> Path:
        return self.run_dir / "docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "docker.pid"

    def docker(self, *args, timeout: float = 60, check: bool = True, input: bytes | None = None):
        return run(["docker", "-H", self.docker_host, *args], timeout=timeout, check=check, input=input,
                   env={**os.environ, "DOCKER_CONFIG": str(self.dir / "client")})

    # --- public operations ---------------------------------------------------

    def up(self) -> bool:
        labnet.require_root()
        labnet.require_tools(TOOLS)
        with labnet.lock(LOCK_FILE, "docker lab"):
            if self.is_up():
                return False
            self._teardown()
            try:
                self._build()
            except BaseException:
                try:
                    self._teardown()
                except LabError:
                    pass
                raise
            return True

    def down(self, *, force: bool = False) -> bool:
        """Remove containers, image, dockerd and folders; refuses while a test session uses it, unless `force`."""
        labnet.require_root()
        if not force:
            labnet.refuse_if_in_use(LEASE_FILE, "docker lab")
        with labnet.lock(LOCK_FILE, "docker lab"):
            return self._teardown()

    def status(self) -> dict[str, str]:
        """container name -> its state ('running', 'exited', 'missing', 'dockerd down')."""
        if not self._daemon_answers():
            return {name: "dockerd down" for name in NODES.values()}
        result = {}
        for name in NODES.values():
            proc = self.docker("inspect", "-f", "{{.State.Status}}", name, check=False, timeout=15)
            result[name] = proc.stdout.decode().strip() if proc.returncode == 0 else "missing"
        return result

    def is_up(self) -> bool:
        return self.inventory_path.is_file() and all(s == "running" for s in self.status().values())

    # --- building -------------------------------------------------------------

    def _build(self) -> None:
        if self.dir.exists() and any(self.dir.iterdir()) and not (self.dir / MARKER).exists():
            raise LabError(f"{self.dir}: exists and is not a docker lab folder; set {ENV_DIR} to a new folder")
        created: list = []
        labnet.mkdirs(self.dir, created)
        (self.dir / MARKER).write_text("created by grader lab up --docker; removed by grader lab down --docker\n")
        labnet.mkdirs(self.run_dir, created)
        (self.dir / "created_dirs").write_text("\n".join(created) + "\n")
        os.chmod(self.dir, 0o700)
        self._start_daemon()
        tar = self.dir / "rootfs.tar"
        build_rootfs(tar)
        self.docker("import", "--message", "grader lab node (built locally)", str(tar), IMAGE, timeout=120)
        tar.unlink()
        for name in NODES.values():
            self.docker("run", "-d", "--name", name, "--hostname", name, "--network", "none", "--label", LABEL,
                        "--init", IMAGE, "sleep", "infinity", timeout=60)
        for name in NODES.values():
            probe = self.docker("exec", name, "sh", "-c", "hostname", check=False, timeout=30)
            if probe.stdout.decode().strip() != name:
                raise LabError(f"container {name}: docker exec does not work: {probe.stderr.decode().strip()}")
        self._write_inventory()

    def _start_daemon(self) -> None:
        data, execroot = self.dir / "data", self.run_dir / "exec"
        argv = ["setsid", "-f", labnet.which("dockerd"), "--data-root", str(data), "--exec-root", str(execroot),
                "--pidfile", str(self.pidfile), "-H", self.docker_host, "--bridge=none", "--iptables=false",
                "--ip6tables=false", "--ip-masq=false", "--userland-proxy=false",
                "--config-file", str(self._daemon_config())]
        with open(self.dir / "dockerd.log", "ab") as log:
            subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=15, check=False,
                           env={"PATH": labnet.SBIN_PATH, "LANG": "C.UTF-8"})
        deadline = time.monotonic() + 30
        while not self._daemon_answers():
            if time.monotonic() > deadline:
                tail = (self.dir / "dockerd.log").read_text(errors="replace").strip()[-600:]
                raise LabError(f"dockerd did not answer on {self.socket} within 30s: {tail}")
            time.sleep(0.2)

    def _daemon_config(self) -> Path:
        path = self.dir / "daemon.json"
        path.write_text('{"log-level": "warn"}\n')
        return path

    def _daemon_answers(self) -> bool:
        if not self.socket.exists() or not labnet.which("docker"):
            return False
        return self.docker("version", "--format", "{{.Server.Version}}", check=False, timeout=10).returncode == 0

    def _write_inventory(self) -> None:
        lines = ["# written by `grader lab up --docker`; removed by `grader lab down --docker`",
                 "name: grader-docker-lab", "kube_host: controlplane", "hosts:"]
        for role, name in NODES.items():
            lines += [f"  {role}:", "    transport: docker", f"    container: {name}",
                      f'    docker: "{self.docker_host}"', f"    node: {name}"]
        self.inventory_path.write_text("\n".join(lines) + "\n")

    # --- tearing down -----------------------------------------------------------

    def _teardown(self) -> bool:
        did = False
        if self._daemon_answers():
            did = True
            ids = self.docker("ps", "-aq", "--filter", f"label={LABEL}", check=False).stdout.decode().split()
            names = [n for n in NODES.values()]
            self.docker("rm", "-f", *sorted(set(ids) | set(names)), check=False, timeout=60)
            self.docker("rmi", "-f", IMAGE, check=False, timeout=60)
        pid = _read_pid(self.pidfile)  # only if that process is still our dockerd
        if pid:
            did = True
            _stop(pid, timeout=20)
        # containerd and shims that dockerd started under our roots, should any outlive it
        labnet.kill_all(lambda: _pids_mentioning((str(self.dir), str(self.run_dir))), timeout=10)
        try:
            created = (self.dir / "created_dirs").read_text().split("\n")
        except OSError:
            created = []
        for root in (self.run_dir, self.dir):
            for mount in _mounts_under(root):
                run(["umount", "-l", mount], check=False, timeout=10)
            if root.exists() and (root == self.run_dir or (root / MARKER).exists()):
                did = True
                shutil.rmtree(root, ignore_errors=True)
        labnet.remove_created([c for c in created if c])
        return did


def build_rootfs(out: Path) -> None:
    """A root filesystem of this machine's own binaries and their libraries, as a tar."""
    files: dict[str, Path] = {}
    for tool in ROOTFS_TOOLS:
        path = labnet.which(tool)
        if path:
            files[f"/usr/bin/{tool}"] = Path(path)
    libs: set[str] = set()
    for path in set(files.values()):
        proc = run(["ldd", str(path)], check=False, timeout=15)
        for line in proc.stdout.decode().splitlines():
            parts = line.split()
            lib = parts[2] if "=>" in parts and len(parts) > 2 else parts[0] if parts else ""
            if lib.startswith("/"):
                libs.add(lib)
    for lib in libs:
        files[_usr_merged(lib)] = Path(lib)
    with tarfile.open(out, "w") as tar:
        for name, mode in (("usr", 0o755), ("usr/bin", 0o755), ("usr/lib", 0o755), ("usr/lib64", 0o755),
                           ("etc", 0o755), ("root", 0o700), ("tmp", 0o1777), ("var", 0o755), ("var/tmp", 0o1777),
                           ("proc", 0o555), ("sys", 0o555), ("dev", 0o755), ("run", 0o755)):
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)
        for link, target in (("bin", "usr/bin"), ("sbin", "usr/bin"), ("usr/sbin", "bin"), ("lib", "usr/lib"),
                             ("lib64", "usr/lib64")):
            info = tarfile.TarInfo(link)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
        dirs = set()
        for name in files:
            parts = name.strip("/").split("/")[:-1]
            dirs |= {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}
        for sub in sorted(dirs - {"bin", "sbin", "lib", "lib64", "usr", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64"}):
            info = tarfile.TarInfo(sub)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name in sorted(files):
            tar.add(str(files[name].resolve()), arcname=name.lstrip("/"), recursive=False)
        for name, text in (("etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:nobody:/:/bin/false\n"),
                           ("etc/group", "root:x:0:\nnogroup:x:65534:\n"),
                           ("etc/os-release", 'NAME="grader lab node"\nID=grader\n')):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))


def _usr_merged(path: str) -> str:
    for top in ("/lib64/", "/lib/"):
        if path.startswith(top):
            return "/usr" + path
    return path


def _read_pid(path: Path) -> int | None:
    """The pid in `path` if that process is still the dockerd that wrote it (pids are reused)."""
    try:
        pid = int(path.read_text().strip())
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    return pid if str(path).encode() in cmd else None


def _stop(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _pids_mentioning(paths: tuple[str, ...]) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmd and any(p in cmd for p in paths) and _alive(int(entry)):
            found.add(int(entry))
    return found


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root).rstrip("/") + "/"
    try:
        with open("/proc/self/mountinfo") as fh:
            points = [line.split()[4] for line in fh]
    except OSError:
        return []
    return sorted((p for p in points if p.startswith(prefix) or p == str(root)), key=len, reverse=True)
