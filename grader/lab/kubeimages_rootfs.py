"""Root file systems of the kube lab's container images (turned into tars by grader/lab/kubeimages.py).

A `Rootfs` is an in-memory tree, image path -> `Entry` (a directory, a symlink, or a file
whose bytes are inline or come from a file on this machine); nothing is written here.

Over 400 lines: the tree model and the three ways files come in (below) are one vocabulary;
the text the images hold is already apart (kubeimages_files, kubeimages_addons).
Paths follow the tree's own symlinks, so with the merged /usr layout every image gets
(`bin -> usr/bin`, `lib -> usr/lib`, ...) `bin/sh` lands in `usr/bin/sh`.

Files from the machine come in three ways:

* `add_host(fs, path)`: the same path in the image, with every symlink on the way
  reproduced (Debian's `/lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/...`);
* `add_elf(fs, path, image_path)`: a file plus, when it is dynamically linked, every
  shared library the dynamic loader resolves for it (`ld.so --list`, which lists the
  whole closure); a library the machine lacks is an error naming it;
* `deb_root(ctx, packages)`: Debian packages fetched with `apt-get download` (never
  installed: installing nginx would start a server) and unpacked with `dpkg-deb -x`
  into `OUT/.work/debs/`, reused while the candidate versions stay the same.

One recipe per image (`RECIPES`), each `(Context) -> Rootfs`.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

from grader.errors import KubeImageError
from grader.lab.kubeimages_files import (BUSYBOX_GROUPS, BUSYBOX_USERS, CURL_ENTRYPOINT, DISTROLESS_GROUPS,
                                         DISTROLESS_USERS, NGINX_50X, NGINX_CONF, NGINX_DEFAULT, NGINX_INDEX)

FILE, DIR, LINK = "file", "dir", "symlink"
TRIPLET = "x86_64-linux-gnu"
LOADER = "/lib64/ld-linux-x86-64.so.2"
XTABLES = f"/usr/lib/{TRIPLET}/xtables"
BUSYBOX = "/usr/bin/busybox"          # Debian busybox-static
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
PAUSE_C = Path(__file__).resolve().parent.parent / "native" / "pause.c"   # grader/native
TIMEOUT = 60                          # any quick tool (ld.so, busybox, gcc, dpkg-deb, apt-cache)
DOWNLOAD_TIMEOUT = 600                # apt-get download


@dataclass(frozen=True)
class Entry:
    kind: str                 # FILE, DIR or LINK
    mode: int = 0o755
    source: str | None = None  # FILE: a file on this machine ...
    data: bytes | None = None  # ... or inline bytes
    target: str = ""          # LINK
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True)
class Context:
    ref: str
    bin_dir: Path
    work_dir: Path
    progress: Callable[[str], None]


def fail(ref: str, step: str, message: str) -> KubeImageError:
    return KubeImageError(f"image {ref}: {step}: {message}")


def run(ref: str, step: str, argv: list[str], *, timeout: float = TIMEOUT, cwd=None) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=cwd,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise fail(ref, step, f"{argv[0]} took over {timeout:g}s") from None
    except OSError as exc:
        raise fail(ref, step, f"cannot run {argv[0]}: {exc.strerror}") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise fail(ref, step, f"{' '.join(argv[:3])} exited {proc.returncode}: {last}")
    return proc.stdout


class Rootfs:
    """The tree of one image; keys are relative paths without a leading slash."""

    def __init__(self, ref: str):
        self.ref = ref
        self.entries: dict[str, Entry] = {}

    def resolve(self, path: str, follow_last: bool = False) -> str:
        todo = [p for p in str(path).split("/") if p not in ("", ".")]
        done: list[str] = []
        hops = 0
        while todo:
            part = todo.pop(0)
            if part == "..":
                done = done[:-1]
                continue
            done.append(part)
            entry = self.entries.get("/".join(done))
            if entry is not None and entry.kind == LINK and (todo or follow_last):
                hops += 1
                if hops > 40:
                    raise fail(self.ref, "rootfs", f"symlink loop at /{path}")
                done.pop()
                if entry.target.startswith("/"):
                    done = []
                todo = [p for p in entry.target.split("/") if p not in ("", ".")] + todo
        return "/".join(done)

    def exists(self, path: str) -> bool:
        return self.resolve(path, follow_last=True) in self.entries

    def mkdir(self, path: str, mode: int | None = None, uid: int = 0, gid: int = 0) -> None:
        key = self.resolve(path, follow_last=True)
        if not key:
            return
        old = self.entries.get(key)
        if old is not None and old.kind != DIR:
            raise fail(self.ref, "rootfs", f"/{key} is a {old.kind}, not a directory")
        if old is None or mode is not None:
            self._parent(key)
            self.entries[key] = Entry(DIR, 0o755 if mode is None else mode, uid=uid, gid=gid)

    def write(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        self._put(path, Entry(FILE, mode, data=data.encode() if isinstance(data, str) else data))

    def copy(self, path: str, source, mode: int | None = None) -> None:
        source = os.path.realpath(source)
        try:
            st = os.stat(source)
        except OSError as exc:
            raise fail(self.ref, "rootfs", f"cannot read {source}: {exc.strerror}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise fail(self.ref, "rootfs", f"{source} is not a regular file")
        if mode is None:
            mode = 0o755 if st.st_mode & 0o111 else 0o644
        self._put(path, Entry(FILE, mode, source=source))

    def symlink(self, path: str, target: str) -> None:
        self._put(path, Entry(LINK, 0o777, target=target))

    def _parent(self, key: str) -> None:
        parent = key.rpartition("/")[0]
        if parent:
            self.mkdir(parent)

    def _put(self, path: str, entry: Entry) -> None:
        key = self.resolve(path)
        if not key:
            raise fail(self.ref, "rootfs", "cannot replace /")
        old = self.entries.get(key)
        if old is not None and old != entry:
            raise fail(self.ref, "rootfs", f"/{key} is given twice, differently")
        self._parent(key)
        self.entries[key] = entry


# --- files from this machine --------------------------------------------------

def add_host(fs: Rootfs, path: str) -> None:
    """`path` at the same place in the image, with the symlinks on the way."""
    path = os.path.normpath(path)
    for _ in range(40):
        parts = path.strip("/").split("/")
        current = ""
        for i, part in enumerate(parts):
            current += "/" + part
            if os.path.islink(current):
                target = os.readlink(current)
                fs.symlink(current, target)
                path = os.path.normpath(os.path.join(os.path.dirname(current), target, *parts[i + 1:]))
                break
        else:
            if os.path.isdir(current):
                fs.mkdir(current)
            else:
                fs.copy(current, current)
            return
    raise fail(fs.ref, "rootfs", f"symlink loop at {path}")


def elf_kind(path: str) -> tuple[str | None, bool] | None:
    """(PT_INTERP path or None, has PT_DYNAMIC) of a 64-bit little-endian ELF; None if not one."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            return None
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", head, 0x36)
        fh.seek(phoff)
        table = fh.read(phentsize * phnum)
        interp, dynamic = None, False
        for i in range(phnum):
            p_type, _flags, p_offset = struct.unpack_from("<IIQ", table, i * phentsize)
            p_filesz, = struct.unpack_from("<Q", table, i * phentsize + 32)
            if p_type == 2:
                dynamic = True
            elif p_type == 3:
                fh.seek(p_offset)
                interp = fh.read(p_filesz).rstrip(b"\0").decode()
        return interp, dynamic


