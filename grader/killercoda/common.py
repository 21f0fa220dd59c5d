"""What the killercoda importer and exporter share: the report, names, YAML, the output
folder and the constants."""
from __future__ import annotations

import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.errors import UsageError

FORMAT = "grader-killercoda/1"
IMAGE = "kubernetes-kubeadm-2nodes"
INDEX = "index.json"
MARKER_DIR = "grader"
EXPORT_FILE = "export.json"
ASSET_HOSTS = {"host01": "controlplane", "host02": "node01"}
MAX_ASSET_BYTES = 512 * 1024
SSH_OPTS = ("-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "ConnectTimeout=10")
KC_MARKERS = re.compile(r"\{\{\s*(exec|execute|copy|open)\b[^}]*\}\}")
JINJA_DELIMS = re.compile(r"\{\{|\{%|\{#")
STEP_KEYS = {"title", "text", "verify", "background", "foreground"}
# the verify program runs each check as `timeout -k GRACE T bash -c CMD`: coreutils timeout
# exits 124 when it sent TERM at the deadline, 137 when it had to KILL
VERIFY_TIMEOUT_CODES = (124, 137)
VERIFY_KILL_GRACE = 2


@dataclass
class Report:
    out: Path
    tasks: list = field(default_factory=list)     # task ids (import) or step folders (export)
    notes: list = field(default_factory=list)     # what could not be mapped, one line each

    def note(self, line: str) -> None:
        self.notes.append(line)


def sha256_text(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return hashlib.sha256(data).hexdigest()


def slug(text: str, default: str = "task", limit: int = 40) -> str:
    """A task or pack name: lower-case words joined by '-', cut at a word boundary."""
    s = re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")
    if len(s) > limit:
        cut = s[:limit + 1].rfind("-")
        s = s[:cut if cut > 0 else limit]
    return s.strip("-") or default


class _Dumper(yaml.SafeDumper):
    """Multi-line strings as literal blocks, so descriptions stay readable."""


def _str_representer(dumper, value):
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _str_representer)


def dump_yaml(data) -> str:
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def _prepare_out(out: Path, *, force: bool, marker: str, what: str) -> None:
    """An empty (or missing) folder; with force, a previous output of the same kind is replaced."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not force:
            raise UsageError(f"{out}: exists and is not empty (use --force to replace a previous {what})")
        if not (out / marker).exists():
            raise UsageError(f"{out}: --force only replaces a previous {what} (no {marker} there); "
                             "refusing to delete it")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)



def _copy_tree(src: Path, dst: Path) -> None:
    from grader.archive import pack_files

    for rel in pack_files(src):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)
