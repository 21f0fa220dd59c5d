"""Container images for the kube lab, built without any registry or docker daemon.

Each image is one docker-archive tar that `ctr -n k8s.io images import FILE` loads under
the exact name pods and kubeadm ask for (`IMAGES`: ref -> `ImageSpec`):

    OUT/registry.k8s.io_pause_3.10.1.tar        the archive (docker save layout v1.2):
        <sha256 of layer.tar>/layer.tar         one uncompressed layer, the whole rootfs
        <sha256 of config>.json                 the image config (Env PATH, Entrypoint,
                                                Cmd, User; amd64/linux; rootfs.diff_ids)
        manifest.json                           [{Config, RepoTags: [ref], Layers}]
    OUT/registry.k8s.io_pause_3.10.1.tar.json   the stamp: digest of the inputs, size
    OUT/.work/                                  the compiled pause, unpacked .debs
    OUT/.lock                                   one build at a time per OUT

What goes into each rootfs is in grader/lab/kubeimages_rootfs.py (the Kubernetes binaries
from BIN, this machine's Debian binaries with their shared libraries, Debian's nginx
unpacked from its .deb, a static pause compiled from grader/native/pause.c).

Tars are deterministic (entries sorted, mtime 0, uid/gid as given, no user names), so
an unchanged image keeps its digest and importing it again changes nothing.  The stamp
holds the sha256 of every input (file contents, modes, links, the config): a build whose
inputs did not change reuses the tar without writing anything.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from grader.lab import kubeimages_addons as addons
from grader.lab import kubeimages_rootfs as rootfs
from grader.errors import KubeImageError
from grader.lab.kubeimages_rootfs import DIR, FILE, LINK, Context, Rootfs

FORMAT = 1                    # bump when the layout of the tars changes: every image rebuilds
KUBE_VERSION = "v1.35.4"
ETCD_TAG = "3.6.5-0"
COREDNS_TAG = "v1.13.1"
PAUSE_TAG = "3.10.1"
LOCAL_PATH_TAG = "v0.0.30"
KUBE_ROUTER_TAG = "v2.1.0"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
EPOCH = "1970-01-01T00:00:00Z"
LOCK_TIMEOUT = 1800           # another build of the same OUT may hold the lock this long
BUILD_TOOLS = ("apt", "ca-certificates", "dpkg", "gcc", "libc6-dev")


@dataclass(frozen=True)
class ImageSpec:
    ref: str
    recipe: Callable[[Context], Rootfs]
    about: str                                  # one line: what is inside
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    user: str = ""
    ports: tuple[str, ...] = ()
    stop_signal: str = ""
    binaries: tuple[str, ...] = ()              # files it needs from BIN
    apt: tuple[str, ...] = ()                   # Debian packages its recipe reads from


def _kube(name: str) -> ImageSpec:
    return ImageSpec(f"registry.k8s.io/{name}:{KUBE_VERSION}", rootfs.kube_binary,
                     f"{name} {KUBE_VERSION} at /usr/local/bin", entrypoint=(f"/usr/local/bin/{name}",),
                     binaries=(name,))


_SPECS = (
    ImageSpec(f"registry.k8s.io/pause:{PAUSE_TAG}", rootfs.pause, "a static pause from grader/native/pause.c",
              entrypoint=("/pause",), user="65535:65535", apt=("gcc", "libc6-dev")),
    _kube("kube-apiserver"),
    _kube("kube-controller-manager"),
    _kube("kube-scheduler"),
    ImageSpec(f"registry.k8s.io/kube-proxy:{KUBE_VERSION}", rootfs.kube_proxy,
              f"kube-proxy {KUBE_VERSION}, Debian iptables (nf_tables; *-legacy too), conntrack, nft",
              entrypoint=("/usr/local/bin/kube-proxy",), binaries=("kube-proxy",),
              apt=("iptables", "conntrack", "nftables")),
    ImageSpec(f"registry.k8s.io/etcd:{ETCD_TAG}", rootfs.etcd, "etcd, etcdctl (and etcdutl) at /usr/local/bin",
              cmd=("/usr/local/bin/etcd",), ports=("2379/tcp", "2380/tcp"), binaries=("etcd",)),
    ImageSpec(f"registry.k8s.io/coredns/coredns:{COREDNS_TAG}", rootfs.coredns, "coredns at /coredns",
              entrypoint=("/coredns",), ports=("53/tcp", "53/udp"), binaries=("coredns",)),
    ImageSpec("docker.io/library/busybox:1.36", rootfs.busybox, "Debian busybox-static, applets in /bin",
              cmd=("sh",), apt=("busybox-static",)),
    ImageSpec("docker.io/library/nginx:1.27", rootfs.nginx, "Debian nginx (unpacked .deb), busybox",
              cmd=("nginx", "-g", "daemon off;"), ports=("80/tcp",), stop_signal="SIGQUIT",
              apt=("busybox-static", "libcrypt1", "libpcre2-8-0", "libssl3", "zlib1g")),
    ImageSpec("docker.io/curlimages/curl:8.8.0", rootfs.curl, "Debian curl and its libraries, busybox",
              entrypoint=("/entrypoint.sh",), cmd=("curl",), user="100:101", apt=("curl", "busybox-static")),
    ImageSpec(f"docker.io/rancher/local-path-provisioner:{LOCAL_PATH_TAG}", addons.local_path_provisioner,
              f"local-path-provisioner {LOCAL_PATH_TAG} at /usr/bin, busybox", cmd=("local-path-provisioner",),
              binaries=("local-path-provisioner",), apt=("busybox-static",)),
    ImageSpec(f"docker.io/cloudnativelabs/kube-router:{KUBE_ROUTER_TAG}", addons.kube_router,
              f"kube-router {KUBE_ROUTER_TAG}, Debian iptables (nf_tables; *-legacy too), ipset, busybox",
              entrypoint=("/usr/local/bin/kube-router",), binaries=("kube-router",),
              apt=("iptables", "conntrack", "nftables", "ipset", "busybox-static")),
)
IMAGES: dict[str, ImageSpec] = {spec.ref: spec for spec in _SPECS}


def apt_packages() -> list[str]:
    """The Debian packages the builders need on this machine (none are started)."""
    return sorted(set(BUILD_TOOLS).union(*(spec.apt for spec in IMAGES.values())))


def file_stem(ref: str) -> str:
    return ref.replace("/", "_").replace(":", "_")


# --- the format (pure but for reading the rootfs' source files) ----------------

def image_config(spec: ImageSpec, diff_id: str) -> bytes:
    config: dict = {"Env": [PATH], "WorkingDir": "/",
                    "Labels": {"org.opencontainers.image.description": f"grader kube lab image: {spec.about}"}}
    for key, value in (("Entrypoint", list(spec.entrypoint)), ("Cmd", list(spec.cmd)), ("User", spec.user),
                       ("StopSignal", spec.stop_signal), ("ExposedPorts", {p: {} for p in spec.ports})):
        if value:
            config[key] = value
    return _json({"architecture": "amd64", "os": "linux", "created": EPOCH, "config": config,
                  "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                  "history": [{"created": EPOCH, "created_by": f"grader.kubeimages: {spec.about}"}]})


def manifest(ref: str, config_name: str, layer_name: str) -> bytes:
    return _json([{"Config": config_name, "RepoTags": [ref], "Layers": [layer_name]}])


def _json(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


_digests: dict[tuple, tuple[str, int]] = {}


def source_digest(path: str) -> tuple[str, int]:
    """sha256 and size of a file, remembered while the file's inode, size and mtime stay."""
    st = os.stat(path)
    memo = (path, st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    if memo not in _digests:
        sha = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                sha.update(chunk)
        _digests[memo] = (sha.hexdigest(), st.st_size)
    return _digests[memo]


def inputs_key(spec: ImageSpec, fs: Rootfs) -> str:
    """One digest of everything the tar is made from."""
    rows = []
    for path in sorted(fs.entries):
        e = fs.entries[path]
        content = ""
        if e.kind == FILE:
            content = source_digest(e.source)[0] if e.source else hashlib.sha256(e.data).hexdigest()
        rows.append([path, e.kind, e.mode, e.uid, e.gid, e.target, content])
    blob = _json({"format": FORMAT, "ref": spec.ref, "config": image_config(spec, "").decode(), "rootfs": rows})
    return hashlib.sha256(blob).hexdigest()


class _HashingWriter:
    def __init__(self, fh: BinaryIO):
        self.fh, self.sha = fh, hashlib.sha256()

    def write(self, data) -> int:
        self.sha.update(data)
        return self.fh.write(data)


class _HashingReader:
    def __init__(self, fh: BinaryIO):
        self.fh, self.sha = fh, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.sha.update(data)
        return data


def _info(name: str, kind: str, mode: int, uid: int = 0, gid: int = 0, size: int = 0, target: str = ""):
    info = tarfile.TarInfo(name)
    info.type = {FILE: tarfile.REGTYPE, DIR: tarfile.DIRTYPE, LINK: tarfile.SYMTYPE}[kind]
    info.mode, info.uid, info.gid, info.size, info.linkname = mode, uid, gid, size, target
    info.mtime, info.uname, info.gname = 0, "", ""
    return info


def write_layer(fs: Rootfs, dest: BinaryIO) -> str:
    """The rootfs as a tar into `dest`; returns its diff_id ("sha256:...")."""
    out = _HashingWriter(dest)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(fs.entries):
            e = fs.entries[path]
            if e.kind != FILE:
                tar.addfile(_info(path, e.kind, e.mode, e.uid, e.gid, target=e.target))
            elif e.source is None:
                tar.addfile(_info(path, FILE, e.mode, e.uid, e.gid, len(e.data)), _BytesReader(e.data))
            else:
                digest, size = source_digest(e.source)
                with open(e.source, "rb") as fh:
                    reader = _HashingReader(fh)
                    tar.addfile(_info(path, FILE, e.mode, e.uid, e.gid, size), reader)
                if reader.sha.hexdigest() != digest:
                    raise rootfs.fail(fs.ref, "layer", f"{e.source} changed while the image was being built")
    return "sha256:" + out.sha.hexdigest()


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.data) if size < 0 else self.pos + size
        chunk, self.pos = self.data[self.pos:end], min(end, len(self.data))
        return chunk


