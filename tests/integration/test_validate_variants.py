"""`grader validate` with alternatives, near misses and --repeat, on small Linux packs on the lab.

Each pack is written under tmp_path; its tasks keep their state in a folder of their own
under /tmp on the lab's hosts, which their reset removes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def write_pack(root: Path, tasks: dict[str, str]) -> Path:
    pack = root / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: vv\ntitle: Validate variants\nversion: 0.1.0\ntarget: linux\n"
                                    "hosts: [controlplane, node01]\n")
    for task_id, body in tasks.items():
        (pack / task_id).mkdir()
        (pack / task_id / "task.yaml").write_text(textwrap.dedent(body))
        (pack / task_id / "description.md").write_text("Fix the config file.\n")
    return pack


def config_task(task_id: str, where: str, *, port_check: str, alternatives: str, near_misses: str) -> str:
    """A task around one config file: `port=8080` and `mode=strict` must be in it."""
    return f"""\
id: {task_id}
title: Fix {task_id}
minutes: 2
params: {{dir: {where}/{task_id}}}
setup:
  - run: mkdir -p {{{{ dir }}}} && printf 'port=80\\nmode=lax\\n' > {{{{ dir }}}}/app.conf
solution:
  - run: printf 'port=8080\\nmode=strict\\n' > {{{{ dir }}}}/app.conf
reset:
  - run: rm -rf {{{{ dir }}}}
checks:
  - id: port
    name: the app listens on port 8080
    run: {port_check}
  - id: mode
    name: the app runs in strict mode
    run: grep -qx mode=strict {{{{ dir }}}}/app.conf
