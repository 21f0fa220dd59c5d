"""Import of a scenario that `grader export killercoda` wrote: the original pack comes back.

The export keeps the pack's files in `grader/` and, in `grader/export.json`, the sha256 of
every file it generated and of each part of every step's text (description, hints,
solution, explanation).  A step whose files are unchanged is its original task, byte for
byte.  A step edited on the killercoda side is still its original task (id, params, hints,
solution, reset, points...) with the edit applied, part by part:

- the title (index.json) -> `title`;
- the description, a hint or the solution block in text.md -> `description`, `hints`,
  `solution` (an edited solution becomes a script of its code block);
- verify.sh -> the task's checks become that script (a task whose verify.sh was its own
  script keeps its check, with the new script);
- background.sh -> the task's setup becomes that script (the reset stays);
- its section of finish.md -> `explanation`.

pack.yaml is restored the same way: title, description (intro.md), the killercoda facts, the
step order (`tasks`) and `--name`/`--version` applied to the original.
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import yaml

from grader.errors import PackError
from grader.killercoda import markdown
from grader.killercoda.common import (EXPORT_FILE, FORMAT, INDEX, MARKER_DIR, VERIFY_CHECK_NAME, copy_tree,
                                      dump_yaml, sha256_text, slug)
from grader.killercoda.scripts import script_text, timeout_for
from grader.packs.loader import LIB_DIR

TASK_KEYS = ("id", "title", "domain", "minutes", "weight", "params", "description", "hints", "explanation",
             "setup", "solution", "reset", "checks")
FOOTER = re.compile(r"\n*---\n+\*Exported by grader from the pack [^\n]*\n*\Z")


def export_meta(sc) -> dict | None:
    path = sc.root / MARKER_DIR / EXPORT_FILE
    if not path.is_file():
        return None
    sc.inside(path, None, f"{MARKER_DIR}/{EXPORT_FILE}")
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not (isinstance(meta, dict) and meta.get("format") == FORMAT and (sc.root / MARKER_DIR / "pack.yaml").is_file()):
        return None
    return meta


def unchanged(sc, hashes: dict) -> bool:
    if not hashes:
        return False
    for rel, sha in hashes.items():
        try:
            if sha256_text((sc.root / rel).read_bytes()) != sha:
                return False
        except OSError:
            return False
    return True


def copy_lib(sc, stage: Path) -> None:
    copy_tree(sc.root / MARKER_DIR / LIB_DIR, stage / LIB_DIR)


def record_for(meta: dict | None, step: dict) -> dict | None:
    """The export's record of a step, when the step still names the files the export wrote."""
    if not meta or not isinstance(step.get("text"), str):
        return None
    folder = step["text"].split("/")[0]
    record = meta.get("steps", {}).get(folder)
    if not record or f"{folder}/text.md" != step["text"] or step.get("verify") != f"{folder}/verify.sh" \
            or step.get("background") != f"{folder}/background.sh":
        return None
    return record


def ordered(data: dict) -> dict:
    """A task mapping with its keys in the order task.yaml documents them."""
    return {k: data[k] for k in TASK_KEYS if k in data} | {k: v for k, v in data.items() if k not in TASK_KEYS}


def load_task(folder: Path) -> dict:
    return yaml.safe_load((folder / "task.yaml").read_text())


def _free(folder: Path, name: str) -> str:
    stem, suffix, n = Path(name).stem, Path(name).suffix, 2
    while (folder / name).exists():
        name = f"{stem}-{n}{suffix}"
        n += 1
    return name


