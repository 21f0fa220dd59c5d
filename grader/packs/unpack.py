"""Pack archives: their format, and reading them (`grader pack verify` and every command
that takes a `.tar.gz` check them); `grader.packs.archive` builds them.

An archive `NAME-VERSION.tar.gz` holds one folder, `NAME/`: the pack's files plus
`NAME/MANIFEST.json`:

    {"format": "grader-pack/1", "name": NAME, "version": VERSION,
     "files": {"pack.yaml": "<sha256>", "task-a/task.yaml": "<sha256>", ...},
     "digest": "<sha256 over the sorted lines 'path\\0sha256\\n'>"}

Builds are reproducible: members sorted, mtime 0, uid/gid 0, no user names, modes
0644/0755, gzip without a name or time stamp; the same pack gives the same bytes.

Reading an archive never trusts it.  Every member is checked before a byte is
written: a regular file (or folder) under `NAME/`, no absolute path, no `..`, no
symlink, hard link, device or FIFO, no duplicate names, every file listed in the
manifest with the same sha256, every manifest entry present, and the digest
recomputed.  Files are written by this module itself (never `extractall`), each
opened with O_EXCL|O_NOFOLLOW under a fresh temporary folder that is renamed into
the cache, `$GRADER_HOME/packs/<digest>/NAME` (GRADER_HOME defaults to
~/.grader), only once everything checked out.

The digest names the exact content of a pack.  It is not a signature: anyone who
can change an archive can write a matching manifest.  Publish the digest next to
the archive and pin it (`grader pack verify ARCHIVE --digest SHA`) when the
archive travels over channels you do not trust.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ArchiveError, PackError
from grader.home import HOME_ENV, grader_home

FORMAT = "grader-pack/1"
MANIFEST = "MANIFEST.json"
SUFFIXES = (".tar.gz", ".tgz")
# limits against archive bombs (a pack is text: a few hundred kB)
MAX_MEMBERS = 5000
MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 128 * 1024 * 1024
CHUNK = 65536
# never packed: editor and tool litter
SKIP_NAMES = {"__pycache__", ".git", ".hg", ".svn", ".DS_Store", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
SKIP_SUFFIXES = (".pyc", ".pyo", ".swp", "~")
COMPLETE = ".complete"


@dataclass(frozen=True)
class Manifest:
    name: str
    version: str
    files: dict          # relative path (inside NAME/) -> sha256 hex
    digest: str

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "name": self.name, "version": self.version,
                           "files": dict(sorted(self.files.items())), "digest": self.digest},
                          indent=2) + "\n"


def cache_root() -> Path:
    return grader_home() / "packs"


def pack_digest(files: dict) -> str:
    """sha256 over the sorted lines 'path\\0sha256\\n' of every file."""
    h = hashlib.sha256()
    for path in sorted(files):
        h.update(f"{path}\0{files[path]}\n".encode())
    return h.hexdigest()


def is_archive(ref) -> bool:
    return str(ref).endswith(SUFFIXES)


# --- building -------------------------------------------------------------------

def pack_files(root: Path) -> list[str]:
    """The files of a pack folder that go into its archive, as sorted relative POSIX paths."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        here = Path(dirpath)
        for d in list(dirnames):
            if d in SKIP_NAMES:
                dirnames.remove(d)
            elif (here / d).is_symlink():
                raise PackError("a pack holds no symlinks (archives refuse them); copy the file instead",
                                file=str(here / d))
        for f in filenames:
            path = here / f
            rel = path.relative_to(root).as_posix()
            if f in SKIP_NAMES or f.endswith(SKIP_SUFFIXES) or rel == MANIFEST:
                continue
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                raise PackError("a pack holds no symlinks (archives refuse them); copy the file instead",
                                file=str(path))
            if not stat.S_ISREG(mode):
                raise PackError("not a regular file; a pack holds only files and folders", file=str(path))
            out.append(rel)
    return sorted(out)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest_for(root: Path) -> Manifest:
    import yaml

    try:
        data = yaml.safe_load((root / "pack.yaml").read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise PackError(f"cannot read: {exc}", file=str(root / "pack.yaml")) from None
    if not isinstance(data, dict) or not data.get("name") or not data.get("version"):
        raise PackError("pack.yaml needs a name and a version to be archived", file=str(root / "pack.yaml"))
    files = {rel: sha256_file(root / rel) for rel in pack_files(root)}
    return Manifest(name=str(data["name"]), version=str(data["version"]), files=files, digest=pack_digest(files))


# --- reading --------------------------------------------------------------------

def verify(archive: str | Path, *, digest: str | None = None) -> Manifest:
    """Check an archive completely without writing anything; returns its manifest."""
    return _read(Path(archive), dest=None, expect_digest=digest)


def open_archive(archive: str | Path, *, digest: str | None = None) -> Path:
    """Verify an archive and return the folder of its pack, extracted into the cache.

    The cache folder is `$GRADER_HOME/packs/<digest>/NAME`; an existing one is reused
    only if its files still match the manifest (else it is extracted again).
    """
    archive = Path(archive)
    manifest = verify(archive, digest=digest)
    root = cache_root()
    slot = root / manifest.digest
    pack_dir = slot / manifest.name
    if (slot / COMPLETE).is_file() and _tree_matches(pack_dir, manifest):
        return pack_dir
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=root))
    except OSError as exc:
        raise ArchiveError(f"{archive}: cannot create the pack cache under {root}: {exc.strerror or exc} "
                           f"(set {HOME_ENV} to a writable folder)") from None
    try:
        again = _read(archive, dest=tmp, expect_digest=manifest.digest)  # the file may have changed since
        (tmp / COMPLETE).write_text(f"{archive.name}\n")
        if slot.exists():
            shutil.rmtree(slot, ignore_errors=True)
        try:
            os.rename(tmp, slot)
        except OSError:  # another process put it there first
            if not ((slot / COMPLETE).is_file() and _tree_matches(slot / again.name, again)):
                raise ArchiveError(f"{archive}: cannot move the extracted pack into {slot}") from None
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return pack_dir


