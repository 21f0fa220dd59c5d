"""The pack cache: a changed pack file, a new grader, another inventory or seed is never
served from an old entry; a hit really is one; a pack with problems is never stored."""
from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from grader.packs import packcache
from grader.errors import PackError
from grader.inventory import HostSpec, Inventory, killercoda_default

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("GRADER_CACHE", raising=False)
    return tmp_path / "home"


def make_pack(root: Path, *, word: str = "alpha") -> Path:
    pack = root / "pack"
    (pack / "t1").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: p\ntitle: P\nversion: '1'\ntarget: linux\n")
    (pack / "t1" / "task.yaml").write_text(
        "id: t1\ntitle: one\nminutes: 1\nparams:\n  n: {randint: [1, 1000]}\nchecks:\n"
        f"  - name: says {word}\n    host: node01\n    run: echo {word} {{{{ n }}}}\n"
        f"    expect: {{stdout: {{contains: {word}}}}}\n")
    (pack / "t1" / "description.md").write_text("Say it.\n")
    return pack


def edit_keeping_size_and_mtime(path: Path, old: str, new: str) -> None:
    assert len(old) == len(new)
    st = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def entries(home: Path) -> list[Path]:
    return sorted((home / "cache").glob("*.pickle")) if (home / "cache").is_dir() else []


def plant(home: Path, before: set, value) -> None:
    """Overwrite the entries written since `before` with `value`: a later hit returns it."""
    new = [p for p in entries(home) if p not in before]
    assert new, "nothing was cached"
    for path in new:
        path.write_bytes(pickle.dumps(value))


# --- the tree digest ---------------------------------------------------------------


def test_tree_digest_follows_bytes_not_times(tmp_path):
    pack = make_pack(tmp_path)
    first = packcache.tree_digest(pack)
    assert packcache.tree_digest(pack) == first
    os.utime(pack / "t1" / "task.yaml", (1, 1))                   # a touch alone changes nothing
    assert packcache.tree_digest(pack) == first
    edit_keeping_size_and_mtime(pack / "t1" / "task.yaml", "alpha", "omega")
    assert packcache.tree_digest(pack) != first


@pytest.mark.parametrize("change", ["empty folder", "hidden file", "rename", "new lib file"])
def test_tree_digest_sees_every_path(tmp_path, change):
    pack = make_pack(tmp_path)
    first = packcache.tree_digest(pack)
    if change == "empty folder":
        (pack / "stray").mkdir()
    elif change == "hidden file":
        (pack / "t1" / ".notes").write_text("x")
    elif change == "rename":
        (pack / "t1" / "description.md").rename(pack / "t1" / "description.txt")
    else:
        (pack / "lib").mkdir()
        (pack / "lib" / "common.sh").write_text("true\n")
    assert packcache.tree_digest(pack) != first


def test_tree_digest_gives_up_on_a_symlink_loop_and_unreadable_trees(tmp_path):
    pack = make_pack(tmp_path)
    (pack / "t1" / "loop").symlink_to(pack)
    assert packcache.tree_digest(pack) is None
    assert packcache.tree_digest(tmp_path / "missing") is None


# --- loading -------------------------------------------------------------------------


def test_a_hit_is_served_from_the_entry(tmp_path, home):
    pack_dir = make_pack(tmp_path)
    fresh = packcache.load(pack_dir)
    assert entries(home)
    assert packcache.load(pack_dir) == fresh                      # the entry holds the same pack
    plant(home, set(), replace(fresh, title="from the cache"))
    assert packcache.load(pack_dir).title == "from the cache"     # ... and it is what a hit returns


def test_a_changed_file_is_never_graded_from_the_old_entry(tmp_path, home):
    pack_dir = make_pack(tmp_path)
    packcache.load(pack_dir)
    plant(home, set(), replace(packcache.load(pack_dir), title="stale"))
    edit_keeping_size_and_mtime(pack_dir / "t1" / "task.yaml", "alpha", "omega")
    pack = packcache.load(pack_dir)
    assert pack.title == "P"
    assert pack.tasks[0].data["checks"][0]["name"] == "says omega"
    tasks = packcache.render(pack, list(pack.tasks), seed=3, inventory=killercoda_default())
    assert tasks[0].checks[0].target.startswith("echo omega ")


def test_a_pack_with_problems_is_never_stored(tmp_path, home):
    pack_dir = make_pack(tmp_path)
    (pack_dir / "t1" / "description.md").unlink()
    for _ in range(2):
        with pytest.raises(PackError, match="no description"):
            packcache.load(pack_dir)
    assert entries(home) == []
    (pack_dir / "t1" / "description.md").write_text("Now it has one.\n")
    assert packcache.load(pack_dir).tasks[0].description == "Now it has one.\n"


