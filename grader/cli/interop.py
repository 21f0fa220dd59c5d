"""grader import killercoda | grader export killercoda: scenario folders <-> packs."""
from __future__ import annotations

import sys

from grader.cli.common import add_json, add_seed, emit_json
from grader.errors import EXIT_OK, EXIT_USAGE


def register(sub) -> None:
    p = sub.add_parser("import", help="turn a killercoda scenario folder into a pack")
    kinds = p.add_subparsers(dest="import_kind", metavar="FORMAT", parser_class=type(p))
    k = kinds.add_parser("killercoda", help="a killercoda scenario folder (index.json) -> a pack",
                         description="One task per step with a verify script, in the scenario's order: the "
                                     "step's text is the description (its solution and hints go to `solution` and "
                                     "`hints`), its verify script a `script` check, its background script the "
                                     "setup; a step without a verify script passes its text and background on to "
                                     "the steps after it.  Katacoda keys (courseData, code, answer) are read too.  "
                                     "Prints what could not be carried over, then lints the pack: exit 2 when "
                                     "index.json is malformed (nothing is written) or the pack does not lint.")
    k.add_argument("scenario", metavar="SCENARIO_DIR", help="the folder holding index.json")
    k.add_argument("-o", "--out", metavar="PACK_DIR", required=True, help="the pack folder to write")
    k.add_argument("--name", help="the pack's name (default: the scenario folder's name)")
    k.add_argument("--version", default=None, help="the pack's version (default 0.1.0, or the exported pack's)")
    k.add_argument("--force", action="store_true", help="replace PACK_DIR if it holds an earlier import")
    add_json(k)
    k.set_defaults(func=cmd_import)
    p.set_defaults(func=lambda args: _usage("import"))

    p = sub.add_parser("export", help="turn a pack into a killercoda scenario folder")
    kinds = p.add_subparsers(dest="export_kind", metavar="FORMAT", parser_class=type(p))
    k = kinds.add_parser("killercoda", help="a pack -> a killercoda scenario folder",
                         description="One step per task: the text shows the description, hints and solution; "
                                     "background.sh breaks the task; verify.sh runs the task's checks on the "
                                     "killercoda host with grader's own semantics (needs python3 there), or is the "
                                     "task's own verify script.  The image follows the pack's target and hosts.")
    k.add_argument("pack", metavar="PACK", help="a built-in pack name, a pack folder or a .tar.gz archive")
    k.add_argument("-o", "--out", metavar="DIR", required=True, help="the scenario folder to write")
    k.add_argument("--image", default=None,
                   help="backend.imageid (default: pack.yaml killercoda.imageid, else kubernetes-kubeadm-2nodes or "
                        "-1node for kubernetes packs, ubuntu for a linux pack on one host)")
    k.add_argument("--force", action="store_true", help="replace DIR if it holds an earlier export")
    add_seed(k)
    add_json(k)
    k.set_defaults(func=cmd_export)
    p.set_defaults(func=lambda args: _usage("export"))


def _usage(what: str) -> int:
    from grader.errors import UsageError
    raise UsageError(f"{what}: name the format: grader {what} killercoda ...")


def _print(report, args, verb: str, lint=None) -> None:
    if args.json:
        emit_json({"out": str(report.out), "tasks": report.tasks, "not_mapped": report.notes,
                   **({"lint": [f.to_json() for f in lint]} if lint is not None else {})})
        return
    print(report.out)
    print(f"{verb} {len(report.tasks)} task(s): {', '.join(report.tasks) or 'none'}", file=sys.stderr)
    if report.notes:
        print("not carried over, or changed on the way:", file=sys.stderr)
        for line in report.notes:
            print(f"  - {line}", file=sys.stderr)


def cmd_import(args) -> int:
    from grader.cli.core import print_warnings
    from grader.packs.findings import errors, warnings
    from grader.killercoda import import_scenario
    from grader.packs.lint import lint

    report = import_scenario(args.scenario, args.out, name=args.name, version=args.version, force=args.force)
    found = lint(str(report.out))
    problems = errors(found)
    _print(report, args, "imported", lint=found)
    if not args.json:
        for finding in problems:
            print(finding, file=sys.stderr)
        print_warnings(warnings(found))
        print(f"grader lint {report.out}: " + ("ok" if not problems else f"{len(problems)} problem(s) to fix "
                                                "(the pack is written; fix them, or the scenario, and import "
                                                "again with --force)"), file=sys.stderr)
    return EXIT_USAGE if problems else EXIT_OK


def cmd_export(args) -> int:
    from grader.killercoda import export_pack

    report = export_pack(args.pack, args.out, seed=args.seed, image=args.image, force=args.force)
    _print(report, args, "exported")
    return EXIT_OK
