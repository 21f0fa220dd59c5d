"""Start-up time of `grader --help` and `grader list` (target: under 150 ms each).

    python bench/bench_startup.py [--runs 10]

Uses the `grader` command next to the running Python (a venv's bin), else `python -m grader`.
Prints medians; asserts nothing.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path


def command() -> list[str]:
    exe = Path(sys.executable).with_name("grader")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("grader")
    return [found] if found else [sys.executable, "-m", "grader"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    base = command()
    baseline = [sys.executable, "-c", "pass"]
    for name, argv in (("python -c pass", baseline), ("grader --help", base + ["--help"]),
                       ("grader list", base + ["list"])):
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
            times.append(time.perf_counter() - t0)
        print(f"{name:<16} median {1000 * statistics.median(times):6.1f} ms  (min {1000 * min(times):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