alternatives:
{textwrap.indent(textwrap.dedent(alternatives), '  ')}
near_misses:
{textwrap.indent(textwrap.dedent(near_misses), '  ')}
"""


def grader(*args, timeout=300):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=timeout)


@pytest.fixture
def where():
    """A fresh folder name under /tmp on the lab's hosts (the tasks' resets remove what they make)."""
    return f"/tmp/grader-vv-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def rows(run: dict, task_id: str) -> dict:
    task = next(t for t in run["tasks"] if t["id"] == task_id)
    return {c["name"]: c for c in task["checks"]}


@pytest.mark.lab
def test_alternatives_and_near_misses_tell_right_from_wrong(lab, tmp_path, where):
    good = config_task("good", where, port_check="grep -qx port=8080 {{ dir }}/app.conf", alternatives="""\
        - name: sed in place
          steps:
            - run: sed -i -e s/port=80$/port=8080/ -e s/mode=lax/mode=strict/ {{ dir }}/app.conf
        """, near_misses="""\
        - name: only the port
          steps:
            - run: sed -i s/port=80$/port=8080/ {{ dir }}/app.conf
          fails: [mode]
        - name: the port in a comment
          steps:
            - run: printf '# port=8080\\nmode=strict\\n' > {{ dir }}/app.conf
          fails: [the app listens on port 8080]
        """)
    # a check too lax: `grep -q port=8080` also takes `#port=8080`, so a near miss scores full marks
    lax = config_task("lax", where, port_check="grep -q port=8080 {{ dir }}/app.conf", alternatives="""\
        - name: sed in place
          steps:
            - run: sed -i -e s/port=80$/port=8080/ -e s/mode=lax/mode=strict/ {{ dir }}/app.conf
        """, near_misses="""\
        - name: the port commented out
          steps:
            - run: printf '#port=8080\\nmode=strict\\n' > {{ dir }}/app.conf
          fails: [port]
        """)
    # a check too strict: `port = 8080` is as good to the app, but `grep -qx port=8080` refuses it
    strict = config_task("strict", where, port_check="grep -qx port=8080 {{ dir }}/app.conf", alternatives="""\
        - name: spaces around the equals sign
          steps:
            - run: printf 'port = 8080\\nmode=strict\\n' > {{ dir }}/app.conf
        """, near_misses="""\
        - name: only the mode
          steps:
            - run: sed -i s/mode=lax/mode=strict/ {{ dir }}/app.conf
          fails: [port]
        """)
    pack = write_pack(tmp_path, {"good": good, "lax": lax, "strict": strict})
    assert grader("lint", str(pack)).returncode == 0

    proc = grader("validate", str(pack), "-i", str(lab.inventory_path), "--json", "-o", str(tmp_path / "out"))
    assert proc.returncode == 1, proc.stdout + proc.stderr
    run = json.loads(proc.stdout)

    ok = rows(run, "good")
    assert list(ok) == ["the app listens on port 8080", "the app runs in strict mode", "alternative: sed in place",
                        "near miss: only the port", "near miss: the port in a comment"]
    assert all(r["status"] == "PASS" for r in ok.values()), ok
    assert ok["near miss: only the port"]["verdicts"] == [
        {"check": "the app listens on port 8080", "want": "PASS", "got": "PASS"},
        {"check": "the app runs in strict mode", "want": "FAIL", "got": "FAIL"}]
    assert ok["near miss: only the port"]["kind"] == "near_miss" and ok["near miss: only the port"]["points"] == 0

    miss = rows(run, "lax")["near miss: the port commented out"]
    assert miss["status"] == "FAIL"
    assert "scores full marks" in miss["message"] and "'the app listens on port 8080'" in miss["message"]
    assert rows(run, "lax")["alternative: sed in place"]["status"] == "PASS"

    alt = rows(run, "strict")["alternative: spaces around the equals sign"]
    assert alt["status"] == "FAIL"
    assert "loses 1 of 2 point(s)" in alt["message"] and "'the app listens on port 8080'" in alt["message"]
    assert rows(run, "strict")["near miss: only the mode"]["status"] == "PASS"

    # the terminal says so too, and the resets left nothing behind
    text = grader("validate", str(pack), "--task", "lax", "-i", str(lab.inventory_path))
    assert text.returncode == 1 and "scores full marks" in text.stdout
    for host in ("controlplane", "node01"):
        left = lab.ssh(host, f"ls -A {where} 2>/dev/null; rmdir {where} 2>/dev/null; true").stdout.split()
        assert left == [], f"{host}: the resets left {left} in {where}"


@pytest.mark.lab
def test_repeat_reports_a_racy_check_as_flaky(lab, tmp_path, where):
    racy = f"""\
    id: racy
    title: A check that passes every other time
    minutes: 1
    params: {{dir: {where}/racy}}
    setup:
      - run: mkdir -p {{{{ dir }}}} && rm -f {{{{ dir }}}}/solved {{{{ dir }}}}/calls
    solution:
      - run: touch {{{{ dir }}}}/solved
    reset:
      - run: rm -rf {{{{ dir }}}}
    checks:
      - name: the task is solved
        run: test -e {{{{ dir }}}}/solved
      - name: the service answers (racy)
        run: |-
          test -e {{{{ dir }}}}/solved || exit 1
          n=$(( $(cat {{{{ dir }}}}/calls 2>/dev/null || echo 0) + 1 )); echo "$n" > {{{{ dir }}}}/calls
          [ $(( n % 2 )) -eq 1 ]
    """
    pack = write_pack(tmp_path, {"racy": racy})
    once = grader("validate", str(pack), "-i", str(lab.inventory_path), "--json")
    assert once.returncode == 0, once.stdout + once.stderr      # one run cannot see the race

    proc = grader("validate", str(pack), "-i", str(lab.inventory_path), "--json", "--repeat", "3")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    got = rows(json.loads(proc.stdout), "racy")
    assert got["the task is solved"]["status"] == "PASS"
    flaky = got["the service answers (racy)"]
    assert flaky["status"] == "FLAKY"
    assert "changed between 3 runs" in flaky["message"] and "after the reference solution" in flaky["message"]
    assert "PASS, FAIL, PASS" in flaky["message"]

    text = grader("validate", str(pack), "-i", str(lab.inventory_path), "--repeat", "3")
    assert text.returncode == 1 and "FLAKY" in text.stdout


def plain_task(task_id: str, where: str, *, exclusive: bool = False) -> str:
    """A task whose setup takes a second, so that concurrent workers overlap."""
    return f"""\
    id: {task_id}
    title: Plain {task_id}
    minutes: 1
    exclusive: {str(exclusive).lower()}
    params: {{dir: {where}/{task_id}}}
    setup:
      - run: mkdir -p {{{{ dir }}}} && sleep 1
    solution:
      - run: touch {{{{ dir }}}}/solved
    reset:
      - run: rm -rf {{{{ dir }}}}
    checks:
      - name: solved
        run: test -e {{{{ dir }}}}/solved
    """


def lines_of(stderr: str) -> list[str]:
    return [line.strip().removeprefix(".. ") for line in stderr.splitlines()]


def first(lines: list[str], prefix: str) -> int:
    return next(i for i, line in enumerate(lines) if line.startswith(prefix))


@pytest.mark.lab
def test_jobs_run_shared_tasks_together_and_exclusive_ones_alone(lab, tmp_path, where):
    pack = write_pack(tmp_path, {"a": plain_task("a", where), "b": plain_task("b", where, exclusive=True),
                                 "c": plain_task("c", where)})
    proc = grader("validate", str(pack), "-i", str(lab.inventory_path), "--jobs", "2", "-o", str(tmp_path / "out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = json.loads((tmp_path / "out" / "results.json").read_text())
    assert [t["id"] for t in run["tasks"]] == ["a", "b", "c"]          # reported in pack order
    assert all(c["status"] == "PASS" for t in run["tasks"] for c in t["checks"])
    assert not any(c["kind"] == "cluster" for t in run["tasks"] for c in t["checks"])   # a linux pack
    lines = lines_of(proc.stderr)
    # a and c overlap: c starts before a has finished its setup; b starts after both are done
    assert first(lines, "validating c (") < first(lines, "a: solution[0]"), lines
    alone = first(lines, "validating b (3/3) alone: exclusive")
    assert all(i < alone for i, line in enumerate(lines) if line.startswith(("a: ", "c: "))), lines
    assert all(i > alone for i, line in enumerate(lines) if line.startswith("b: ")), lines


def kube_pack(root: Path, where: str) -> Path:
    pack = write_pack(root, {"x": plain_task("x", where, exclusive=True), "y": plain_task("y", where)})
    (pack / "pack.yaml").write_text((pack / "pack.yaml").read_text().replace("target: linux", "target: kubernetes"))
    return pack


@pytest.mark.kube
def test_on_a_cluster_validate_checks_health_first_and_after_exclusive_tasks(kube_lab, tmp_path, where):
    """Harmless to the shared cluster: the tasks touch only a folder; `exclusive` makes validate
    check every node after x, and a kubeconfig that does not exist stands for an apiserver
    that does not answer."""
    pack = kube_pack(tmp_path, where)
    proc = grader("validate", str(pack), "-i", str(kube_lab.inventory_path), "--jobs", "2", "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    x = rows(json.loads(proc.stdout), "x")["the cluster is healthy after the task"]
    assert x["status"] == "PASS" and x["kind"] == "cluster" and x["actual"] == "healthy"
    assert "the cluster is healthy after the task" not in rows(json.loads(proc.stdout), "y")

    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(kube_lab.inventory_path.read_text() + "kubeconfig: /nonexistent/admin.conf\n")
    refused = grader("validate", str(pack), "-i", str(inventory))
    assert refused.returncode == 3, refused.stdout + refused.stderr
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith("grader: the cluster is not healthy, so validate ran no task: the apiserver does not "
                              "answer"), message
    assert "/nonexistent/admin.conf" in message and "validating" not in refused.stderr
