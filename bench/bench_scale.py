"""Benchmark: how grading grows from 10 to 1,000 checks over two hosts, and its peak memory.

Run on the local lab (root):  python bench/bench_scale.py [--runs 5] [--sizes 10,100,1000]

For each size, the same pack shape as bench_grading.py (run/file checks, 10 per task,
alternating controlplane and node01), timed two ways (medians):
  cli     `grader check PACK --json` as a user runs it, a fresh process each run; its peak
          RSS is the largest of the runs (the kernel's own accounting, os.wait4)
  engine  grader's Runner in this process, connecting afresh each run
and the growth: the cost of each check beyond the first size's (slope, ms/check), which is
what "linear with a small constant" means here.  Timing is printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_grading import LAB_INVENTORY, grader_command, make_pack, user_env  # noqa: E402
from grader.inventory import load as load_inventory  # noqa: E402
from grader.engine.lifecycle import check_tasks, render  # noqa: E402
from grader.packs.loader import load_pack  # noqa: E402
from grader.engine.runner import Runner  # noqa: E402


def run_cli(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one fresh process."""
    t0 = time.perf_counter()
    # the whole run in this one process (no check holder), so that its peak RSS is the run's
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env=user_env(GRADER_CHECK_PERSIST="0"))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} exited {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_maxrss / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--sizes", default="10,100,1000")
    ap.add_argument("--inventory", default=str(LAB_INVENTORY))
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    inventory = load_inventory(Path(args.inventory))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            pack_dir = make_pack(Path(tmp) / str(n), n)
            pack = load_pack(pack_dir, inventory=inventory)
            tasks = render(pack, list(pack.tasks), seed=0, inventory=inventory)

            def engine():
                with Runner(inventory) as runner:
                    run = check_tasks(runner, pack, tasks)
                assert all(c.status == "PASS" for _, c in run.all_checks())

            argv = grader_command() + ["check", str(pack_dir), "-i", args.inventory, "--json"]
            run_cli(argv)   # warm-up: the pack cache, the page cache
            engine()
            cli = [run_cli(argv) for _ in range(args.runs)]
            eng = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                engine()
                eng.append(time.perf_counter() - t0)
            rows.append((n, statistics.median(w for w, _ in cli), max(r for _, r in cli), statistics.median(eng)))
    print(f"checks over 2 hosts, medians of {args.runs} runs; load average {os.getloadavg()[0]:.2f}")
    print(f"  {'checks':>6}  {'cli s':>7}  {'ms/check':>8}  {'peak MiB':>8}  {'engine s':>8}  {'ms/check':>8}")
    for n, cli, rss, eng in rows:
        print(f"  {n:>6}  {cli:7.3f}  {1000 * cli / n:8.2f}  {rss:8.1f}  {eng:8.3f}  {1000 * eng / n:8.2f}")
    for (n0, c0, _, e0), (n1, c1, _, e1) in zip(rows, rows[1:]):
        print(f"  slope {n0}->{n1}: cli {1000 * (c1 - c0) / (n1 - n0):.2f} ms/check, "
              f"engine {1000 * (e1 - e0) / (n1 - n0):.2f} ms/check")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