def restore_step(sc, meta: dict, record: dict, step: dict, i: int, stage: Path, report, used: set):
    """(task folder, task data to write, or None when the original task.yaml stands as it is)."""
    task_id = record["task"]
    where = f"details.steps[{i}]"
    original = sc.root / MARKER_DIR / "tasks" / task_id
    if task_id in used or not (original / "task.yaml").is_file():
        raise_missing(sc, where, task_id)
    used.add(task_id)
    folder = stage / task_id
    copy_tree(original, folder)
    title = " ".join(str(step.get("title") or "").split())
    if unchanged(sc, record["files"]) and title == record.get("title", title):
        return task_id, None
    data = load_task(folder)
    edits = []
    if title and title != record.get("title", title):
        data["title"] = title
        edits.append("title")
    folder_name = step["text"].split("/")[0]
    files = record["files"]
    text_rel, verify_rel, bg_rel = (f"{folder_name}/{n}" for n in ("text.md", "verify.sh", "background.sh"))
    if not unchanged(sc, {text_rel: files[text_rel]}):
        edits += _text_edits(sc, record, data, folder, sc.text(text_rel, f"{where}.text", report))
    if not unchanged(sc, {verify_rel: files[verify_rel]}):
        _verify_edit(sc, record, data, folder, verify_rel, where)
        edits.append("verify.sh (now the task's check)")
    if not unchanged(sc, {bg_rel: files[bg_rel]}):
        text, _ = script_text(sc.data(bg_rel, f"{where}.background"), bg_rel)
        name = _free(folder, "background-killercoda.sh")
        (folder / name).write_text(text)
        seconds, _ = timeout_for(text, setup=True)
        data["setup"] = [{"script": name, "host": "controlplane", "timeout": seconds}]
        edits.append("background.sh (now the task's setup; it runs the reset too)")
    report.note(f"{where} ({task_id}): edited since the export ({', '.join(edits) or 'unchanged parts'}); "
                "the original task with the edit applied (task.yaml rewritten)")
    return task_id, data


def raise_missing(sc, where: str, task_id: str):
    raise PackError(f"the export's task '{task_id}' is missing from {MARKER_DIR}/tasks (or named twice)",
                    file=str(sc.root / MARKER_DIR / EXPORT_FILE), key=where)


def _text_edits(sc, record: dict, data: dict, folder: Path, text: str) -> list[str]:
    parts = record.get("parts")
    description, hints, solutions = markdown.split(text)
    edits = []
    if not parts:               # an export without the parts' hashes: the description is what changed
        parts = {"hints": [sha256_text(h.strip()) for h in hints],
                 "solution": sha256_text("\n\n".join(s.strip() for s in solutions))}
    if sha256_text(description.strip()) != parts.get("description"):
        body = markdown.literal(description.strip()) + "\n"
        if "description" in data:
            data["description"] = body
        else:
            (folder / "description.md").write_text(body)
        edits.append("description" + (" (its params are now this seed's values)" if data.get("params") else ""))
    if [sha256_text(h.strip()) for h in hints] != parts.get("hints", []):
        kept = dict(zip(parts.get("hints", []), data.get("hints", [])))    # an unchanged hint keeps its template
        data["hints"] = [kept.get(sha256_text(h.strip()), markdown.literal(h.strip())) for h in hints]
        if not data["hints"]:
            del data["hints"]
        edits.append("hints")
    solution = "\n\n".join(s.strip() for s in solutions)
    if sha256_text(solution) != parts.get("solution", sha256_text("")):
        if solution:
            script, _ = markdown.solution_script([("the solution block of text.md, edited on killercoda", solution)])
            name = _free(folder, "solution-killercoda.sh")
            (folder / name).write_text(script)
            data["solution"] = [{"script": name, "host": "controlplane"}]
        else:
            data.pop("solution", None)
        edits.append("solution (a script on controlplane now)")
    return edits


def _verify_edit(sc, record: dict, data: dict, folder: Path, rel: str, where: str) -> None:
    text, _ = script_text(sc.data(rel, f"{where}.verify"), rel)
    seconds, _ = timeout_for(text, setup=False)
    own = record.get("verify_source")
    if own:                     # the exported verify.sh was the task's own script check
        (folder / own).write_text(text)
        check = data["checks"][0]
        check["timeout"] = max(float(check.get("timeout", 0)), seconds)
        return
    name = _free(folder, "verify-killercoda.sh")
    (folder / name).write_text(text)
    points = sum(float(c.get("points", 1)) for c in data["checks"])
    check = {"name": VERIFY_CHECK_NAME, "host": "controlplane", "script": name, "timeout": seconds}
    if points != 1:
        check["points"] = int(points) if points == int(points) else points
    data["checks"] = [check]


