"""`grader demo`: the whole loop in one command, on the local lab.

Brings the lab up (or reuses it), starts a short training drill of a pack on the lab's
inventory, lets a stand-in candidate apply the reference solutions of about half of
the tasks (checking each, as a candidate would, so the report has times), hands the
drill in and prints where the HTML report is.  It uses the normal drill state
($GRADER_HOME), so it refuses to run while a drill of yours is running.
"""
from __future__ import annotations

import sys

from grader.drill import drill
from grader.drill.session import ACTIVE, Store
from grader.drill.sheet import sheet
from grader.engine.runner import Runner
from grader.engine.scoring import score
from grader.errors import EXIT_ENVIRONMENT, EXIT_OK
from grader.lab.lab import Lab
from grader.packs.packs import peek_pack
from grader.report.terminal import render_markdown, render_run

DEMO_MAX_TASKS = 4


def run_demo(*, pack: str = "linux-networking", count: int | None = None, seed: int | None = None,
             say=None, color: bool = False) -> int:
    say = say or (lambda message: None)
    store = Store()
    busy = store.load()
    if busy and busy.phase in ACTIVE:
        raise drill.busy_error(busy)
    if count is None:
        count = min(DEMO_MAX_TASKS, peek_pack(pack)["tasks"])
    lab = Lab.current()
    say("bringing the local lab up (controlplane and node01)")
    built = lab.up()
    say(f"lab {'built' if built else 'already up'}; inventory {lab.inventory_path}")

    session, loaded, tasks = drill.start(store, pack, count=count, seed=seed, mode="training",
                                         inventory_flag=str(lab.inventory_path), say=say)
    print(render_markdown(sheet(session, loaded, {t.id: t for t in tasks}), color=color))
    solved = tasks[: (len(tasks) + 1) // 2]
    say(f"stand-in candidate: solving {len(solved)} of {len(tasks)} tasks with their reference solutions")
    _, inventory, _ = drill.open_session(session)
    with Runner(inventory) as runner:
        for task in solved:
            say(f"stand-in candidate: {task.id}: applying the reference solution")
            runner.run_steps(task, "solution")
            drill.check(store, [task.id])
    run, out = drill.grade(store, say=say)
    print(render_run(run, color=color), end="")
    s = score(run)
    print(f"\ndemo: {len(solved)} of {len(tasks)} tasks solved by the stand-in candidate; "
          f"score {s.percent:g}% ({s.verdict}); `grader drill abort` resets the lab's tasks", file=sys.stderr)
    print(f"report: {out / 'report.html'}")
    return EXIT_ENVIRONMENT if s.errors else EXIT_OK
