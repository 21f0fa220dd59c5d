"""The `grader` command.  Each command group lives in its own module under grader/cli/
and exposes `register(subparsers)`; handlers take the parsed args and return an exit code.

Only argparse is imported at start-up: handlers import what they need when they run,
so `grader --help` stays fast.
"""
from __future__ import annotations

import argparse
import os
import sys

from grader import __version__
from grader.errors import EXIT_INTERNAL, EXIT_USAGE, GraderError

# (module, ...) in the order they appear in --help
GROUPS = ("core", "drill", "report", "lab", "pack", "interop")
# command -> the group that registers it: `grader check ...` builds the core group's parsers
# alone (a test keeps this in step with what the groups register)
COMMANDS = {**dict.fromkeys(("list", "show", "lint", "exec", "setup", "solve", "reset", "check", "validate"), "core"),
            **dict.fromkeys(("drill", "history", "demo"), "drill"), "report": "report", "lab": "lab",
            "pack": "pack", "import": "interop", "export": "interop"}

EXIT_CODES_HELP = """exit codes:
  0  everything passed
  1  checks failed, or the score is below the pass mark
  2  bad input or usage (pack, task, inventory, archive, results file, flags)
  3  the environment prevented judging (host unreachable, auth, timeout, kubectl)
  4  internal error: a bug in grader (GRADER_DEBUG=1 shows the traceback)
"""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # usage errors: one line, exit 2
        self.print_usage(sys.stderr)
        print(f"grader: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser; given the arguments, only the group of the command they name (all groups
    for --help, no command or an unknown one, so usage and suggestions list every command)."""
    import importlib

    word = next((a for a in (argv or ()) if not a.startswith("-")), None)
    groups = (COMMANDS[word],) if word in COMMANDS else GROUPS

    parser = _Parser(prog="grader", description="Exam trainer for killercoda-style Kubernetes environments: "
                     "break things on purpose, fix them against the clock, get graded over SSH.",
                     epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"grader {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in groups:
        try:
            module = importlib.import_module(f"grader.cli.{name}")
        except ModuleNotFoundError as exc:  # a group not written yet
            if exc.name != f"grader.cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def debugging() -> bool:
    """GRADER_DEBUG=1: log at DEBUG to stderr, and every error's root cause with its traceback."""
    return bool(os.environ.get("GRADER_DEBUG"))


def _configure_logging() -> None:
    import logging  # only when debugging: `grader --help` never imports it

    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="grader %(levelname)s %(name)s: %(message)s")


def _log_root_cause(exc: BaseException) -> None:
    """Log `exc` and the exceptions it was raised from or while handling, tracebacks and
    all, even where a `raise ... from None` keeps them out of the one-line message."""
    import logging

    log = logging.getLogger(__name__)
    chain, seen = [], set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or exc.__context__
    for depth, err in enumerate(reversed(chain)):
        what = "root cause" if depth == 0 and len(chain) > 1 else "raised"
        log.debug("%s: %s: %s", what, type(err).__name__, err, exc_info=(type(err), err, err.__traceback__))


def _handed_over(argv: list[str]) -> int | None:
    """`grader check` run by the check holder an earlier run left, `drill check` by the drill's
    holder (grader.holder): its exit code, or None to run it here."""
    from grader.holder import handover
    from grader.home import grader_home

    try:
        return handover.check(grader_home(), argv)
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if debugging():
        _configure_logging()
    if argv[:1] == ["check"] or argv[:2] == ["drill", "check"]:
        code = _handed_over(argv)
        if code is not None:
            return code
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE if args.command is None and argv else 0
    try:
        return int(args.func(args) or 0)
    except GraderError as exc:
        if debugging():
            _log_root_cause(exc)
        print(f"grader: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("grader: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug in grader: one line, the traceback only on request
        if debugging():
            raise
        print(f"grader: internal error: {type(exc).__name__}: {exc} (this is a bug in grader; "
              "run again with GRADER_DEBUG=1 for the traceback and report it)", file=sys.stderr)
        return EXIT_INTERNAL
