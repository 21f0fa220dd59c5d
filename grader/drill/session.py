"""A drill session, and where it lives.  No hosts: plain data, time math, files.

State lives under GRADER_HOME (default ~/.grader):

    drill.json              the current session, rewritten atomically (temp file, fsync,
                            rename) at every change, so a killed terminal or a crash
                            never leaves half a file
    history.jsonl           one line per graded drill
    results/<UTC>-<pack>/   results.json, report.html, junit.xml of a graded drill

The start time is written once, before the tasks are set up, and the deadline is
derived from it and stored with it: nothing that happens later (a crash, a restart,
grading twice) moves it.  Read-modify-write changes hold a lock (drill.lock) so two
terminals (`drill flag` while `drill timer` runs) never lose each other's changes.

The process setting a drill up or grading it owns it: its PID, its start time (a reused
PID is not the owner) and a random token that its writes name (`Store.update(owner=)`,
`clear(owner=)`), so a start still running after an abort and a new start gets
DrillSuperseded instead of writing into, or clearing, the new drill.
"""
from __future__ import annotations

import fcntl
import json
import os
import random
import secrets
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from pathlib import Path

from grader.errors import DrillError, DrillSuperseded, UsageError
from grader.clock import iso, parse_iso, utcnow
from grader.home import fsync_dir, grader_home, write_atomic
from grader.procs import owner_alive, process_started
from grader.strenum import StrEnum

SCHEMA = "grader-drill/1"


class Phase(StrEnum):
    """Where a drill is (drill.json's `phase`)."""
    SETTING_UP = "setting-up"
    RUNNING = "running"
    GRADING = "grading"
    GRADED = "graded"


class Setup(StrEnum):
    """A task's setup in a drill (drill.json's `setup`)."""
    PENDING = "pending"
    SETTING = "running"
    DONE = "done"
    STAGED = "staged"          # an exclusive task of a longer drill: set up by `drill begin N`, not at start


SETTING_UP, RUNNING, GRADING, GRADED = Phase
ACTIVE = (SETTING_UP, RUNNING, GRADING)       # a session in these phases blocks a new start
MODES = ("exam", "training")
PENDING, SETTING, DONE, STAGED = Setup
EXAM_RULES = "exam rules allow no hints and no checks before the one final grade"


def deadline_for(started: str, minutes: float | None) -> str | None:
    if not minutes:
        return None
    return iso(parse_iso(started) + timedelta(minutes=float(minutes)))


