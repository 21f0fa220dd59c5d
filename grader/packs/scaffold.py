"""`grader pack new NAME`: a new pack folder with one example task.

The example passes `grader lint` and `grader validate` on the local lab: a linux task on
controlplane whose setup leaves a config file with the wrong port and mode, whose
checks grade it with a `file` check and a `run` check, whose solution and reset are the
reference fix and the clean-up, with one alternative fix and two near misses.  Copy its folder to start the next task.
"""
from __future__ import annotations

import re
from pathlib import Path

from grader.errors import UsageError
from grader.killercoda import dump_yaml
from grader.packs.yamlsrc import SCHEMA_DIR

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TASK_ID = "fix-config-file"

PACK_HEADER = """\
# yaml-language-server: $schema={schema}/pack.schema.json
# The pack's metadata; the reference is docs/task-format.md.  Each folder with a
# task.yaml is a task.  Check with `grader lint {name}`, self-test on the lab with
#   export GRADER_INVENTORY=$(sudo grader lab up); grader validate {name}
# and publish with `grader pack build {name} -o dist/`.
"""

TASK_HEADER = """\
# yaml-language-server: $schema={schema}/task.schema.json
# An example task: setup breaks something, checks grade the fix, solution is the
# reference fix, reset removes every trace.  Values in {{{{ ... }}}} are params;
# grader quotes them in commands itself, so never put quotes around them.
"""

DESCRIPTION = """\
The service configured by `{{ dir }}/app.conf` must listen on port **{{ port }}**, but
the file says otherwise, and anybody on the machine can read it.

Fix `{{ dir }}/app.conf` so that it holds the single line `port={{ port }}` and only
its owner can read or write it.
"""

SETUP = """\
#!/usr/bin/env bash
# The broken state: app.conf has the wrong port and is readable by everyone.
# Scripts get the task's params as environment variables ($DIR, $PORT).
# Setup must be idempotent: `grader validate` runs it twice.
set -eu
mkdir -p "$DIR"
printf 'port=%s\\n' "$((PORT + 1))" > "$DIR/app.conf"
chmod 0644 "$DIR/app.conf"
"""


def pack_data(name: str) -> dict:
    return {
        "name": name,
        "title": f"{name}: (a one-line title for the pack)",
        "version": "0.1.0",
        "description": "What this pack teaches, in a few sentences of Markdown.\n",
        "target": "linux",
        "exam": {"pass_percent": 66},
        "hosts": ["controlplane"],
    }


def task_data(name: str) -> dict:
    return {
        "id": TASK_ID,
        "title": "A config file with the wrong port, readable by everyone",
        "domain": "Files",
        "minutes": 3,
        "params": {"dir": f"/tmp/grader-{name}", "port": {"randint": [8000, 8099]}},
        "hints": ["Look at the file with `cat` and at its mode with `stat -c %a`.",
                  "printf 'port=%s\\n' PORT > FILE; chmod 0600 FILE"],
        "explanation": "Files are the simplest state a grader can check: existence, type, mode, owner and "
                       "content.  A `file` check reads them with `stat`; a `run` check runs any command.\n",
        "setup": [{"script": "setup.sh", "host": "controlplane"}],
        "solution": [{"run": "printf 'port=%s\\n' {{ port }} > {{ dir }}/app.conf && chmod 0600 {{ dir }}/app.conf",
                      "host": "controlplane"}],
        "reset": [{"run": "rm -rf {{ dir }}", "host": "controlplane"}],
        "checks": [
            {"id": "private", "name": "app.conf holds the port and is private", "points": 2, "host": "controlplane",
             "file": "{{ dir }}/app.conf",
             "expect": {"exists": True, "type": "file", "mode": "0600", "content": {"regex": "^port={{ port }}$"}}},
            {"id": "port-line", "name": "the port line reads back", "points": 1, "host": "controlplane",
             "run": "grep -x port={{ port }} {{ dir }}/app.conf",
             "expect": {"stdout": "port={{ port }}"}},
        ],
        # other correct fixes: `grader validate` demands full marks for each
        "alternatives": [
            {"name": "chmod first, then write the file",
             "steps": [{"run": "chmod 0600 {{ dir }}/app.conf", "host": "controlplane"},
                       {"run": "printf 'port=%s\\n' {{ port }} > {{ dir }}/app.conf", "host": "controlplane"}]},
        ],
        # plausible wrong fixes: `grader validate` demands that exactly the `fails` checks fail
        "near_misses": [
            {"name": "the right port, but the file still readable by everyone",
             "steps": [{"run": "printf 'port=%s\\n' {{ port }} > {{ dir }}/app.conf", "host": "controlplane"}],
             "fails": ["private"]},
            {"name": "the file made private, the port left wrong",
             "steps": [{"run": "chmod 0600 {{ dir }}/app.conf", "host": "controlplane"}],
             "fails": ["private", "port-line"]},
        ],
    }


def new_pack(name: str, parent: str | Path = ".", *, force: bool = False) -> Path:
    """Create PARENT/NAME with pack.yaml and one example task; returns the pack folder."""
    if not NAME_RE.match(name):
        raise UsageError(f"pack name '{name}': use lower-case letters, digits and '-' (e.g. my-pack)")
    root = Path(parent) / name
    if root.exists() and any(root.iterdir()) and not force:
        raise UsageError(f"{root}: exists and is not empty (choose another name or folder)")
    task = root / TASK_ID
    task.mkdir(parents=True, exist_ok=True)
    schema = SCHEMA_DIR.resolve().as_posix()
    (root / "pack.yaml").write_text(PACK_HEADER.format(schema=schema, name=root) + dump_yaml(pack_data(name)))
    (task / "task.yaml").write_text(TASK_HEADER.format(schema=schema) + dump_yaml(task_data(name)))
    (task / "description.md").write_text(DESCRIPTION)
    (task / "setup.sh").write_text(SETUP)
    (task / "setup.sh").chmod(0o755)
    return root
