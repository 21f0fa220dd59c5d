"""Killercoda interoperability: `grader import killercoda` and `grader export killercoda`.

Import (a killercoda scenario folder -> a pack):

    index.json                 -> pack.yaml (title, description, target from backend.imageid)
    details.intro.text         -> the pack description (after the scenario's description)
    details.steps[i]           -> one task per step that has a verify script
      .title / .text           -> the task's title / description.md
      .verify                  -> a `script` check (exit 0 passes, as on killercoda)
      .background              -> a `script` setup step on controlplane
    details.intro.background   -> a setup step of every task (killercoda runs it once, first)
    details.assets.host01/02   -> a setup script per host that writes the files (base64)
    details.finish.text        -> the explanation of the last task
    time                       -> minutes, spread evenly over the tasks

What has no counterpart (foreground scripts, steps without a verify script, other
keys, killercoda's `{{exec}}` markers) is listed in the report.

Export (a pack -> a scenario folder for `kubernetes-kubeadm-2nodes`): one step per
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
import hashlib
import json
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.errors import PackError, UsageError

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


# =================================================================================
# export
# =================================================================================

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


def _copy_tree(src: Path, dst: Path) -> None:
    from grader.archive import pack_files

    for rel in pack_files(src):
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, target)


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
    from grader.transport.base import quote

    if step.kind == "copy":
        to = quote(step.to)
        data = base64.encodebytes(step.command.encode()).decode()
        return (f"set -e\nmkdir -p -- \"$(dirname -- {to})\"\nbase64 -d > {to} <<'GRADER_COPY'\n{data}"
                f"GRADER_COPY\nchmod {quote(step.mode)} -- {to}\n")
    exports = "".join(f"export {k}={quote(v)}\n" for k, v in sorted(task.env.items()))
    return "cd ~ 2>/dev/null || cd /\n" + exports + step.command


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
    def __init__(self, exit_code, stdout, stderr):
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr
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


# =================================================================================
# import
# =================================================================================

def import_scenario(scenario: str | Path, out: str | Path, *, name: str | None = None,
                    version: str = "0.1.0", force: bool = False) -> Report:
    scenario = Path(scenario)
    index_file = scenario / INDEX
    if not index_file.is_file():
        raise UsageError(f"{scenario}: not a killercoda scenario folder (no {INDEX})")
    try:
        index = json.loads(index_file.read_text())
    except (OSError, ValueError) as exc:
        raise PackError(f"not valid JSON: {exc}", file=str(index_file)) from None
    if not isinstance(index, dict):
        raise PackError("a killercoda index.json is an object", file=str(index_file))
    out = Path(out)
    report = Report(out=out)
    meta = _export_meta(scenario)
    _prepare_out(out, force=force, marker="pack.yaml", what="import")

    details = index.get("details") if isinstance(index.get("details"), dict) else {}
    steps = details.get("steps") if isinstance(details.get("steps"), list) else []
    pack_name = slug(name or (meta or {}).get("pack") or scenario.resolve().name, default="imported")
    for key in sorted(set(index) - {"title", "description", "difficulty", "time", "details", "backend"}):
        report.note(f"index.json: '{key}' has no grader counterpart; not imported")
    for key in sorted(set(details) - {"intro", "steps", "finish", "assets"}):
        report.note(f"index.json: details.{key} has no grader counterpart; not imported")

    # the pack
    exact_pack = meta and _unchanged(scenario, meta.get("index", {})) and (scenario / MARKER_DIR / "pack.yaml").is_file()
    if exact_pack and not name:
        shutil.copy2(scenario / MARKER_DIR / "pack.yaml", out / "pack.yaml")
    else:
        if meta:
            report.note("index.json, intro.md or finish.md changed since the export (or --name given): "
                        "pack.yaml rebuilt from index.json")
        pack = _pack_yaml(scenario, index, details, pack_name, version, report)
        (out / "pack.yaml").write_text(dump_yaml(pack))

    # the tasks
    per_step_minutes = _minutes(index.get("time"), sum(1 for s in steps if isinstance(s, dict) and s.get("verify")))
    shared = _shared_setup(scenario, details, report)
    finish = _read_text(scenario, (details.get("finish") or {}).get("text"), report, "details.finish.text")
    used: set[str] = set()
    unsolved: list[str] = []
    gradeable = [i for i, s in enumerate(steps) if isinstance(s, dict) and s.get("verify")]
    for i, step in enumerate(steps):
        where = f"details.steps[{i}]"
        if not isinstance(step, dict):
            report.note(f"{where}: not an object; skipped")
            continue
        record = _step_record(meta, step)
        if record and record["task"] not in used and _unchanged(scenario, record["files"]) and \
                (scenario / MARKER_DIR / "tasks" / record["task"] / "task.yaml").is_file():
            task_id = record["task"]
            _copy_tree(scenario / MARKER_DIR / "tasks" / task_id, out / task_id)
            used.add(task_id)
            report.tasks.append(task_id)
            continue
        if record:
            report.note(f"{where} ({record['task']}): edited since the export; imported from its killercoda files")
        if not step.get("verify"):
            report.note(f"{where} ({step.get('title', 'untitled')!r}): no verify script, so nothing to grade; "
                        "not a task")
            continue
        is_last = i == gradeable[-1]
        task_id = _import_step(scenario, step, i, out, used, report, minutes=per_step_minutes,
                               shared=shared, explanation=finish if is_last else "")
        if task_id:
            report.tasks.append(task_id)
            unsolved.append(task_id)
    if unsolved:
        report.note(f"{', '.join(unsolved)}: killercoda has no reference solution or reset; add `solution` and "
                    "`reset` steps before `grader validate`")
    if not report.tasks:
        report.note("no step has a verify script: the pack has no tasks (grader lint will say so)")
    if len(gradeable) > 1 and not meta:
        report.note("killercoda steps build on each other; grader tasks stand alone: a task's setup does not "
                    "redo what the candidate did in earlier steps (add it to the setup if the step needs it)")
    return report


def _export_meta(scenario: Path) -> dict | None:
    path = scenario / MARKER_DIR / EXPORT_FILE
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) and meta.get("format") == FORMAT else None


def _unchanged(scenario: Path, hashes: dict) -> bool:
    if not hashes:
        return False
    for rel, sha in hashes.items():
        try:
            if sha256_text((scenario / rel).read_bytes()) != sha:
                return False
        except OSError:
            return False
    return True


def _step_record(meta: dict | None, step: dict) -> dict | None:
    if not meta or not isinstance(step.get("text"), str):
        return None
    folder = step["text"].split("/")[0]
    record = meta.get("steps", {}).get(folder)
    if not record or f"{folder}/text.md" != step["text"] or step.get("verify") != f"{folder}/verify.sh" \
            or step.get("background") != f"{folder}/background.sh":
        return None
    return record


def _safe_file(scenario: Path, rel, report: Report, where: str) -> Path | None:
    if not isinstance(rel, str) or not rel:
        return None
    path = (scenario / rel)
    try:
        inside = path.resolve().is_relative_to(scenario.resolve())
    except (OSError, ValueError):
        inside = False
    if not inside:
        report.note(f"{where}: '{rel}' points outside the scenario folder; ignored")
        return None
    if not path.is_file():
        report.note(f"{where}: file '{rel}' not found; ignored")
        return None
    return path


def _read_text(scenario: Path, rel, report: Report, where: str) -> str:
    path = _safe_file(scenario, rel, report, where)
    return path.read_text(errors="replace") if path else ""


def _markdown(text: str, report: Report, where: str) -> str:
    """Killercoda Markdown -> a grader description (a Jinja2 template)."""
    text, n = KC_MARKERS.subn("", text)
    if n:
        report.note(f"{where}: {n} killercoda action marker(s) like {{{{exec}}}} removed (grader shows plain code)")
    if re.search(r"\]\((\./)?assets/", text):
        report.note(f"{where}: links to assets/ (images?) are kept but grader does not serve those files")
    text = text.strip() + "\n"
    if JINJA_DELIMS.search(text):
        text = "{% raw %}\n" + text.replace("{% endraw %}", "{ % endraw % }") + "{% endraw %}\n"
    return text


def _pack_yaml(scenario: Path, index: dict, details: dict, name: str, version: str, report: Report) -> dict:
    image = str((index.get("backend") or {}).get("imageid") or "")
    if image.startswith("kubernetes"):
        target = "kubernetes"
    else:
        target = "linux"
        if not image.startswith("ubuntu"):
            report.note(f"backend.imageid {image or '(none)'!r}: not kubernetes-* or ubuntu; target linux assumed")
    hosts = ["controlplane", "node01"] if ("2node" in image or _uses_host02(details)) else ["controlplane"]
    parts = [str(index.get("description") or "").strip()]
    intro = details.get("intro") if isinstance(details.get("intro"), dict) else {}
    intro_text = _read_text(scenario, intro.get("text"), report, "details.intro.text")
    if intro_text.strip():
        if " ".join(intro_text.split()).startswith(" ".join(parts[0].split())):
            parts = []  # the description is the intro's first paragraph (as grader exports it)
        parts.append(_markdown(intro_text, report, "details.intro.text").strip())
    facts = [f"{k}: {index[k]}" for k in ("difficulty", "time") if index.get(k)]
    if facts:
        parts.append(f"*Imported from the killercoda scenario `{scenario.name}` ({', '.join(facts)}).*")
    return {"name": name, "title": str(index.get("title") or name), "version": version,
            "description": "\n\n".join(p for p in parts if p) + "\n", "target": target, "hosts": hosts}


def _uses_host02(details: dict) -> bool:
    assets = details.get("assets") if isinstance(details.get("assets"), dict) else {}
    return "host02" in assets


def _minutes(time_text, steps: int) -> float:
    m = re.search(r"(\d+(?:\.\d+)?)", str(time_text or ""))
    total = float(m.group(1)) if m else 5.0 * max(steps, 1)
    if "hour" in str(time_text or "").lower():
        total *= 60
    return max(1.0, round(total / max(steps, 1), 1))


def _shared_setup(scenario: Path, details: dict, report: Report) -> list[tuple[str, str, str]]:
    """(file name, host, script text) every task's setup starts with: assets, then the intro background."""
    out = []
    assets = details.get("assets") if isinstance(details.get("assets"), dict) else {}
    for host_key, entries in sorted(assets.items()):
        role = ASSET_HOSTS.get(host_key)
        if role is None:
            report.note(f"details.assets.{host_key}: only host01 (controlplane) and host02 (node01) are mapped; "
                        "not imported")
            continue
        script = _asset_script(scenario, host_key, role, entries, report)
        if script:
            out.append((f"assets-{role}.sh", role, script))
    intro = details.get("intro") if isinstance(details.get("intro"), dict) else {}
    bg = _read_text(scenario, intro.get("background"), report, "details.intro.background")
    if bg:
        out.append(("intro-background.sh", "controlplane", bg))
        report.note("details.intro.background: killercoda runs it once at the start; it is now the first setup "
                    "step of every task (grader runs setup twice in validate: it must be idempotent)")
    for key in ("foreground",):
        if intro.get(key):
            report.note(f"details.intro.{key}: foreground scripts have no grader counterpart; not imported")
    finish = details.get("finish") if isinstance(details.get("finish"), dict) else {}
    for key in ("background", "foreground"):
        if finish.get(key):
            report.note(f"details.finish.{key}: no grader counterpart; not imported")
    return out


