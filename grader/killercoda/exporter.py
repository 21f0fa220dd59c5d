"""Export: a pack -> a killercoda scenario folder for `kubernetes-kubeadm-2nodes`, one step per
task, rendered for one seed with the killercoda inventory (controlplane is the host
the scripts run on, node01 is `ssh node01`):

    stepN/text.md        the task description, its hints and the reference solution
                         in <details> blocks
    stepN/background.sh  the task's reset and setup steps, as `grader setup` runs them
    stepN/verify.sh      the task's checks, judged exactly as grader judges them: a
                         python3 program made of grader's own `grader/matchers.py` and
                         `grader/checks.py` plus the rendered checks and the commands
                         `checks.command_for` gives, each run like grader runs a check
                         (with `bash -c`, its timeout, stdin /dev/null, in the login
                         folder; node01's over ssh), with `within` retries; a check that
                         times out or cannot reach its host is an ERROR.  Exit 0 when
                         every check passes.  Needs python3 on the host (Ubuntu has it).
    grader/              the original pack files and export.json (hashes of the files
                         above), so that an import restores every task exactly; a step
                         whose killercoda files were edited since is imported from them
"""
from __future__ import annotations

import base64
import json
import math
import re
import shutil
from pathlib import Path

from grader.errors import PackError
from grader.loader import LIB_DIR
from grader.killercoda.common import (EXPORT_FILE, FORMAT, IMAGE, INDEX, MARKER_DIR, SSH_OPTS, VERIFY_KILL_GRACE,
                               VERIFY_TIMEOUT_CODES, Report, _copy_tree, _prepare_out, sha256_text)


def export_pack(ref: str, out: str | Path, *, seed: int = 0, image: str = IMAGE, force: bool = False) -> Report:
    from grader.inventory import killercoda_default
    from grader.lifecycle import render
    from grader.loader import load_pack

    inventory = killercoda_default()
    pack = load_pack(ref, inventory=inventory)
    tasks = render(pack, list(pack.tasks), seed=seed, inventory=inventory)
    out = Path(out)
    _prepare_out(out, force=force, marker=INDEX, what="export")
    report = Report(out=out)
    program_parts = _verify_runtime_parts()

    steps, records = [], {}
    for n, task in enumerate(tasks, 1):
        folder = f"step{n}"
        (out / folder).mkdir()
        files = {f"{folder}/text.md": step_text(task),
                 f"{folder}/background.sh": background_script(task, inventory),
                 f"{folder}/verify.sh": verify_script(task, inventory, seed=seed, parts=program_parts)}
        for rel, text in files.items():
            (out / rel).write_text(text)
        for rel in (f"{folder}/background.sh", f"{folder}/verify.sh"):
            (out / rel).chmod(0o755)
        steps.append({"title": task.title, "text": f"{folder}/text.md", "verify": f"{folder}/verify.sh",
                      "background": f"{folder}/background.sh"})
        records[folder] = {"task": task.spec.dir.name,
                           "files": {rel: sha256_text(text) for rel, text in files.items()}}
        report.tasks.append(folder)
        if task.params and any(isinstance(v, dict) for v in task.spec.data.get("params", {}).values()):
            report.note(f"{task.id}: random params drawn with seed {seed}; killercoda shows this one variant "
                        f"(export again with --seed for another)")
        if any(c.sensitive for c in task.checks):
            report.note(f"{task.id}: a sensitive check's expected value is readable in {folder}/verify.sh "
                        "by anyone who can read the scenario source")
    intro = _intro_text(pack)
    finish = _finish_text(tasks)
    (out / "intro.md").write_text(intro)
    (out / "finish.md").write_text(finish)
    minutes = sum(t.spec.minutes for t in tasks)
    index = {"title": pack.title,
             "description": _first_paragraph(pack.description) or pack.title,
             "time": f"{max(1, math.ceil(minutes))} minutes",
             "details": {"intro": {"text": "intro.md"}, "steps": steps, "finish": {"text": "finish.md"}},
             "backend": {"imageid": image}}
    index_text = json.dumps(index, indent=2) + "\n"
    (out / INDEX).write_text(index_text)

    # the original pack, for an exact import
    marker = out / MARKER_DIR
    marker.mkdir()
    shutil.copy2(pack.dir / "pack.yaml", marker / "pack.yaml")
    for task in tasks:
        _copy_tree(task.spec.dir, marker / "tasks" / task.spec.dir.name)
    if (pack.dir / LIB_DIR).is_dir():       # scripts shared by tasks (../lib/NAME)
        _copy_tree(pack.dir / LIB_DIR, marker / LIB_DIR)
    meta = {"format": FORMAT, "pack": pack.name, "version": pack.version, "seed": seed, "image": image,
            "index": {INDEX: sha256_text(index_text), "intro.md": sha256_text(intro),
                      "finish.md": sha256_text(finish)},
            "steps": records}
    (marker / EXPORT_FILE).write_text(json.dumps(meta, indent=2) + "\n")

    report.note("points, domains and exam settings have no killercoda counterpart (kept in grader/ for import)")
    if image != IMAGE:
        report.note(f"backend.imageid {image}: the scripts assume hosts controlplane and node01 "
                    f"(as on {IMAGE})")
    return report

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