def test_a_new_grader_does_not_read_old_entries(tmp_path, home, monkeypatch):
    pack_dir = make_pack(tmp_path)
    packcache.load(pack_dir)
    plant(home, set(), replace(packcache.load(pack_dir), title="old grader"))
    assert packcache.load(pack_dir).title == "old grader"
    monkeypatch.setattr(packcache, "grader_digest", lambda: "another grader")
    assert packcache.load(pack_dir).title == "P"


def test_the_inventory_is_part_of_the_key(tmp_path, home):
    pack_dir = make_pack(tmp_path)
    packcache.load(pack_dir, inventory=killercoda_default())
    plant(home, set(), replace(packcache.load(pack_dir, inventory=killercoda_default()), title="other"))
    only_controlplane = Inventory(hosts={"controlplane": HostSpec(role="controlplane")}, source="one-host")
    with pytest.raises(PackError, match="host 'node01' is not in the inventory"):
        packcache.load(pack_dir, inventory=only_controlplane)


def test_rendered_tasks_are_keyed_by_seed_and_inventory(tmp_path, home):
    pack_dir = make_pack(tmp_path)
    inventory = killercoda_default()
    pack = packcache.load(pack_dir, inventory=inventory)
    once = packcache.render(pack, list(pack.tasks), seed=1, inventory=inventory)
    before = set(entries(home))
    pack = packcache.load(pack_dir, inventory=inventory)
    assert packcache.render(pack, list(pack.tasks), seed=1, inventory=inventory) == once
    other_seed = packcache.render(pack, list(pack.tasks), seed=2, inventory=inventory)
    assert other_seed[0].params != once[0].params
    plant(home, before, [replace(once[0], description="planted")])
    assert packcache.render(pack, list(pack.tasks), seed=2, inventory=inventory)[0].description == "planted"
    moved = replace(inventory, hosts={**inventory.hosts, "node01": replace(inventory.hosts["node01"], ip="10.9.9.9")})
    pack = packcache.load(pack_dir, inventory=moved)
    assert packcache.render(pack, list(pack.tasks), seed=2, inventory=moved)[0].description == "Say it.\n"


def test_damaged_entries_are_misses(tmp_path, home):
    pack_dir = make_pack(tmp_path)
    packcache.load(pack_dir)
    for path in entries(home):
        path.write_bytes(b"not a pickle")
    assert packcache.load(pack_dir).title == "P"


def test_a_cache_folder_others_can_write_is_not_used(tmp_path, home):
    pack_dir = make_pack(tmp_path)
    packcache.load(pack_dir)
    plant(home, set(), replace(packcache.load(pack_dir), title="planted by someone"))
    (home / "cache").chmod(0o777)
    assert packcache.load(pack_dir).title == "P"


def test_off_switch(tmp_path, home, monkeypatch):
    monkeypatch.setenv("GRADER_CACHE", "off")
    packcache.load(make_pack(tmp_path))
    assert entries(home) == []


def test_inventory_parse_is_keyed_by_its_bytes(tmp_path, home):
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  controlplane: {transport: local, ip: 10.0.0.1}\n")
    assert packcache.resolve_inventory(str(inv)).hosts["controlplane"].ip == "10.0.0.1"
    assert packcache.resolve_inventory(str(inv)).hosts["controlplane"].ip == "10.0.0.1"
    edit_keeping_size_and_mtime(inv, "10.0.0.1", "10.0.0.2")
    assert packcache.resolve_inventory(str(inv)).hosts["controlplane"].ip == "10.0.0.2"


def test_sources_cover_every_module_a_load_and_render_use(tmp_path):
    """SOURCES is what grader's digest reads: every module whose code shapes a loaded or
    rendered pack must be in it, or a changed grader could serve an entry of the old one."""
    pack_dir = make_pack(tmp_path)
    code = ("import sys\nfrom grader.packs import packcache\nfrom grader.inventory import killercoda_default\n"
            f"p = packcache._fresh({str(pack_dir)!r}, killercoda_default(), True)\n"
            "from grader.engine.lifecycle import render\nrender(p, list(p.tasks), seed=0, inventory=killercoda_default())\n"
            "import grader.packs.unpack\n"
            "print(' '.join(m for m in sys.modules if m.startswith('grader')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True,
                         env={**os.environ, "GRADER_CACHE": "off"}).stdout.split()
    files = {Path(importlib.util.find_spec(m).origin).relative_to(REPO / "grader").as_posix() for m in out}
    assert files - {"home.py"} <= set(packcache.SOURCES), sorted(files - set(packcache.SOURCES))