def _tree_matches(pack_dir: Path, manifest: Manifest) -> bool:
    try:
        found = {rel for rel in pack_files(pack_dir)}
        if found != set(manifest.files):
            return False
        return all(sha256_file(pack_dir / rel) == sha for rel, sha in manifest.files.items())
    except (OSError, PackError):
        return False


def _member_path(archive: Path, name: str) -> tuple[str, ...]:
    """The member's path components; refuses anything that could land outside the folder."""
    def refuse(why):
        raise ArchiveError(f"{archive}: member '{name}' {why}; refusing the archive")
    if not name or "\0" in name:
        refuse("has an empty or invalid name")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":") or name.startswith("\\"):
        refuse("has an absolute path")
    if "\\" in name:
        refuse("contains a backslash")
    parts = tuple(p for p in name.split("/") if p not in ("", "."))
    if any(p == ".." for p in parts):
        refuse("has a '..' path component (it would land outside the pack folder)")
    if not parts:
        refuse("names no file")
    return parts


def _read(archive: Path, *, dest: Path | None, expect_digest: str | None) -> Manifest:
    if not archive.is_file():
        raise ArchiveError(f"{archive}: no such archive")
    try:
        tar = tarfile.open(archive, mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ArchiveError(f"{archive}: not a pack archive (a .tar.gz from `grader pack build`): {exc}") from None
    with tar:
        try:
            return _read_members(archive, tar, dest, expect_digest)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise ArchiveError(f"{archive}: corrupt archive: {exc}") from None


def _read_members(archive: Path, tar: tarfile.TarFile, dest: Path | None, expect_digest: str | None) -> Manifest:
    top = None
    seen: set[str] = set()
    hashes: dict[str, str] = {}   # relative path -> sha256 of what the archive holds
    manifest_bytes = None
    total = 0
    count = 0
    for member in tar:
        count += 1
        if count > MAX_MEMBERS:
            raise ArchiveError(f"{archive}: more than {MAX_MEMBERS} members; not a pack archive")
        parts = _member_path(archive, member.name)
        if top is None:
            top = parts[0]
        elif parts[0] != top:
            raise ArchiveError(f"{archive}: member '{member.name}' is outside the pack folder '{top}/'; "
                               "refusing the archive")
        if member.issym() or member.islnk():
            raise ArchiveError(f"{archive}: member '{member.name}' is a {'symlink' if member.issym() else 'hard link'}"
                               f" (to '{member.linkname}'); pack archives hold only files; refusing the archive")
        if member.isdir():
            continue
        if not member.isreg():
            raise ArchiveError(f"{archive}: member '{member.name}' is a device, FIFO or other special file; "
                               "pack archives hold only files; refusing the archive")
        rel = "/".join(parts[1:])
        if not rel:
            raise ArchiveError(f"{archive}: member '{member.name}' is a file where the pack folder should be")
        if rel in seen:
            raise ArchiveError(f"{archive}: member '{member.name}' appears twice; refusing the archive")
        seen.add(rel)
        if member.size > MAX_FILE_BYTES:
            raise ArchiveError(f"{archive}: member '{member.name}' is {member.size} bytes, over the "
                               f"{MAX_FILE_BYTES}-byte limit for a pack file")
        total += member.size
        if total > MAX_TOTAL_BYTES:
            raise ArchiveError(f"{archive}: more than {MAX_TOTAL_BYTES} bytes of content; not a pack archive")
        src = tar.extractfile(member)
        if rel == MANIFEST:
            manifest_bytes = src.read(MAX_FILE_BYTES + 1)
            continue
        h = hashlib.sha256()
        out = _create(archive, dest, parts, member) if dest is not None else None
        try:
            for chunk in iter(lambda: src.read(CHUNK), b""):
                h.update(chunk)
                if out is not None:
                    out.write(chunk)
        finally:
            if out is not None:
                out.close()
        hashes[rel] = h.hexdigest()
    if top is None:
        raise ArchiveError(f"{archive}: the archive is empty")
    if manifest_bytes is None:
        raise ArchiveError(f"{archive}: no {top}/{MANIFEST}; not an archive from `grader pack build`")
    manifest = _parse_manifest(archive, top, manifest_bytes)
    for rel in sorted(hashes):
        if rel not in manifest.files:
            raise ArchiveError(f"{archive}: member '{top}/{rel}' is not listed in the manifest "
                               "(added after the build); refusing the archive")
        if hashes[rel] != manifest.files[rel]:
            raise ArchiveError(f"{archive}: member '{top}/{rel}' does not match its manifest sha256 "
                               "(changed after the build); refusing the archive")
    missing = sorted(set(manifest.files) - set(hashes))
    if missing:
        raise ArchiveError(f"{archive}: member '{top}/{missing[0]}' is in the manifest but not in the archive"
                           + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "") + "; refusing the archive")
    if expect_digest and expect_digest.strip().lower() != manifest.digest:
        raise ArchiveError(f"{archive}: pack digest {manifest.digest} is not the expected {expect_digest.strip()}")
    if dest is not None:
        (dest / top / MANIFEST).write_bytes(manifest_bytes)
    return manifest