_LIB = re.compile(r"^\s*(?:(\S+)\s+=>\s+)?(\S+)\s+\(0x[0-9a-f]+\)\s*$")


@lru_cache(maxsize=None)
def shared_libs(ref: str, path: str) -> tuple[str, ...]:
    """Every shared library (and the loader) that `path` needs, as this machine resolves them."""
    kind = elf_kind(path)
    if kind is None or not kind[1]:
        return ()
    out = run(ref, f"libraries of {path}", [kind[0] or LOADER, "--list", path])
    libs = []
    for line in out.splitlines():
        if "=> not found" in line:
            raise fail(ref, f"libraries of {path}", f"{line.split()[0]} is not on this machine")
        match = _LIB.match(line)
        if match and match.group(2).startswith("/"):
            libs.append(match.group(2))
    return tuple(libs)


def add_elf(fs: Rootfs, source, image_path: str | None = None) -> None:
    source = str(source)
    if image_path is None:
        add_host(fs, source)
    else:
        fs.copy(image_path, source, 0o755)
    for lib in shared_libs(fs.ref, os.path.realpath(source)):
        add_host(fs, lib)


def deb_root(ctx: Context, packages: list[str]) -> Path:
    """The unpacked contents of Debian `packages` (candidate versions), downloaded once."""
    shown = run(ctx.ref, "apt-cache show", ["apt-cache", "show", "--no-all-versions", *packages])
    stanzas = {}
    for stanza in shown.split("\n\n"):
        fields = dict(re.findall(r"^(Package|Version|SHA256): (\S+)$", stanza, re.M))
        stanzas.setdefault(fields.get("Package"), fields)
    wanted = []
    for pkg in packages:
        fields = stanzas.get(pkg, {})
        if "Version" not in fields or "SHA256" not in fields:
            raise fail(ctx.ref, f"apt-cache show {pkg}", "no candidate version (run apt-get update)")
        wanted.append((pkg, fields["Version"], fields["SHA256"]))
    key = hashlib.sha256(repr(wanted).encode()).hexdigest()[:16]
    dest = ctx.work_dir / "debs" / key
    if (dest / ".complete").is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    ctx.progress(f"{ctx.ref}: downloading {', '.join(f'{p}={v}' for p, v, _ in wanted)}")
    with tempfile.TemporaryDirectory(dir=dest.parent) as tmp:
        run(ctx.ref, "apt-get download", ["apt-get", "download", "-q", *(f"{p}={v}" for p, v, _ in wanted)],
            timeout=DOWNLOAD_TIMEOUT, cwd=tmp)
        root = Path(tmp) / "root"
        for pkg, version, sha in wanted:
            debs = sorted(Path(tmp).glob(f"{pkg}_*.deb"))
            if len(debs) != 1 or hashlib.sha256(debs[0].read_bytes()).hexdigest() != sha:
                raise fail(ctx.ref, f"apt-get download {pkg}", f"no .deb of {version} with SHA256 {sha[:12]}...")
            run(ctx.ref, f"dpkg-deb -x {pkg}", ["dpkg-deb", "-x", str(debs[0]), str(root)])
        (root / ".complete").write_text("\n".join(f"{p} {v} {s}" for p, v, s in wanted) + "\n")
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(root, dest)
    return dest