def _payload(task, step) -> str:
    """The bash text one step runs, exactly as grader's runner builds it."""
    from grader.checks import exports
    from grader.transport.base import quote

    if step.kind == "copy":
        to = quote(step.to)
        data = base64.encodebytes(step.command.encode()).decode()
        return (f"set -e\nmkdir -p -- \"$(dirname -- {to})\"\nbase64 -d > {to} <<'GRADER_COPY'\n{data}"
                f"GRADER_COPY\nchmod {quote(step.mode)} -- {to}\n")
    return "cd ~ 2>/dev/null || cd /\n" + exports(task.env) + step.command


BACKGROUND_HEAD = """#!/bin/bash
# Generated by `grader export killercoda`: breaks task {id} ({title_q}),
# running its reset and then its setup steps as `grader setup` does.
# Progress and errors go to {log}.
exec >>{log} 2>&1
_step() {{  # label host timeout base64-script
  local rc f
  echo "== $1 on $2"
  if [ "$2" = local ]; then
    f=$(mktemp)
    printf '%s' "$4" | base64 -d > "$f"
    timeout -s KILL "$3" bash "$f" </dev/null
    rc=$?
    rm -f "$f"
  else
    printf '%s' "$4" | ssh {ssh_opts} "$2" \\
      "f=\\$(mktemp); base64 -d > \\"\\$f\\"; timeout -s KILL $3 bash \\"\\$f\\" </dev/null; rc=\\$?; rm -f \\"\\$f\\"; exit \\$rc"
    rc=$?
  fi
  if [ "$rc" -ne 0 ]; then
    echo "grader: $1 on $2 exited $rc" >&2
    exit "$rc"
  fi
}}
"""


def background_script(task, inventory) -> str:
    from grader.transport.base import quote

    log = f"/var/log/grader-{task.id}.log"
    lines = [BACKGROUND_HEAD.format(id=task.id, title_q=" ".join(task.title.split()), log=log,
                                    ssh_opts=" ".join(SSH_OPTS))]
    for step in task.reset + task.setup:
        where = _where(inventory, step.host)
        b64 = base64.b64encode(_payload(task, step).encode()).decode()
        label = step.label.replace("[", "(").replace("]", ")")
        lines.append(f"_step {quote(label)} {quote(where or 'local')} {step.timeout:g} {quote(b64)}")
    lines.append(f"echo \"== task {task.id} is ready\"")
    return "\n".join(lines) + "\n"


def _where(inventory, role: str) -> str | None:
    """None for the host the scripts run on (controlplane), else the ssh address."""
    spec = inventory.host(role)
    if spec.transport == "local":
        return None
    if spec.transport == "ssh":
        return spec.address
    raise PackError(f"host '{role}' uses the {spec.transport} transport; killercoda reaches hosts by ssh")


VERIFY_HEAD = """#!/bin/bash
# Generated by `grader export killercoda` from task {id} (seed {seed}).
# Runs the task's checks exactly as grader judges them and exits 0 when all pass.
# The program below is grader's own matchers.py and checks.py plus the checks.
if ! command -v python3 >/dev/null 2>&1; then
  echo "grader verify: python3 is needed on this host" >&2
  exit 2
fi
exec python3 - "$@" <<'GRADER_VERIFY_PROGRAM'
"""
VERIFY_TAIL = "GRADER_VERIFY_PROGRAM\n"

RUNTIME_PRELUDE = r'''
import base64 as _b64
import json as _json
import shlex as _shlex
import subprocess as _sp
import sys as _sys
import time as _time

PASS, FAIL, ERROR = %(statuses)s
TIMEOUT_CODES = %(timeout_codes)r
KILL_GRACE = %(grace)r


def quote(value):
    return _shlex.quote(str(value))


class Check:
    def __init__(self, **fields):
        self.__dict__.update(fields)


class CommandResult:
    def __init__(self, exit_code, stdout, stderr, stdout_cut=0, stderr_cut=0):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr
        self.stdout_cut, self.stderr_cut = stdout_cut, stderr_cut  # what grader's checks.py reads
'''

