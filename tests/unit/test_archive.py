"""Pack archives: build, verify, and refusing anything tampered with or unsafe."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from grader.packs import archive
from grader.errors import ArchiveError, PackError

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "packs" / "mini"


@pytest.fixture(autouse=True)
def grader_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("GRADER_HOME", str(home))
    return home


@pytest.fixture
def built(tmp_path):
    path, manifest = archive.build(str(MINI), tmp_path / "dist")
    return path, manifest


def members(path: Path) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    with tarfile.open(path, "r:gz") as tar:
        return [(m, tar.extractfile(m).read() if m.isreg() else None) for m in tar.getmembers()]


def write_tar(path: Path, items) -> Path:
    """items: (TarInfo, bytes or None)."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in items:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def file_info(name: str, **kw) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = 0o644
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def grader(*args, env=None):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=120)


# --- build and verify --------------------------------------------------------------

def test_build_verify_round_trip(built, tmp_path):
    path, manifest = built
    assert path.name == "mini-0.1.0.tar.gz"
    names = [m.name for m, _ in members(path)]
    assert names == sorted(names[:-1]) + ["mini/MANIFEST.json"]
    assert all(n.startswith("mini/") for n in names)
    doc = json.loads(dict((m.name, d) for m, d in members(path))["mini/MANIFEST.json"])
    assert doc["format"] == "grader-pack/1" and doc["name"] == "mini" and doc["version"] == "0.1.0"
    assert set(doc["files"]) == {"pack.yaml", "hello-file/task.yaml", "hello-file/description.md",
                                 "count-lines/task.yaml", "count-lines/description.md", "count-lines/setup.sh",
                                 "count-lines/verify.sh"}
    assert doc["digest"] == archive.pack_digest(doc["files"]) == manifest.digest
    assert archive.verify(path) == manifest

    folder = archive.open_archive(path)
    assert folder == archive.cache_root() / manifest.digest / "mini"
    for rel in doc["files"]:
        assert (folder / rel).read_bytes() == (MINI / rel).read_bytes()


def test_builds_are_reproducible(tmp_path):
    a, _ = archive.build(str(MINI), tmp_path / "a")
    os.utime(MINI / "pack.yaml")  # a newer mtime must not change the bytes
    b, _ = archive.build(str(MINI), tmp_path / "b")
    assert a.read_bytes() == b.read_bytes()
    for info, _ in members(a):
        assert (info.mtime, info.uid, info.gid, info.uname, info.gname) == (0, 0, 0, "", "")


