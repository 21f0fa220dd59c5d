"""grader drill start|sheet|status|timer|hint|flag|check|grade|abort, grader history, grader demo."""
from __future__ import annotations

import sys

from grader.cli.common import add_inventory, add_json, color, emit_json, positive_int
from grader.errors import EXIT_OK, UsageError

DRILL_HELP = """\
A drill is a practice exam: grader picks tasks from a pack, breaks them on the hosts,
and starts the clock; you fix them; `grader drill grade` scores everything once.

  exam mode      timed (the pack's exam minutes, or the tasks' target minutes), no
                 hints, no checks before the one final grade
  training mode  untimed unless --minutes is given; `drill hint N` and `drill check N`

The session is kept in $GRADER_HOME/drill.json (default ~/.grader): closing the
terminal, a crash or a reboot loses nothing, and the deadline never moves.
Tasks are named by id or by their number on the sheet.
"""
WARN_MINUTES = (15, 5, 1)


def register(sub) -> None:
    import argparse

    parser = sub.add_parser("drill", help="practice exams: start a drill, see the sheet and the clock, grade it",
                            description=DRILL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="drill_command", metavar="ACTION", parser_class=type(parser))

    p = actions.add_parser("start", help="choose tasks, set them up, start the clock and print the task sheet")
    p.add_argument("pack", metavar="PACK", help="a built-in pack name, a pack folder or a .tar.gz archive")
    p.add_argument("--tasks", metavar="A,B", help="exactly these task ids (default: chosen with the seed)")
    p.add_argument("--count", type=int, metavar="N", help="how many tasks, spread over the pack's domains "
                   "(default: the pack's exam.count, else all)")
    p.add_argument("--seed", type=int, help="seed for the choice of tasks and their params (default: random)")
    p.add_argument("--minutes", type=float, metavar="M", help="time limit (default: exam: the pack's "
                   "exam.minutes or the tasks' minutes; training: untimed); 0 = untimed")
    p.add_argument("--mode", choices=("exam", "training"), default="exam",
                   help="exam: timed, no hints or checks; training: hints and checks (default exam)")
    p.add_argument("--jobs", type=positive_int, default=4, metavar="N",
                   help="set up N tasks at a time; a task that is exclusive is set up alone (default 4)")
    add_inventory(p)
    p.set_defaults(func=cmd_start)

    p = actions.add_parser("sheet", help="print the task sheet again")
    add_inventory(p)
    p.set_defaults(func=cmd_sheet)

    p = actions.add_parser("status", help="time left, the tasks, which are flagged")
    add_json(p)
    p.set_defaults(func=cmd_status)

    p = actions.add_parser("timer", help="a live countdown for a terminal pane (warns at 15, 5 and 1 minutes)")
    p.add_argument("--once", action="store_true", help="print the line once and exit")
    p.set_defaults(func=cmd_timer)

    p = actions.add_parser("begin", help="set up a staged task now (one that breaks a node or the control plane)")
    p.add_argument("task", metavar="N", help="the task's number on the sheet, or its id")
    add_inventory(p)
    p.set_defaults(func=cmd_begin)

    p = actions.add_parser("hint", help="show the next hint of a task (training drills)")
    p.add_argument("task", metavar="TASK", help="task id or number on the sheet")
    add_inventory(p)
    p.set_defaults(func=cmd_hint)

    p = actions.add_parser("flag", help="flag a task for review (shown in status and the report)")
    p.add_argument("task", metavar="TASK", help="task id or number on the sheet")
    p.add_argument("--clear", action="store_true", help="remove the flag")
    p.set_defaults(func=cmd_flag)

    p = actions.add_parser("check", help="grade task(s) now, during a training drill")
    p.add_argument("tasks", nargs="*", metavar="TASK", help="task ids or numbers (default: all)")
    add_inventory(p)
    add_json(p)
    p.set_defaults(func=cmd_check)

    p = actions.add_parser("grade", help="hand in: grade every task, write the reports, print their path")
    add_inventory(p)
    add_json(p)
    p.set_defaults(func=cmd_grade)

    p = actions.add_parser("abort", help="drop the drill: reset its tasks and forget it")
    add_inventory(p)
    p.set_defaults(func=cmd_abort)
    parser.set_defaults(func=lambda args: _usage())

    p = sub.add_parser("history", help="past drills: date, pack, score, passed")
    add_json(p)
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("demo", help="bring the local lab up and run a short drill in which a stand-in "
                                    "candidate solves about half of the tasks; prints the report's path")
    p.add_argument("--pack", default="linux-networking", help="the pack (default linux-networking)")
    p.add_argument("--count", type=int, metavar="N", help="how many tasks (default: the pack's exam.count, at most 4)")
    p.add_argument("--seed", type=int, help="seed (default: random)")
    p.set_defaults(func=cmd_demo)


