"""Killercoda interop on the local lab, which has killercoda's layout: controlplane can
`ssh node01`, both run bash and python3 as root.

- a scenario written here is imported, lints, and `grader setup` / `grader check` grade it;
- a pack exported here runs on the lab as it would on killercoda: background.sh breaks the
  task, verify.sh fails, the reference solution makes verify.sh pass (node01 included).
Every path carries a random tag, so parallel sessions sharing the lab do not collide.
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

from grader import killercoda
from grader.packs.lint import lint

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.lab


def grader(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(ROOT)})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@pytest.fixture
def tag(lab):
    tag = uuid.uuid4().hex[:10]
    yield tag
    for host in ("controlplane", "node01"):
        lab.ssh(host, f"rm -rf /tmp/kc-{tag}")
    lab.ssh("controlplane", "rm -f /var/log/grader-split.log")   # the exported background.sh's log


def test_an_imported_scenario_lints_and_grades_on_the_lab(lab, tag, tmp_path):
    d = f"/tmp/kc-{tag}"
    src = tmp_path / "web-fix"
    index = {
        "title": "Repair a web host", "description": "Config and a flag on node01", "time": "6 minutes",
        "details": {
            "intro": {"text": "intro.md"},
            "steps": [
                {"title": "Fix the port", "text": "step1/text.md", "verify": "step1/verify.sh",
                 "background": "step1/background.sh"},
                {"title": "Raise the flag on node01", "text": "step2/text.md", "verify": "step2/verify.sh"},
            ],
            "finish": {"text": "finish.md"},
        },
        "backend": {"imageid": "kubernetes-kubeadm-2nodes"},
    }
    write(src / "index.json", json.dumps(index))
    write(src / "intro.md", "Two repairs.\n")
    write(src / "step1" / "text.md", f"Set `port=8080` in `{d}/app.conf`.\n\n`cat {d}/app.conf`{{{{exec}}}}\n")
    write(src / "step1" / "background.sh", f"#!/bin/bash\nmkdir -p {d}\necho port=80 > {d}/app.conf\n")
    write(src / "step1" / "verify.sh", f"#!/bin/bash\ngrep -qx port=8080 {d}/app.conf\n")
    write(src / "step2" / "text.md", f"Create `{d}/flag` on node01.\n")
    write(src / "step2" / "verify.sh", f"#!/bin/bash\nssh node01 test -f {d}/flag\n")
    write(src / "finish.md", "Done.\n")

    pack = tmp_path / "pack"
    proc = grader("import", "killercoda", str(src), "-o", str(pack))
    assert proc.returncode == 0, proc.stderr
    assert lint(str(pack)) == []
    inv = str(lab.inventory_path)
    assert grader("setup", str(pack), "-i", inv).returncode == 0
    assert lab.ssh("controlplane", f"cat {d}/app.conf").stdout == "port=80\n"

    before = grader("check", str(pack), "-i", inv, "--json")
    assert before.returncode == 1, before.stderr
    statuses = [t["checks"][0]["status"] for t in json.loads(before.stdout)["tasks"]]
    assert statuses == ["FAIL", "FAIL"]

    lab.ssh("controlplane", f"echo port=8080 > {d}/app.conf", check=True)
    lab.ssh("node01", f"mkdir -p {d} && touch {d}/flag", check=True)
    after = grader("check", str(pack), "-i", inv, "--json")
    assert after.returncode == 0, after.stdout + after.stderr
    assert [t["checks"][0]["status"] for t in json.loads(after.stdout)["tasks"]] == ["PASS", "PASS"]


def exported_pack(root: Path, d: str) -> Path:
    pack = root / "kc-export"
    write(pack / "pack.yaml", """
        name: kc-export
        title: Export me
        version: 0.1.0
        target: linux
        hosts: [controlplane, node01]
        """)
    write(pack / "split" / "description.md", "Make `{{ dir }}/a` say {{ word }} and put a `b` on node01.\n")
    write(pack / "split" / "break.sh", '#!/usr/bin/env bash\nset -eu\nmkdir -p "$DIR"\necho nope > "$DIR/a"\n')
    write(pack / "split" / "motd.txt", "{{ word }} from {{ hosts.node01.node }}\n")
    write(pack / "split" / "task.yaml", f"""
        id: split
        title: One file per host
        minutes: 2
        params:
          dir: {d}
          word: {{choice: [alpha, beta]}}
        setup:
          - script: break.sh
          - run: rm -rf {{{{ dir }}}} && mkdir -p {{{{ dir }}}}
            host: node01
          - copy: motd.txt
            to: "{{{{ dir }}}}/motd"
            mode: "0600"
            host: node01
        solution:
          - run: echo {{{{ word }}}} > {{{{ dir }}}}/a
          - run: touch {{{{ dir }}}}/b
            host: node01
        reset:
          - run: rm -rf {{{{ dir }}}}
          - run: rm -rf {{{{ dir }}}}
            host: node01
        checks:
          - name: a says the word
            run: cat {{{{ dir }}}}/a
            expect: {{stdout: "{{{{ word }}}}"}}
          - name: b exists on node01
            host: node01
            file: "{{{{ dir }}}}/b"
          - name: the copied file on node01 is private and rendered
            host: node01
            passes_before_fix: true
            file: "{{{{ dir }}}}/motd"
            expect: {{mode: "0600", content: "{{{{ word }}}} from node01"}}
        """)
    return pack


def test_an_exported_scenario_runs_on_a_killercoda_like_host(lab, tag, tmp_path):
    from grader.inventory import killercoda_default, load
    from grader.engine.lifecycle import render
    from grader.packs.loader import load_pack
    from grader.engine.runner import Runner

    d = f"/tmp/kc-{tag}"
    pack = exported_pack(tmp_path, d)
    assert lint(str(pack)) == []
    killercoda.export_pack(str(pack), tmp_path / "sc", seed=5)
    step = tmp_path / "sc" / "step1"

    def on_controlplane(script: str):
        return lab.ssh("controlplane", "bash -s", input=(step / script).read_bytes(), timeout=120)

    assert on_controlplane("background.sh").returncode == 0
    assert lab.ssh("controlplane", f"cat {d}/a").stdout == "nope\n"
    broken = on_controlplane("verify.sh")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "FAIL  a says the word" in broken.stdout and "FAIL  b exists on node01" in broken.stdout
    assert "PASS  the copied file on node01 is private and rendered" in broken.stdout

    # the reference solution, applied the way grader applies it (same seed, killercoda's facts)
    loaded = load_pack(str(pack), inventory=killercoda_default())
    inventory = load(lab.inventory_path)
    task = render(loaded, list(loaded.tasks), seed=5, inventory=killercoda_default())[0]
    with Runner(inventory) as runner:
        runner.run_steps(task, "solution")
    fixed = on_controlplane("verify.sh")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "3 of 3 checks pass" in fixed.stdout


# --- a bank scenario as trainers moving from Katacoda have them -------------------------

def bank_scenario(root: Path, d: str) -> Path:
    """Three steps: an unverified first step whose background the next steps need, a graded
    step whose verify sleeps 25 s and whose text carries its solution, and a Cleanup step last;
    the intro's setup is Katacoda's courseData."""
    index = {
        "title": "Bring the inventory service back", "difficulty": "beginner", "time": "12 minutes",
        "details": {
            "intro": {"text": "intro.md", "courseData": "env-init.sh"},
            "steps": [
                {"title": "Meet the service", "text": "meet/text.md", "courseData": "meet/background.sh"},
                {"title": "Point it at port 8080", "text": "port/text.md", "verify": "port/verify.sh"},
                {"title": "Cleanup", "text": "zz-cleanup/text.md", "verify": "zz-cleanup/verify.sh"},
            ],
            "finish": {"text": "finish.md"},
        },
        "backend": {"imageid": "ubuntu"},
    }
    write(root / "index.json", json.dumps(index, indent=2))
    write(root / "intro.md", "The inventory service answers on the wrong port.\n")
    write(root / "env-init.sh", f"#!/bin/bash\nmkdir -p {d}\necho port=80 > {d}/inventory.conf\n")
    write(root / "meet" / "text.md", f"The service reads `{d}/inventory.conf` and keeps a lock file.\n")
    write(root / "meet" / "background.sh", f"#!/bin/bash\nmkdir -p {d}\ntouch {d}/inventory.lock\n")
    write(root / "port" / "text.md", f"""
        Make the service use port 8080.

        <details><summary>Solution</summary>

        ```bash
        sed -i 's/^port=.*/port=8080/' {d}/inventory.conf
        ```

        </details>
        """)
    write(root / "port" / "verify.sh", f"#!/bin/bash\n# the service rereads its config every 20 s\nsleep 25\n"
                                       f"grep -qx port=8080 {d}/inventory.conf && test -f {d}/inventory.lock\n")
    write(root / "zz-cleanup" / "text.md", f"Remove the stale lock file.\n\n## Solution\n\n```\nrm -f {d}/inventory.lock\n```\n")
    write(root / "zz-cleanup" / "verify.sh", f"#!/bin/bash\ntest -f {d}/inventory.conf && test ! -e {d}/inventory.lock\n")
    write(root / "finish.md", "Ports and locks: done.\n")
    return root


def outcomes(proc) -> list[str]:
    """The status of each task's one check; an ERROR names its message (what the host said)."""
    out = []
    for t in json.loads(proc.stdout)["tasks"]:
        c = t["checks"][0]
        out.append(c["status"] if c["status"] != "ERROR" else f"ERROR {c.get('message') or t.get('error')}")
    return out


