"""Killercoda interoperability: import a scenario folder, export a pack, round-trip."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from grader import killercoda
from grader.errors import PackError, UsageError
from grader.packs.lint import lint
from needs import tool  # tests/needs.py

ROOT = Path(__file__).resolve().parents[2]
MINI = ROOT / "tests" / "data" / "packs" / "mini"
BUILTIN = ROOT / "tasks"


def grader(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


def tree(root: Path) -> dict[str, bytes]:
    from grader.packs.archive import pack_files
    return {rel: (root / rel).read_bytes() for rel in pack_files(root)}


def write(path: Path, text: str, mode: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    if mode:
        path.chmod(mode)
    return path


def scenario(root: Path, *, image="ubuntu") -> Path:
    """A killercoda scenario as trainers write them."""
    index = {
        "title": "Fix the web config",
        "description": "Two small repairs on a web host",
        "difficulty": "beginner",
        "time": "10 minutes",
        "details": {
            "intro": {"text": "intro.md", "background": "intro/background.sh", "foreground": "intro/fg.sh"},
            "steps": [
                {"title": "Restore the config file", "text": "step1/text.md", "verify": "step1/verify.sh",
                 "background": "step1/background.sh", "foreground": "step1/foreground.sh"},
                {"title": "Read about logs", "text": "step2/text.md"},
                {"title": "Make the helper executable", "text": "step3/text.md", "verify": "step3/verify.sh"},
            ],
            "finish": {"text": "finish.md", "background": "finish/bg.sh"},
            "assets": {"host01": [{"file": "helper.sh", "target": "/usr/local/bin", "chmod": "+x"}]},
        },
        "backend": {"imageid": image},
        "interface": {"layout": "ide"},
    }
    write(root / "index.json", json.dumps(index, indent=2))
    write(root / "intro.md", "# Welcome\n\nYou will repair a web host.\n")
    write(root / "intro" / "background.sh", "#!/bin/bash\nmkdir -p /tmp/kc-web\n")
    write(root / "intro" / "fg.sh", "#!/bin/bash\necho waiting\n")
    write(root / "step1" / "text.md", """
        Restore `/tmp/kc-web/app.conf` so that it contains `port=8080`.

        `cat /tmp/kc-web/app.conf`{{exec}}

        Use `{{ .Values.port }}`-style placeholders nowhere.
        """)
    write(root / "step1" / "verify.sh", "#!/bin/bash\ngrep -qx port=8080 /tmp/kc-web/app.conf\n")
    write(root / "step1" / "background.sh", "#!/bin/bash\nmkdir -p /tmp/kc-web\necho port=80 > /tmp/kc-web/app.conf\n")
    write(root / "step1" / "foreground.sh", "#!/bin/bash\nclear\n")
    write(root / "step2" / "text.md", "Logs live in /var/log.\n")
    write(root / "step3" / "text.md", "Make `/usr/local/bin/helper.sh` executable.\n")
    write(root / "step3" / "verify.sh", "#!/bin/bash\ntest -x /usr/local/bin/helper.sh\n")
    write(root / "finish.md", "Well done: files and modes are half of Linux administration.\n")
    write(root / "assets" / "helper.sh", "#!/bin/bash\necho helping\n")
    return root


# --- import ---------------------------------------------------------------------------

def test_import_maps_a_scenario_to_a_pack(tmp_path):
    src = scenario(tmp_path / "fix-web")
    report = killercoda.import_scenario(src, tmp_path / "pack")
    out = tmp_path / "pack"
    assert report.tasks == ["restore-the-config-file", "make-the-helper-executable"]
    pack = yaml.safe_load((out / "pack.yaml").read_text())
    assert pack["name"] == "fix-web" and pack["title"] == "Fix the web config"
    assert pack["target"] == "linux" and pack["hosts"] == ["controlplane"]
    assert "You will repair a web host." in pack["description"]
    assert pack["killercoda"] == {"imageid": "ubuntu", "difficulty": "beginner", "time": "10 minutes",
                                  "interface": {"layout": "ide"}}
    assert pack["tasks"] == ["restore-the-config-file", "make-the-helper-executable"]

    task = yaml.safe_load((out / "restore-the-config-file" / "task.yaml").read_text())
    assert task["checks"] == [{"name": "the step's killercoda verify script passes", "host": "controlplane",
                               "script": "verify.sh", "timeout": 60}]
    assert [s["script"] for s in task["setup"]] == ["../lib/assets-controlplane.sh", "../lib/intro-background.sh",
                                                    "setup.sh"]
    assert task["minutes"] == 5.0
    assert (out / "restore-the-config-file" / "verify.sh").read_text() == (src / "step1" / "verify.sh").read_text()
    assert (out / "restore-the-config-file" / "setup.sh").read_text() == (src / "step1" / "background.sh").read_text()
    desc = (out / "restore-the-config-file" / "description.md").read_text()
    assert "{{exec}}" not in desc and "`cat /tmp/kc-web/app.conf`" in desc
    assert desc.startswith("{% raw %}")          # killercoda's own {{ }} stays literal text
    last = yaml.safe_load((out / "make-the-helper-executable" / "task.yaml").read_text())
    assert "half of Linux administration" in last["explanation"]
    assert "explanation" not in task
    # the step without a verify script: its text is part of the next graded step's
    assert "### Read about logs\n\nLogs live in /var/log." in \
        (out / "make-the-helper-executable" / "description.md").read_text()

    notes = "\n".join(report.notes)
    for expected in ("interface", "details.steps[0].foreground", "details.steps[1] ('Read about logs'): no verify",
                     "{{exec}}", "details.intro.foreground", "details.finish.background",
                     "has no solution", "no reset", "steps build on each other"):
        assert expected in notes, expected
    assert lint(str(out)) == []


def test_assets_are_written_by_a_setup_script(tmp_path):
    src = scenario(tmp_path / "fix-web")
    killercoda.import_scenario(src, tmp_path / "pack")
    script = (tmp_path / "pack" / "lib" / "assets-controlplane.sh").read_text()
    dest = tmp_path / "root"
    script = script.replace("/usr/local/bin", str(dest))
    subprocess.run(["bash", "-c", script], check=True, timeout=30)
    assert (dest / "helper.sh").read_text() == "#!/bin/bash\necho helping\n"
    assert os.access(dest / "helper.sh", os.X_OK)


def test_kubernetes_images_give_kubernetes_packs(tmp_path):
    src = scenario(tmp_path / "k8s", image="kubernetes-kubeadm-2nodes")
    killercoda.import_scenario(src, tmp_path / "pack", name="My K8s Pack", version="1.2.0")
    pack = yaml.safe_load((tmp_path / "pack" / "pack.yaml").read_text())
    assert (pack["name"], pack["version"], pack["target"]) == ("my-k8s-pack", "1.2.0", "kubernetes")
    assert pack["hosts"] == ["controlplane", "node01"]
    src2 = scenario(tmp_path / "odd", image="something-else")
    report = killercoda.import_scenario(src2, tmp_path / "pack2")
    assert any("target linux assumed" in n for n in report.notes)


def test_import_refuses_what_is_not_a_scenario(tmp_path):
    with pytest.raises(UsageError, match="no index.json"):
        killercoda.import_scenario(tmp_path, tmp_path / "out")
    (tmp_path / "index.json").write_text("{nope")
    with pytest.raises(PackError, match="not valid JSON"):
        killercoda.import_scenario(tmp_path, tmp_path / "out")


def test_import_does_not_overwrite_foreign_folders(tmp_path):
    src = scenario(tmp_path / "fix-web")
    other = tmp_path / "precious"
    other.mkdir()
    (other / "thesis.tex").write_text("...")
    with pytest.raises(UsageError, match="not empty"):
        killercoda.import_scenario(src, other)
    with pytest.raises(UsageError, match="refusing to delete"):
        killercoda.import_scenario(src, other, force=True)
    assert (other / "thesis.tex").exists()
    killercoda.import_scenario(src, tmp_path / "pack")
    killercoda.import_scenario(src, tmp_path / "pack", force=True)   # an earlier import is replaced


def test_cli_import(tmp_path):
    src = scenario(tmp_path / "fix-web")
    proc = grader("import", "killercoda", str(src), "-o", str(tmp_path / "pack"), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["tasks"] == ["restore-the-config-file", "make-the-helper-executable"]
    assert any("foreground" in n for n in out["not_mapped"])
    proc = grader("import", "killercoda", str(src), "-o", str(tmp_path / "pack2"))
    assert proc.returncode == 0, proc.stderr
    assert "not carried over" in proc.stderr and f"grader lint {tmp_path / 'pack2'}: ok" in proc.stderr


# --- export ---------------------------------------------------------------------------

def test_export_writes_a_valid_scenario(tmp_path):
    report = killercoda.export_pack(str(MINI), tmp_path / "sc")
    sc = tmp_path / "sc"
    index = json.loads((sc / "index.json").read_text())
    assert index["backend"] == {"imageid": "ubuntu"}        # mini: a linux pack on one host
    assert index["title"] == "A tiny pack for grader's own tests"
    assert isinstance(index["description"], str) and index["time"] == "3 minutes"
    steps = index["details"]["steps"]
    assert [s["title"] for s in steps] == ["A file with three lines", "Write a greeting file"]
    for s in steps:
        assert set(s) == {"title", "text", "verify", "background"}
        for key in ("text", "verify", "background"):
            assert (sc / s[key]).is_file(), s[key]
    for key in ("intro", "finish"):
        assert (sc / index["details"][key]["text"]).is_file()
    assert report.tasks == ["step1", "step2"]
    text = (sc / "step2" / "text.md").read_text()
    assert "Create the file `/tmp/grader-mini-" in text
    assert "<details><summary>Hint 1</summary>" in text and "<details><summary>Solution</summary>" in text
    assert "{{" not in text
    assert os.access(sc / "step1" / "verify.sh", os.X_OK)
    assert any("seed 0" in n for n in report.notes)


def test_exported_scripts_pass_shellcheck(tmp_path):
    shellcheck = tool("shellcheck")
    killercoda.export_pack(str(BUILTIN / "linux-networking"), tmp_path / "sc")
    scripts = sorted(str(p) for p in (tmp_path / "sc").glob("step*/*.sh"))
    proc = subprocess.run([shellcheck, "-s", "bash", *scripts], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("pack", ["mini", "linux-networking", "cka-road-trip"])
def test_export_then_import_gives_the_same_tasks_back(tmp_path, pack):
    src = MINI if pack == "mini" else BUILTIN / pack
    killercoda.export_pack(str(src), tmp_path / "sc", seed=3)
    report = killercoda.import_scenario(tmp_path / "sc", tmp_path / "back")
    assert tree(tmp_path / "back") == tree(src)
    assert sorted(report.tasks) == sorted(p.parent.name for p in src.glob("*/task.yaml"))
    assert report.notes == []


def test_an_edited_step_is_imported_from_its_killercoda_files(tmp_path):
    killercoda.export_pack(str(MINI), tmp_path / "sc")
    verify = tmp_path / "sc" / "step1" / "verify.sh"
    verify.write_text("#!/bin/bash\ntest -s /tmp/grader-mini-lines\n")
    report = killercoda.import_scenario(tmp_path / "sc", tmp_path / "back")
    assert report.tasks == ["count-lines", "hello-file"]          # the original ids
    assert any("details.steps[0] (count-lines): edited since the export" in n for n in report.notes)
    back = tmp_path / "back"
    assert tree(back / "hello-file") == tree(MINI / "hello-file")
    assert (back / "count-lines" / "verify-killercoda.sh").read_text() == verify.read_text()
    task = yaml.safe_load((back / "count-lines" / "task.yaml").read_text())
    original = yaml.safe_load((MINI / "count-lines" / "task.yaml").read_text())
    assert {k: task[k] for k in ("id", "title", "domain", "setup", "solution", "reset")} == \
        {k: original[k] for k in ("id", "title", "domain", "setup", "solution", "reset")}
    assert [c["script"] for c in task["checks"]] == ["verify-killercoda.sh"]
    assert task["checks"][0]["points"] == 2                     # the task is still worth what it was
    assert lint(str(back)) == []


def test_cli_export(tmp_path):
    proc = grader("export", "killercoda", str(MINI), "-o", str(tmp_path / "sc"), "--json", "--seed", "1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["tasks"] == ["step1", "step2"]
    assert json.loads((tmp_path / "sc" / "grader" / "export.json").read_text())["seed"] == 1
    proc = grader("export", "killercoda", str(MINI), "-o", str(tmp_path / "sc"))
    assert proc.returncode == 2 and "not empty" in proc.stderr
    proc = grader("export", "killercoda", str(MINI), "-o", str(tmp_path / "sc"), "--force")
    assert proc.returncode == 0, proc.stderr


# --- the exported verify script judges like grader -----------------------------------

JUDGED = """
id: judged
title: Every kind of check
minutes: 1
params:
  word: {choice: [alpha]}
