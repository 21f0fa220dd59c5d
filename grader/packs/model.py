"""The task-pack model: what the loader produces and the runner consumes.  Pure data.

A `TaskSpec` is a task as written (templates not yet rendered); `render()` in
grader.packs.templating turns it, for one seed and one inventory, into a `Task` whose
steps and checks are concrete commands and values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from grader.errors import UsageError
from grader.packs.lines import line_of

DEFAULT_STEP_TIMEOUT = 60.0
DEFAULT_CHECK_TIMEOUT = 20.0
DEFAULT_INTERVAL = 2.0
DEFAULT_PASS_PERCENT = 66.0
# The check kinds, in the order a check's keys are looked at.  Adding one: an entry here, its
# branch of the schema's `check` definition, and its own branches in grader/engine/checks.py
# (the command that gathers its facts, its verdict); tests/unit/test_registries.py fails
# while the schema and this tuple disagree.
CHECK_KINDS = ("run", "file", "kube", "script")


@dataclass(frozen=True)
class Pack:
    name: str
    title: str
    version: str
    dir: Path
    description: str = ""
    target: str = "kubernetes"
    exam_minutes: float | None = None
    pass_percent: float = DEFAULT_PASS_PERCENT
    count: int | None = None
    domains: dict = field(default_factory=dict)
    hosts: tuple = ("controlplane", "node01")
    tasks: tuple = ()                   # TaskSpec, in pack order (pack.yaml `tasks`, then folder order)
    archive: Path | None = None         # set when loaded from a .tar.gz

    def task(self, task_id: str) -> "TaskSpec":
        for t in self.tasks:
            if t.id == task_id:
                return t
        import difflib

        close = difflib.get_close_matches(task_id, [t.id for t in self.tasks], n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise UsageError(f"pack {self.name}: no task '{task_id}'{hint}")


@dataclass(frozen=True)
class TaskSpec:
    """A task as written: raw (template) data plus where it came from."""
    id: str
    title: str
    domain: str
    minutes: float
    dir: Path
    file: Path
    data: dict                          # the task.yaml mapping (LineDict: knows its lines)
    description: str                    # template text
    files: dict = field(default_factory=dict)   # name -> text, for script/copy files

    @property
    def weight(self) -> float:
        return float(sum(c.get("points", 1) for c in self.data["checks"]))

    @property
    def exclusive(self) -> bool:
        """The task changes state shared beyond its own namespace: validate runs it alone."""
        return bool(self.data.get("exclusive", False))

    def line(self, *path) -> int | None:
        return line_of(self.data, list(path))


@dataclass(frozen=True)
class Step:
    kind: str                           # run | script | copy
    command: str                        # rendered command (run), script text (script), file text (copy)
    host: str
    timeout: float = DEFAULT_STEP_TIMEOUT
    to: str | None = None               # copy destination
    mode: str = "0644"
    label: str = ""                     # e.g. "setup[2]" for messages
    source: str = ""                    # script/copy: the file name in the task folder

    def display(self) -> str:
        """How the step reads in a solution listing."""
        if self.kind == "run":
            return self.command
        if self.kind == "copy":
            return f"# write {self.to} ({self.source}) on {self.host}:\n{self.command}"
        return f"# {self.source} on {self.host}:\n{self.command}"


@dataclass(frozen=True)
class Check:
    task_id: str
    index: int
    name: str
    kind: str                           # run | file | kube | script
    host: str
    points: float = 1.0
    timeout: float = DEFAULT_CHECK_TIMEOUT
    within: float = 0.0
    interval: float = DEFAULT_INTERVAL
    passes_before_fix: bool = False
    sensitive: bool = False
    target: object = None               # run/script: command text; file: path; kube: dict
    expect: dict = field(default_factory=dict)
    id: str = ""                        # the author's `id`, or "" (near misses name checks by id or name)

    @property
    def key(self) -> str:
        return f"{self.task_id}#{self.index}"


class Alternative(NamedTuple):
    """Another correct solution: validate demands full marks after its steps."""
    name: str
    steps: tuple                        # Step, rendered like the solution's


class NearMiss(NamedTuple):
    """A plausible wrong fix: validate demands that exactly the `fails` checks FAIL."""
    name: str
    steps: tuple                        # Step
    fails: tuple                        # check indices (into Task.checks), resolved from ids or names


@dataclass(frozen=True)
class Task:
    """A task rendered for one seed and one inventory."""
    spec: TaskSpec
    seed: int
    params: dict
    env: dict                           # environment for scripts
    description: str
    hints: tuple
    explanation: str
    setup: tuple
    solution: tuple
    reset: tuple
    checks: tuple
    alternatives: tuple = ()            # Alternative
    near_misses: tuple = ()             # NearMiss

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def exclusive(self) -> bool:
        return self.spec.exclusive

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def domain(self) -> str:
        return self.spec.domain
