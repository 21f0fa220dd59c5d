"""Where packs are: built-in names, folders and archives.  Light on purpose: `grader list`
uses only this module (and PyYAML), so it starts fast.
"""
from __future__ import annotations

import difflib
from pathlib import Path

from grader.errors import PackError, UsageError

PACK_FILE, TASK_FILE = "pack.yaml", "task.yaml"


def builtin_dir() -> Path:
    """Built-in packs: inside the wheel (grader/_data/tasks) or the checkout's tasks/."""
    here = Path(__file__).resolve().parent.parent     # grader/, above this sub-package
    for candidate in (here / "_data" / "tasks", here.parent / "tasks"):
        if candidate.is_dir():
            return candidate
    return here.parent / "tasks"


def builtin_names() -> list[str]:
    root = builtin_dir()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / PACK_FILE).is_file())


def find_pack(ref: str) -> Path:
    """A pack reference is a folder, an archive (.tar.gz) or a built-in pack name."""
    path = Path(ref)
    if path.is_dir():
        if not (path / PACK_FILE).is_file():
            raise PackError(f"not a pack folder: no {PACK_FILE}", file=str(path))
        return path
    if path.is_file():
        if ref.endswith((".tar.gz", ".tgz")):
            from grader.packs.unpack import open_archive    # tarfile etc.: `grader list` stays light

            return open_archive(path)
        raise UsageError(f"{ref}: not a pack (give a pack folder, a .tar.gz archive or a built-in name)")
    if "/" not in ref and (builtin_dir() / ref / PACK_FILE).is_file():
        return builtin_dir() / ref
    names = builtin_names()
    close = difflib.get_close_matches(ref, names, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f" (built-in packs: {', '.join(names) or 'none'})"
    raise UsageError(f"unknown pack '{ref}'{hint}")


def peek_pack(ref: str | Path) -> dict:
    """pack.yaml's fields and the task folder names, without validation (fast: `grader list`)."""
    import yaml

    root = find_pack(str(ref))
    try:
        data = yaml.load((root / PACK_FILE).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PackError(f"cannot read: {exc}", file=str(root / PACK_FILE)) from None
    data = data if isinstance(data, dict) else {}
    tasks = sorted(p.name for p in root.iterdir() if (p / TASK_FILE).is_file())
    return {"name": str(data.get("name", root.name)), "title": str(data.get("title", "")),
            "version": str(data.get("version", "")), "target": str(data.get("target", "kubernetes")),
            "tasks": len(tasks)}
