"""What a grading run produced: per check, per task, per run.  Plain data, JSON in and out.

The JSON form is versioned (`schema: grader-results/1`) and documented in
docs/results-format.md.  Sensitive values are redacted before a CheckResult is
built, so nothing that reads results (JSON, HTML, JUnit, terminal) can leak them.
"""
from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from grader.errors import ResultsFileError
from grader.strenum import StrEnum

SCHEMA = "grader-results/1"


class Status(StrEnum):
    """A check's or a task's verdict (its JSON and printed form is the bare value)."""
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    FLAKY = "FLAKY"             # validate --repeat: the verdict changed between runs on the same state


PASS, FAIL, ERROR, FLAKY = Status.PASS, Status.FAIL, Status.ERROR, Status.FLAKY
STATUSES = tuple(Status)


@dataclass
class CheckResult:
    name: str
    status: str                 # PASS | FAIL | ERROR | FLAKY (validate only)
    points: float
    host: str = ""
    kind: str = ""              # run | file | kube | script
    expected: str = ""          # what the check wanted, in words
    actual: str = ""            # what it found (redacted when sensitive)
    message: str = ""           # FAIL: short reason; ERROR: what to fix in the environment
    duration: float = 0.0       # seconds, last attempt
    attempts: int = 1
    # validate's alternative / near-miss rows: per check {"check": name, "want": status, "got": status}
    verdicts: list = field(default_factory=list)

    @property
    def earned(self) -> float:
        return self.points if self.status == PASS else 0.0


@dataclass
class TaskResult:
    id: str
    title: str
    domain: str
    checks: list[CheckResult] = field(default_factory=list)
    target_minutes: float = 0.0
    time_spent: float | None = None     # seconds the candidate spent, when known
    flagged: bool = False
    description: str = ""
    hints: list[str] = field(default_factory=list)
    explanation: str = ""
    solution: list[str] = field(default_factory=list)   # reference solution, as commands
    error: str = ""                     # a task-level problem (setup failed, ...)

    @property
    def points(self) -> float:
        return sum(c.points for c in self.checks)

    @property
    def earned(self) -> float:
        return sum(c.earned for c in self.checks)

    @property
    def status(self) -> str:
        if self.error or any(c.status == ERROR for c in self.checks):
            return ERROR
        return PASS if self.checks and all(c.status == PASS for c in self.checks) else FAIL


@dataclass
class RunResult:
    pack: str
    pack_title: str = ""
    pack_version: str = ""
    mode: str = "check"                 # check | validate | exam | training
    seed: int | None = None
    inventory: str = ""                 # inventory name
    hosts: list[str] = field(default_factory=list)
    started: str = ""                   # ISO 8601, UTC
    ended: str = ""
    deadline: str | None = None
    time_used: float = 0.0              # seconds from start to grading
    late: bool = False
    pass_percent: float = 66.0
    domain_weights: dict[str, float] = field(default_factory=dict)
    tasks: list[TaskResult] = field(default_factory=list)
    schema: str = SCHEMA

    def to_dict(self) -> dict:
        data = asdict(self)
        for task in data["tasks"]:
            for check in task["checks"]:
                if not check["verdicts"]:      # only validate's variant rows carry them
                    del check["verdicts"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def all_checks(self):
        for task in self.tasks:
            for check in task.checks:
                yield task, check


def from_dict(data, *, source: str = "results") -> RunResult:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ResultsFileError(f"{source}: not a grader results file (expected \"schema\": \"{SCHEMA}\")")
    try:
        tasks = []
        for t in data.get("tasks", []):
            checks = [_build(CheckResult, c) for c in t.get("checks", [])]
            for c in checks:
                if c.status not in STATUSES:
                    raise ValueError(f"check '{c.name}' has status '{c.status}'")
            tasks.append(_build(TaskResult, {**t, "checks": checks}))
        return _build(RunResult, {**data, "tasks": tasks})
    except (TypeError, ValueError, AttributeError) as exc:
        raise ResultsFileError(f"{source}: malformed results: {exc}") from None


def load(path: Path) -> RunResult:
    return from_dict(read(path), source=str(path))


def read(path: Path):
    """The parsed JSON of a results file, checked only for its `schema` marker."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ResultsFileError(f"{path}: cannot read: {exc.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{path}: not a grader results file (not JSON: {exc})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise ResultsFileError(f"{path}: not a grader results file (expected \"schema\": \"{SCHEMA}\")")
    return data


def _build(cls, data: dict):
    if not isinstance(data, dict):
        raise TypeError(f"{cls.__name__} entry is not an object")
    names = {f.name for f in fields(cls)}
    missing = [f.name for f in fields(cls) if f.name not in data and f.default is MISSING and f.default_factory is MISSING]
    if missing:
        raise ValueError(f"{cls.__name__} lacks {', '.join(missing)}")
    return cls(**{k: v for k, v in data.items() if k in names})

