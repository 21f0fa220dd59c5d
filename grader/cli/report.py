"""`grader report RESULTS.json [--html FILE] [--junit FILE]`: render a results file.

With neither flag it prints the terminal summary.  It exits as the graded run would
(grader.engine.scoring.exit_code): 0 passed, 1 failed, 3 something could not be judged; a file
that is not a results file exits 2 with one line.
"""
from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="render a results file: terminal summary, HTML report, JUnit XML",
        description="Render a grader results file (docs/results-format.md). With neither --html nor "
                    "--junit, print a summary to the terminal. Exits like the graded run: 0 passed, "
                    "1 failed, 3 checks could not be judged, 2 not a results file.")
    p.add_argument("results", metavar="RESULTS.json", help="a results file written by grader")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML report to FILE")
    p.add_argument("--junit", metavar="FILE", help="write JUnit XML (one testsuite per task) to FILE")
    p.set_defaults(func=run)


def _color() -> bool:
    import os
    import sys

    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def run(args) -> int:
    import sys

    from grader.report import load_results, write_reports
    from grader.engine.scoring import exit_code, score

    results = load_results(args.results)
    if not args.html and not args.junit:
        from grader.report.terminal import render_run

        sys.stdout.write(render_run(results, color=_color()))
    else:
        for path in write_reports(results, html=args.html, junit=args.junit):
            print(f"wrote {path}")
        s = score(results)
        print(f"{s.verdict}: {s.percent:g}% ({s.earned:g}/{s.possible:g} points), pass mark {s.pass_percent:g}%")
    return exit_code(results)
