"""A validated pack, and its rendered tasks, kept by the digest of everything they come from.

Loading a pack (YAML, the JSON Schema, a trial render of every task) costs more than
grading it does, and it gives the same result until something it reads changes.  So a
loaded `Pack` is pickled under `$GRADER_HOME/cache/` and used again while its key holds:

    key = sha256(FORMAT, grader's own digest, the pack's tree digest, the reference,
                 the options, the inventory)

* grader's own digest: its version and the bytes of the modules that shape a loaded or
  rendered pack (SOURCES) and of its JSON Schemas: a new grader never reads an old entry.
* the tree digest: every path under the pack folder with its type and its bytes (hidden
  files and empty folders too, symlinks followed).  Bytes, not modification times: a file
  edited twice in the same second, or put back with its old mtime, still changes the key.
  The digest is taken again after a load; the entry is written only if nothing changed
  meanwhile.
* a load that finds any problem is never stored: errors always come from a fresh load.

Rendered tasks (`render`) are kept the same way, keyed by the pack's key, the seed, the
task ids and the inventory.  GRADER_CACHE=off turns both off; a damaged or unreadable
entry is a miss.  Entries are private to the user (mode 0600 in a 0700 folder; a folder
others can write to is not used).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import stat
import tempfile
from contextlib import suppress
from functools import lru_cache
from pathlib import Path

from grader import inventory as inv
from grader.home import grader_home
from grader.packs.packs import find_pack

FORMAT = "grader-packcache/1"
ENV = "GRADER_CACHE"
KEEP = 64                       # entries kept; the oldest beyond these are removed on a store
MAX_TREE_BYTES = 64 << 20       # a bigger pack is loaded afresh every time (not worth hashing)
# the modules whose code decides what a loaded or rendered pack holds (tests keep this complete)
SOURCES = ("__init__.py", "errors.py", "inventory.py", "strenum.py", "engine/__init__.py", "engine/lifecycle.py",
           "engine/matchers.py", "engine/results.py",
           "packs/__init__.py", "packs/lines.py", "packs/loader.py", "packs/model.py",
           "packs/packcache.py", "packs/packs.py", "packs/templating.py", "packs/unpack.py", "packs/yamlsrc.py")
_PACKAGE = Path(__file__).parent.parent         # grader/: SOURCES are relative to it
_keys: dict[int, tuple] = {}    # id(pack) -> (pack, key) for the last KEEP packs this process loaded


# --- digests (I/O: they read files) ------------------------------------------------


@lru_cache(maxsize=1)
def grader_digest() -> str:
    h = hashlib.sha256(FORMAT.encode())
    files = [_PACKAGE / name for name in SOURCES] + sorted((_PACKAGE / "schema").glob("*.json"))
    for path in files:
        h.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def tree_digest(root: Path) -> str | None:
    """The digest of every path under `root`, its type and its bytes; None when the tree
    cannot be read whole (a file unreadable, a symlink loop, too big): then no cache."""
    h = hashlib.sha256()
    total = 0
    seen = set()
    try:
        for top, dirs, files in os.walk(root, followlinks=True, onerror=_raise):
            st = os.stat(top)
            if (st.st_dev, st.st_ino) in seen:
                return None                     # a symlink loop
            seen.add((st.st_dev, st.st_ino))
            dirs.sort()
            rel = os.path.relpath(top, root)
            h.update(b"d\0" + os.fsencode(rel) + b"\0" + b"/".join(os.fsencode(d) for d in dirs) + b"\0")
            for name in sorted(files):
                path = os.path.join(top, name)
                with open(path, "rb") as f:
                    data = f.read(MAX_TREE_BYTES + 1 - total)
                total += len(data)
                if total > MAX_TREE_BYTES:
                    return None
                link = os.readlink(path) if os.path.islink(path) else ""
                h.update(b"f\0" + os.fsencode(name) + b"\0" + os.fsencode(link) + b"\0"
                         + str(len(data)).encode() + b"\0" + hashlib.sha256(data).digest())
    except OSError:
        return None
    return h.hexdigest()


def _raise(exc):
    raise exc


# --- keys (pure) ---------------------------------------------------------------------


def cache_key(*parts) -> str:
    """One key from its parts; each part is turned into text with repr()."""
    h = hashlib.sha256()
    for part in parts:
        text = repr(part).encode()
        h.update(str(len(text)).encode() + b":" + text)
    return h.hexdigest()


def pack_key(grader: str, tree: str, ref: str, check_templates: bool, inventory) -> str:
    return cache_key(FORMAT, "pack", grader, tree, ref, check_templates, inventory if check_templates else None)


def render_key(pack: str, ids, seed: int, inventory) -> str:
    return cache_key(FORMAT, "render", pack, tuple(ids), seed, inventory)


# --- the cache folder ---------------------------------------------------------------


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() not in ("off", "0", "no", "false")


def cache_dir() -> Path:
    return grader_home() / "cache"


def _private_dir(make: bool) -> Path | None:
    """The cache folder if it is ours and only ours (made so when `make`), else None."""
    folder = cache_dir()
    try:
        if make:
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = folder.stat()
    except OSError:
        return None
    if st.st_uid != os.getuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return None
    return folder


def _read(key: str):
    folder = _private_dir(make=False)
    if folder is None:
        return None
    try:
        with open(folder / f"{key}.pickle", "rb") as f:
            return pickle.load(f)
    except Exception:       # absent, damaged, written by a grader whose classes differ: a miss
        return None


def _write(key: str, value) -> None:
    folder = _private_dir(make=True)
    if folder is None:
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".entry-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, folder / f"{key}.pickle")
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp)
            raise
        _prune(folder)
    except (OSError, pickle.PicklingError, TypeError, AttributeError):
        pass                # a cache that cannot be written only costs time


def _prune(folder: Path) -> None:
    entries = []
    for path in folder.glob("*.pickle"):
        with suppress(OSError):
            entries.append((path.stat().st_mtime, path))
    for _, path in sorted(entries, reverse=True)[KEEP:]:
        with suppress(OSError):
            path.unlink()


# --- what the CLI calls ---------------------------------------------------------------


def load(ref, *, inventory=None, check_templates: bool = True):
    """`loader.load_pack(ref, ...)`, from the cache while nothing it depends on changed."""
    if not enabled():
        return _fresh(ref, inventory, check_templates)
    root = find_pack(str(ref))
    tree = tree_digest(root)
    if tree is None:
        return _fresh(ref, inventory, check_templates)
    inv = inventory if inventory is not None else "killercoda-default"
    key = pack_key(grader_digest(), tree, str(ref), check_templates, inv)
    pack = _read(key)
    if pack is None:
        pack = _fresh(root, inventory, check_templates)
        if str(ref).endswith((".tar.gz", ".tgz")):
            from dataclasses import replace

            pack = replace(pack, archive=Path(ref))
        if tree_digest(root) == tree:       # unchanged while it loaded: the entry is true
            _write(key, pack)
    _keys[id(pack)] = (pack, key)
    while len(_keys) > KEEP:        # a long-lived process (a holder) loads a pack per run
        del _keys[next(iter(_keys))]
    return pack


def _fresh(ref, inventory, check_templates: bool):
    # the loader (PyYAML, jsonschema, Jinja2): only on a cache miss, which is the point
    from grader.packs.loader import load_pack

    return load_pack(ref, inventory=inventory, check_templates=check_templates)


def render(pack, specs, *, seed: int, inventory) -> list:
    """`lifecycle.render(...)`, from the cache for a pack this module loaded."""
    # rendering (Jinja2): only on a cache miss
    from grader.engine.lifecycle import check_hosts, render as render_tasks

    held = _keys.get(id(pack))
    if not enabled() or held is None or held[0] is not pack:
        return render_tasks(pack, specs, seed=seed, inventory=inventory)
    check_hosts(pack, inventory)
    key = render_key(held[1], [s.id for s in specs], seed, inventory)
    tasks = _read(key)
    if not isinstance(tasks, list) or [t.id for t in tasks] != [s.id for s in specs]:
        tasks = render_tasks(pack, specs, seed=seed, inventory=inventory)
        _write(key, tasks)
    return tasks


def resolve_inventory(flag: str | None = None):
    """`inventory.resolve(flag)`, the file's parse kept by its bytes (no YAML parser to import)."""
    path = inv.locate(flag)
    if path is None or not enabled():
        return inv.resolve(flag)
    try:
        data = path.read_bytes()
    except OSError:
        return inv.load(path)           # it says what is wrong
    key = cache_key(FORMAT, "inventory", grader_digest(), str(path), data)
    found = _read(key)
    if isinstance(found, inv.Inventory):
        return found
    found = inv.load(path)
    with suppress(OSError):
        if path.read_bytes() == data:
            _write(key, found)
    return found
