"""Kubernetes binaries for the kube lab: built once per machine from Go modules pinned in
the repo (lab/kube/), or taken from a folder of release binaries.

Layout of the cache (outside the checkout, kept between runs; GRADER_KUBE_CACHE moves it):

    ~/.cache/grader/kube/v1.35.4/bin/   kube-apiserver kube-controller-manager kube-scheduler
                                        kubelet kube-proxy kubeadm etcd etcdctl etcdutl coredns crictl
                                        local-path-provisioner kube-router (the lab's add-ons)
    ~/.cache/grader/kube/v1.35.4/stamps/NAME   what NAME was built from (go.mod/go.sum digest,
                                               flags, Go version); a changed input rebuilds it
    ~/.cache/grader/kube/v1.35.4/logs/NAME.log the `go build` output of the last build

`--kube-bin DIR` (or GRADER_KUBE_BIN) uses DIR's binaries instead (official release
binaries, for users with internet); nothing is built then.
"""
from __future__ import annotations

import functools
import hashlib
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from grader.errors import KubeBuildError

VERSION = "v1.35.4"            # see docs/lab.md: why this Kubernetes version
BUILD_DATE = "2026-04-15T18:01:22Z"  # the release's commit time (the module's .info): reproducible
ETCD_IMAGE_TAG = "3.6.5-0"     # go.etcd.io/etcd/server/v3 as Kubernetes v1.35.4 pins it
COREDNS_TAG = "v1.13.1"        # kubeadm v1.35's constants.CoreDNSVersion
PAUSE_TAG = "3.10.1"           # kubeadm v1.35's constants.PauseVersion
LOCAL_PATH_TAG = "v0.0.30"     # github.com/rancher/local-path-provisioner in lab/kube/local-path-provisioner
KUBE_ROUTER_TAG = "v2.1.0"     # github.com/cloudnativelabs/kube-router/v2 in lab/kube/kube-router
ENV_BIN = "GRADER_KUBE_BIN"
ENV_CACHE = "GRADER_KUBE_CACHE"
BUILD_TIMEOUT = 3600           # one binary, cold, on 2 cores: well under this


@dataclass(frozen=True)
class Binary:
    name: str
    module: str      # folder under lab/kube holding its go.mod
    package: str     # the main package
    stamps: str = "" # more -X ldflags: the binary's own version variables


BINARIES = (
    Binary("kube-apiserver", ".", "k8s.io/kubernetes/cmd/kube-apiserver"),
    Binary("kube-controller-manager", ".", "k8s.io/kubernetes/cmd/kube-controller-manager"),
    Binary("kube-scheduler", ".", "k8s.io/kubernetes/cmd/kube-scheduler"),
    Binary("kubelet", ".", "k8s.io/kubernetes/cmd/kubelet"),
    Binary("kube-proxy", ".", "k8s.io/kubernetes/cmd/kube-proxy"),
    Binary("kubeadm", ".", "k8s.io/kubernetes/cmd/kubeadm"),
    Binary("etcd", ".", "go.etcd.io/etcd/server/v3"),
    Binary("etcdctl", "etcdctl", "go.etcd.io/etcd/etcdctl/v3"),
    Binary("etcdutl", "etcdutl", "go.etcd.io/etcd/etcdutl/v3"),   # snapshot restore/status (gone from etcdctl v3.6)
    Binary("coredns", "coredns", "github.com/coredns/coredns"),
    Binary("crictl", "crictl", "sigs.k8s.io/cri-tools/cmd/crictl"),
    # the add-ons `lab up --kube` deploys (grader/lab/kubeaddons.py): dynamic volumes, NetworkPolicy
    Binary("local-path-provisioner", "local-path-provisioner", "github.com/rancher/local-path-provisioner",
           f"-X main.VERSION={LOCAL_PATH_TAG}"),
    Binary("kube-router", "kube-router", "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router",
           f"-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version={KUBE_ROUTER_TAG}"),
)
NAMES = tuple(b.name for b in BINARIES)
ADDONS = ("local-path-provisioner", "kube-router")   # run only in pods: not linked into the hosts


def source_dir() -> Path:
    """lab/kube: inside the wheel (grader/_data/kube) or the checkout's lab/kube."""
    here = Path(__file__).resolve().parent.parent     # grader/, above this sub-package
    for candidate in (here / "_data" / "kube", here.parent / "lab" / "kube"):
        if (candidate / "go.mod").is_file():
            return candidate
    raise KubeBuildError(f"the Go modules that pin Kubernetes are missing (looked in {here / '_data' / 'kube'} "
                         f"and {here.parent / 'lab' / 'kube'})")


def cache_dir(version: str = VERSION) -> Path:
    base = os.environ.get(ENV_CACHE)
    if base:
        return Path(base) / version
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "grader" / "kube" / version


def ldflags(version: str = VERSION) -> str:
    """The version stamps upstream's build sets (kubeadm reads them), stripped like a release."""
    major, minor = version.lstrip("v").split(".")[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.{k}={v}" for k, v in (("gitVersion", version), ("gitMajor", major),
                                                    ("gitMinor", minor), ("gitTreeState", "clean"),
                                                    ("buildDate", BUILD_DATE))]
    return " ".join(flags)