RUNTIME_MAIN = r'''

_SSH_FAILURE = ("ssh: ", "Permission denied", "Host key verification failed", "kex_exchange", "Connection closed")


def _attempt(item):
    t = item["timeout"]
    cmd = "cd ~ 2>/dev/null || cd /\ntimeout -k %s %s bash -c %s </dev/null" % (KILL_GRACE, t, quote(item["command"]))
    argv = ["ssh"] + item["ssh_opts"] + [item["ssh"], cmd] if item["ssh"] else ["bash", "-c", cmd]
    start = _time.monotonic()
    try:
        proc = _sp.run(argv, stdin=_sp.DEVNULL, stdout=_sp.PIPE, stderr=_sp.PIPE, timeout=t + KILL_GRACE + 15)
    except _sp.TimeoutExpired:
        return None, "timed out after %ss on %s" % (t, item["check"]["host"])
    took = _time.monotonic() - start
    out = proc.stdout.decode("utf-8", "replace")
    err = proc.stderr.decode("utf-8", "replace")
    if item["ssh"] and proc.returncode == 255 and err.lstrip().startswith(_SSH_FAILURE):
        return None, "cannot reach %s over ssh: %s" % (item["ssh"], err.strip()[:200])
    if proc.returncode in TIMEOUT_CODES and took >= t - 0.05:
        return None, "timed out after %ss on %s" % (t, item["check"]["host"])
    return CommandResult(proc.returncode, out, err), ""


def _judge(item):
    check = Check(**item["check"])
    deadline = _time.monotonic() + item["within"]
    while True:
        result, why = _attempt(item)
        outcome = error(check, why) if result is None else evaluate(check, result)
        now = _time.monotonic()
        if outcome.status == PASS or now >= deadline:
            return outcome
        _time.sleep(max(0.0, min(item["interval"], deadline - now)))


def _main():
    items = _json.loads(_b64.b64decode(CHECKS).decode("utf-8"))
    failed = 0
    for item in items:
        o = _judge(item)
        name = item["check"]["name"]
        if o.status == PASS:
            print("PASS  %s" % name)
            continue
        failed += 1
        print("%s  %s: expected %s; got %s%s" % (o.status, name, o.expected, o.actual,
                                                  (" (" + o.message + ")") if o.message else ""))
    print("%d of %d checks pass" % (len(items) - failed, len(items)))
    return 0 if failed == 0 else 1


_sys.exit(_main())
'''


def _module_body(module) -> str:
    """A pure grader module's source without its imports of grader and __future__."""
    import inspect

    source = inspect.getsource(module)
    out = []
    for line in source.splitlines():
        if re.match(r"^from (grader(\.\w+)*|__future__) import ", line):
            if line.rstrip().endswith("("):
                raise RuntimeError(f"{module.__name__}: multi-line grader import; the killercoda export "
                                   "cannot embed it")
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _verify_runtime_parts() -> tuple[str, str]:
    from grader import checks, matchers, results

    prelude = RUNTIME_PRELUDE % {"statuses": repr((results.PASS, results.FAIL, results.ERROR)),
                                 "timeout_codes": VERIFY_TIMEOUT_CODES, "grace": VERIFY_KILL_GRACE}
    body = ("# ---- grader/matchers.py ----\n" + _module_body(matchers)
            + "\n# ---- grader/checks.py ----\n" + _module_body(checks))
    return prelude, body


def verify_items(task, inventory) -> list[dict]:
    """What the verify program needs per check: the rendered check and its command."""
    from grader.checks import command_for

    items = []
    for c in task.checks:
        items.append({
            "check": {"name": c.name, "kind": c.kind, "host": c.host, "target": c.target, "expect": c.expect,
                      "sensitive": c.sensitive, "timeout": c.timeout},
            "command": command_for(c, inventory, task.env),
            "timeout": c.timeout, "within": c.within, "interval": c.interval,
            "ssh": _where(inventory, c.host), "ssh_opts": list(SSH_OPTS)})
    return items


def verify_program(items: list[dict], parts=None) -> str:
    """The standalone python3 program of a verify script."""
    prelude, body = parts or _verify_runtime_parts()
    data = base64.b64encode(json.dumps(items, default=str).encode()).decode()
    chunks = "\n".join(f"    {data[i:i + 96]!r}" for i in range(0, len(data), 96)) or "    ''"
    return ("from __future__ import annotations\n" + prelude + "\n" + body
            + f"\nCHECKS = (\n{chunks}\n)\n" + RUNTIME_MAIN)


def verify_script(task, inventory, *, seed: int = 0, parts=None) -> str:
    program = verify_program(verify_items(task, inventory), parts)
    if "\nGRADER_VERIFY_PROGRAM\n" in f"\n{program}\n":
        raise RuntimeError("the verify program contains its own heredoc delimiter")
    return VERIFY_HEAD.format(id=task.id, seed=seed) + program + VERIFY_TAIL
