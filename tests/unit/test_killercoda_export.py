"""`grader export killercoda` and the round trip: killercoda's time semantics kept (2), the
scenario's order (3), the image, difficulty, time and interface (8), and an edited step that
comes back as its original task with the edit applied (9).  Scenarios written for these tests."""
from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from grader import killercoda
from grader.packs.lint import lint

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "packs" / "mini"


def grader(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def scenario(root: Path, index: dict, files: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "index.json").write_text(json.dumps(index, indent=2))
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def checks_of(verify: Path) -> list[dict]:
    """The checks a generated verify.sh embeds."""
    chunks = re.search(r"CHECKS = \(\n(.*?)\n\)", verify.read_text(), re.S).group(1)
    return json.loads(base64.b64decode("".join(eval(c.strip()) for c in chunks.splitlines())))


# --- 2. killercoda's time semantics ------------------------------------------------------

WAITING = {
    "step1/text.md": "Roll out the web deployment.\n",
    "step1/background.sh": "#!/bin/bash\nkubectl create deploy web --image=nginx\nkubectl wait --for=condition=Available "
                           "deploy/web --timeout=240s\n",
    "step1/verify.sh": "#!/bin/bash\nsleep 25\nkubectl rollout status deploy/web --timeout=300s\n",
    "step2/text.md": "Wait for the job.\n",
    "step2/verify.sh": "#!/bin/bash\nuntil kubectl get job/j; do sleep 2; done\n",
}


def waiting(root: Path) -> Path:
    index = {"title": "Waits", "time": "20 minutes", "details": {"steps": [
        {"title": "Roll out", "text": "step1/text.md", "background": "step1/background.sh", "verify": "step1/verify.sh"},
        {"title": "The job", "text": "step2/text.md", "verify": "step2/verify.sh"}]},
        "backend": {"imageid": "kubernetes-kubeadm-2nodes"}}
    return scenario(root, index, WAITING)


def test_imported_scripts_get_at_least_their_own_waits(tmp_path):
    """2: every imported verify got 20 s and every background 60 s."""
    report = killercoda.import_scenario(waiting(tmp_path / "sc"), tmp_path / "pack")
    roll = yaml.safe_load((tmp_path / "pack" / "roll-out" / "task.yaml").read_text())
    assert roll["checks"][0]["timeout"] >= 25 + 300
    assert roll["setup"][-1]["timeout"] >= 240
    job = yaml.safe_load((tmp_path / "pack" / "the-job" / "task.yaml").read_text())
    assert job["checks"][0]["timeout"] >= 600                  # a loop with no bound: the long default
    notes = "\n".join(report.notes)
    assert "waits (sleep 25, rollout status (300s))" in notes and "killercoda sets no limit" in notes


def test_the_export_adds_no_time_limit(tmp_path):
    """2: the exported verify.sh gave up after 20 s, background.sh ran under `timeout -s KILL 60`."""
    src = waiting(tmp_path / "sc")
    killercoda.import_scenario(src, tmp_path / "pack")
    killercoda.export_pack(str(tmp_path / "pack"), tmp_path / "out")
    for n, folder in ((1, "step1"), (2, "step2")):
        assert (tmp_path / "out" / folder / "verify.sh").read_text() == WAITING[f"step{n}/verify.sh"]
        background = (tmp_path / "out" / folder / "background.sh").read_text()
        assert "timeout" not in background
    # a native check without a timeout of its own runs without one; one that sets it keeps it
    checks = checks_of(_native_export(tmp_path))
    assert [(c["check"]["name"], c["timeout"]) for c in checks] == [("slow", None), ("bounded", 5)]


def _native_export(tmp_path: Path) -> Path:
    pack = tmp_path / "native"
    (pack / "t").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: native\ntitle: N\nversion: 0.1.0\ntarget: linux\nhosts: [controlplane]\n")
    (pack / "t" / "description.md").write_text("Wait.\n")
    (pack / "t" / "task.yaml").write_text("id: t\ntitle: T\nminutes: 1\nchecks:\n  - name: slow\n    run: sleep 1\n"
                                          "  - name: bounded\n    timeout: 5\n    run: sleep 1\n")
    killercoda.export_pack(str(pack), tmp_path / "native-out")
    return tmp_path / "native-out" / "step1" / "verify.sh"


def test_an_exported_verify_without_a_limit_outlives_the_old_20_s(tmp_path):
    """2, run for real: a native check that takes 22 s passes in the exported verify.sh."""
    if not Path("/usr/bin/python3").exists() and not any(
            (Path(p) / "python3").exists() for p in os.environ.get("PATH", "").split(os.pathsep)):
        pytest.skip("the exported verify scripts need python3")
    pack = tmp_path / "slow"
    (pack / "t").mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: slow\ntitle: S\nversion: 0.1.0\ntarget: linux\nhosts: [controlplane]\n")
    (pack / "t" / "description.md").write_text("Wait.\n")
    (pack / "t" / "task.yaml").write_text("id: t\ntitle: T\nminutes: 1\nchecks:\n  - name: slow\n"
                                          "    run: sleep 22; echo done\n    expect: {stdout: done}\n")
    killercoda.export_pack(str(pack), tmp_path / "out")
    proc = subprocess.run(["bash", str(tmp_path / "out" / "step1" / "verify.sh")], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0 and "PASS  slow" in proc.stdout, proc.stdout + proc.stderr


# --- 3. the scenario's order ---------------------------------------------------------

def test_the_scenario_order_survives_import_and_export(tmp_path):
    """3: tasks came out in folder order: Cleanup first."""
    titles = ["Install the agent", "Configure it", "Cleanup"]
    index = {"title": "Order", "details": {"steps": [
        {"title": t, "text": f"s{n}/text.md", "verify": f"s{n}/verify.sh"} for n, t in enumerate(titles)]}}
    files = {}
    for n, t in enumerate(titles):
        files[f"s{n}/text.md"] = f"{t}.\n"
        files[f"s{n}/verify.sh"] = "#!/bin/bash\ntrue\n"
    report = killercoda.import_scenario(scenario(tmp_path / "sc", index, files), tmp_path / "pack")
    ids = ["install-the-agent", "configure-it", "cleanup"]
    assert report.tasks == ids
    assert yaml.safe_load((tmp_path / "pack" / "pack.yaml").read_text())["tasks"] == ids
    listed = grader("list", str(tmp_path / "pack"), "--json")
    assert [t["id"] for t in json.loads(listed.stdout)["tasks"]] == ids
    killercoda.export_pack(str(tmp_path / "pack"), tmp_path / "out")
    steps = json.loads((tmp_path / "out" / "index.json").read_text())["details"]["steps"]
    assert [s["title"] for s in steps] == titles


# --- 8. the image, difficulty, time and interface -----------------------------------------

@pytest.mark.parametrize("target, hosts, image", [
    ("linux", ["controlplane"], "ubuntu"),
    ("kubernetes", ["controlplane"], "kubernetes-kubeadm-1node"),
    ("kubernetes", ["controlplane", "node01"], "kubernetes-kubeadm-2nodes"),
    ("linux", ["controlplane", "node01"], "kubernetes-kubeadm-2nodes"),   # the one image with node01
])
def test_the_image_follows_the_packs_target_and_hosts(tmp_path, target, hosts, image):
    """8: every export was kubernetes-kubeadm-2nodes."""
    pack = tmp_path / "p"
    (pack / "t").mkdir(parents=True)
    (pack / "pack.yaml").write_text(f"name: p\ntitle: P\nversion: 0.1.0\ntarget: {target}\nhosts: {json.dumps(hosts)}\n")
    (pack / "t" / "description.md").write_text("Do.\n")
    (pack / "t" / "task.yaml").write_text("id: t\ntitle: T\nminutes: 1\nchecks:\n  - name: c\n    run: 'true'\n")
    killercoda.export_pack(str(pack), tmp_path / "out")
    assert json.loads((tmp_path / "out" / "index.json").read_text())["backend"] == {"imageid": image}


def test_a_round_trip_keeps_image_difficulty_time_and_interface(tmp_path):
    """8: the import read them, the export wrote kubernetes-kubeadm-2nodes, its own time and no interface."""
    index = {"title": "Kept", "difficulty": "advanced", "time": "1 hour 30 minutes", "interface": {"layout": "ide"},
             "details": {"steps": [{"title": "One", "text": "t.md", "verify": "v.sh"}]},
             "backend": {"imageid": "ubuntu-4GB"}}
    src = scenario(tmp_path / "sc", index, {"t.md": "Do it.\n", "v.sh": "#!/bin/bash\ntrue\n"})
    killercoda.import_scenario(src, tmp_path / "pack")
    killercoda.export_pack(str(tmp_path / "pack"), tmp_path / "out")
    out = json.loads((tmp_path / "out" / "index.json").read_text())
    assert {k: out[k] for k in ("difficulty", "time", "interface", "backend")} == \
        {"difficulty": "advanced", "time": "1 hour 30 minutes", "interface": {"layout": "ide"},
         "backend": {"imageid": "ubuntu-4GB"}}
    proc = grader("export", "killercoda", str(tmp_path / "pack"), "-o", str(tmp_path / "o2"), "--image", "ubuntu")
    assert proc.returncode == 0 and json.loads((tmp_path / "o2" / "index.json").read_text())["backend"] == \
        {"imageid": "ubuntu"}


# --- 9. an edited step comes back as its task, with the edit --------------------------------

def test_an_edited_text_restores_the_task_with_the_edit(tmp_path):
    """9: new ids, hints, solution and reset gone, the solution in the description."""
    killercoda.export_pack(str(MINI), tmp_path / "sc")
    text = tmp_path / "sc" / "step2" / "text.md"
    text.write_text(text.read_text().replace("Create the file", "Please create the file"))
    report = killercoda.import_scenario(tmp_path / "sc", tmp_path / "back")
    back, original = tmp_path / "back", yaml.safe_load((MINI / "hello-file" / "task.yaml").read_text())
    assert report.tasks == ["count-lines", "hello-file"]
    restored = yaml.safe_load((back / "hello-file" / "task.yaml").read_text())
    assert restored == original                      # hints, solution, reset, checks, params: all there
    desc = (back / "hello-file" / "description.md").read_text()
    assert desc.startswith("Please create the file") and "<details>" not in desc and "Solution" not in desc
    assert (back / "count-lines").is_dir() and sorted(p.name for p in back.iterdir()) == \
        ["count-lines", "hello-file", "pack.yaml"]
    assert any("hello-file): edited since the export (description" in n for n in report.notes)
    assert lint(str(back)) == []


def test_edited_hints_solution_and_order_are_applied(tmp_path):
    killercoda.export_pack(str(MINI), tmp_path / "sc")
    text = tmp_path / "sc" / "step2" / "text.md"
    body = text.read_text()
    body = re.sub(r"(<summary>Hint 1</summary>\n\n)(.*?)(\n\n</details>)", r"\1Look in /tmp first.\3", body, flags=re.S)
    body = re.sub(r"```bash\n.*?\n```", "```bash\necho edited > /tmp/x\n```", body, flags=re.S)
    text.write_text(body)
    finish = tmp_path / "sc" / "finish.md"
    finish.write_text(finish.read_text().replace("the simplest state", "the plainest state"))
    index = json.loads((tmp_path / "sc" / "index.json").read_text())
    index["details"]["steps"].reverse()
    (tmp_path / "sc" / "index.json").write_text(json.dumps(index))
    killercoda.import_scenario(tmp_path / "sc", tmp_path / "back")
    back = tmp_path / "back"
    task = yaml.safe_load((back / "hello-file" / "task.yaml").read_text())
    original = yaml.safe_load((MINI / "hello-file" / "task.yaml").read_text())
    assert task["hints"][0] == "Look in /tmp first." and task["hints"][1:] == original["hints"][1:]
    assert task["solution"] == [{"script": "solution-killercoda.sh", "host": "controlplane"}]
    assert "echo edited > /tmp/x" in (back / "hello-file" / "solution-killercoda.sh").read_text()
    assert task["reset"] == original["reset"] and task["checks"] == original["checks"]
    assert task["explanation"] == "Files are the plainest state a grader can check.\n"
    assert yaml.safe_load((back / "pack.yaml").read_text())["tasks"] == ["hello-file", "count-lines"]
    assert lint(str(back)) == []


# --- pack build never replaces another pack's archive silently -------------------------------

def test_pack_build_says_when_it_replaces_other_content(tmp_path):
    pack = tmp_path / "p"
    shutil_copy = __import__("shutil").copytree
    shutil_copy(MINI, pack)
    dist = tmp_path / "dist"
    assert grader("pack", "build", str(pack), "-o", str(dist)).returncode == 0
    again = grader("pack", "build", str(pack), "-o", str(dist))
    assert again.returncode == 0 and "replaced" not in again.stderr          # the same content
    (pack / "hello-file" / "description.md").write_text("Another pack of the same name.\n")
    other = grader("pack", "build", str(pack), "-o", str(dist))
    assert other.returncode == 0 and "replaced" in other.stderr and "held other content" in other.stderr
