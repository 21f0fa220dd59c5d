"""Building pack archives (`grader pack build`): lint the pack, then write it reproducibly.

The format, verifying and the safe extraction are in grader.packs.unpack, which the loader
uses for a `.tar.gz` pack; this module sits above the linter (and the linter above the
loader), so building and reading archives never import each other in a circle.  Its names
are re-exported here, so `archive.verify` and `archive.open_archive` work as before.

Builds are reproducible: members sorted, mtime 0, uid/gid 0, no user names, modes
0644/0755, gzip without a name or time stamp; the same pack gives the same bytes.
"""
from __future__ import annotations

import gzip
import io
import os
import tarfile
import tempfile
from pathlib import Path

from grader.errors import PackError
from grader.packs.findings import errors
from grader.packs.lint import lint as lint_pack
from grader.packs.packs import find_pack
from grader.packs.unpack import (FORMAT, MANIFEST, Manifest, cache_root, describe, grader_home, is_archive,
                                 manifest_for, open_archive, pack_digest, pack_files, verify)

__all__ = ["FORMAT", "MANIFEST", "Manifest", "build", "verify", "open_archive", "pack_digest", "cache_root",
           "grader_home", "is_archive", "describe", "manifest_for", "pack_files"]


def build(ref: str, out_dir: str | Path, *, lint: bool = True) -> tuple[Path, Manifest]:
    """Lint the pack (unless lint=False), then write OUT_DIR/NAME-VERSION.tar.gz.

    Raises PackError when lint finds problems (errors; the message names how many and
    the first; `grader.packs.lint.lint()` gives them all); warnings do not stop the build.
    Returns (archive path, manifest).
    """
    root = find_pack(str(ref))
    if lint:
        problems = errors(lint_pack(str(root)))
        if problems:
            raise PackError(f"refusing to build: grader lint found {len(problems)} problem(s), "
                            f"the first: {problems[0]}", file=str(root))
    manifest = manifest_for(root)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest.name}-{manifest.version}.tar.gz"
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
                with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                    for rel in manifest.files:
                        src = root / rel
                        executable = os.stat(src).st_mode & 0o111
                        _add(tar, f"{manifest.name}/{rel}", src.read_bytes(), 0o755 if executable else 0o644)
                    _add(tar, f"{manifest.name}/{MANIFEST}", manifest.to_json().encode(), 0o644)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target, manifest


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), mode, 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))
