"""What a candidate sees of a drill: the task sheet (Markdown) and the status (data).
Pure: no hosts, no files."""
from __future__ import annotations

from grader.drill.session import EXAM_RULES, PENDING, STAGED, Session, utcnow
from grader.report import fmt


def work_host(task, pack) -> str:
    """Where the candidate solves a task: its `host`, else the pack's first host."""
    return task.spec.data.get("host") or (pack.hosts[0] if pack and pack.hosts else "controlplane")


def where_line(task, pack) -> str:
    """The exam's first line of a task: the host to work on."""
    return f"**Solve this task on:** `ssh {work_host(task, pack)}`"


def sheet(session: Session, pack, tasks: dict) -> str:
    """The task sheet, as Markdown."""
    points = sum(t.spec.weight for t in tasks.values())
    if session.deadline:
        clock = f"time limit {fmt.num(session.minutes)} minutes (until {fmt.when(session.deadline)})"
    else:
        clock = "untimed"
    rules = (f"**Exam drill.** {EXAM_RULES[0].upper()}{EXAM_RULES[1:]}. "
             "Hand it in with `grader drill grade`." if session.mode == "exam" else
             "**Training drill.** `grader drill hint N` shows a hint, `grader drill check N` grades task N now; "
             "`grader drill grade` when you are done.")
    out = [f"# {pack.title}", "",
           f"*{session.mode} · {len(tasks)} tasks · {fmt.num(points)} points · pass mark "
           f"{fmt.num(pack.pass_percent)}% · {clock} · seed {session.seed}*", "", rules,
           " `grader drill flag N` marks a task for review; `grader drill status` shows the clock.", ""]
    for n, task_id in enumerate(session.tasks, 1):
        t = tasks[task_id]
        out += ["---", "", f"## {n}. {t.title}", "",
                f"`{t.id}` · {t.domain} · {fmt.num(t.spec.minutes)} minutes · {fmt.num(t.spec.weight)} points"
                + (" · **flagged**" if task_id in session.flags else ""), "", where_line(t, pack), ""]
        if session.setup.get(task_id) == STAGED:
            out += [f"**Begin it with `grader drill begin {n}`.** This task breaks shared state (a node or the "
                    "control plane), so it is set up only when you begin it; begin one such task at a time "
                    "and finish it before the next.", ""]
        out += [t.description.strip(), ""]
    return "\n".join(out)


def status(session: Session, now=None) -> dict:
    now = now or utcnow()
    return {"id": session.id, "pack": session.pack_name, "pack_version": session.pack_version,
            "mode": session.mode, "seed": session.seed, "phase": session.phase, "started": session.started,
            "deadline": session.deadline, "minutes": session.minutes, "elapsed": round(session.elapsed(now)),
            "remaining": None if session.remaining(now) is None else round(session.remaining(now)),
            "interrupted": session.interrupted(), "inventory": session.inventory, "results": session.results,
            "tasks": [{"n": n, "id": t, "setup": session.setup.get(t, PENDING), "flagged": t in session.flags,
                       "hints_shown": session.hints.get(t, 0), "passed_check": bool(session.checked.get(t, {})
                                                                                   .get("passed")),
                       "time_spent": session.time_spent(t)}
                      for n, t in enumerate(session.tasks, 1)]}