def find_go() -> str | None:
    return shutil.which("go") or next((p for p in ("/usr/local/go/bin/go", "/usr/lib/go/bin/go")
                                       if os.access(p, os.X_OK)), None)


def _digest(module_dir: Path, go: str, extra: str) -> str:
    h = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        h.update((module_dir / name).read_bytes())
    h.update(extra.encode())
    h.update(go_version(go).encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=None)
def go_version(go: str) -> str:
    """`go env GOVERSION`, asked once per go binary (every binary's digest includes it)."""
    try:
        return subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KubeBuildError(f"cannot run {go}: {exc}") from exc


def user_bin_dir() -> Path | None:
    value = os.environ.get(ENV_BIN, "").strip()
    return Path(value) if value else None


def check_bin_dir(path: Path, names=NAMES) -> Path:
    """A folder of ready binaries (--kube-bin): every one must be there and executable."""
    missing = [n for n in names if not os.access(path / n, os.X_OK)]
    if missing:
        raise KubeBuildError(f"{path}: missing Kubernetes binaries: {', '.join(missing)} "
                             f"(--kube-bin/{ENV_BIN} needs all of {', '.join(names)})")
    return path


def stale(version: str = VERSION) -> list[str]:
    """Names of the binaries that a build would (re)make; [] when the cache is complete."""
    out = cache_dir(version)
    go = find_go()
    if go is None:
        return [n for n in NAMES if not (out / "bin" / n).is_file()]
    return [b.name for b in _todo(out, go, version)]


def _todo(out: Path, go: str, version: str) -> list[Binary]:
    """The binaries whose cached copy is missing or was built from other inputs."""
    src = source_dir()
    return [b for b in BINARIES if not _fresh(out, b, _digest(src / b.module, go, _extra(b, version)))]


def _extra(b: Binary, version: str) -> str:
    return f"{b.package}|{_ldflags(b, version)}|trimpath|selinux,notest|cgo0"


def _ldflags(b: Binary, version: str) -> str:
    return f"{ldflags(version)} {b.stamps}".strip()


def _fresh(out: Path, b: Binary, digest: str) -> bool:
    stamp = out / "stamps" / b.name
    return (out / "bin" / b.name).is_file() and stamp.is_file() and stamp.read_text().strip() == digest


def ensure_binaries(kube_bin: Path | None = None, *, version: str = VERSION,
                    progress: Callable[[str], None] = print) -> Path:
    """The folder of the thirteen binaries: `kube_bin` (or $GRADER_KUBE_BIN) as given, else the
    cache, building whatever is missing or stale (once per machine; progress is reported)."""
    kube_bin = kube_bin or user_bin_dir()
    if kube_bin is not None:
        return check_bin_dir(kube_bin)
    out = cache_dir(version)
    go = find_go()
    if go is None:
        if not stale(version):
            return out / "bin"
        raise KubeBuildError("Kubernetes binaries are not built and Go is not installed: install Go 1.25 or "
                             f"newer (it builds them from lab/kube, about 25 min once), or point --kube-bin "
                             f"(or {ENV_BIN}) at a folder with {', '.join(NAMES)}")
    src = source_dir()
    todo = _todo(out, go, version)
    if not todo:
        return out / "bin"
    for sub in ("bin", "stamps", "logs"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    for i, b in enumerate(todo, 1):
        progress(f"kube build [{i}/{len(todo)}] {b.name} ({b.package}), {_since(start)} so far")
        _build_one(go, src, out, b, version, start, progress)
    progress(f"kube build: {len(todo)} binaries in {_since(start)} -> {out / 'bin'}")
    return out / "bin"


def _build_one(go: str, src: Path, out: Path, b: Binary, version: str, start: float, progress) -> None:
    log = out / "logs" / f"{b.name}.log"
    target = out / "bin" / b.name
    tmp = target.with_name(f".{b.name}.tmp")
    argv = [go, "build", "-trimpath", "-tags", "selinux,notest", "-ldflags", _ldflags(b, version),
            "-o", str(tmp), b.package]
    env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local")
    done = threading.Event()

    def tick():
        while not done.wait(60):
            progress(f"  ... still building {b.name}: {_since(start)} so far")

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        with open(log, "wb") as fh:
            fh.write(("$ " + " ".join(argv) + "\n").encode())
            fh.flush()
            proc = subprocess.run(argv, cwd=src / b.module, env=env, stdout=fh, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, timeout=BUILD_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise KubeBuildError(f"building {b.name} took over {BUILD_TIMEOUT}s; log: {log}") from None
    except OSError as exc:
        raise KubeBuildError(f"building {b.name}: cannot run {go}: {exc.strerror}; log: {log}") from exc
    finally:
        done.set()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise KubeBuildError(f"building {b.name} failed (go build exit {proc.returncode}): {tail[0]}; log: {log}")
    tmp.replace(target)
    (out / "stamps" / b.name).write_text(_digest(src / b.module, go, _extra(b, version)) + "\n")


def _since(start: float) -> str:
    s = int(time.monotonic() - start)
    return f"{s // 60}m{s % 60:02d}s"


def link_file(src: Path, dst: Path) -> None:
    """Hard-link (same file system, instant) or copy a file into place, replacing dst."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    tmp.replace(dst)
