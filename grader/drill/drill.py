"""Drills: choose tasks, set them up, keep the clock, grade once at the end.

    start  -> the session is written (phase setting-up, start time fixed), then the
              tasks are reset and set up (several at once), each one's status saved
              as it ends; phase running
    check  -> training only: grade some tasks now, record when each first passes
    grade  -> phase grading (the hand-in time is fixed the first time), grade every
              task, write results.json/report.html/junit.xml, add to the history,
              phase graded.  Killed half-way, it simply runs again.
    begin  -> an exclusive task (it breaks a node or the control plane) of a drill of
              several tasks is staged at start and set up only when the candidate
              begins it, so one task's broken node never spoils the others' setups
    abort  -> reset the tasks and forget the session

The session model and its files are in grader.drill.session; this module adds the pack, the
inventory and the hosts (imported in the functions that use them, so that `drill status`,
`sheet` and `timer` load no pack or runner).  The CLI (grader/cli/drill.py) parses and prints.

Over 400 lines: each action's state changes and ownership checks (start, begin, check, grade,
abort) sit together, so that who may write the session reads in one place.
"""
from __future__ import annotations

import time
from pathlib import Path

from grader.errors import DrillError, DrillSuperseded, GraderError
from grader.holder import control as holder
from grader.drill.session import (ACTIVE, DONE, EXAM_RULES, GRADED, GRADING, RUNNING, SETTING, SETTING_UP, STAGED,
                                  Session, Store, choose, iso, new_seed, new_session, utcnow)

SETUP_JOBS = 4             # tasks `drill start` sets up at once (`--jobs`)
NOT_SET_UP = ("its setup did not finish (the drill was interrupted while setting it up), so it was not graded; "
              "`grader drill abort` resets the drill")
NOT_BEGUN = "never begun: `grader drill begin {n}` sets this task up; a task never begun earns no points"


def staged(tasks) -> set[str]:
    """The tasks a drill sets up only on `drill begin`: the exclusive ones (they change a
    node, the control plane or other shared state), when the drill has other tasks too."""
    return {t.id for t in tasks if t.exclusive} if len(tasks) > 1 else set()



def _say(say):
    return say or (lambda message: None)


# --- opening what a session refers to -------------------------------------------


def resolve_inventory(flag: str | None, *, trust_on_first_use: bool = False):
    """(inventory, absolute path of its file or None for the built-in layout)."""
    from grader.packs.packcache import resolve_inventory as resolve

    inventory = resolve(flag)
    if trust_on_first_use:
        inventory = inventory.with_trust_on_first_use()
    path = Path(inventory.source)
    return inventory, (str(path.resolve()) if path.is_file() else None)


def open_session(session: Session, *, inventory_flag: str | None = None, trust_on_first_use: bool = False,
                 warn=None):
    """(pack, inventory, {task id: Task}) for a session, rendered with its seed (grader.packs.packcache)."""
    from grader.packs.packcache import load as load_pack, render

    inventory, _ = resolve_inventory(inventory_flag or session.inventory,
                                     trust_on_first_use=trust_on_first_use or session.trust_on_first_use)
    pack = load_pack(session.pack, inventory=inventory)
    if pack.version != session.pack_version and warn:
        warn(f"pack {pack.name} is now version {pack.version}; the drill started with {session.pack_version}")
    missing = [t for t in session.tasks if t not in {s.id for s in pack.tasks}]
    if missing:
        raise DrillError(f"pack {session.pack} no longer has task(s) {', '.join(missing)} of this drill; "
                         "`grader drill abort` forgets it")
    tasks = render(pack, [pack.task(t) for t in session.tasks], seed=session.seed, inventory=inventory)
    return pack, inventory, {t.id: t for t in tasks}


def _pack_ref(ref: str) -> str:
    path = Path(ref)
    return str(path.resolve()) if path.exists() else ref


# --- start ----------------------------------------------------------------------