def with_context(folder: Path, data: dict | None, texts: list[str], setups: list[dict]) -> dict:
    """A restored task with the text and the setup of the unverified steps before it put first."""
    data = load_task(folder) if data is None else data
    if texts:
        context = markdown.literal("\n".join(t.strip() + "\n" for t in texts)).rstrip() + "\n\n"
        if "description" in data:
            data["description"] = context + data["description"]
        else:
            file = folder / "description.md"
            file.write_text(context + file.read_text())
    if setups:
        data["setup"] = [dict(s) for s in setups] + list(data.get("setup", []))
    return data


def apply_finish(sc, meta: dict, stage: Path, report, tasks: dict) -> None:
    """Edited sections of finish.md -> the explanations of their tasks (`tasks`: id -> data or None)."""
    if unchanged(sc, {"finish.md": meta.get("index", {}).get("finish.md", "")}) or not (sc.root / "finish.md").is_file():
        return
    titles = {r.get("title") for r in meta.get("steps", {}).values()}
    sections: dict[str, list[str]] = {}
    current = None
    for line in (sc.root / "finish.md").read_text().split("\n"):
        if line.startswith("### ") and line[4:].strip() in titles:      # only the tasks' own headings
            current = line[4:].strip()
            sections[current] = []
        elif current is not None:
            sections[current].append(line)
    sections = {title: "\n".join(lines).strip() for title, lines in sections.items()}
    for record in meta.get("steps", {}).values():
        task_id = record["task"]
        body = sections.get(record.get("title", ""))
        if task_id not in tasks or body is None or sha256_text(body) == (record.get("parts") or {}).get("explanation"):
            continue
        data = tasks[task_id] if tasks[task_id] is not None else load_task(stage / task_id)
        data["explanation"] = markdown.literal(body) + "\n"
        tasks[task_id] = data
        report.note(f"finish.md: the section of {task_id} was edited; it is the task's explanation now")


def write_pack(sc, meta: dict | None, stage: Path, report, *, name, version, fresh) -> None:
    if meta is None:
        (stage / "pack.yaml").write_text(dump_yaml(fresh()))
        return
    original = sc.root / MARKER_DIR / "pack.yaml"
    same_order = list(report.tasks) == list(meta.get("order", report.tasks))
    hashes = {k: v for k, v in meta.get("index", {}).items() if k != "finish.md"}
    if unchanged(sc, hashes) and not name and not version and same_order:
        shutil.copy2(original, stage / "pack.yaml")
        return
    data = yaml.safe_load(original.read_text())
    index = json.loads((sc.root / INDEX).read_text())
    was = meta.get("values", {})
    if name:
        data["name"] = slug(name, default="imported")
    if version:
        data["version"] = version
    if index.get("title") and index.get("title") != was.get("title"):
        data["title"] = index["title"]
    intro = sc.root / "intro.md"
    if intro.is_file() and sha256_text(intro.read_bytes()) != meta.get("index", {}).get("intro.md"):
        data["description"] = FOOTER.sub("", intro.read_text()).strip() + "\n"
    kept = dict(data.get("killercoda") or {})
    now = {"imageid": (index.get("backend") or {}).get("imageid"), "difficulty": index.get("difficulty"),
           "time": index.get("time"), "interface": index.get("interface")}
    for key, value in now.items():
        if value != was.get(key):
            if value in (None, "", {}):
                kept.pop(key, None)
            else:
                kept[key] = str(value) if key == "time" else value
    if kept != (data.get("killercoda") or {}):
        data["killercoda"] = kept
    if not same_order or "tasks" in data:
        data["tasks"] = list(report.tasks)
    (stage / "pack.yaml").write_text(dump_yaml(data))
    report.note("index.json or intro.md changed since the export (or --name/--version given): "
                "pack.yaml is the original with the changes applied (rewritten)")