def write_archive(spec: ImageSpec, layer: Path, diff_id: str, dest: BinaryIO) -> str:
    """The docker archive (layer, config, manifest.json) into `dest`; returns the config digest."""
    config = image_config(spec, diff_id)
    config_hex = hashlib.sha256(config).hexdigest()
    layer_name = f"{diff_id.partition(':')[2]}/layer.tar"
    members = {f"{config_hex}.json": config, "manifest.json": manifest(spec.ref, f"{config_hex}.json", layer_name)}
    with tarfile.open(fileobj=dest, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted([*members, layer_name]):
            if name == layer_name:
                with open(layer, "rb") as fh:
                    tar.addfile(_info(name, FILE, 0o644, size=layer.stat().st_size), fh)
            else:
                tar.addfile(_info(name, FILE, 0o644, size=len(members[name])), _BytesReader(members[name]))
    return "sha256:" + config_hex


# --- building -------------------------------------------------------------------

def build_images(bin_dir: Path, out_dir: Path, refs: Iterable[str] | None = None,
                 progress: Callable[[str], None] = print) -> dict[str, Path]:
    """One tar per image in `out_dir` (reused while its inputs stay the same); ref -> tar."""
    wanted = list(IMAGES) if refs is None else list(refs)
    unknown = [ref for ref in wanted if ref not in IMAGES]
    if unknown:
        raise KubeImageError(f"image {unknown[0]}: unknown (grader builds {', '.join(IMAGES)})")
    bin_dir, out_dir = Path(bin_dir), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with _locked(out_dir / ".lock"):
        return {ref: build_one(IMAGES[ref], bin_dir, out_dir, progress) for ref in wanted}


def build_one(spec: ImageSpec, bin_dir: Path, out_dir: Path, progress: Callable[[str], None] = print) -> Path:
    start = time.monotonic()
    missing = [name for name in spec.binaries if not (bin_dir / name).is_file()]
    if missing:
        raise KubeImageError(f"image {spec.ref}: inputs: {', '.join(missing)} not in {bin_dir} "
                             f"(build the Kubernetes binaries first)")
    fs = spec.recipe(Context(spec.ref, bin_dir, out_dir / ".work", progress))
    key = inputs_key(spec, fs)
    tar, stamp = out_dir / f"{file_stem(spec.ref)}.tar", out_dir / f"{file_stem(spec.ref)}.tar.json"
    if _stamp_matches(tar, stamp, key):
        progress(f"{spec.ref}: unchanged, {tar.name} reused ({time.monotonic() - start:.1f}s)")
        return tar
    layer, tmp = out_dir / f".{tar.name}.layer", out_dir / f".{tar.name}.tmp"
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with open(layer, "wb") as fh:
            diff_id = write_layer(fs, fh)
        with open(tmp, "wb") as fh:
            config = write_archive(spec, layer, diff_id, fh)
        os.replace(tmp, tar)
    except OSError as exc:
        raise KubeImageError(f"image {spec.ref}: writing {tar}: {exc.strerror}") from exc
    finally:
        for leftover in (layer, tmp):
            leftover.unlink(missing_ok=True)
    size = tar.stat().st_size
    stamp.write_text(json.dumps({"ref": spec.ref, "inputs": key, "size": size, "diff_id": diff_id,
                                 "config": config}, indent=1) + "\n")
    progress(f"{spec.ref}: built {tar.name} ({size / 1e6:.1f} MB, {time.monotonic() - start:.1f}s)")
    return tar


def _stamp_matches(tar: Path, stamp: Path, key: str) -> bool:
    try:
        data = json.loads(stamp.read_text())
        return data.get("inputs") == key and tar.stat().st_size == data.get("size")
    except (OSError, ValueError, AttributeError):
        return False


class _locked:
    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.fh = open(self.path, "a")
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.fh.close()
                    raise KubeImageError(f"images in {self.path.parent}: another build held {self.path} "
                                         f"for over {LOCK_TIMEOUT}s") from None
                time.sleep(0.5)

    def __exit__(self, *exc):
        self.fh.close()