def start(store: Store, ref: str, *, ids=None, count=None, seed=None, minutes=None, mode="exam",
          inventory_flag=None, trust_on_first_use=False, say=None, jobs: int = SETUP_JOBS) -> tuple:
    """Choose, record, set up (`jobs` tasks at a time).  Returns (session, pack, [Task]).  A
    setup that fails resets what was set up and forgets the session before raising."""
    from grader.engine.lifecycle import render
    from grader.engine.validate import concurrently, schedule
    from grader.packs.loader import load_pack
    from grader.engine.runner import Runner

    say = _say(say)
    if mode not in ("exam", "training"):
        raise DrillError(f"--mode {mode}: give exam or training")
    busy = store.load()
    if busy and busy.phase in ACTIVE:
        raise busy_error(busy)
    inventory, inventory_path = resolve_inventory(inventory_flag, trust_on_first_use=trust_on_first_use)
    pack = load_pack(ref, inventory=inventory)
    seed = new_seed() if seed is None else seed
    specs = choose(list(pack.tasks), seed=seed, ids=ids, count=count if ids or count else pack.count,
                   weights=pack.domains)
    if minutes is None:
        minutes = (pack.exam_minutes or sum(s.minutes for s in specs)) if mode == "exam" else None
    elif minutes < 0:
        raise DrillError(f"--minutes {minutes:g}: give a positive number (0: untimed)")
    tasks = render(pack, specs, seed=seed, inventory=inventory)
    session = new_session(pack, _pack_ref(ref), specs, seed=seed, mode=mode, minutes=minutes or None,
                          inventory=inventory_path, trust_on_first_use=trust_on_first_use)
    with store.locked():
        busy = store.load()
        if busy and busy.phase in ACTIVE:
            raise busy_error(busy)
        store.save(session)                     # before any setup: the start time is fixed now
    me = session.owner                          # every later write is only while this drill is ours
    later = staged(tasks)
    number = {t.id: n for n, t in enumerate(tasks, 1)}
    for task in (t for t in tasks if t.id in later):
        say(f"[{number[task.id]}/{len(tasks)}] {task.id}: staged (it breaks shared state; "
            f"`grader drill begin {number[task.id]}` sets it up)")
        store.update(lambda s, t=task.id: s.setup.__setitem__(t, STAGED), owner=me)
    t0 = time.monotonic()

    def set_up(task):
        say(f"[{number[task.id]}/{len(tasks)}] {task.id}: setting up ({time.monotonic() - t0:.0f}s so far)")
        store.update(lambda s, t=task.id: s.setup.__setitem__(t, SETTING), owner=me)
        runner.run_steps(task, "reset")
        runner.run_steps(task, "setup")
        store.update(lambda s, t=task.id: s.setup.__setitem__(t, DONE), owner=me)

    try:
        with Runner(inventory) as runner:
            # the tasks set up now are not exclusive (those are staged) unless the drill has
            # only one: they touch only their own objects, as `validate --jobs` proves, so
            # several are set up at once; an exclusive one is set up alone
            for wave in schedule([t for t in tasks if t.id not in later], jobs):
                concurrently(set_up, wave, jobs)
    except DrillSuperseded as exc:              # aborted meanwhile: the hosts and the state are not ours
        exc.message = f"drill not started: {exc.message}"
        raise
    except (GraderError, KeyboardInterrupt) as exc:
        if not store.owned_by(me):
            raise DrillSuperseded("drill not started: it was aborted while being set up; this process "
                                  "left the hosts and the drill state alone") from None
        say("setup did not complete: resetting the tasks")
        _reset_quietly(inventory, [t for t in tasks if t.id not in later])
        store.clear(owner=me)
        if isinstance(exc, GraderError):
            exc.message = f"drill not started: {exc.message} (the tasks were reset; no drill is running)"
        raise

    def running(s: Session):
        if s.phase != SETTING_UP:               # handed in or graded meanwhile: leave it as it is
            raise DrillError(f"the drill was set up, but meanwhile it became {s.phase}; "
                             "`grader drill status` shows it")
        s.phase = RUNNING
        s.release()
    session = store.update(running, owner=me)
    holder.start(store.home, session.id, inventory, inventory_flag=session.inventory,
                 trust_on_first_use=trust_on_first_use)
    return session, pack, tasks


