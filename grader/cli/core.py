"""grader list | show | lint | exec | setup | check | solve | reset | validate."""
from __future__ import annotations

import sys

from grader.cli.common import (add_inventory, add_json, add_seed, color, emit_json, inventory_from, load, positive_int,
                               progress)
from grader.errors import EXIT_OK, UsageError

REF_HELP = "a built-in pack name, a pack folder or a .tar.gz archive; PACK/TASK names one task"


def register(sub) -> None:
    p = sub.add_parser("list", help="list built-in packs, or the tasks of a pack")
    p.add_argument("pack", nargs="?", help=REF_HELP)
    add_json(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("show", help="show a task: description, hints, checks (add --solution for the answer)")
    p.add_argument("ref", metavar="PACK/TASK", help=REF_HELP)
    p.add_argument("--solution", action="store_true", help="also print the reference solution and explanation")
    add_seed(p)
    add_inventory(p)
    add_json(p)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("lint", help="check packs without touching any host (schema, templates, files, "
                                    "manifests, scripts)")
    p.add_argument("packs", nargs="+", metavar="PACK", help=REF_HELP)
    add_json(p)
    p.set_defaults(func=cmd_lint)

    import argparse

    p = sub.add_parser("exec", help="run an ad-hoc command on an inventory host: grader exec HOST -- CMD",
                       description=EXEC_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host", help="a host role from the inventory (controlplane, node01, ...)")
    p.add_argument("cmd", nargs="*", metavar="-- CMD",
                   help="several words: a command and its arguments, each quoted for the remote shell; "
                        "one word: a shell command line")
    p.add_argument("--timeout", type=float, default=60, help="seconds before the command is stopped (default 60)")
    add_inventory(p)
    p.set_defaults(func=cmd_exec)
    p.__class__ = type("ExecParser", (_CommandAfterDashDash, type(p)), {})

    for name, helptext in (("setup", "break the task(s): run their setup steps"),
                           ("solve", "apply the reference solution(s)"),
                           ("reset", "remove every trace of the task(s)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("ref", metavar="PACK[/TASK]", help=REF_HELP)
        p.add_argument("--task", help="task id(s), comma-separated (instead of PACK/TASK)")
        add_seed(p)
        add_inventory(p)
        p.set_defaults(func=cmd_steps, section={"solve": "solution"}.get(name, name), verb=name)

    p = sub.add_parser("check", help="grade the task(s) now and print what passed, failed and why")
    p.add_argument("ref", metavar="PACK[/TASK]", help=REF_HELP)
    p.add_argument("--task", help="task id(s), comma-separated (instead of PACK/TASK)")
    p.add_argument("-o", "--out", metavar="DIR", help="also write results.json, report.html and junit.xml here")
    add_seed(p)
    add_inventory(p)
    add_json(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("validate", help="self-test tasks: setup must break them, the solution must fix them")
    p.add_argument("ref", metavar="PACK[/TASK]", help=REF_HELP)
    p.add_argument("--task", help="task id(s), comma-separated")
    p.add_argument("--shard", metavar="I/N", help="validate only the I-th of N slices of the tasks (CI matrices)")
    p.add_argument("--repeat", type=positive_int, default=1, metavar="N",
                   help="judge every check N times on the same state; a changing verdict is FLAKY (default 1)")
    p.add_argument("--jobs", type=positive_int, default=1, metavar="N",
                   help="validate the tasks that are not exclusive N at a time; exclusive ones run alone (default 1)")
    p.add_argument("--full-within", action="store_true",
                   help="retry a near miss's must-fail checks for their whole `within`, not a few times what "
                        "the reference solution took to converge (slower, thorough)")
    p.add_argument("-o", "--out", metavar="DIR", help="also write results.json, report.html and junit.xml here")
    add_seed(p)
    add_inventory(p)
    add_json(p)
    p.set_defaults(func=cmd_validate)


def cmd_list(args) -> int:
    from grader.packs.packs import builtin_names, peek_pack

    if not args.pack:
        rows = [peek_pack(name) for name in builtin_names()]
        if args.json:
            emit_json(rows)
        else:
            for r in rows:
                print(f"{r['name']:<22} {r['version']:<8} {r['tasks']:>3} tasks  {r['target']:<10} {r['title']}")
        return EXIT_OK
    from grader.packs.loader import load_pack

    pack = load_pack(args.pack, check_templates=False)
    rows = [{"id": t.id, "title": t.title, "domain": t.domain, "minutes": t.minutes, "points": t.weight}
            for t in pack.tasks]
    if args.json:
        emit_json({"pack": pack.name, "title": pack.title, "version": pack.version, "tasks": rows})
    else:
        print(f"{pack.title} ({pack.name} {pack.version}, {pack.target})")
        for r in rows:
            print(f"  {r['id']:<32} {r['minutes']:>4g} min {r['points']:>4g} pts  {r['domain']:<18} {r['title']}")
    return EXIT_OK


def cmd_show(args) -> int:
    from grader.engine.lifecycle import render
    from grader.drill.sheet import where_line, work_host
    from grader.report.terminal import render_markdown

    pack, specs = load(args, args.ref)
    if len(specs) != 1:
        raise UsageError(f"show takes one task: PACK/TASK (pack {pack.name} has {len(specs)} tasks)")
    task = render(pack, specs, seed=args.seed, inventory=inventory_from(args))[0]
    if args.json:
        emit_json({"id": task.id, "title": task.title, "domain": task.domain, "host": work_host(task, pack),
                   "minutes": task.spec.minutes,
                   "points": task.spec.weight, "description": task.description, "hints": list(task.hints),
                   "checks": [{"name": c.name, "points": c.points, "host": c.host, "kind": c.kind}
                              for c in task.checks],
                   **({"solution": [s.display() for s in task.solution], "explanation": task.explanation,
                       "alternatives": [{"name": a.name, "steps": [s.display() for s in a.steps]}
                                        for a in task.alternatives],
                       "near_misses": [{"name": m.name, "steps": [s.display() for s in m.steps],
                                        "fails": [task.checks[i].name for i in m.fails]}
                                       for m in task.near_misses]}
                      if args.solution else {})})
        return EXIT_OK
    c = color()
    print(render_markdown(f"# {task.title}\n\n*{task.domain} · {task.spec.minutes:g} minutes · "
                          f"{task.spec.weight:g} points*\n\n{where_line(task, pack)}\n\n{task.description}", color=c))
    print(render_markdown("## Checks\n\n" + "\n".join(f"- {ch.name} ({ch.points:g} pts, on {ch.host})"
                                                       for ch in task.checks), color=c))
    if task.hints:
        print(render_markdown(f"*{len(task.hints)} hint(s) available in training drills.*", color=c))
    if args.solution:
        steps = "\n".join(s.display() for s in task.solution)
        print(render_markdown(f"## Solution\n\n```\n{steps}\n```\n\n## Why\n\n{task.explanation}", color=c))
        for a in task.alternatives:
            steps = "\n".join(s.display() for s in a.steps)
            print(render_markdown(f"## Also correct: {a.name}\n\n```\n{steps}\n```", color=c))
        for m in task.near_misses:
            steps = "\n".join(s.display() for s in m.steps)
            lost = ", ".join(task.checks[i].name for i in m.fails)
            print(render_markdown(f"## Near miss (wrong): {m.name}\n\nLoses: {lost}.\n\n```\n{steps}\n```", color=c))
    return EXIT_OK


def cmd_lint(args) -> int:
    from grader.packs.findings import errors, warnings
    from grader.packs.lint import lint

    report = {ref: lint(ref) for ref in args.packs}
    if args.json:
        emit_json({ref: {"problems": [str(f) for f in errors(found)], "warnings": [str(f) for f in warnings(found)],
                         "findings": [f.to_json() for f in found]} for ref, found in report.items()})
    else:
        for ref, found in report.items():
            for finding in errors(found):
                print(finding)
            print_warnings(warnings(found))
            count = len(errors(found))
            print(f"{ref}: {'ok' if not count else f'{count} problem(s)'}", file=sys.stderr)
    return 2 if any(errors(found) for found in report.values()) else EXIT_OK


def print_warnings(found) -> None:
    """Warnings go to stderr, marked as such: they are reported, never refused."""
    for finding in found:
        print(f"warning: {finding}", file=sys.stderr)


EXEC_HELP = """\
Run one command on an inventory host and pass its output and exit code through.

Several words after -- are a command and its arguments (an argv, as `docker exec` and
`kubectl exec` take it): each word is quoted for the host's shell and arrives as it was
given.  One word is a shell command line: the host's shell interprets it (pipes,
redirections, variables, `;`).

  grader exec node01 -- sh -c 'echo x > /tmp/f'    # argv: sh gets -c and 'echo x > /tmp/f'
  grader exec node01 -- ls -l '/tmp/a file'         # argv: ls gets one argument '/tmp/a file'
  grader exec node01 -- 'ip -br addr | grep eth0'   # one word: a command line with a pipe

Options go before or after HOST, before --.
"""


class _CommandAfterDashDash:
    """exec's parser: everything after the first -- is the command, verbatim (argparse itself
    would drop a second --, as in `grader exec HOST -- grep -- -v FILE`)."""

    _inner = False

    def parse_known_args(self, args=None, namespace=None):
        args = list(sys.argv[1:] if args is None else args)
        if self._inner:      # called back by parse_known_intermixed_args
            return super().parse_known_args(args, namespace)
        cut = args.index("--") if "--" in args else len(args)
        self._inner = True
        try:                 # options and words in any order: HOST -i FILE 'CMD' too
            namespace, extra = self.parse_known_intermixed_args(args[:cut], namespace)
        finally:
            self._inner = False
        if cut == len(args):
            return namespace, extra
        # words before -- besides HOST belong to the command, and so does that --
        namespace.cmd = [*namespace.cmd, "--", *args[cut + 1:]] if namespace.cmd else args[cut + 1:]
        return namespace, extra


def exec_command(words: list[str]) -> str:
    """The command `grader exec` sends: one word as the command line it is, several as a quoted argv."""
    from grader.shell import quote

    if not words:
        raise UsageError("exec: no command: grader exec HOST -- CMD [ARG...]")
    return words[0] if len(words) == 1 else " ".join(quote(w) for w in words)


def cmd_exec(args) -> int:
    from grader.transport import Pool

    command = exec_command(args.cmd)
    inventory = inventory_from(args)
    inventory.host(args.host)
    with Pool(inventory) as pool:
        result = pool.get(args.host).run(command, timeout=args.timeout)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    return result.exit_code


def cmd_steps(args) -> int:
    from grader.engine.lifecycle import render
    from grader.engine.runner import Runner

    pack, specs = load(args, args.ref, args.task)
    inventory = inventory_from(args)
    tasks = render(pack, specs, seed=args.seed, inventory=inventory)
    with Runner(inventory, progress=progress(args)) as runner:
        for task in tasks:
            runner.run_steps(task, args.section)
            print(f"{task.id}: {args.verb} done")
    return EXIT_OK


def _out_dir(args) -> None:
    """Make the -o folder before anything runs: a bad one is bad input, not a crash after grading."""
    if not getattr(args, "out", None):
        return
    from pathlib import Path

    try:
        Path(args.out).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"-o {args.out}: cannot make the reports folder: {exc.strerror or exc}") from None


def _finish(args, run) -> int:
    from grader.engine.scoring import exit_code

    if args.out:
        from grader.report import write_report_dir

        paths = write_report_dir(run, args.out)
        print(f"reports written to {args.out}: " + ", ".join(str(p) for p in paths), file=sys.stderr)
    if args.json:
        print(run.to_json())
    else:
        from grader.report.terminal import render_run

        print(render_run(run, color=color()))
    return exit_code(run)


def cmd_check(args) -> int:
    from grader.holder import control as holder
    from grader.home import grader_home
    from grader.packs import packcache

    inventory = inventory_from(args)       # (a check holder would have run this: grader.cli.main)
    pack, specs = load(args, args.ref, args.task, inventory=inventory)
    pool = holder.check_pool(inventory)     # in a check holder, its open connections
    pool.warm(pack.hosts)       # the handshakes, and each host's own set-up after the login, overlap the rest
    tasks = packcache.render(pack, specs, seed=args.seed, inventory=inventory)
    _out_dir(args)
    from grader.engine.lifecycle import check_tasks
    from grader.engine.runner import Runner

    with Runner(inventory, pool=pool) as runner:
        run = check_tasks(runner, pack, tasks, seed=args.seed)
    # a check holder for the next runs, started once this run's connections are done
    holder.after_check(grader_home(), inventory, inventory_flag=args.inventory,
                       trust_on_first_use=args.trust_on_first_use)
    return _finish(args, run)


def shard(items: list, spec: str | None) -> list:
    if not spec:
        return items
    try:
        i, n = (int(x) for x in spec.split("/"))
        if not 1 <= i <= n:
            raise ValueError
    except ValueError:
        raise UsageError(f"--shard {spec}: expected I/N with 1 <= I <= N, e.g. 2/4") from None
    return items[i - 1::n]


def cmd_validate(args) -> int:
    from grader.engine.lifecycle import render
    from grader.engine.runner import Runner
    from grader.engine.validate import validate

    pack, specs = load(args, args.ref, args.task)
    specs = shard(specs, args.shard)
    inventory = inventory_from(args)
    tasks = render(pack, specs, seed=args.seed, inventory=inventory)
    _out_dir(args)
    with Runner(inventory, progress=progress(args)) as runner:
        run = validate(runner, pack, tasks, seed=args.seed, progress=progress(args), repeat=args.repeat,
                       jobs=args.jobs, full_within=args.full_within)
    return _finish(args, run)
