"""Task files -> model.  Finds packs, reads YAML safely, validates against the schema.

Everything that can be wrong with a pack is found here, before anything runs on a
host: malformed YAML, unknown keys (with a did-you-mean), wrong types, a check with
no kind or two, missing script/copy/description files, duplicate task ids or check
names, hosts the inventory lacks and template errors (a trial render of every task).
"""
from __future__ import annotations

import os
from pathlib import Path

from grader.errors import PackError
from grader.inventory import killercoda_default
from grader.packs.model import DEFAULT_PASS_PERCENT, Pack, TaskSpec
from grader.packs.packs import PACK_FILE, TASK_FILE, find_pack
from grader.packs.templating import env_name, render_task
from grader.packs.yamlsrc import load_yaml, validate

DESCRIPTION_FILE = "description.md"
# params reach scripts as upper-cased environment variables: these names are not theirs to set
RESERVED_ENV = {"PATH", "HOME", "IFS", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "TERM", "LANG", "LANGUAGE",
                "TMPDIR", "HOSTNAME", "SHLVL", "PS1", "PS2", "PS4", "ENV", "CDPATH", "GLOBIGNORE", "KUBECONFIG",
                "LD_PRELOAD", "LD_LIBRARY_PATH", "PYTHONPATH", "SSH_AUTH_SOCK", "MAIL", "UID", "EUID", "PPID",
                "RANDOM", "SECONDS", "LINENO", "OPTIND", "OPTARG", "REPLY", "PIPESTATUS", "FUNCNAME", "HISTFILE"}
RESERVED_PREFIXES = ("GRADER_", "BASH", "LC_", "EPOCH", "COPROC")
LIB_DIR = "lib"          # a pack's shared scripts and files, named from tasks as ../lib/NAME


def load_pack(ref: str | Path, *, inventory=None, check_templates: bool = True) -> Pack:
    """Load and fully validate a pack; raises the first PackError found."""
    pack, problems = lint_pack(ref, inventory=inventory, check_templates=check_templates)
    if problems:
        raise problems[0]
    return pack


def lint_pack(ref: str | Path, *, inventory=None, check_templates: bool = True):
    """(pack or None, [PackError...]): every problem, for `grader lint`."""
    root = find_pack(str(ref))
    data, problems = _read(root / PACK_FILE, "pack", "name, title, version, ...")
    if problems:
        return None, problems
    specs = []
    seen: dict[str, Path] = {}
    for task_dir in sorted(p for p in root.iterdir() if p.is_dir() and (p / TASK_FILE).is_file()):
        try:
            spec, task_problems = _load_task(task_dir)
        except PackError as exc:
            problems.append(exc)
            continue
        problems.extend(task_problems)
        if spec is None:
            continue
        if spec.id in seen:
            problems.append(PackError(f"duplicate task id '{spec.id}' (also in {seen[spec.id]})",
                                      file=str(spec.file), line=spec.line("id"), key="id"))
            continue
        seen[spec.id] = spec.file
        specs.append(spec)
    stray = [p.name for p in root.iterdir() if p.is_dir() and not (p / TASK_FILE).is_file()
             and not p.name.startswith(".") and p.name != LIB_DIR]
    for name in stray:
        problems.append(PackError(f"folder '{name}' has no {TASK_FILE}", file=str(root / name)))
    specs = _in_pack_order(specs, data, root, problems)
    if not specs and not problems:
        problems.append(PackError("the pack has no tasks (no folder with a task.yaml)", file=str(root)))
    exam = data.get("exam", {})
    pack = Pack(name=data["name"], title=data["title"], version=str(data["version"]), dir=root,
                description=data.get("description", ""), target=data.get("target", "kubernetes"),
                exam_minutes=exam.get("minutes"), pass_percent=float(exam.get("pass_percent", DEFAULT_PASS_PERCENT)),
                count=exam.get("count"), domains=dict(data.get("domains", {})),
                hosts=tuple(data.get("hosts", ("controlplane", "node01"))), tasks=tuple(specs),
                archive=Path(ref) if str(ref).endswith((".tar.gz", ".tgz")) else None)
    if check_templates and not problems:
        problems.extend(_trial_render(pack, inventory))
    return pack, problems


def _in_pack_order(specs: list, data, root: Path, problems: list) -> list:
    """The tasks in pack.yaml's `tasks` order: the ids it lists first, in its order, then the others
    in folder order.  A listed id that no task has is a problem (unless its folder failed to load)."""
    order = data.get("tasks") or []
    by_id = {s.id: s for s in specs}
    first = []
    for i, task_id in enumerate(order):
        if task_id in by_id:
            first.append(by_id.pop(task_id))
        elif not (root / task_id / TASK_FILE).is_file():
            problems.append(PackError(f"no task '{task_id}' in the pack", file=str(root / PACK_FILE),
                                      line=getattr(order, "lines", {}).get(i, data.lines.get("tasks")),
                                      key=f"tasks[{i}]"))
    return first + [s for s in specs if s.id in by_id]