def busy_error(session: Session) -> DrillError:
    what = "being graded" if session.phase == GRADING else (
        "being set up" if session.phase == SETTING_UP else "running")
    if session.interrupted():
        what = f"interrupted while {what}"
    return DrillError(f"a drill of {session.pack_name} is {what} (started {session.started}): "
                      "hand it in with `grader drill grade` or drop it with `grader drill abort` first")


def _reset_quietly(inventory, tasks, jobs: int = SETUP_JOBS) -> list[str]:
    """Reset `tasks`: the exclusive ones first, one at a time (they restore a node or the
    control plane the others' resets may need), then the others `jobs` at a time; returns the
    problems met, one line each, and goes on past them."""
    from grader.engine.runner import Runner
    from grader.engine.validate import concurrently, schedule

    problems = []

    def reset(task):
        try:
            runner.run_steps(task, "reset")
        except GraderError as exc:
            problems.append(str(exc))

    try:
        with Runner(inventory) as runner:
            for wave in schedule(list(tasks), jobs, exclusive_first=True):
                concurrently(reset, wave, jobs)
    except GraderError as exc:
        problems.append(str(exc))
    return problems


# --- during the drill -------------------------------------------------------------


def active(store: Store) -> Session:
    session = store.current()
    if session.phase == GRADED:
        raise DrillError(f"the drill of {session.pack_name} is already graded (results: {session.results}); "
                         "start a new one with `grader drill start PACK`")
    return session


def hint(store: Store, ref: str, *, inventory_flag=None) -> tuple[int, int, str]:
    """(number, total, text) of the next hint of a task; training drills only."""
    session = active(store)
    if session.mode == "exam":
        raise DrillError(f"no hints in an exam drill: {EXAM_RULES}. Hints are for training drills "
                         "(`grader drill start PACK --mode training`)")
    task_id = session.task_id(ref)
    _, _, tasks = open_session(session, inventory_flag=inventory_flag)
    hints = tasks[task_id].hints
    if not hints:
        raise DrillError(f"task {task_id} has no hints")
    shown = session.hints.get(task_id, 0)
    number = min(shown + 1, len(hints))
    store.update(lambda s: s.hints.__setitem__(task_id, number))
    return number, len(hints), hints[number - 1]


def flag(store: Store, ref: str, *, on: bool = True) -> Session:
    session = active(store)
    task_id = session.task_id(ref)

    def change(s: Session):
        s.flags = [t for t in s.flags if t != task_id] + ([task_id] if on else [])
        s.flags.sort(key=s.tasks.index)
    return store.update(change)


