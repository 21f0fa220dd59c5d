"""Import: a killercoda (or Katacoda) scenario folder -> a pack.

- every step with a verify script is a task, in the scenario's order (pack.yaml `tasks`); its
  text is the description (solutions and hints moved to `solution` and `hints`), its verify
  script a `script` check, its background (Katacoda: `courseData`) a setup step, a Katacoda
  `answer` its solution;
- a step without a verify script is not lost: its background is set up before every graded
  step after it, its text goes to the next graded step (before the first: the pack's
  description; after the last: the last task's explanation);
- the intro's background (Katacoda: `courseData`) and the assets are setup steps of every task,
  in `lib/`; the finish text is the last task's explanation;
- scripts keep their bytes and get timeouts from their own waits (grader.killercoda.scripts);
- what index.json and the pack keep for `grader export killercoda` (image, difficulty, time,
  interface) is in pack.yaml `killercoda`;
- an export by grader (`grader/export.json`) is restored instead: grader.killercoda.restore.

Wrong types in index.json, missing files and links that leave the folder are errors (exit 2)
and nothing is written; everything else that cannot be carried over is a line of the report.
"""
from __future__ import annotations

import re
from pathlib import Path

from grader.killercoda import markdown, restore, scenario as scenario_mod
from grader.killercoda.assets import HOSTS, asset_scripts
from grader.killercoda.common import (VERIFY_CHECK_NAME, Report, dump_yaml, slug, staged_output, unique_id)
from grader.killercoda.scripts import is_empty, script_text, timeout_for
from grader.packs.loader import LIB_DIR

FOREGROUND = {"foreground": "a foreground script", "code": "Katacoda's foreground script (code)"}
BACKGROUND = {"background": "background", "courseData": "Katacoda's background script (courseData)"}


def import_scenario(scenario: str | Path, out: str | Path, *, name: str | None = None,
                    version: str | None = None, force: bool = False) -> Report:
    sc = scenario_mod.read(scenario)
    meta = restore.export_meta(sc)
    report = Report(out=Path(out))
    with staged_output(Path(out), force=force, marker="pack.yaml", what="import") as stage:
        Importer(sc, stage, report, meta=meta).run(name=name, version=version)
    return report


def parse_minutes(text) -> float | None:
    """Killercoda's `time` in minutes: '1 hour 30 minutes', '90 min', '1h30m', '1.5 hours', '5-10
    minutes' (the upper end), 15 (minutes).  None when there is no number in it."""
    if isinstance(text, (int, float)):
        return float(text) if text > 0 else None
    t = re.sub(r"(\d+(?:[.,]\d+)?)\s*(?:-|–|to)\s*(\d+(?:[.,]\d+)?)", r"\2", str(text or "").lower())
    total, found = 0.0, False
    for num, unit in re.findall(r"(\d+(?:[.,]\d+)?)\s*(h(?:ours?|rs?)?|m(?:in(?:ute)?s?)?|s(?:ec(?:ond)?s?)?)?"
                                r"(?![a-z])", t):
        n = float(num.replace(",", "."))
        total += n * 60 if unit.startswith("h") else n / 60 if unit.startswith("s") else n
        found = True
    return total if found and total > 0 else None


