"""What the killercoda importer and exporter share: the report, names, YAML, the staged
output folder and the constants."""
from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.errors import UsageError
from grader.packs.unpack import pack_files

FORMAT = "grader-killercoda/1"
IMAGE = "kubernetes-kubeadm-2nodes"
INDEX = "index.json"
MARKER_DIR = "grader"
EXPORT_FILE = "export.json"
MAX_ASSET_BYTES = 512 * 1024
SSH_OPTS = ("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=10")
KC_MARKERS = re.compile(r"\{\{\s*(exec|execute|copy|open)\b[^}]*\}\}")
JINJA_DELIMS = re.compile(r"\{\{|\{%|\{#")
RESERVED_IDS = {"lib"}          # the pack's shared-scripts folder (grader.packs.loader.LIB_DIR)
VERIFY_CHECK_NAME = "the step's killercoda verify script passes"
# the verify program runs a check with a timeout of its own as `timeout -k GRACE T bash -c CMD`:
# coreutils timeout exits 124 when it sent TERM at the deadline, 137 when it had to KILL
VERIFY_TIMEOUT_CODES = (124, 137)
VERIFY_KILL_GRACE = 2


@dataclass
class Report:
    out: Path
    tasks: list = field(default_factory=list)     # task ids (import) or step folders (export)
    notes: list = field(default_factory=list)     # what could not be carried over, one line each

    def note(self, line: str) -> None:
        if line not in self.notes:
            self.notes.append(line)


def sha256_text(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def slug(text: str, default: str = "task", limit: int = 40) -> str:
    """A task or pack name: lower-case words joined by '-'.  A name longer than `limit` is cut
    at a word boundary and ends in 6 hex digits of the whole name, so that two long titles that
    share their beginning never give the same name."""
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    if len(s) > limit:
        tag = sha256_text(s)[:6]
        room = limit - len(tag) - 1
        cut = s[:room + 1].rfind("-")
        s = s[:cut if cut > 0 else room].strip("-") + "-" + tag
    return s or default


def unique_id(title: str, used: set, default: str) -> str:
    """A task id from a step title: not used yet, never a reserved folder name (`lib`)."""
    base = slug(title or "", default=default)
    if base in RESERVED_IDS:
        base = f"{base}-task"
    task_id, n = base, 2
    while task_id in used:
        task_id = f"{base}-{n}"
        n += 1
    used.add(task_id)
    return task_id


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so descriptions stay readable."""


def _str_representer(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


@contextlib.contextmanager
def staged_output(out: Path, *, force: bool, marker: str, what: str):
    """Yield an empty staging folder beside `out`; it becomes `out` only when the block ends
    without an error.  A failure leaves nothing behind: no staging folder, no half-written
    `out`, not even the parent folders this created.  With force, a previous output of the
    same kind (it has `marker`) is replaced; anything else is refused, untouched."""
    out = Path(out).absolute()
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(f"{out}: exists and is not empty (use --force to replace a previous {what})")
        if not (out / marker).exists():
            raise UsageError(f"{out}: --force only replaces a previous {what} (no {marker} there); "
                             "refusing to delete it")
    created, p = [], out.parent
    while not p.exists():
        created.append(p)
        p = p.parent
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    stage.chmod(0o777 & ~umask)
    try:
        yield stage
        if out.is_dir() and any(out.iterdir()):
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "x")
            os.replace(stage, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(stage, out)      # out is missing or an empty folder
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        for folder in created:          # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def copy_tree(src: Path, dst: Path) -> None:
    for rel in pack_files(src):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)