def begin(store: Store, ref: str, *, inventory_flag=None, say=None) -> tuple:
    """Set up a staged task now; returns (number, Task, Pack).  A setup that fails is reset and
    the task stays staged, so it can be begun again."""
    from grader.engine.runner import Runner

    say = _say(say)
    session = active(store)
    task_id = session.task_id(ref)
    n = session.tasks.index(task_id) + 1
    if session.phase != RUNNING:
        raise DrillError(f"the drill is {session.phase}; tasks are begun in a running drill")
    status = session.setup.get(task_id)
    if status == DONE:
        raise DrillError(f"task {n} ({task_id}) is already set up: work on it")
    if status != STAGED:
        raise DrillError(f"task {n} ({task_id}) is being set up by another command "
                         "(`grader drill status` shows it)")
    pack, inventory, tasks = open_session(session, inventory_flag=inventory_flag)
    task = tasks[task_id]

    def claim(s: Session):
        if s.setup.get(task_id) != STAGED:
            raise DrillError(f"task {n} ({task_id}) was begun meanwhile by another command")
        s.setup[task_id] = SETTING
    store.update(claim, drill=session.id)
    say(f"task {n} ({task_id}): setting up")
    try:
        with Runner(inventory, pool=holder.for_drill(store, session, inventory, inventory_flag)) as runner:
            runner.run_steps(task, "reset")
            runner.run_steps(task, "setup")
    except (GraderError, KeyboardInterrupt) as exc:
        say("setup did not complete: resetting the task")
        _reset_quietly(inventory, [task])
        store.update(lambda s: s.setup.__setitem__(task_id, STAGED), drill=session.id)
        if isinstance(exc, GraderError):
            exc.message = f"task {n} not begun: {exc.message} (it was reset; begin it again)"
        raise
    store.update(lambda s: s.setup.__setitem__(task_id, DONE), drill=session.id)
    return n, task, pack


def check(store: Store, refs=(), *, inventory_flag=None):
    """Training drills: grade some (default all) tasks now; returns a RunResult (mode check)."""
    from grader.engine.lifecycle import check_tasks
    from grader.engine.runner import Runner

    session = active(store)
    if session.mode == "exam":
        raise DrillError(f"no checks during an exam drill: {EXAM_RULES}. Hand it in with `grader drill grade`")
    if session.phase != RUNNING:
        raise DrillError(f"the drill is {session.phase}; checks are for a running drill")
    ids = [session.task_id(r) for r in refs] or list(session.tasks)
    pack, inventory, tasks = open_session(session, inventory_flag=inventory_flag)
    ready = [i for i in ids if session.setup.get(i) != STAGED]
    with Runner(inventory, pool=holder.for_drill(store, session, inventory, inventory_flag)) as runner:
        run = check_tasks(runner, pack, [tasks[i] for i in ready], mode="check", seed=session.seed)
    checked = {t.id: t for t in run.tasks}
    run.tasks = [checked.get(i) or _not_begun_result(session, tasks[i]) for i in ids]
    now = utcnow()

    def record(s: Session):
        for t in run.tasks:
            if t.id in checked and not any(c.status == "ERROR" for c in t.checks):
                s.record_check(t.id, t.status == "PASS", now)
    session = store.update(record, drill=session.id)
    for t in run.tasks:
        t.time_spent = session.time_spent(t.id)
        t.flagged = t.id in session.flags
    return run


# --- the end ----------------------------------------------------------------------


