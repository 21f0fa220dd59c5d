"""Export: a pack -> a killercoda scenario folder, one step per task in the pack's order,
rendered for one seed with the killercoda inventory (controlplane is the host the scripts run
on, node01 is `ssh node01`):

    index.json           the image from the pack's target and hosts (or what pack.yaml
                         `killercoda` keeps from an import), its difficulty, time, interface
    stepN/text.md        the task description, its hints and the reference solution
                         in <details> blocks
    stepN/background.sh  the task's reset and setup steps, as `grader setup` runs them,
                         with no time limit (killercoda sets none)
    stepN/verify.sh      the task's own verify script as it is, when its one check is that
                         script; else its checks, judged exactly as grader judges them
                         (grader.killercoda.verify_runtime), limited only by the timeouts the
                         task itself sets
    grader/              the original pack files and export.json (hashes of the files and of
                         each part of the texts above), so that an import restores every task,
                         with the edits made on killercoda applied (grader.killercoda.restore)
"""
from __future__ import annotations

import base64
import json
import math
import re
import shutil
from pathlib import Path

from grader.engine.checks import exports
from grader.engine.lifecycle import render
from grader.errors import PackError
from grader.inventory import killercoda_default
from grader.killercoda import markdown
from grader.killercoda.common import (EXPORT_FILE, FORMAT, IMAGE, INDEX, MARKER_DIR, SSH_OPTS, Report, copy_tree,
                                      sha256_text, staged_output)
from grader.killercoda.scripts import original_bytes
from grader.killercoda.verify_runtime import runtime_parts, verify_script
from grader.packs.loader import LIB_DIR, load_pack
from grader.packs.yamlsrc import load_yaml
from grader.shell import quote


def image_for(pack, kept: dict, report: Report, given: str | None = None) -> str:
    """backend.imageid: --image, else what the import kept, else from the pack's target and hosts."""
    two = "node01" in pack.hosts
    if given or kept.get("imageid"):
        image = given or kept["imageid"]
        if two and not re.search(r"[2-9]nodes?", image):
            report.note(f"backend.imageid {image}: the pack uses node01, which a one-host image lacks")
        return image
    if pack.target == "kubernetes":
        return IMAGE if two else "kubernetes-kubeadm-1node"
    if two:
        report.note(f"a linux pack on two hosts: killercoda's image with controlplane and node01 is {IMAGE} "
                    "(its cluster is not used)")
        return IMAGE
    return "ubuntu"


def export_pack(ref: str, out: str | Path, *, seed: int = 0, image: str | None = None, force: bool = False) -> Report:
    inventory = killercoda_default()
    pack = load_pack(ref, inventory=inventory)
    kept = dict(load_yaml(pack.dir / "pack.yaml").get("killercoda") or {})
    tasks = render(pack, list(pack.tasks), seed=seed, inventory=inventory)
    out = Path(out)
    report = Report(out=out)
    with staged_output(out, force=force, marker=INDEX, what="export") as stage:
        _write(stage, pack, tasks, kept, report, seed=seed, image=image_for(pack, kept, report, image),
               inventory=inventory)
    return report