def _parse_manifest(archive: Path, top: str, data: bytes) -> Manifest:
    where = f"{archive}: member '{top}/{MANIFEST}'"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ArchiveError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else None
        raise ArchiveError(f"{where}: format {got!r} is not {FORMAT!r}")
    files = doc.get("files")
    if not isinstance(files, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in files.items()):
        raise ArchiveError(f"{where}: 'files' must map paths to sha256 strings")
    for rel in files:
        _member_path(archive, f"{top}/{rel}")
    if doc.get("name") != top:
        raise ArchiveError(f"{where}: name {doc.get('name')!r} differs from the pack folder '{top}'")
    if not isinstance(doc.get("version"), str) or not doc["version"]:
        raise ArchiveError(f"{where}: no version")
    digest = pack_digest(files)
    if doc.get("digest") != digest:
        raise ArchiveError(f"{where}: digest {doc.get('digest')!r} does not match its files ({digest}); "
                           "the manifest was changed; refusing the archive")
    return Manifest(name=top, version=doc["version"], files=dict(files), digest=digest)


def _create(archive: Path, dest: Path, parts: tuple[str, ...], member: tarfile.TarInfo):
    """Open dest/parts for writing: a new regular file, never through a symlink, never outside dest."""
    path = dest.joinpath(*parts)
    base = dest.resolve()
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if os.path.commonpath([str(parent.resolve()), str(base)]) != str(base):
        raise ArchiveError(f"{archive}: member '{member.name}' would be written outside {dest}")
    mode = 0o755 if member.mode & 0o111 else 0o644
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode)
    except FileExistsError:
        raise ArchiveError(f"{archive}: member '{member.name}' collides with another member") from None
    os.fchmod(fd, mode)
    return os.fdopen(fd, "wb")


def describe(manifest: Manifest) -> dict:
    return {"name": manifest.name, "version": manifest.version, "files": len(manifest.files),
            "digest": manifest.digest}


__all__ = ["FORMAT", "MANIFEST", "Manifest", "verify", "open_archive", "pack_digest", "cache_root",
           "grader_home", "is_archive", "describe", "manifest_for", "pack_files"]