# --- the pieces images share -------------------------------------------------

def base(ctx: Context, users: str = DISTROLESS_USERS, groups: str = DISTROLESS_GROUPS) -> Rootfs:
    """Merged /usr, the usual folders, users, `hosts: files dns`, the machine's CA bundle."""
    fs = Rootfs(ctx.ref)
    for link in ("bin", "sbin", "lib", "lib64"):
        fs.symlink(link, f"usr/{link}")
    for folder in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/local/bin", "etc", "home", "run",
                   "var", "dev", "proc", "sys"):
        fs.mkdir(folder)
    fs.mkdir("root", 0o700)
    fs.mkdir("tmp", 0o1777)
    fs.mkdir("var/tmp", 0o1777)
    fs.write("etc/passwd", users)
    fs.write("etc/group", groups)
    fs.write("etc/nsswitch.conf", "passwd: files\ngroup: files\nhosts: files dns\n")
    if not os.path.isfile(CA_BUNDLE):
        raise fail(ctx.ref, "CA certificates", f"{CA_BUNDLE} is missing (apt-get install ca-certificates)")
    fs.copy(CA_BUNDLE.lstrip("/"), CA_BUNDLE, 0o644)
    return fs


def add_busybox(fs: Rootfs) -> None:
    """busybox with a link per applet in /bin, where the image has no such file yet."""
    if not os.path.isfile(BUSYBOX):
        raise fail(fs.ref, "busybox", f"{BUSYBOX} is missing (apt-get install busybox-static)")
    add_elf(fs, BUSYBOX, "usr/bin/busybox")
    for applet in run(fs.ref, "busybox --list", [BUSYBOX, "--list"]).split():
        if applet != "busybox" and "/" not in applet and not fs.exists(f"bin/{applet}"):
            fs.symlink(f"bin/{applet}", "busybox")


def add_iptables(fs: Rootfs) -> None:
    """iptables/ip6tables (nf_tables backend by default, *-legacy too), their modules, conntrack, nft."""
    for tool in ("/usr/sbin/xtables-nft-multi", "/usr/sbin/xtables-legacy-multi", "/usr/sbin/conntrack",
                 "/usr/sbin/nft"):
        if not os.path.isfile(tool):
            raise fail(fs.ref, "iptables", f"{tool} is missing (apt-get install iptables conntrack nftables)")
        add_elf(fs, tool)
    for family in ("iptables", "ip6tables"):
        for suffix in ("", "-save", "-restore"):
            fs.symlink(f"usr/sbin/{family}{suffix}", "xtables-nft-multi")
            fs.symlink(f"usr/sbin/{family}-nft{suffix}", "xtables-nft-multi")
            fs.symlink(f"usr/sbin/{family}-legacy{suffix}", "xtables-legacy-multi")
    for module in sorted(os.listdir(XTABLES)):
        add_elf(fs, os.path.join(XTABLES, module))


