"""Pure logic: a task's `host` (where the candidate works) defaults to the pack's first
host, is shown on the sheet, and must be a host of the inventory."""
import pytest

from grader.errors import PackError
from grader.inventory import killercoda_default
from grader.packs.loader import load_pack
from grader.drill.sheet import where_line, work_host
from grader.packs.templating import render_task

TASK = """\
id: t
title: T
minutes: 1
{host}checks:
  - name: c
    run: 'true'
"""


def make(tmp_path, host_line=""):
    pack = tmp_path / "p"
    (pack / "t").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: p\ntitle: P\nversion: 1.0.0\ntarget: linux\n"
                                    "hosts: [controlplane, node01]\n")
    (pack / "t" / "task.yaml").write_text(TASK.format(host=host_line))
    (pack / "t" / "description.md").write_text("do it")
    return pack


def test_host_defaults_to_the_packs_first_host_and_is_on_the_sheet(tmp_path):
    pack = load_pack(str(make(tmp_path)))
    task = render_task(pack.tasks[0], seed=1, inventory=killercoda_default())
    assert work_host(task, pack) == "controlplane"
    assert where_line(task, pack) == "**Solve this task on:** `ssh controlplane`"


def test_a_named_host_is_shown(tmp_path):
    pack = load_pack(str(make(tmp_path / "a", "host: node01\n")))
    task = render_task(pack.tasks[0], seed=1, inventory=killercoda_default())
    assert work_host(task, pack) == "node01" and "`ssh node01`" in where_line(task, pack)


def test_a_host_the_inventory_lacks_is_a_one_line_error(tmp_path):
    with pytest.raises(PackError, match=r"host 'node09' is not in the inventory"):
        load_pack(str(make(tmp_path, "host: node09\n")), inventory=killercoda_default())