@dataclass
class Session:
    id: str
    pack: str                   # how to load it again: a built-in name or an absolute path
    pack_name: str
    pack_title: str
    pack_version: str
    tasks: list[str]            # task ids, in sheet order
    seed: int
    mode: str                   # exam | training
    started: str                # UTC ISO 8601, fixed before setup starts
    minutes: float | None = None    # None: untimed
    deadline: str | None = None     # started + minutes
    inventory: str | None = None    # absolute path of the inventory file; None: default resolution
    trust_on_first_use: bool = False
    phase: str = SETTING_UP
    setup: dict[str, str] = field(default_factory=dict)       # task -> pending | running | done | staged
    flags: list[str] = field(default_factory=list)
    hints: dict[str, int] = field(default_factory=dict)       # task -> hints shown
    checked: dict[str, dict] = field(default_factory=dict)    # task -> {first, last, passed, count}
    submitted: str | None = None    # when grading was first asked for: the end of the candidate's time
    pid: int | None = None          # the grader process setting up or grading (to tell a crash from work)
    pid_started: int | None = None  # its start time (clock ticks after boot): a reused PID is not the owner
    owner: str | None = None        # the owner's random token; only the owner writes while it works
    results: str | None = None      # the results folder, once graded
    schema: str = SCHEMA

    # --- time ---------------------------------------------------------------

    def elapsed(self, now: datetime | None = None) -> float:
        end = parse_iso(self.submitted) if self.submitted else (now or utcnow())
        return max(0.0, (end - parse_iso(self.started)).total_seconds())

    def remaining(self, now: datetime | None = None) -> float | None:
        """Seconds left (negative when past the deadline); None when untimed."""
        if not self.deadline:
            return None
        return (parse_iso(self.deadline) - (now or utcnow())).total_seconds()

    def late(self) -> bool:
        return bool(self.deadline and self.submitted and parse_iso(self.submitted) > parse_iso(self.deadline))

    def time_spent(self, task_id: str) -> float | None:
        """Seconds from the later of the start and the previous task's first pass to this
        task's first pass in `drill check`; None when it never passed a check (not known)."""
        mine = self.checked.get(task_id, {}).get("passed")
        if not mine:
            return None
        end = parse_iso(mine)
        begin = parse_iso(self.started)
        for other, info in self.checked.items():
            when = info.get("passed")
            if other != task_id and when and begin < parse_iso(when) <= end:
                begin = parse_iso(when)
        return max(0.0, (end - begin).total_seconds())

    # --- tasks --------------------------------------------------------------

    def task_id(self, ref: str) -> str:
        """A task id or its number on the sheet (1-based) -> the id."""
        if ref in self.tasks:
            return ref
        if ref.isdigit() and 1 <= int(ref) <= len(self.tasks):
            return self.tasks[int(ref) - 1]
        import difflib

        close = difflib.get_close_matches(ref, self.tasks, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise DrillError(f"task '{ref}' is not in this drill ({hint}its tasks: {', '.join(self.tasks)})")

    def record_check(self, task_id: str, passed: bool, now: datetime | None = None) -> None:
        stamp = iso(now or utcnow())
        info = self.checked.setdefault(task_id, {"first": stamp, "count": 0, "passed": None})
        info["last"] = stamp
        info["count"] = info.get("count", 0) + 1
        if passed and not info.get("passed"):
            info["passed"] = stamp

    def interrupted(self) -> bool:
        """Setting up or grading, and the process doing it is gone (killed, crashed; its
        PID now free or another process's)."""
        if self.phase not in (SETTING_UP, GRADING) or not self.pid:
            return False
        return not owner_alive(self.pid, self.pid_started)

    def take(self) -> str:
        """Make this process the owner; returns its new token."""
        self.pid, self.pid_started, self.owner = os.getpid(), process_started(os.getpid()), secrets.token_hex(16)
        return self.owner

    def release(self) -> None:
        self.pid = self.pid_started = self.owner = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def from_json(text: str, *, source: str = "drill.json") -> Session:
    try:
        data = json.loads(text)
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise ValueError(f"not a grader drill state (expected \"schema\": \"{SCHEMA}\")")
        names = {f.name for f in fields(Session)}
        session = Session(**{k: v for k, v in data.items() if k in names})
        for name in ("started", "deadline", "submitted"):
            when = getattr(session, name)
            if when is not None or name == "started":
                if not isinstance(when, str):
                    raise ValueError(f"{name}: {when!r} is not an ISO 8601 time")
                parse_iso(when)
        if session.mode not in MODES or session.phase not in (*ACTIVE, GRADED):
            raise ValueError(f"mode '{session.mode}', phase '{session.phase}'")
    except (ValueError, TypeError, AttributeError) as exc:
        raise damaged(source, str(exc)) from None
    return session


def damaged(source: str, why: str) -> DrillError:
    return DrillError(f"{source} is damaged ({why}); remove it to forget the drill")


def new_session(pack, ref: str, specs, *, seed: int, mode: str, minutes: float | None,
                inventory: str | None, trust_on_first_use: bool = False, now: datetime | None = None) -> Session:
    started = iso(now or utcnow())
    return Session(id=f"{started.replace(':', '').replace('-', '')[:15]}-{secrets.token_hex(3)}", pack=ref,
                   pack_name=pack.name, pack_title=pack.title, pack_version=pack.version,
                   tasks=[s.id for s in specs], seed=seed, mode=mode, started=started,
                   minutes=float(minutes) if minutes else None, deadline=deadline_for(started, minutes),
                   inventory=inventory, trust_on_first_use=trust_on_first_use,
                   setup={s.id: PENDING for s in specs}, pid=os.getpid(),
                   pid_started=process_started(os.getpid()), owner=secrets.token_hex(16))


# --- choosing tasks ------------------------------------------------------------


def choose(specs, *, seed: int, ids: list[str] | None = None, count: int | None = None,
           weights: dict | None = None) -> list:
    """The drill's tasks, in pack order.  `ids`: exactly those.  Else `count` of them
    (all when None), drawn with the seed so that the draw keeps the domain mix: with the
    pack's domain `weights`, each domain gets its share of `count` by largest remainder;
    without weights, round robin over the domains in a seeded order.  A seeded pick
    inside each domain."""
    if ids:
        by_id = {s.id: s for s in specs}
        unknown = [i for i in ids if i not in by_id]
        if unknown:
            raise UsageError(f"--tasks: no task {', '.join(repr(i) for i in unknown)} in the pack "
                             f"(it has: {', '.join(by_id)})")
        picked = {i: by_id[i] for i in ids}          # dict: drops repeats, keeps order
        chosen = list(picked.values())
    else:
        total = len(specs)
        count = total if count is None else count
        if not 1 <= count <= total:
            raise UsageError(f"--count {count}: the pack has {total} task(s); give 1 to {total}")
        rng = random.Random(f"drill:{seed}")
        pools: dict[str, list] = {}
        for s in specs:
            pools.setdefault(s.domain, []).append(s)
        order = sorted(pools)
        rng.shuffle(order)
        for d in order:
            rng.shuffle(pools[d])
        quota = domain_quota({d: len(pools[d]) for d in order}, count, weights or {})
        chosen = [s for d in order for s in pools[d][:quota[d]]]
    position = {s.id: k for k, s in enumerate(specs)}
    return sorted(chosen, key=lambda s: position[s.id])


def domain_quota(sizes: dict[str, int], count: int, weights: dict) -> dict[str, int]:
    """How many tasks each domain gives to a draw of `count`.  `sizes` in the seeded
    domain order (ties go to the earlier one).  Weighted: the largest-remainder share of
    each weighted domain, capped by its size, the rest handed out by weight; domains the
    weights leave out count only when the weighted ones run dry.  No weights: round robin."""
    quota = dict.fromkeys(sizes, 0)
    weighted = {d: float(weights.get(d, 0)) for d in sizes if weights.get(d, 0) > 0}
    left = count
    if weighted:
        total = sum(weighted.values())
        exact = {d: count * w / total for d, w in weighted.items()}
        for d in weighted:
            quota[d] = min(int(exact[d]), sizes[d])
        left = count - sum(quota.values())
        # hand the rest out by largest remainder, then by weight, while there is room
        ranked = sorted(weighted, key=lambda d: (-(exact[d] - int(exact[d])), -weighted[d]))
        while left and any(quota[d] < sizes[d] for d in ranked):
            for d in ranked:
                if left and quota[d] < sizes[d]:
                    quota[d] += 1
                    left -= 1
            ranked.sort(key=lambda d: (quota[d] / weighted[d], -weighted[d]))
    while left:
        for d in sizes:
            if left and quota[d] < sizes[d]:
                quota[d] += 1
                left -= 1
    return quota


def new_seed() -> int:
    return secrets.randbelow(1_000_000)


def superseded(now: Session | None, what: str) -> DrillSuperseded:
    state = f"drill {now.id} of {now.pack_name} is there now" if now else "no drill is there now"
    return DrillSuperseded(f"{what} was aborted or taken over meanwhile ({state}); "
                           "this process left the drill state alone")


class Store:
    """The state folder: the current session, the history, the results."""

    def __init__(self, home: Path | str | None = None):
        self.home = Path(home) if home else grader_home()

    @property
    def state_path(self) -> Path:
        return self.home / "drill.json"

    @property
    def history_path(self) -> Path:
        return self.home / "history.jsonl"

    @contextmanager
    def locked(self):
        self.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.home / "drill.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def load(self) -> Session | None:
        try:
            text = self.state_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except UnicodeDecodeError:
            raise damaged(str(self.state_path), "not UTF-8 text") from None
        except OSError as exc:
            raise DrillError(f"{self.state_path}: cannot read: {exc.strerror}") from None
        return from_json(text, source=str(self.state_path))

    def current(self) -> Session:
        session = self.load()
        if session is None:
            raise DrillError("no drill: start one with `grader drill start PACK`")
        return session

    def save(self, session: Session) -> None:
        write_atomic(self.state_path, session.to_json())

    def update(self, change, *, owner: str | None = None, drill: str | None = None) -> Session:
        """Load, apply `change(session)`, save, under the lock; returns the session.
        `owner`: only if the drill is still owned by that token, `drill`: only if it is
        still the drill of that id; else DrillSuperseded, and nothing is written."""
        with self.locked():
            session = self.load()
            if session is None and not (owner or drill):
                session = self.current()    # raises: no drill
            if owner and (session is None or session.owner != owner):
                raise superseded(session, "the drill this process was working on")
            if drill and (session is None or session.id != drill):
                raise superseded(session, f"drill {drill}")
            change(session)
            self.save(session)
            return session

    def owned_by(self, owner: str) -> bool:
        session = self.load()
        return session is not None and session.owner == owner

    def clear(self, *, owner: str | None = None) -> bool:
        """Forget the drill (with `owner`: only if that token still owns it); True if it did."""
        with self.locked():                     # not between an update's load and its save
            if owner and not self.owned_by(owner):
                return False
            with suppress(FileNotFoundError):
                self.state_path.unlink()
            fsync_dir(self.home)
            return True

    def results_dir(self, session: Session) -> Path:
        """One folder per drill, named for the moment it was handed in (the same on a re-grade)."""
        stamp = parse_iso(session.submitted or session.started).strftime("%Y%m%dT%H%M%SZ")
        return self.home / "results" / f"{stamp}-{session.pack_name}"

    def history(self) -> list[dict]:
        try:
            lines = self.history_path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            with suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict):
                    out.append(entry)
        return out

    def append_history(self, entry: dict) -> None:
        """Add one line; an entry for the same drill id is not added twice (re-grades)."""
        with self.locked():
            if any(e.get("id") == entry.get("id") for e in self.history()):
                return
            self.home.mkdir(parents=True, exist_ok=True)
            with open(self.history_path, "a+b") as f:
                line = (json.dumps(entry, sort_keys=True) + "\n").encode("utf-8")
                end = f.seek(0, os.SEEK_END)
                if end:                         # a crash mid-append leaves a line without its newline
                    f.seek(end - 1)
                    if f.read(1) != b"\n":
                        line = b"\n" + line
                f.write(line)                   # appended at the end whatever the position (O_APPEND)
                f.flush()
                os.fsync(f.fileno())