def grade(store: Store, *, inventory_flag=None, warn=None, say=None):
    """Grade every task of the drill; returns (run, results folder).  Safe to repeat
    after a crash: the hand-in time and the results folder stay those of the first try.
    A grade with checks the environment kept from being judged (ERROR: apiserver down, a
    host unreachable) leaves the drill handed in but not graded, and out of the history:
    once the environment is fixed, `drill grade` again gives the verdicts."""
    from grader.engine.lifecycle import check_tasks, task_result, unjudged
    from grader.report import write_report_dir
    from grader.engine.runner import Runner

    say = _say(say)

    def hand_in(s: Session):
        if s.phase == GRADED:
            raise DrillError(f"this drill is already graded: {s.results}; start a new one with "
                             "`grader drill start PACK`")
        if s.phase == SETTING_UP and not s.interrupted():     # `drill start` is still setting it up
            raise DrillError(f"the drill of {s.pack_name} is still being set up by `grader drill start` "
                             f"(process {s.pid}); grade it when the task sheet is printed")
        if s.phase == GRADING and s.pid and not s.interrupted():   # another `drill grade` is at work
            raise DrillError(f"the drill of {s.pack_name} is being graded by process {s.pid}; "
                             "wait for its report")
        s.submitted = s.submitted or iso(utcnow())
        s.phase = GRADING
        s.take()
    with store.locked():
        session = store.current()
        hand_in(session)
        store.save(session)
    me = session.owner
    pack, inventory, tasks = open_session(session, inventory_flag=inventory_flag, warn=warn)
    ready = [tasks[t] for t in session.tasks if session.setup.get(t) == DONE]
    say(f"grading {len(ready)} task(s) of {pack.name}")
    with Runner(inventory, pool=holder.for_drill(store, session, inventory, inventory_flag,
                                                 start_if_missing=False)) as runner:
        run = check_tasks(runner, pack, ready, mode=session.mode, seed=session.seed)
    holder.stop(store.home)                     # handed in: the drill's connections are done
    graded = {t.id: t for t in run.tasks}
    run.tasks = [graded.get(t) or (_not_begun_result(session, tasks[t]) if session.setup.get(t) == STAGED else
                                   task_result(tasks[t], unjudged(tasks[t], NOT_SET_UP), error=NOT_SET_UP))
                 for t in session.tasks]
    run.started, run.ended, run.deadline = session.started, session.submitted, session.deadline
    run.time_used = session.elapsed()
    run.late = session.late()
    for t in run.tasks:
        t.flagged = t.id in session.flags
        t.time_spent = session.time_spent(t.id)
    out = store.results_dir(session)
    write_report_dir(run, out)
    again = unjudged_checks(graded.values())
    if not again:
        store.append_history(history_entry(session, run, out))

    def done(s: Session):       # with ERRORs it stays handed in, not graded: `drill grade` again
        s.phase, s.results = (GRADING if again else GRADED), str(out)
        s.release()
    try:
        store.update(done, owner=me)
    except DrillSuperseded as exc:
        exc.message = f"graded, results in {out}; but {exc.message}"
        raise
    return run, out


def unjudged_checks(task_results) -> int:
    """Checks the environment kept from being judged (ERROR) in the tasks that were graded: while
    there are any, the drill stays handed in (its hand-in time fixed) and `drill grade` may run again."""
    return sum(c.status == "ERROR" for t in task_results for c in t.checks)


def _not_begun_result(session: Session, task):
    """A staged task never begun: every check FAIL, nothing earned (not ERROR: nothing was
    tried, and no host failed to answer)."""
    from grader.engine.lifecycle import task_result
    from grader.engine.results import FAIL, CheckResult

    message = NOT_BEGUN.format(n=session.tasks.index(task.id) + 1)
    return task_result(task, [CheckResult(name=c.name, status=FAIL, points=c.points, host=c.host, kind=c.kind,
                                          expected="(the task begun and solved)", actual="(not begun)",
                                          message=message) for c in task.checks])


def history_entry(session: Session, run, out: Path) -> dict:
    from grader.engine.scoring import score

    s = score(run)
    return {"id": session.id, "date": session.submitted, "pack": session.pack_name,
            "pack_version": session.pack_version, "mode": session.mode, "seed": session.seed,
            "tasks": list(session.tasks), "earned": s.earned, "possible": s.possible, "percent": s.percent,
            "pass_percent": s.pass_percent, "passed": s.passed, "verdict": s.verdict, "late": run.late,
            "time_used": round(run.time_used), "results": str(out)}


def abort(store: Store, *, inventory_flag=None, say=None) -> list[str]:
    """Reset the drill's tasks and forget it; returns problems met while resetting."""
    say = _say(say)
    session = store.current()
    try:
        _, inventory, tasks = open_session(session, inventory_flag=inventory_flag)
    except GraderError as exc:
        store.clear()
        holder.stop(store.home)
        return [f"could not reset the tasks: {exc}"]
    touched = [t for t in tasks.values() if session.setup.get(t.id) != STAGED]   # staged: never set up
    say(f"resetting {len(touched)} task(s)")
    problems = _reset_quietly(inventory, touched)
    store.clear()
    holder.stop(store.home)
    return problems
