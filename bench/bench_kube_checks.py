"""Kube checks on the real cluster (issue 18): grading every check of a cluster pack on the kube
lab, in the state a candidate meets (every task set up) and after the reference solutions.

    grader lab up --kube
    .venv/bin/python bench/bench_kube_checks.py [--pack cka-road-trip] [--runs 5]

Rows (medians; the rows alternate run by run, so load hits them alike):
  grouped      grader as it ships: one `kubectl get ... -A -o json` answers the kube checks
               (grader.engine.kubefetch), a fresh Runner each run (SSH handshakes and
               `kubectl api-resources` included)
  per-check    the same Runner with one kubectl per kube check (GRADER_KUBE_GROUPING=off)
  verify.sh    killercoda's way: the pack exported (`grader export killercoda`), each task's
               verify.sh run over OpenSSH on the control plane (`ssh cp bash -s < verify.sh`,
               ControlMaster opened before timing), one after the other; after the solutions
               only, since a verify.sh waits out each failing check's `within`
Every check is graded with `within` 0: one pass, the cost of the checks themselves.
The bench also compares the two Runner rows' verdicts and evidence, check by check.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.engine.lifecycle import render  # noqa: E402
from grader.engine.runner import Runner  # noqa: E402
from grader.inventory import load as load_inventory  # noqa: E402
from grader.packs.loader import load_pack  # noqa: E402

INVENTORY = "/var/lib/grader/lab/inventory.yaml"
LAB = Path("/var/lib/grader/lab")
GRADER = [sys.executable, "-m", "grader"]


def grade(inventory, checks, *, grouping: bool):
    start = time.monotonic()
    with Runner(inventory, grouping=grouping, verify=False) as runner:
        results = runner.check(checks)
        stats = dict(runner.kube_stats)
    return time.monotonic() - start, results, stats


def verify_scripts(pack: str, seed: int, out: Path) -> list[Path]:
    subprocess.run(GRADER + ["export", "killercoda", pack, "-o", str(out), "--seed", str(seed)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return sorted(out.glob("step*/verify.sh"), key=lambda p: int(p.parent.name[4:]))


def ssh_argv(control: Path) -> list[str]:
    return ["ssh", "-i", str(LAB / "id_ed25519"), "-o", f"UserKnownHostsFile={LAB / 'known_hosts'}",
            "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", f"ControlPath={control}",
            "-o", "ControlPersist=120", "root@172.30.1.2"]


def run_verify(scripts: list[Path], control: Path) -> float:
    start = time.monotonic()
    for s in scripts:
        with s.open("rb") as f:
            subprocess.run(ssh_argv(control) + ["bash", "-s"], stdin=f, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=300)
    return time.monotonic() - start


def same(a: dict, b: dict) -> tuple[int, list[str]]:
    """The kube checks whose verdict and evidence differ (a run check reading a log may differ
    between two gradings for other reasons)."""
    kube = [k for k in a if a[k].kind == "kube"]
    diffs = [k for k in kube if (a[k].status, a[k].expected, a[k].actual, a[k].message)
             != (b[k].status, b[k].expected, b[k].actual, b[k].message)]
    return len(kube) - len(diffs), diffs


def measure(label, inventory, checks, scripts, control, runs):
    times = {"grouped": [], "per-check": [], **({"verify.sh": []} if scripts else {})}
    compared = None
    for i in range(runs):
        t, grouped, stats = grade(inventory, checks, grouping=True)
        times["grouped"].append(t)
        t, direct, _ = grade(inventory, checks, grouping=False)
        times["per-check"].append(t)
        if scripts:
            times["verify.sh"].append(run_verify(scripts, control))
        if i == 0:
            compared = same(grouped, direct), stats
    kube = sum(c.kind == "kube" for c in checks)
    (equal, diffs), stats = compared
    print(f"\n{label}: {len(checks)} checks ({kube} kube), {len(scripts)} verify.sh; medians of {runs} runs")
    med = {k: statistics.median(v) for k, v in times.items()}
    for k, v in med.items():
        print(f"  {k:<10} {v:7.3f} s   (min {min(times[k]):.3f}, max {max(times[k]):.3f})")
    print(f"  ratio per-check/grouped   {med['per-check'] / med['grouped']:.2f}x   (goal >= 3x)")
    if scripts:
        print(f"  ratio verify.sh/grouped   {med['verify.sh'] / med['grouped']:.2f}x")
    print(f"  kube checks answered by the listing: {stats['grouped']}, by their own kubectl: {stats['fallback']}")
    print(f"  kube verdicts and evidence equal, grouped vs per-check: {equal}/{kube}"
          + (f"; differ: {diffs}" if diffs else ""))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pack", default="cka-road-trip")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    inventory = load_inventory(Path(INVENTORY))
    pack = load_pack(args.pack, inventory=inventory)
    tasks = render(pack, pack.tasks, seed=args.seed, inventory=inventory)
    checks = [dataclasses.replace(c, within=0) for t in tasks for c in t.checks]
    home = Path(tempfile.mkdtemp(prefix="grader-bench-"))
    env = dict(os.environ, GRADER_HOME=str(home), NO_COLOR="1")
    control = home / "cm.sock"
    try:
        scripts = verify_scripts(args.pack, args.seed, home / "kc")
        subprocess.run(ssh_argv(control) + ["true"], check=True, timeout=30)     # the master, before timing
        print(f"{args.pack}: setting up every task (grader drill start --seed {args.seed})", flush=True)
        subprocess.run(GRADER + ["drill", "start", args.pack, "--seed", str(args.seed), "-i", INVENTORY],
                       env=env, check=True, stdout=subprocess.DEVNULL, timeout=1800)
        load = os.getloadavg()[0]
        measure(f"after setup (load {load:.2f})", inventory, checks, [], control, args.runs)
        print(f"{args.pack}: the reference solutions", flush=True)
        with Runner(inventory) as runner:
            for t in tasks:
                runner.run_steps(t, "solution")
        measure(f"after the solutions (load {os.getloadavg()[0]:.2f})", inventory, checks, scripts, control,
                args.runs)
    finally:
        subprocess.run(GRADER + ["drill", "abort", "-i", INVENTORY], env=env, stdout=subprocess.DEVNULL,
                       timeout=1800)
        subprocess.run(ssh_argv(control) + ["-O", "exit"], stderr=subprocess.DEVNULL, timeout=30)


if __name__ == "__main__":
    main()
