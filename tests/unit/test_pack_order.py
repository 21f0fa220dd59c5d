"""pack.yaml `tasks`: a pack lists its task order; without it, tasks are in folder order."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader.errors import PackError
from grader.packs.loader import load_pack

ROOT = Path(__file__).resolve().parents[2]


def make_pack(root: Path, order: list[str] | None) -> Path:
    lines = ["name: ordered", "title: Ordered", "version: 0.1.0", "target: linux", "hosts: [controlplane]"]
    if order is not None:
        lines.append(f"tasks: {json.dumps(order)}")
    root.mkdir(parents=True)
    (root / "pack.yaml").write_text("\n".join(lines) + "\n")
    for task_id in ("alpha", "cleanup", "zulu"):
        (root / task_id).mkdir()
        (root / task_id / "description.md").write_text(f"{task_id}\n")
        (root / task_id / "task.yaml").write_text(textwrap.dedent(f"""\
            id: {task_id}
            title: Task {task_id}
            minutes: 1
            checks:
              - name: it runs
                run: "true"
            """))
    return root


def test_without_tasks_the_order_is_the_folders(tmp_path):
    assert [t.id for t in load_pack(make_pack(tmp_path / "p", None)).tasks] == ["alpha", "cleanup", "zulu"]


def test_the_pack_lists_its_order_and_the_rest_follow(tmp_path):
    pack = load_pack(make_pack(tmp_path / "p", ["zulu", "alpha", "cleanup"]))
    assert [t.id for t in pack.tasks] == ["zulu", "alpha", "cleanup"]
    pack = load_pack(make_pack(tmp_path / "q", ["zulu"]))
    assert [t.id for t in pack.tasks] == ["zulu", "alpha", "cleanup"]


def test_a_listed_task_that_does_not_exist_is_named(tmp_path):
    with pytest.raises(PackError, match=r"pack.yaml:6: tasks\[1\]: no task 'nope' in the pack"):
        load_pack(make_pack(tmp_path / "p", ["zulu", "nope"]))
    with pytest.raises(PackError, match="tasks"):
        load_pack(make_pack(tmp_path / "q", ["zulu", "zulu"]))        # the schema: unique items


def test_list_shows_and_export_writes_the_pack_order(tmp_path):
    root = make_pack(tmp_path / "p", ["zulu", "cleanup", "alpha"])
    proc = subprocess.run([sys.executable, "-m", "grader", "list", str(root), "--json"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert [t["id"] for t in json.loads(proc.stdout)["tasks"]] == ["zulu", "cleanup", "alpha"]
    from grader import killercoda
    killercoda.export_pack(str(root), tmp_path / "sc")
    index = json.loads((tmp_path / "sc" / "index.json").read_text())
    assert [s["title"] for s in index["details"]["steps"]] == ["Task zulu", "Task cleanup", "Task alpha"]
