"""Import: a killercoda scenario folder -> a pack.

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
"""
from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

from grader.errors import PackError, UsageError
from grader.loader import LIB_DIR
from grader.killercoda.common import (ASSET_HOSTS, EXPORT_FILE, FORMAT, INDEX, JINJA_DELIMS, KC_MARKERS, MARKER_DIR,
                               MAX_ASSET_BYTES, STEP_KEYS, Report, _copy_tree, _prepare_out, dump_yaml,
                               sha256_text, slug)


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
    if (scenario / MARKER_DIR / LIB_DIR).is_dir():   # scripts the tasks share (../lib/NAME)
        _copy_tree(scenario / MARKER_DIR / LIB_DIR, out / LIB_DIR)
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
