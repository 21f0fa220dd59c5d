"""Killercoda assets -> one setup script per host that writes every file where killercoda puts it.

Killercoda's semantics, as the importer follows them:

- `file` is a glob relative to `assets/`: `*` and `?` stay inside one folder, `**` spans any
  number of folders (`**` alone is every file, `**/*.json` every JSON file at any depth); a
  name without wildcards is that file, or every file in that folder;
- a file lands in `target` (a folder) at its path relative to the pattern's fixed leading
  folders: `app/**` puts `assets/app/cfg/a.yaml` at `TARGET/cfg/a.yaml`, `**` at
  `TARGET/app/cfg/a.yaml`, so files of the same name in different folders stay apart;
- `~` (and a relative target) is the home folder of the user the scripts run as (root);
- `chmod` is applied to every file of the entry (`+x`, `0755`, `u+x,g-w`).

A link under `assets/` that leaves the scenario folder is refused (nothing of it is read).
"""
from __future__ import annotations

import base64
import os
import re
from pathlib import Path

from grader.errors import PackError
from grader.killercoda.common import MAX_ASSET_BYTES
from grader.shell import quote

HOSTS = {"host01": "controlplane", "client": "controlplane", "host02": "node01"}   # client: Katacoda
CHMOD = re.compile(r"^(0?[0-7]{3,4}|[ugoa]*[-+=][rwxXst]*(,[ugoa]*[-+=][rwxXst]*)*)$")
HEAD = """#!/usr/bin/env bash
# Killercoda assets for {host} ({role}), imported by grader: every file where killercoda puts it.
set -eu
_put() {{  # DEST [CHMOD]; the file's bytes in base64 on stdin
  mkdir -p -- "$(dirname -- "$1")"
  base64 -d > "$1"
  if [ -n "${{2-}}" ]; then chmod "$2" -- "$1"; fi
}}
"""


def _files(scenario) -> list[str]:
    """Every file under assets/ (relative POSIX paths); a link that leaves the folder is refused."""
    base = scenario.root / "assets"
    if not base.exists() and not base.is_symlink():
        return []
    scenario.inside(base, "details.assets", "assets")
    out: list[str] = []

    def walk(folder: Path, rel: str, seen: frozenset) -> None:
        for entry in sorted(os.scandir(folder), key=lambda e: e.name):
            path, name = Path(entry.path), rel + entry.name
            if entry.is_symlink():
                scenario.inside(path, "details.assets", f"assets/{name}")
            if entry.is_dir():
                real = path.resolve()
                if real not in seen:
                    walk(path, name + "/", seen | {real})
            elif entry.is_file():
                out.append(name)

    walk(base, "", frozenset({base.resolve()}))
    return out


def _segment(seg: str) -> str:
    out, i = "", 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[" and seg.find("]", i + 2) > 0:
            j = seg.find("]", i + 2)
            body = seg[i + 1:j]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
            i = j
        else:
            out += re.escape(c)
        i += 1
    return out


def glob_regex(pattern: str) -> re.Pattern:
    segs = [s for s in pattern.split("/") if s not in ("", ".")]
    rx = ""
    for k, seg in enumerate(segs):
        last = k == len(segs) - 1
        if seg == "**":
            rx += ".*" if last else "(?:[^/]+/)*"
        else:
            rx += _segment(seg) + ("" if last else "/")
    return re.compile(rx + r"\Z")


def _base(pattern: str) -> str:
    """The pattern's fixed leading folders ('' when it starts with a wildcard)."""
    segs = [s for s in pattern.split("/") if s not in ("", ".")]
    fixed = []
    for seg in segs[:-1]:
        if re.search(r"[*?\[]", seg):
            break
        fixed.append(seg)
    return "/".join(fixed)


def matches(pattern: str, files: list[str]) -> list[tuple[str, str]]:
    """(file, its path under the target) for each file the pattern picks."""
    pattern = pattern.strip()
    if not re.search(r"[*?\[]", pattern):
        name = pattern.strip("/")
        if name in files:
            return [(name, name.rsplit("/", 1)[-1])]
        inside = [f for f in files if f.startswith(name + "/")]    # a folder: all of it, under its name
        parent = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
        return [(f, f[len(parent):]) for f in inside]
    rx, base = glob_regex(pattern), _base(pattern)
    return [(f, f[len(base) + 1:] if base else f) for f in files if rx.match(f)]


def destination(target: str, rel: str) -> tuple[str, str]:
    """(shell word, readable path) of a file's destination; `~` and relative targets are $HOME."""
    target = target.strip()
    if target == "~" or target.startswith("~/"):
        rest = target[1:].strip("/")
    elif not target.startswith("/"):
        rest = target.strip("/")
    else:
        path = f"{target.rstrip('/')}/{rel}"
        return quote(path), path
    tail = f"{rest}/{rel}" if rest else rel
    return f'"$HOME"/{quote(tail)}', f"~/{tail}"


def asset_scripts(scenario, report) -> list[tuple[str, str, str]]:
    """(file name, host role, script) per host that has assets."""
    assets = scenario.get("details", "assets", default={})
    if not assets:
        return []
    files = _files(scenario)
    written: dict[tuple[str, str], str] = {}
    scripts: dict[str, list[str]] = {}
    for host_key, entries in assets.items():
        role = HOSTS.get(host_key)
        if role is None:
            report.note(f"details.assets.{host_key}: only host01 (or Katacoda's client) and host02 are mapped "
                        "(controlplane, node01); NOT imported")
            continue
        lines = scripts.setdefault(role, [HEAD.format(host=host_key, role=role)])
        for j, entry in enumerate(entries or []):
            where = f"details.assets.{host_key}[{j}]"
            for key in ("file", "target"):
                if not str(entry.get(key) or "").strip():
                    raise PackError(f"an asset needs '{key}'", file=scenario.index_file, key=f"{where}.{key}")
            pattern, target = str(entry["file"]), str(entry["target"])
            if Path(pattern).is_absolute() or ".." in pattern.split("/"):
                raise PackError(f"'{pattern}' leaves assets/; refused", file=scenario.index_file, key=f"{where}.file")
            mode = str(entry["chmod"]) if entry.get("chmod") is not None else ""
            if mode and not CHMOD.match(mode):
                raise PackError(f"'{mode}' is not a chmod mode (+x, 0755, u+x,g-w)", file=scenario.index_file,
                                key=f"{where}.chmod")
            picked = matches(pattern, files)
            if not picked:
                raise PackError(f"no file under assets/ matches '{pattern}'", file=scenario.index_file,
                                key=f"{where}.file")
            for rel, under in picked:
                data = (scenario.root / "assets" / rel).read_bytes()
                if len(data) > MAX_ASSET_BYTES:
                    report.note(f"{where}: assets/{rel} is over {MAX_ASSET_BYTES // 1024} KiB; NOT imported "
                                "(the tasks' setup lacks it: put it on the hosts another way)")
                    continue
                word, shown = destination(target, under)
                if (role, shown) in written:
                    report.note(f"{where}: assets/{rel} goes to {shown} on {role}, as {written[role, shown]} "
                                "does; the later one wins, as on killercoda")
                written[role, shown] = where
                mode_arg = f" {mode}" if mode else ""
                lines.append(f"_put {word}{mode_arg} <<'GRADER_ASSET'\n{base64.encodebytes(data).decode()}"
                             "GRADER_ASSET")
    return [(f"assets-{role}.sh", role, "\n".join(lines) + "\n") for role, lines in scripts.items()
            if len(lines) > 1]