class Importer:
    def __init__(self, sc, stage: Path, report: Report, *, meta: dict | None):
        self.sc, self.stage, self.report, self.meta = sc, stage, report, meta
        self.used: set[str] = set()
        self.restored: set[str] = set()
        self.setups_used = 0
        self.lib_names: set[str] = set()

    # --- the whole scenario ---------------------------------------------------------

    def run(self, *, name: str | None, version: str | None) -> None:
        sc, report = self.sc, self.report
        for key in scenario_mod.unknown_keys(sc.index):
            report.note(f"index.json: {key} has no grader counterpart; not imported")
        if sc.get("environment"):
            report.note("index.json: environment (Katacoda's UI settings) has no grader counterpart; not imported")
        if self.meta and (sc.root / restore.MARKER_DIR / LIB_DIR).is_dir():   # the pack's shared scripts
            restore.copy_lib(sc, self.stage)
            self.lib_names |= {p.name for p in (self.stage / LIB_DIR).iterdir()}
        steps = sc.get("details", "steps", default=[])
        graded = [i for i, s in enumerate(steps) if restore.record_for(self.meta, s)
                  or self._verify(s, i, quiet=True) is not None]
        self.minutes = self._minutes(len(graded))
        self.shared = self._shared_setup()
        finish = self._page_text("finish")
        tasks: dict[str, dict | None] = {}      # folder -> task.yaml data to write (None: restored as it was)
        intro_extra: list[str] = []             # texts of unverified steps before the first graded one
        texts: list[str] = []                   # texts of unverified steps since the last graded one
        setups: list[dict] = []                 # setup of every unverified step so far
        unsolved: list[str] = []
        for i, step in enumerate(steps):
            title = " ".join(str(step.get("title") or "").split()) or f"Step {i + 1}"
            record = restore.record_for(self.meta, step)
            if record:
                folder, data = restore.restore_step(sc, self.meta, record, step, i, self.stage, report, self.used)
                task_id = (data or restore.load_task(self.stage / folder))["id"]
                self.restored.add(task_id)
                if texts or setups:
                    data = restore.with_context(self.stage / folder, data, texts, setups)
            else:
                verify = self._verify(step, i)
                if verify is None:
                    self._unverified(step, i, title, texts if tasks else intro_extra, setups, bool(tasks))
                    continue
                task_id, data = self._task(step, i, title, verify, texts, setups)
                folder = task_id
                if not data.get("solution"):
                    unsolved.append(task_id)
            texts, self.setups_used = [], len(setups)
            tasks[folder] = data
            report.tasks.append(task_id)
        if tasks:
            self._finish(tasks, finish, texts, setups)
        if self.meta:
            restore.apply_finish(sc, self.meta, self.stage, report, tasks)
        for folder, data in tasks.items():
            if data is not None:
                (self.stage / folder / "task.yaml").write_text(dump_yaml(restore.ordered(data)))
        restore.write_pack(sc, self.meta, self.stage, report, name=name, version=version,
                           fresh=lambda: self._pack_yaml(name, version, intro_extra + ([] if tasks else texts)))
        self._closing_notes(unsolved, len(graded))

    def _closing_notes(self, unsolved: list[str], graded: int) -> None:
        report = self.report
        fresh = [t for t in report.tasks if t not in self.restored]
        if unsolved:
            report.note(f"{', '.join(unsolved)}: the scenario has no solution for them (no answer file, no "
                        "Solution block in the text); add `solution` steps before `grader validate`")
        if fresh:
            report.note(f"{', '.join(fresh)}: killercoda has no reset; add `reset` steps before `grader validate`")
        if not report.tasks:
            report.note("no step has a verify script: the pack has no tasks (grader lint will say so)")
        if graded > 1 and not self.meta:
            report.note("killercoda steps build on each other; grader tasks stand alone: a task's setup does not "
                        "redo what the candidate did in earlier steps (add it to the setup if the step needs it)")

    def _minutes(self, graded: int) -> float:
        given = self.sc.get("time")
        total = parse_minutes(given)
        if total is None:
            if given is not None:
                self.report.note(f"index.json: time {given!r} has no number of minutes; 5 minutes per task assumed")
            total = 5.0 * max(graded, 1)
        return max(1.0, round(total / max(graded, 1), 1))

    # --- files --------------------------------------------------------------------

    def _lib(self, name: str, text: str) -> str:
        """Write a script shared by several tasks into lib/; its name as a task names it."""
        base, n = name, 2
        while name in self.lib_names:
            name = f"{Path(base).stem}-{n}{Path(base).suffix}"
            n += 1
        self.lib_names.add(name)
        (self.stage / LIB_DIR).mkdir(exist_ok=True)
        (self.stage / LIB_DIR / name).write_text(text)
        return f"../{LIB_DIR}/{name}"

    def _script(self, rel: str, key: str) -> tuple[str, bytes]:
        data = self.sc.data(rel, key)
        text, why = script_text(data, rel)
        if why:
            self.report.note(f"{key} ({rel}): has {why}; kept byte for byte (in a wrapper that runs the original)")
        return text, data

    def _setup_step(self, script: str, text: str, key: str, role: str = "controlplane") -> dict:
        seconds, why = timeout_for(text, setup=True)
        if why:
            self.report.note(f"{key}: waits ({why}); its setup timeout is {seconds} s")
        return {"script": script, "host": role, "timeout": seconds}

    def _backgrounds(self, page: dict, key: str) -> list[tuple[str, str, str]]:
        """(killercoda key, file, script text) of a page's or step's background scripts."""
        out = []
        for name in BACKGROUND:
            rel = page.get(name)
            if rel:
                text, _ = self._script(rel, f"{key}.{name}")
                out.append((name, rel, text))
        return out

    def _foreground_notes(self, page: dict, key: str, label: str) -> None:
        for name, what in FOREGROUND.items():
            if page.get(name):
                self.report.note(f"{key}.{name}{label}: {what} runs in the candidate's terminal; grader has no "
                                 "counterpart; not imported")

    def _text(self, page: dict, key: str) -> str:
        rel = page.get("text")
        return self.sc.text(rel, f"{key}.text", self.report) if rel else ""

    def _page_text(self, which: str) -> str:
        page = self.sc.get("details", which, default={})
        key = f"details.{which}"
        if which == "finish":
            for name in list(BACKGROUND) + list(FOREGROUND):
                if page.get(name):
                    self.report.note(f"{key}.{name}: runs after the last step, when there is nothing left to grade; "
                                     "not imported")
        return self._text(page, key)

    # --- setup every task shares: assets, then the intro's background ---------------

    def _shared_setup(self) -> list[dict]:
        steps = []
        for fname, role, script in asset_scripts(self.sc, self.report):
            steps.append({"script": self._lib(fname, script), "host": role})
        intro = self.sc.get("details", "intro", default={})
        for name, rel, text in self._backgrounds(intro, "details.intro"):
            label = "background" if name == "background" else "coursedata"
            step = self._setup_step(self._lib(f"intro-{label}.sh", text), text, f"details.intro.{name}")
            steps.append(step)
            self.report.note(f"details.intro.{name}: killercoda runs it once, at the start; it is now a setup step "
                             "of every task (grader runs setup twice in validate: it must be idempotent)")
        self._foreground_notes(intro, "details.intro", "")
        return steps

    # --- steps ----------------------------------------------------------------------

    def _verify(self, step: dict, i: int, *, quiet: bool = False) -> tuple[str, bytes] | None:
        rel = step.get("verify")
        if not rel:
            return None
        key = f"details.steps[{i}].verify"
        if quiet:
            data = self.sc.data(rel, key)
            return None if is_empty(data) else ("", data)
        text, data = self._script(rel, key)
        if is_empty(data):
            self.report.note(f"{key} ({rel}): has no command, so it would pass without any work; the step is "
                             "not graded (its text and background go to the next graded step)")
            return None
        return text, data

    def _unverified(self, step: dict, i: int, title: str, texts: list, setups: list, after_task: bool) -> None:
        key = f"details.steps[{i}]"
        description, hints, solutions = markdown.split(self._text(step, key))
        if step.get("answer"):
            solutions.append(self.sc.text(step["answer"], f"{key}.answer", self.report))
            self.report.note(f"{key}.answer ({title!r}): the solution of a step that is not graded; it stays with "
                             "the step's text")
        body = "\n\n".join(p.strip() for p in [description, *hints, *solutions] if p.strip())
        if body:
            texts.append(f"### {title}\n\n{markdown.plain(body, self.report, key + '.text')}\n")
        found = self._backgrounds(step, key)
        for name, rel, script in found:
            setups.append(self._setup_step(self._lib(f"step{i + 1}-{name.lower()}.sh", script), script,
                                           f"{key}.{name}"))
        self._foreground_notes(step, key, "")
        where = "the next graded step's description" if after_task else "the pack's description"
        self.report.note(f"{key} ({title!r}): no verify script, so not a task; its text goes to {where}"
                         + (", its background to the setup of every graded step after it" if found else ""))

    def _task(self, step: dict, i: int, title: str, verify: tuple[str, bytes], texts: list[str],
              setups: list[dict]) -> tuple[str, dict]:
        key = f"details.steps[{i}]"
        task_id = unique_id(step.get("title") or "", self.used, default=f"step-{i + 1}")
        folder = self.stage / task_id
        folder.mkdir()
        description, hints, solutions = markdown.split(self._text(step, key))
        body = markdown.plain(description, self.report, f"{key}.text") if description.strip() else title
        (folder / "description.md").write_text(markdown.literal("\n".join(t.strip() + "\n" for t in texts)
                                                                + ("\n" if texts else "") + body + "\n"))
        data: dict = {"id": task_id, "title": title, "minutes": self.minutes}
        if hints:
            data["hints"] = [markdown.literal(markdown.plain(h)) for h in hints]
            self.report.note(f"{key}.text ({task_id}): {len(hints)} hint(s) moved from the text to `hints`")
        setup = list(self.shared) + [dict(s) for s in setups]
        for n, (name, rel, script) in enumerate(self._backgrounds(step, key)):
            fname = "setup.sh" if n == 0 else f"setup-{name.lower()}.sh"
            (folder / fname).write_text(script)
            setup.append(self._setup_step(fname, script, f"{key}.{name}"))
        if setup:
            data["setup"] = setup
        parts = [(f"{step['answer']} (Katacoda's answer)", self.sc.text(step["answer"], f"{key}.answer", self.report))
                 ] if step.get("answer") else []
        parts += [(f"{step.get('text')}: Solution", s) for s in solutions]
        if parts:
            script, commands = markdown.solution_script(parts)
            (folder / "solution.sh").write_text(script)
            data["solution"] = [{"script": "solution.sh", "host": "controlplane"}]
            self.report.note(f"{key} ({task_id}): solution.sh made from " + " and ".join(p[0] for p in parts)
                             + (f" ({commands} command line(s))" if commands else
                                " (no shell commands in it: text only, as comments)")
                             + "; `grader show --solution` prints it: review it before `grader validate` runs it")
        (folder / "verify.sh").write_text(verify[0])
        seconds, why = timeout_for(verify[0], setup=False)
        if why:
            self.report.note(f"{key}.verify ({task_id}): waits ({why}); its check timeout is {seconds} s "
                             "(killercoda sets no limit)")
        data["checks"] = [{"name": VERIFY_CHECK_NAME, "host": "controlplane", "script": "verify.sh",
                           "timeout": seconds}]
        self._foreground_notes(step, key, f" ({task_id})")
        return task_id, data

    def _finish(self, tasks: dict, finish: str, texts: list[str], setups: list[dict]) -> None:
        """The finish text, and the text of the steps after the last graded one: the last task's explanation."""
        last = list(tasks)[-1]
        if texts:
            self.report.note(f"the text of the steps after the last graded one is part of the explanation of {last}")
        if len(setups) > self.setups_used:
            self.report.note("the background scripts of the steps after the last graded one have no graded step "
                             "to set up; not imported")
        if self.meta:
            return              # an export's finish.md holds the explanations: restore.apply_finish
        parts = ([markdown.plain(finish, self.report, "details.finish.text")] if finish.strip() else [])
        parts += [t.strip() for t in texts]
        if parts and tasks[last] is not None:
            tasks[last]["explanation"] = markdown.literal("\n\n".join(parts)) + "\n"

    # --- pack.yaml ------------------------------------------------------------------

    def _pack_yaml(self, name: str | None, version: str | None, intro_extra: list[str]) -> dict:
        sc, report = self.sc, self.report
        image = str(sc.get("backend", "imageid", default=""))
        if image.startswith("kubernetes"):
            target = "kubernetes"
        else:
            target = "linux"
            if not image.startswith("ubuntu"):
                report.note(f"backend.imageid {image or '(none)'!r}: not kubernetes-* or ubuntu; target linux assumed")
        assets = sc.get("details", "assets", default={})
        two = "2node" in image or any(HOSTS.get(h) == "node01" for h in assets)
        parts = [str(sc.get("description", default="")).strip()]
        intro = self._page_text("intro")
        if intro.strip():
            if " ".join(intro.split()).startswith(" ".join(parts[0].split())):
                parts = []      # the description is the intro's first paragraph (as grader exports it)
            parts.append(markdown.plain(intro, report, "details.intro.text"))
        parts += [t.strip() for t in intro_extra]
        for page in ("intro", "finish"):
            credits = sc.get("details", page, "credits")
            if credits:
                parts.append(f"Credits: {credits}")
        pack = {"name": slug(name or sc.real.name, default="imported"), "title": str(sc.get("title") or sc.real.name),
                "version": version or "0.1.0", "description": "\n\n".join(p for p in parts if p) + "\n",
                "target": target, "hosts": ["controlplane", "node01"] if two else ["controlplane"],
                "tasks": list(report.tasks)}
        kept = {"imageid": image or None, "difficulty": sc.get("difficulty"),
                "time": str(sc.get("time")) if sc.get("time") is not None else None,
                "interface": sc.get("interface")}
        kept = {k: v for k, v in kept.items() if v not in (None, "", {})}
        if kept:
            pack["killercoda"] = kept
        if sc.get("interface"):
            report.note("index.json: interface has no grader counterpart; kept in pack.yaml (killercoda.interface) "
                        "for the export")
        return pack