def _usage() -> int:
    raise UsageError("drill: say what to do: grader drill start PACK | sheet | status | timer | hint TASK | "
                     "flag TASK | check [TASK] | grade | abort")


def _store():
    from grader.drill.session import Store

    return Store()


def _err(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


def _warn(message: str) -> None:
    print(f"grader: warning: {message}", file=sys.stderr)


def print_sheet(session, pack, tasks) -> None:
    from grader.drill.sheet import sheet
    from grader.report.terminal import render_markdown

    print(render_markdown(sheet(session, pack, tasks), color=color()), end="")


def cmd_start(args) -> int:
    from grader.drill import drill

    ids = [t.strip() for t in (args.tasks or "").split(",") if t.strip()] or None
    if ids and args.count:
        raise UsageError("give --tasks or --count, not both")
    session, pack, tasks = drill.start(_store(), args.pack, ids=ids, count=args.count, seed=args.seed,
                                       minutes=args.minutes, mode=args.mode, inventory_flag=args.inventory,
                                       trust_on_first_use=args.trust_on_first_use, say=_err, jobs=args.jobs)
    print_sheet(session, pack, {t.id: t for t in tasks})
    return EXIT_OK


def cmd_sheet(args) -> int:
    from grader.drill.drill import open_session

    session = _store().current()
    pack, _, tasks = open_session(session, inventory_flag=args.inventory, warn=_warn)
    print_sheet(session, pack, tasks)
    return EXIT_OK


def _clock(session, now=None) -> str:
    from grader.report import fmt

    left = session.remaining(now)
    if left is None:
        return f"{fmt.clock(session.elapsed(now))} elapsed (untimed)"
    if session.submitted:
        return f"handed in after {fmt.clock(session.elapsed(now))}" + (" (late)" if session.late() else "")
    if left <= 0:
        return f"time is up ({fmt.clock(-left)} past the deadline)"
    return f"{fmt.clock(left)} left of {fmt.num(session.minutes)} min"


def cmd_status(args) -> int:
    from grader.drill.sheet import status
    from grader.report import fmt

    session = _store().current()
    data = status(session)
    if args.json:
        emit_json(data)
        return EXIT_OK
    print(f"{session.pack_title} ({session.pack_name} {session.pack_version}) · {session.mode} · seed {session.seed}")
    phase = session.phase
    if data["interrupted"]:
        phase += (" (interrupted: `grader drill grade` grades what was set up, `grader drill abort` drops it)"
                  if phase == "setting-up" else " (interrupted: run `grader drill grade` again)")
    print(f"{phase} · started {fmt.when(session.started)} · {_clock(session)}")
    for t in data["tasks"]:
        marks = []
        if t["setup"] == "staged":
            marks.append(f"not begun (`grader drill begin {t['n']}`)")
        elif t["setup"] != "done":
            marks.append("setup " + ("interrupted" if data["interrupted"] or session.phase != "setting-up"
                                     else t["setup"]))
        if t["flagged"]:
            marks.append("flagged")
        if t["hints_shown"]:
            marks.append(f"{t['hints_shown']} hint(s) shown")
        if t["passed_check"]:
            marks.append("passed a check" + (f" after {fmt.clock(t['time_spent'])}" if t["time_spent"] else ""))
        print(f"  {t['n']:>2}. {t['id']:<34} {' · '.join(marks)}")
    if session.results:
        print(f"results: {session.results}")
    return EXIT_OK


def timer_line(session, now=None) -> tuple[str, int | None]:
    """The countdown line, and the warning level (15, 5, 1 minutes) it is within, if any."""
    left = session.remaining(now)
    level = None
    if left is not None and not session.submitted:
        level = next((m for m in reversed(WARN_MINUTES) if 0 < left <= m * 60), None)
    flagged = f" · {len(session.flags)} flagged" if session.flags else ""
    n = len(session.tasks)
    line = f"{session.pack_name} · {n} task{'s' if n != 1 else ''}{flagged} · {_clock(session, now)}"
    if level:
        line += f" · less than {level} minute{'s' if level > 1 else ''} left"
    return line, level


def cmd_timer(args) -> int:
    import time

    from grader.errors import DrillError

    store = _store()
    session = store.current()
    line, level = timer_line(session)
    if args.once:
        print(line)
        return EXIT_OK
    tty = sys.stdout.isatty()
    warned = {m for m in WARN_MINUTES if level and m >= level}     # already within them: no alarm
    width = 0
    try:
        while True:
            try:
                session = store.current()
            except DrillError:
                print("\nthe drill is over (aborted)")
                return EXIT_OK
            line, level = timer_line(session)
            if level and level not in warned:
                warned.update(m for m in WARN_MINUTES if m >= level)
                print("\r" + " " * width + "\r" + ("\a" if tty else "")
                      + f"!! {level} minute{'s' if level > 1 else ''} left", flush=True)
            print("\r" + line.ljust(width), end="", flush=True)
            width = max(width, len(line))
            left = session.remaining()
            if session.phase == "graded" or session.submitted:
                print(f"\nhanded in; results: {session.results or '(being graded)'}")
                return EXIT_OK
            if left is not None and left <= 0:
                print("\ntime is up: hand in with `grader drill grade`")
                return EXIT_OK
            time.sleep(1.0 - time.time() % 1.0 + 0.01)
    except KeyboardInterrupt:
        print()
        return EXIT_OK


def cmd_begin(args) -> int:
    from grader.drill import drill
    from grader.report.terminal import render_markdown
    from grader.drill.sheet import where_line

    n, task, pack = drill.begin(_store(), args.task, inventory_flag=args.inventory, say=_err)
    print(render_markdown(f"## {n}. {task.title}\n\n{where_line(task, pack)}\n\n{task.description.strip()}\n",
                          color=color()), end="")
    return EXIT_OK


def cmd_hint(args) -> int:
    from grader.drill.drill import hint
    from grader.report.terminal import render_markdown

    number, total, text = hint(_store(), args.task, inventory_flag=args.inventory)
    more = "" if number < total else " (the last one)"
    print(render_markdown(f"**Hint {number} of {total}**{more}\n\n{text}", color=color()), end="")
    return EXIT_OK


def cmd_flag(args) -> int:
    from grader.drill.drill import flag

    session = flag(_store(), args.task, on=not args.clear)
    print("flagged: " + (", ".join(session.flags) or "none"))
    return EXIT_OK


def cmd_check(args) -> int:
    from grader.drill.drill import check
    from grader.report.terminal import render_run
    from grader.engine.scoring import exit_code

    run = check(_store(), args.tasks, inventory_flag=args.inventory)
    if args.json:
        print(run.to_json())
    else:
        print(render_run(run, color=color()), end="")
    return exit_code(run)


def cmd_grade(args) -> int:
    from grader.drill.drill import grade, unjudged_checks
    from grader.report.terminal import render_run
    from grader.engine.scoring import exit_code
    from grader.drill.session import GRADING

    run, out = grade(_store(), inventory_flag=args.inventory, warn=_warn, say=_err)
    if args.json:
        print(run.to_json())
        print(f"reports written to {out}: results.json, report.html, junit.xml", file=sys.stderr)
    else:
        print(render_run(run, color=color()), end="")
        print(f"results: {out}")
        print(f"report: {out / 'report.html'}")
    left = _store().load()
    if left and left.phase == GRADING and left.results == str(out):
        _err(f"{unjudged_checks(run.tasks)} check(s) could not be judged (ERROR): the drill stays handed in "
             f"at {run.ended}, not graded; fix the environment and run `grader drill grade` again")
    return exit_code(run)


def cmd_abort(args) -> int:
    from grader.drill.drill import abort

    problems = abort(_store(), inventory_flag=args.inventory, say=_err)
    for p in problems:
        _warn(p)
    print("drill aborted: its tasks were reset" if not problems else "drill forgotten; some resets failed (above)")
    return EXIT_OK if not problems else 3


def cmd_history(args) -> int:
    from grader.report import fmt

    rows = _store().history()
    if args.json:
        emit_json(rows)
        return EXIT_OK
    if not rows:
        print("no graded drills yet (grader drill start PACK)")
        return EXIT_OK
    print(f"{'date':<21} {'pack':<22} {'mode':<9} {'score':>7}  {'passed':<6} {'time':>8}")
    for r in rows:
        passed = "yes" if r.get("passed") else "no"
        late = " late" if r.get("late") else ""
        print(f"{fmt.when(r.get('date')):<21} {str(r.get('pack', '')):<22} {str(r.get('mode', '')):<9} "
              f"{fmt.num(r.get('percent', 0)) + '%':>7}  {passed:<6} {fmt.clock(r.get('time_used')):>8}{late}")
    return EXIT_OK


def cmd_demo(args) -> int:
    from grader.drill.demo import run_demo

    return run_demo(pack=args.pack, count=args.count, seed=args.seed, say=_err, color=color())