def compile_pause(ctx: Context, version: str) -> Path:
    """The static pause binary, compiled once per source, flags and gcc version."""
    flags = ["-static", "-Os", "-s", "-Wall", f'-DPAUSE_VERSION="{version}"']
    gcc = run(ctx.ref, "gcc -dumpfullversion", ["gcc", "-dumpfullversion"]).strip()
    key = hashlib.sha256(PAUSE_C.read_bytes() + repr((flags, gcc)).encode()).hexdigest()[:16]
    out = ctx.work_dir / f"pause-{key}"
    if not out.is_file():
        ctx.work_dir.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        run(ctx.ref, "gcc -static pause.c", ["gcc", *flags, "-o", str(tmp), str(PAUSE_C)])
        os.replace(tmp, out)
    return out


# --- one recipe per image -----------------------------------------------------

def pause(ctx: Context) -> Rootfs:
    fs = Rootfs(ctx.ref)
    fs.copy("pause", compile_pause(ctx, ctx.ref.rpartition(":")[2]), 0o755)
    return fs


def kube_binary(ctx: Context) -> Rootfs:
    """kube-apiserver, kube-controller-manager, kube-scheduler: the binary named by the ref."""
    name = ctx.ref.rpartition("/")[2].partition(":")[0]
    fs = base(ctx)
    add_elf(fs, ctx.bin_dir / name, f"usr/local/bin/{name}")
    return fs


def kube_proxy(ctx: Context) -> Rootfs:
    fs = base(ctx)
    add_elf(fs, ctx.bin_dir / "kube-proxy", "usr/local/bin/kube-proxy")
    add_iptables(fs)
    fs.mkdir("lib/modules")   # the DaemonSet mounts the host's /lib/modules here
    return fs


def etcd(ctx: Context) -> Rootfs:
    fs = base(ctx)
    for name in ("etcd", "etcdctl", "etcdutl"):
        if name == "etcd" or (ctx.bin_dir / name).is_file():
            add_elf(fs, ctx.bin_dir / name, f"usr/local/bin/{name}")
    fs.mkdir("var/lib/etcd", 0o700)
    return fs


def coredns(ctx: Context) -> Rootfs:
    fs = base(ctx)
    add_elf(fs, ctx.bin_dir / "coredns", "coredns")
    return fs


def busybox(ctx: Context) -> Rootfs:
    fs = base(ctx, BUSYBOX_USERS, BUSYBOX_GROUPS)
    fs.mkdir("var/spool/mail")
    fs.mkdir("var/www")
    add_busybox(fs)
    return fs


def curl(ctx: Context) -> Rootfs:
    fs = base(ctx, DISTROLESS_USERS + "curl_user:x:100:101::/home/curl_user:/sbin/nologin\n",
              DISTROLESS_GROUPS + "curl_group:x:101:\n")
    fs.mkdir("home/curl_user", 0o755, uid=100, gid=101)
    add_elf(fs, "/usr/bin/curl")
    fs.write("entrypoint.sh", CURL_ENTRYPOINT, 0o755)
    add_busybox(fs)
    return fs


def nginx(ctx: Context) -> Rootfs:
    fs = base(ctx, DISTROLESS_USERS + "nginx:x:101:101:nginx user:/nonexistent:/bin/false\n",
              DISTROLESS_GROUPS + "nginx:x:101:\n")
    deb = deb_root(ctx, ["nginx", "nginx-common"])
    add_elf(fs, deb / "usr/sbin/nginx", "usr/sbin/nginx")
    for name in ("mime.types", "fastcgi_params", "scgi_params", "uwsgi_params"):
        fs.copy(f"etc/nginx/{name}", deb / "etc/nginx" / name, 0o644)
    fs.write("etc/nginx/nginx.conf", NGINX_CONF)
    fs.write("etc/nginx/conf.d/default.conf", NGINX_DEFAULT)
    fs.write("usr/share/nginx/html/index.html", NGINX_INDEX)
    fs.write("usr/share/nginx/html/50x.html", NGINX_50X)
    fs.mkdir("var/lib/nginx")          # the compiled-in temp paths (body, proxy, ...) go here
    fs.mkdir("var/cache/nginx")
    fs.symlink("var/log/nginx/access.log", "/dev/stdout")
    fs.symlink("var/log/nginx/error.log", "/dev/stderr")
    fs.mkdir("run/lock", 0o1777)
    fs.symlink("var/lock", "../run/lock")
    add_busybox(fs)
    return fs