setup:
  - run: mkdir -p {{ dir | raw }} && printf 'alpha\\nbeta\\n' > {{ dir | raw }}/f && chmod 0640 {{ dir | raw }}/f
checks:
  - name: file mode and content pass
    file: {{ dir }}/f
    expect: {exists: true, type: file, mode: "0640", content: {regex: "^beta$"}}
  - name: file mode fails
    file: {{ dir }}/f
    expect: {mode: "0600"}
  - name: absent file passes
    file: {{ dir }}/nope
    expect: {exists: false}
  - name: numbers and any pass
    run: wc -l < {{ dir | raw }}/f
    expect: {stdout: {any: [{gt: 5}, {all: [{ge: 2}, {not: {equals: 3}}]}]}}
  - name: exit matcher passes
    run: exit 3
    expect: {exit: {any: [1, 3]}}
  - name: stderr regex fails
    run: echo oops >&2
    expect: {stderr: {regex: "^fine$"}}
  - name: script with params passes
    script: verify.sh
  - name: sensitive fails
    sensitive: true
    run: echo hunter2
    expect: {stdout: swordfish}
  - name: a timeout is an error
    timeout: 1
    run: sleep 5
"""


def test_verify_script_judges_exactly_like_grader(tmp_path):
    if shutil.which("python3") is None:
        pytest.skip("python3 is needed by the exported verify scripts")
    pack = tmp_path / "judge-pack"
    d = str(tmp_path / "data")
    write(pack / "pack.yaml", "name: judge-pack\ntitle: Judge\nversion: 0.1.0\ntarget: linux\nhosts: [controlplane]\n")
    write(pack / "judged" / "task.yaml", JUDGED.replace("{{ dir }}", d).replace("{{ dir | raw }}", d))
    write(pack / "judged" / "description.md", "Nothing to do.\n")
    write(pack / "judged" / "verify.sh", '#!/bin/bash\n[ "$WORD" = alpha ] && grep -q "$WORD"' + f" {d}/f\n")
    inventory = write(tmp_path / "inv.yaml", "hosts:\n  controlplane: {transport: local}\n")

    killercoda.export_pack(str(pack), tmp_path / "sc")
    subprocess.run(["bash", str(tmp_path / "sc" / "step1" / "background.sh")], check=True, timeout=60)
    log = Path("/var/log/grader-judged.log")
    if log.exists():
        log.unlink()
    proc = subprocess.run(["bash", str(tmp_path / "sc" / "step1" / "verify.sh")], capture_output=True, text=True,
                          timeout=120)
    exported = {m.group(2): m.group(1) for m in re.finditer(r"^(PASS|FAIL|ERROR)  ([^:\n]+)", proc.stdout, re.M)}

    run = grader("check", str(pack), "-i", str(inventory), "--json")
    graded = {c["name"]: c["status"] for t in json.loads(run.stdout)["tasks"] for c in t["checks"]}
    assert exported == graded, proc.stdout
    assert graded == {"file mode and content pass": "PASS", "file mode fails": "FAIL", "absent file passes": "PASS",
                      "numbers and any pass": "PASS", "exit matcher passes": "PASS", "stderr regex fails": "FAIL",
                      "script with params passes": "PASS", "sensitive fails": "FAIL",
                      "a timeout is an error": "ERROR"}
    assert proc.returncode == 1
    assert "hunter2" not in proc.stdout and "swordfish" not in proc.stdout
    assert "5 of 9 checks pass" in proc.stdout


# --- the key table in docs/trainers.md -------------------------------------------------

def test_every_killercoda_key_is_in_the_trainers_table_and_back():
    from grader.killercoda.scenario import spec_paths

    doc = (ROOT / "docs" / "trainers.md").read_text()
    section = doc[doc.index("### Import a scenario"):doc.index("### Export a pack")]
    rows = set(re.findall(r"^\| `([^`]+)` \|", section, re.M))
    paths = set(spec_paths())
    assert paths - rows == set(), f"keys grader reads but docs/trainers.md does not list: {paths - rows}"
    assert rows - paths == set(), f"keys docs/trainers.md lists but grader does not read: {rows - paths}"
