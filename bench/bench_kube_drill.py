"""A 20-task drill on the real cluster (issues 15 and 18): the mock exam as a candidate drills it
on the kube lab, timed where the candidate waits.

    grader lab up --kube
    .venv/bin/python bench/bench_kube_drill.py [--pack cka-mock-exam] [--runs 3] [--serial-setup]

Rows, each the CLI as a user runs it (`python -m grader`, a fresh process):
  drill start      `drill start PACK --mode training`: every task reset and set up, four at a
                   time (the exclusive ones staged: set up only when begun); one run
  drill start -j1  (--serial-setup) the same with `--jobs 1`, one task after the other; one run
Then every staged task is begun and every task gets its reference solution (`grader solve`),
so that no check waits out its `within` (the rows below time the grading itself):
  check grouped    `drill check` of every task through the drill's connection holder, kube
                   checks answered from one kubectl listing (medians of --runs)
  check per-check  the same with GRADER_KUBE_GROUPING=off: one kubectl per kube check; the two
                   rows alternate run by run, so load hits them alike
  drill grade      `drill grade`: the hand-in, every task graded, results.json, report.html and
                   junit.xml written; one run
  drill abort      every task reset (the exclusive ones first, the others four at a time); one run
Nothing is left on the cluster.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = "/var/lib/grader/lab/inventory.yaml"


def grader(home: Path, *args, env=None, check=True) -> tuple[float, subprocess.CompletedProcess]:
    e = {**os.environ, "GRADER_HOME": str(home), "NO_COLOR": "1", **(env or {})}
    e.pop("GRADER_INVENTORY", None)
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          env=e, cwd=ROOT, timeout=3600)
    took = time.monotonic() - start
    if check and proc.returncode not in (0, 1):        # 1: the drill's verdict is FAILED, not an error
        raise SystemExit(f"grader {' '.join(map(str, args))} exited {proc.returncode}:\n{proc.stderr[-3000:]}")
    return took, proc


def start(home: Path, pack: str, seed: int, jobs: int) -> tuple[float, dict]:
    took, _ = grader(home, "drill", "start", pack, "--mode", "training", "--seed", seed, "--jobs", jobs,
                     "-i", INVENTORY)
    return took, json.loads((home / "drill.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pack", default="cka-mock-exam")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--serial-setup", action="store_true", help="also time a drill start with --jobs 1")
    args = ap.parse_args()
    load = os.getloadavg()[0]
    rows: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-kube-drill-") as tmp:
        home = Path(tmp)
        if args.serial_setup:
            took, _ = start(home, args.pack, args.seed, 1)
            rows["drill start -j1"] = [took]
            grader(home, "drill", "abort")
        took, state = start(home, args.pack, args.seed, 4)
        rows["drill start"] = [took]
        try:
            ready = [t for t in state["tasks"] if state["setup"][t] == "done"]
            staged = [t for t in state["tasks"] if state["setup"][t] == "staged"]
            for task in state["tasks"]:
                if task in staged:
                    grader(home, "drill", "begin", task)
                grader(home, "solve", f"{args.pack}/{task}", "-i", INVENTORY, "--seed", args.seed)
            checks = 0
            for _ in range(args.runs):
                for name, env in (("check grouped", {}), ("check per-check", {"GRADER_KUBE_GROUPING": "off"})):
                    took, proc = grader(home, "drill", "check", "--json", env=env)
                    rows.setdefault(name, []).append(took)
                    checks = sum(len(t["checks"]) for t in json.loads(proc.stdout)["tasks"])
            took, _ = grader(home, "drill", "grade")
            rows["drill grade"] = [took]
        finally:
            took, _ = grader(home, "drill", "abort", "-i", INVENTORY, check=False)
            rows["drill abort"] = [took]
    print(f"{args.pack}: {len(state['tasks'])} tasks ({len(ready)} set up at start, {len(staged)} staged and "
          f"begun), {checks} checks graded by `drill check`; load average {load:.2f} at the start")
    for name, times in rows.items():
        what = f"median of {len(times)}" if len(times) > 1 else "one run"
        print(f"  {name:<16} {statistics.median(times):8.2f} s   ({what})")
    if "check grouped" in rows:
        ratio = statistics.median(rows["check per-check"]) / statistics.median(rows["check grouped"])
        print(f"  ratio per-check/grouped   {ratio:.2f}x")
    if "drill start -j1" in rows:
        print(f"  ratio start -j1/-j4       {rows['drill start -j1'][0] / rows['drill start'][0]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