def _read(file: Path, schema: str, keys: str):
    """A pack.yaml or task.yaml and its schema problems: (data, [PackError...])."""
    data = load_yaml(file)
    if not isinstance(data, dict):
        return None, [PackError(f"a {file.name} is a mapping ({keys})", file=str(file))]
    return data, validate(data, schema, file)


def _load_task(task_dir: Path):
    file = task_dir / TASK_FILE
    data, problems = _read(file, "task", "id, title, minutes, checks, ...")
    if problems:
        return None, problems
    for name in data.get("params", {}):
        env = env_name(name)
        if env in RESERVED_ENV or env.startswith(RESERVED_PREFIXES):
            problems.append(PackError(f"param '{name}' would become the environment variable {env}, which the "
                                      "shell or grader needs; choose another name", file=str(file),
                                      line=data["params"].lines.get(name), key=f"params.{name}"))
    files: dict[str, str] = {}
    for where, item in _file_items(data):
        for key in ("script", "copy"):
            name = item.get(key)
            if not isinstance(name, str):
                continue
            path = (task_dir / name)
            if not _inside(path, task_dir.parent):
                problems.append(PackError(f"'{name}' points outside the pack", file=str(file),
                                          line=item.lines.get(key), key=f"{where}.{key}"))
            elif not path.is_file():
                problems.append(PackError(f"file '{name}' not found in {task_dir}", file=str(file),
                                          line=item.lines.get(key), key=f"{where}.{key}"))
            else:
                try:
                    files[name] = path.read_text()
                except (OSError, UnicodeDecodeError) as exc:
                    problems.append(PackError(f"cannot read: {exc}", file=str(path)))
    for section, key, what in (("checks", "name", "check name"), ("checks", "id", "check id"),
                               ("alternatives", "name", "alternative name"),
                               ("near_misses", "name", "near miss name")):
        problems.extend(_duplicates(data.get(section, []), section, key, what, file))
    weight = data.get("weight")
    total = sum(c.get("points", 1) for c in data["checks"])
    if weight is not None and abs(weight - total) > 1e-9:
        problems.append(PackError(f"weight {weight:g} differs from the sum of the checks' points ({total:g})",
                                  file=str(file), line=data.lines.get("weight"), key="weight"))
    description = data.get("description")
    if description is None:
        desc_file = task_dir / DESCRIPTION_FILE
        if not desc_file.is_file():
            problems.append(PackError(f"no description: add {DESCRIPTION_FILE} or a 'description' key",
                                      file=str(file)))
            description = ""
        else:
            try:
                description = desc_file.read_text()
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(PackError(f"cannot read: {exc}", file=str(desc_file)))
                description = ""
    spec = TaskSpec(id=data["id"], title=data["title"], domain=data.get("domain", "General"),
                    minutes=float(data["minutes"]), dir=task_dir, file=file, data=data,
                    description=description, files=files)
    return spec, problems


def _file_items(data):
    """(key path, item) of every step or check that may name a script or copy file."""
    for section in ("setup", "solution", "reset", "checks"):
        for i, item in enumerate(data.get(section, [])):
            yield f"{section}[{i}]", item
    for section in ("alternatives", "near_misses"):
        for i, variant in enumerate(data.get(section, [])):
            for j, item in enumerate(variant.get("steps", [])):
                yield f"{section}[{i}].steps[{j}]", item


def _duplicates(items, section: str, key: str, what: str, file: Path) -> list[PackError]:
    seen, out = set(), []
    for i, item in enumerate(items):
        value = item.get(key)
        if value is None:
            continue
        if value in seen:
            out.append(PackError(f"duplicate {what} '{value}'", file=str(file), line=item.lines.get(key),
                                 key=f"{section}[{i}].{key}"))
        seen.add(value)
    return out


def _trial_render(pack: Pack, inventory) -> list[PackError]:
    inventory = inventory or killercoda_default()
    problems = []
    for spec in pack.tasks:
        try:
            render_task(spec, seed=0, inventory=inventory)
        except PackError as exc:
            problems.append(exc)
    return problems


def _inside(path: Path, root: Path) -> bool:
    try:
        return os.path.commonpath([path.resolve(), root.resolve()]) == str(root.resolve())
    except ValueError:
        return False