def _write(stage: Path, pack, tasks, kept: dict, report: Report, *, seed: int, image: str, inventory) -> None:
    program_parts = runtime_parts()
    steps, records = [], {}
    for n, task in enumerate(tasks, 1):
        folder = f"step{n}"
        (stage / folder).mkdir()
        text = step_text(task)
        own = own_verify(task, inventory)
        verify = own[1] if own else verify_script(task, inventory, where, seed=seed, parts=program_parts).encode()
        files = {f"{folder}/text.md": text.encode(), f"{folder}/background.sh": background_script(task, inventory).encode(),
                 f"{folder}/verify.sh": verify}
        for rel, data in files.items():
            (stage / rel).write_bytes(data)
        for rel in (f"{folder}/background.sh", f"{folder}/verify.sh"):
            (stage / rel).chmod(0o755)
        steps.append({"title": task.title, "text": f"{folder}/text.md", "verify": f"{folder}/verify.sh",
                      "background": f"{folder}/background.sh"})
        description, hints, solutions = markdown.split(text)
        records[folder] = {"task": task.spec.dir.name, "id": task.id, "title": task.title,
                           "files": {rel: sha256_text(data) for rel, data in files.items()},
                           "parts": {"description": sha256_text(description.strip()),
                                     "hints": [sha256_text(h.strip()) for h in hints],
                                     "solution": sha256_text("\n\n".join(s.strip() for s in solutions)),
                                     "explanation": sha256_text(task.explanation.strip())},
                           "verify_source": own[0] if own else None}
        report.tasks.append(folder)
        if task.params and any(isinstance(v, dict) for v in task.spec.data.get("params", {}).values()):
            report.note(f"{task.id}: random params drawn with seed {seed}; killercoda shows this one variant "
                        f"(export again with --seed for another)")
        if any(c.sensitive for c in task.checks):
            report.note(f"{task.id}: a sensitive check's expected value is readable in {folder}/verify.sh "
                        "by anyone who can read the scenario source")
    intro, finish = _intro_text(pack), _finish_text(tasks)
    (stage / "intro.md").write_text(intro)
    (stage / "finish.md").write_text(finish)
    minutes = sum(t.spec.minutes for t in tasks)
    values = {"title": pack.title, "description": _first_paragraph(pack.description) or pack.title,
              "difficulty": kept.get("difficulty"), "time": kept.get("time") or f"{max(1, math.ceil(minutes))} minutes"}
    index = {k: v for k, v in values.items() if v}
    index["details"] = {"intro": {"text": "intro.md"}, "steps": steps, "finish": {"text": "finish.md"}}
    index["backend"] = {"imageid": image}
    if kept.get("interface"):
        index["interface"] = kept["interface"]
    index_text = json.dumps(index, indent=2) + "\n"
    (stage / INDEX).write_text(index_text)

    marker = stage / MARKER_DIR         # the original pack, for an import that restores it
    marker.mkdir()
    shutil.copy2(pack.dir / "pack.yaml", marker / "pack.yaml")
    for task in tasks:
        copy_tree(task.spec.dir, marker / "tasks" / task.spec.dir.name)
    if (pack.dir / LIB_DIR).is_dir():       # scripts shared by tasks (../lib/NAME)
        copy_tree(pack.dir / LIB_DIR, marker / LIB_DIR)
    meta = {"format": FORMAT, "pack": pack.name, "version": pack.version, "seed": seed, "image": image,
            "order": [t.id for t in tasks],
            "values": {**values, "imageid": image, "interface": kept.get("interface")},
            "index": {INDEX: sha256_text(index_text), "intro.md": sha256_text(intro),
                      "finish.md": sha256_text(finish)},
            "steps": records}
    (marker / EXPORT_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    report.note("points, domains and exam settings have no killercoda counterpart (kept in grader/ for import)")


def _first_paragraph(text: str) -> str:
    for para in re.split(r"\n\s*\n", (text or "").strip()):
        line = " ".join(para.split())
        if line:
            return line
    return ""


def _intro_text(pack) -> str:
    body = (pack.description or pack.title).strip()
    return (f"{body}\n\n---\n\n*Exported by grader from the pack `{pack.name}` {pack.version}. "
            "Each step breaks something; fix it and press **Check**.*\n")


def _finish_text(tasks) -> str:
    parts = ["Well done: every step is fixed.\n"]
    for task in tasks:
        if task.explanation.strip():
            parts.append(f"### {task.title}\n\n{task.explanation.strip()}\n")
    return "\n".join(parts)


def step_text(task) -> str:
    parts = [task.description.strip(), ""]
    for i, hint in enumerate(task.hints, 1):
        parts += [f"<details><summary>Hint {i}</summary>", "", hint.strip(), "", "</details>", ""]
    if task.solution:
        solution = "\n\n".join(s.display() for s in task.solution)
        parts += ["<details><summary>Solution</summary>", "", "```bash", solution, "```", "", "</details>", ""]
    return "\n".join(parts)


def own_verify(task, inventory) -> tuple[str, bytes] | None:
    """(file, bytes) of the task's own verify script when verify.sh can be that script as it is:
    one `script` check on the host the scripts run on, no expect, no within, no params and no
    GRADER_ variables to pass (a task imported from killercoda, typically)."""
    if len(task.checks) != 1 or task.spec.data.get("params"):
        return None
    check, raw = task.checks[0], task.spec.data["checks"][0]
    if check.kind != "script" or raw.get("expect") or raw.get("within") or where(inventory, check.host) is not None:
        return None
    data = (task.spec.dir / raw["script"]).read_bytes()
    if b"GRADER_" in data.replace(b"GRADER_ORIGINAL_BYTES", b""):
        return None
    return raw["script"], original_bytes(data.decode("utf-8", "replace")) or data


def _payload(task, step) -> str:
    """The bash text one step runs, exactly as grader's runner builds it."""
    if step.kind == "copy":
        to = quote(step.to)
        data = base64.encodebytes(step.command.encode()).decode()
        return (f"set -e\nmkdir -p -- \"$(dirname -- {to})\"\nbase64 -d > {to} <<'GRADER_COPY'\n{data}"
                f"GRADER_COPY\nchmod {quote(step.mode)} -- {to}\n")
    return "cd ~ 2>/dev/null || cd /\n" + exports(task.env) + step.command


BACKGROUND_HEAD = """#!/bin/bash
# Generated by `grader export killercoda`: breaks task {id} ({title_q}),
# running its reset and then its setup steps as `grader setup` does (with no time
# limit: killercoda sets none).  Progress and errors go to {log}.
exec >>{log} 2>&1
_step() {{  # label host base64-script
  local rc f
  echo "== $1 on $2"
  if [ "$2" = local ]; then
    f=$(mktemp)
    printf '%s' "$3" | base64 -d > "$f"
    bash "$f" </dev/null
    rc=$?
    rm -f "$f"
  else
    printf '%s' "$3" | ssh {ssh_opts} "$2" \\
      "f=\\$(mktemp); base64 -d > \\"\\$f\\"; bash \\"\\$f\\" </dev/null; rc=\\$?; rm -f \\"\\$f\\"; exit \\$rc"
    rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    echo "grader: $1 on $2 exited $rc" >&2
    exit "$rc"
  fi
}}
"""


def background_script(task, inventory) -> str:
    log = f"/var/log/grader-{task.id}.log"
    lines = [BACKGROUND_HEAD.format(id=task.id, title_q=" ".join(task.title.split()), log=log,
                                    ssh_opts=" ".join(SSH_OPTS))]
    for step in task.reset + task.setup:
        host = where(inventory, step.host)
        b64 = base64.b64encode(_payload(task, step).encode()).decode()
        label = step.label.replace("[", "(").replace("]", ")")
        lines.append(f"_step {quote(label)} {quote(host or 'local')} {quote(b64)}")
    lines.append(f"echo \"== task {task.id} is ready\"")
    return "\n".join(lines) + "\n"


def where(inventory, role: str) -> str | None:
    """None for the host the scripts run on (controlplane), else the ssh address."""
    spec = inventory.host(role)
    if spec.transport == "local":
        return None
    if spec.transport == "ssh":
        return spec.address
    raise PackError(f"host '{role}' uses the {spec.transport} transport; killercoda reaches hosts by ssh")
