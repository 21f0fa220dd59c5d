"""The kube lab's figures (issue 13): cold build, `lab up --kube`, `validate cka-road-trip`,
and the lab's peak memory.  Run as root on a machine where the lab may be taken down:

    .venv/bin/python bench/bench_kube.py              # up, validate, memory (binaries built)
    .venv/bin/python bench/bench_kube.py --cold-build # also a cold build in empty caches

--cold-build builds the ten binaries and the images with empty Go module, Go build and
grader caches (temporary folders, removed afterwards): what a new machine pays once.
Everything else uses the machine's caches, as a second run on any machine does.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GRADER = [sys.executable, "-m", "grader"]


def timed(argv: list[str], env: dict | None = None, timeout: float = 3600) -> float:
    start = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)
    took = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    return took


def peak_memory_mib() -> dict[str, int]:
    out = {}
    for host in ("controlplane", "node01"):
        d = Path(f"/sys/fs/cgroup/memory/grader-{host}")
        stat = dict(line.split() for line in (d / "memory.stat").read_text().splitlines())
        out[host] = int((d / "memory.max_usage_in_bytes").read_text()) // 2**20
        out[f"{host} rss now"] = int(stat.get("total_rss", 0)) // 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cold-build", action="store_true")
    args = ap.parse_args()
    rows = []
    if args.cold_build:
        tmp = Path(tempfile.mkdtemp(prefix="grader-cold-"))
        env = dict(os.environ, GOMODCACHE=str(tmp / "mod"), GOCACHE=str(tmp / "build"),
                   GRADER_KUBE_CACHE=str(tmp / "kube"), GOFLAGS="-modcacherw")
        try:
            rows.append(("cold build: 10 binaries + 10 images, empty caches", timed(GRADER + ["lab", "build"], env)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    rows.append(("lab build, cached (nothing to do)", timed(GRADER + ["lab", "build"])))
    subprocess.run(GRADER + ["lab", "down", "--force"], check=True, stdout=subprocess.DEVNULL, timeout=300)
    rows.append(("lab up --kube, from built binaries (both nodes Ready, CoreDNS up)",
                 timed(GRADER + ["lab", "up", "--kube"], timeout=900)))
    rows.append(("validate cka-road-trip (9 tasks: setup, checks, solution, checks, reset)",
                 timed(GRADER + ["validate", "cka-road-trip", "-i", "/var/lib/grader/lab/inventory.yaml"],
                       timeout=3600)))
    mem = peak_memory_mib()
    print("| what | seconds |\n| --- | --- |")
    for what, secs in rows:
        print(f"| {what} | {secs:.1f} |")
    print("\npeak memory of each host's cgroup (page cache included), MiB:",
          ", ".join(f"{k} {v}" for k, v in mem.items()))
    print(f"both hosts' peaks added: {mem['controlplane'] + mem['node01']} MiB")


if __name__ == "__main__":
    main()