def _asset_script(scenario: Path, host_key: str, role: str, entries, report: Report) -> str:
    from grader.transport.base import quote

    base = scenario / "assets"
    lines = ["#!/usr/bin/env bash", f"# Killercoda assets for {host_key} ({role}), imported by grader.", "set -eu"]
    count = 0
    for j, entry in enumerate(entries if isinstance(entries, list) else []):
        where = f"details.assets.{host_key}[{j}]"
        if not isinstance(entry, dict) or not entry.get("file") or not entry.get("target"):
            report.note(f"{where}: needs 'file' and 'target'; ignored")
            continue
        pattern = str(entry["file"])
        if ".." in Path(pattern).parts or pattern.startswith("/"):
            report.note(f"{where}: '{pattern}' points outside assets/; ignored")
            continue
        matches = sorted(p for p in base.glob(pattern) if p.is_file()) if base.is_dir() else []
        if not matches:
            report.note(f"{where}: no file in assets/ matches '{pattern}'; ignored")
            continue
        for path in matches:
            data = path.read_bytes()
            rel = path.relative_to(base).as_posix()
            if len(data) > MAX_ASSET_BYTES:
                report.note(f"{where}: assets/{rel} is over {MAX_ASSET_BYTES // 1024} KiB; not imported")
                continue
            dest = f"{str(entry['target']).rstrip('/')}/{path.name}"
            lines.append(f"mkdir -p -- {quote(str(entry['target']))}")
            lines.append(f"base64 -d > {quote(dest)} <<'GRADER_ASSET'")
            lines.append(base64.encodebytes(data).decode().rstrip("\n"))
            lines.append("GRADER_ASSET")
            if entry.get("chmod"):
                lines.append(f"chmod {quote(str(entry['chmod']))} -- {quote(dest)}")
            count += 1
    return "\n".join(lines) + "\n" if count else ""