def test_a_katacoda_bank_scenario_imports_grades_and_exports_on_the_lab(lab, tag, tmp_path):
    d = f"/tmp/kc-{tag}"
    src = bank_scenario(tmp_path / "inventory-service", d)
    pack = tmp_path / "pack"
    proc = grader("import", "killercoda", str(src), "-o", str(pack), "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["tasks"] == ["point-it-at-port-8080", "cleanup"]
    assert [f for f in json.loads(proc.stdout)["lint"] if f["severity"] == "error"] == []
    show = grader("show", f"{pack}/point-it-at-port-8080")
    assert "sed -i" not in show.stdout and "The service reads" in (pack / "pack.yaml").read_text()

    inv = str(lab.inventory_path)
    setup = grader("setup", str(pack), "-i", inv)
    assert setup.returncode == 0, setup.stdout + setup.stderr
    assert lab.ssh("controlplane", f"cat {d}/inventory.conf; ls {d}").stdout == \
        "port=80\ninventory.conf\ninventory.lock\n"     # courseData and the unverified step's background ran
    before = grader("check", str(pack), "-i", inv, "--json")
    assert outcomes(before) == ["FAIL", "FAIL"], before.stdout + before.stderr

    # the candidate, for the first task, then the reference solution made from the text, for the second
    lab.ssh("controlplane", f"sed -i 's/^port=.*/port=8080/' {d}/inventory.conf", check=True)
    after_port = grader("check", f"{pack}/point-it-at-port-8080", "-i", inv, "--json")
    assert outcomes(after_port) == ["PASS"], after_port.stdout + after_port.stderr   # it slept 25 s and passed
    assert grader("solve", f"{pack}/cleanup", "-i", inv).returncode == 0
    after = grader("check", f"{pack}/cleanup", "-i", inv, "--json")
    assert outcomes(after) == ["PASS"], after.stdout + after.stderr

    out = tmp_path / "exported"
    assert grader("export", "killercoda", str(pack), "-o", str(out)).returncode == 0
    index = json.loads((out / "index.json").read_text())
    assert [s["title"] for s in index["details"]["steps"]] == ["Point it at port 8080", "Cleanup"]
    assert index["backend"] == {"imageid": "ubuntu"} and index["time"] == "12 minutes"
    assert (out / "step1" / "verify.sh").read_bytes() == (src / "port" / "verify.sh").read_bytes()
    for step in ("step1", "step2"):
        assert "timeout" not in (out / step / "background.sh").read_text()

    # the exported step on the killercoda-like host: background.sh breaks it, verify.sh (25 s) judges
    lab.ssh("controlplane", f"rm -rf {d}", check=True)
    ran = lab.ssh("controlplane", "bash -s", input=(out / "step1" / "background.sh").read_bytes(), timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    lab.ssh("controlplane", f"sed -i 's/^port=.*/port=8080/' {d}/inventory.conf", check=True)
    judged = lab.ssh("controlplane", "bash -s", input=(out / "step1" / "verify.sh").read_bytes(), timeout=120)
    assert judged.returncode == 0, judged.stdout + judged.stderr
    lab.ssh("controlplane", "rm -f /var/log/grader-point-it-at-port-8080.log /var/log/grader-cleanup.log")