def test_every_command_accepts_an_archive(built):
    path, manifest = built
    proc = grader("list", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    assert [t["id"] for t in json.loads(proc.stdout)["tasks"]] == ["count-lines", "hello-file"]
    proc = grader("show", f"{path}/hello-file")
    assert proc.returncode == 0, proc.stderr
    assert "greeting" in proc.stdout
    proc = grader("lint", str(path))
    assert proc.returncode == 0, proc.stderr


def test_the_cache_is_reused_and_repaired(built):
    path, _ = built
    folder = archive.open_archive(path)
    task = folder / "hello-file" / "task.yaml"
    task.write_text("tampered: true\n")       # someone edits the cache
    again = archive.open_archive(path)
    assert again == folder
    assert task.read_bytes() == (MINI / "hello-file" / "task.yaml").read_bytes()


def test_pinned_digest(built):
    path, manifest = built
    assert archive.verify(path, digest=manifest.digest.upper()) == manifest
    with pytest.raises(ArchiveError, match="is not the expected"):
        archive.verify(path, digest="0" * 64)


def test_cli_build_verify(tmp_path):
    proc = grader("pack", "build", str(MINI), "-o", str(tmp_path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["archive"].endswith("mini-0.1.0.tar.gz") and len(out["digest"]) == 64
    proc = grader("pack", "verify", out["archive"], "--digest", out["digest"])
    assert proc.returncode == 0, proc.stderr
    assert f"digest {out['digest']}" in proc.stdout


# --- refusing bad archives ------------------------------------------------------------

def test_a_tampered_file_is_refused_by_name(built, tmp_path):
    path, _ = built
    items = [(m, d.replace(b"greeting", b"gr33ting") if m.name == "mini/hello-file/task.yaml" else d)
             for m, d in members(path)]
    bad = write_tar(tmp_path / "bad.tar.gz", items)
    with pytest.raises(ArchiveError) as err:
        archive.verify(bad)
    assert "'mini/hello-file/task.yaml' does not match its manifest sha256" in str(err.value)
    assert str(bad) in str(err.value)
    proc = grader("pack", "verify", str(bad))
    assert proc.returncode == 2
    assert "mini/hello-file/task.yaml" in proc.stderr
    proc = grader("list", str(bad))     # every command verifies first
    assert proc.returncode == 2 and "mini/hello-file/task.yaml" in proc.stderr
    assert not archive.cache_root().exists() or not any(archive.cache_root().glob("*/mini"))


def test_an_added_file_is_refused_by_name(built, tmp_path):
    path, _ = built
    items = members(path) + [(file_info("mini/hello-file/extra.sh"), b"rm -rf /\n")]
    with pytest.raises(ArchiveError, match="'mini/hello-file/extra.sh' is not listed in the manifest"):
        archive.verify(write_tar(tmp_path / "bad.tar.gz", items))


def test_a_removed_file_is_refused_by_name(built, tmp_path):
    path, _ = built
    items = [(m, d) for m, d in members(path) if m.name != "mini/count-lines/verify.sh"]
    with pytest.raises(ArchiveError, match="'mini/count-lines/verify.sh' is in the manifest but not in the archive"):
        archive.verify(write_tar(tmp_path / "bad.tar.gz", items))


def test_a_rewritten_manifest_without_its_digest_is_refused(built, tmp_path):
    path, _ = built
    items = []
    for m, d in members(path):
        if m.name == "mini/MANIFEST.json":
            doc = json.loads(d)
            doc["files"]["pack.yaml"] = "0" * 64
            d = json.dumps(doc).encode()
        items.append((m, d))
    with pytest.raises(ArchiveError, match="digest .* does not match its files"):
        archive.verify(write_tar(tmp_path / "bad.tar.gz", items))


@pytest.mark.parametrize("name,why", [
    ("mini/../evil.sh", "'..' path component"),
    ("mini/hello-file/../../../etc/cron.d/x", "'..' path component"),
    ("/etc/cron.d/x", "absolute path"),
    ("other/x", "outside the pack folder"),
])
def test_unsafe_paths_are_refused(built, tmp_path, name, why):
    path, _ = built
    items = members(path)
    items.insert(1, (file_info(name), b"x\n"))
    bad = write_tar(tmp_path / "bad.tar.gz", items)
    with pytest.raises(ArchiveError) as err:
        archive.open_archive(bad)
    assert f"'{name}'" in str(err.value) and why in str(err.value)
    assert not (tmp_path / "evil.sh").exists()
    leftovers = list(archive.cache_root().glob("*")) if archive.cache_root().exists() else []
    assert leftovers == []


@pytest.mark.parametrize("kind", ["symlink", "hardlink", "chardev", "fifo"])
def test_links_and_special_files_are_refused(built, tmp_path, kind):
    path, _ = built
    info = file_info("mini/hello-file/link")
    if kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    elif kind == "hardlink":
        info.type, info.linkname = tarfile.LNKTYPE, "mini/pack.yaml"
    elif kind == "chardev":
        info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
    else:
        info.type = tarfile.FIFOTYPE
    bad = write_tar(tmp_path / "bad.tar.gz", members(path) + [(info, None)])
    with pytest.raises(ArchiveError, match="'mini/hello-file/link' is a"):
        archive.open_archive(bad)


def test_duplicate_members_are_refused(built, tmp_path):
    path, _ = built
    items = members(path)
    first = next((m, d) for m, d in items if m.name == "mini/pack.yaml")
    with pytest.raises(ArchiveError, match="'mini/pack.yaml' appears twice"):
        archive.verify(write_tar(tmp_path / "bad.tar.gz", items + [first]))


def test_not_an_archive(tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not gzip at all")
    with pytest.raises(ArchiveError, match="not a pack archive"):
        archive.verify(junk)
    empty = write_tar(tmp_path / "empty.tar.gz", [])
    with pytest.raises(ArchiveError, match="empty"):
        archive.verify(empty)
    no_manifest = write_tar(tmp_path / "nm.tar.gz", [(file_info("mini/pack.yaml"), b"name: mini\n")])
    with pytest.raises(ArchiveError, match="no mini/MANIFEST.json"):
        archive.verify(no_manifest)


# --- build refuses broken packs ------------------------------------------------------

def test_a_pack_that_fails_lint_is_not_built(tmp_path):
    pack = tmp_path / "broken"
    shutil.copytree(MINI, pack)
    (pack / "hello-file" / "task.yaml").write_text((MINI / "hello-file" / "task.yaml").read_text()
                                                   .replace("minutes: 2", "minutes: two"))
    with pytest.raises(PackError, match="refusing to build"):
        archive.build(str(pack), tmp_path / "dist")
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").iterdir())
    proc = grader("pack", "build", str(pack), "-o", str(tmp_path / "dist"))
    assert proc.returncode == 2
    assert "hello-file/task.yaml" in proc.stderr and "refusing to build" in proc.stderr


def test_a_pack_with_a_symlink_is_not_built(tmp_path):
    pack = tmp_path / "linked"
    shutil.copytree(MINI, pack)
    (pack / "hello-file" / "notes.md").symlink_to("/etc/hostname")
    with pytest.raises(PackError, match="no symlinks"):
        archive.build(str(pack), tmp_path / "dist", lint=False)


def test_pack_new_scaffolds_a_pack_that_lints(tmp_path):
    proc = grader("pack", "new", "my-first-pack", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "my-first-pack"
    assert Path(proc.stdout.strip()) == root
    from grader.packs.lint import lint
    assert lint(str(root)) == []
    proc = grader("pack", "new", "my-first-pack", "-o", str(tmp_path))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    proc = grader("pack", "new", "Bad_Name", "-o", str(tmp_path))
    assert proc.returncode == 2