def _import_step(scenario: Path, step: dict, i: int, out: Path, used: set, report: Report, *,
                 minutes: float, shared: list, explanation: str) -> str | None:
    where = f"details.steps[{i}]"
    title = " ".join(str(step.get("title") or "").split()) or f"Step {i + 1}"
    task_id = slug(step.get("title") or "", default=f"step-{i + 1}")
    base_id, n = task_id, 2
    while task_id in used:
        task_id = f"{base_id}-{n}"
        n += 1
    verify = _safe_file(scenario, step.get("verify"), report, f"{where}.verify")
    if verify is None:
        report.note(f"{where} ({title!r}): its verify script cannot be read; not a task")
        return None
    used.add(task_id)
    folder = out / task_id
    folder.mkdir()
    text = _read_text(scenario, step.get("text"), report, f"{where}.text")
    description = _markdown(text, report, f"{where}.text") if text.strip() else f"{title}\n"
    (folder / "description.md").write_text(description)
    setup = []
    for fname, role, script in shared:
        (folder / fname).write_text(script)
        setup.append({"script": fname, "host": role})
    bg = _safe_file(scenario, step.get("background"), report, f"{where}.background")
    if bg:
        (folder / "setup.sh").write_text(bg.read_text(errors="replace"))
        setup.append({"script": "setup.sh", "host": "controlplane"})
    (folder / "verify.sh").write_text(verify.read_text(errors="replace"))
    if step.get("foreground"):
        report.note(f"{where}.foreground ({task_id}): foreground scripts have no grader counterpart; not imported")
    for key in sorted(set(step) - STEP_KEYS):
        report.note(f"{where}.{key} ({task_id}): no grader counterpart; not imported")
    data = {"id": task_id, "title": title, "minutes": minutes}
    if explanation.strip():
        data["explanation"] = _markdown(explanation, report, "details.finish.text")
    if setup:
        data["setup"] = setup
    data["checks"] = [{"name": "the step's killercoda verify script passes", "host": "controlplane",
                       "script": "verify.sh"}]
    (folder / "task.yaml").write_text(dump_yaml(data))
    return task_id
