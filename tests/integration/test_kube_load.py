"""Load on the real cluster: a training drill with every cka-road-trip task set up at once
(the staged exclusive ones begun too) and solved, graded 20 times in a row with
`grader drill check`.  Nothing may pile up on either side (grader's processes and their file
descriptors and SSH connections on this machine; sshd processes, SSH connections, kubectl
and bash processes on each lab host), the verdicts stay the same, and the timings stay sane
(first, last and median are printed; only a generous bound is asserted).

The drill changes shared state (a static pod on node01, the kubeconfig's context), so the
test takes the cluster alone (flock -x on /tmp/grader-kube.lock) for its whole run.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_kube_faults import cluster_alone, kube_exclusive, wait_healthy  # noqa: F401  (fixtures, the bounded wait)

pytestmark = [pytest.mark.lab, pytest.mark.kube]

REPO = Path(__file__).resolve().parents[2]
PACK = "cka-road-trip"
RUNS = 20
SEED = 5
SANE = 240.0              # seconds one `drill check` of the whole pack may take, at the very most
SETTLE = 20.0             # seconds the far side gets to close what a finished run opened
LAB_ADDRESSES = ("172.30.1.2", "172.30.2.2")


def machine_counts(home: Path) -> dict:
    """This machine: the processes of this drill's GRADER_HOME (other sessions run grader here
    too), their open fds, and the TCP connections they hold to the lab hosts' sshd."""
    mine = f"GRADER_HOME={home}".encode()
    pids, fds = set(), 0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            if mine not in (p / "environ").read_bytes().split(b"\0"):
                continue
            fds += len(os.listdir(p / "fd"))
        except OSError:
            continue
        pids.add(int(p.name))
    ss = subprocess.run(["ss", "-Htnp", "state", "established", "( dport = :22 )"], capture_output=True,
                        text=True, timeout=10).stdout
    conns = sum(1 for line in ss.splitlines() if any(f"{a}:22" in line for a in LAB_ADDRESSES)
                and any(f"pid={pid}," in line for pid in pids))
    return {"grader processes": len(pids), "grader fds": fds, "grader ssh connections to the lab": conns}


HOST_PROBE = r"""
printf 'sshd %s\n' "$(ps -eo comm= | grep -c '^sshd')"
printf 'ssh-sessions %s\n' "$(ss -Htn state established '( sport = :22 )' | wc -l)"
printf 'kubectl %s\n' "$(ps -eo comm= | grep -cx kubectl)"
printf 'bash %s\n' "$(ps -eo comm= | grep -cx bash)"
printf 'timeout %s\n' "$(ps -eo comm= | grep -cx timeout)"
"""


def host_counts(lab) -> dict:
    out = {}
    for host in ("controlplane", "node01"):
        text = lab.ssh(host, HOST_PROBE, check=True).stdout
        for line in text.splitlines():
            key, _, n = line.partition(" ")
            out[f"{host} {key}"] = int(n)
    return out


def counts(lab, home: Path) -> dict:
    return {**machine_counts(home), **host_counts(lab)}


def settled(lab, home: Path, before: dict) -> dict:
    """The counts once they are no higher than before (or SETTLE seconds later)."""
    deadline = time.monotonic() + SETTLE
    while True:
        now = counts(lab, home)
        if all(now[k] <= before[k] for k in before) or time.monotonic() > deadline:
            return now
        time.sleep(1)


IN_PROCESS_RUNS = 5
# `grader drill check` N times in one process: its own fds, threads and child processes after each
IN_ONE_PROCESS = f"""
import contextlib, io, json, os, sys, threading
from grader.cli import main
def parent(pid):
    try:
        with open(f"/proc/{{pid}}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[1]
    except OSError:
        return None
for n in range({IN_PROCESS_RUNS}):
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["drill", "check", "--json"])
    kids = [p for p in os.listdir("/proc") if p.isdigit() and parent(p) == str(os.getpid())]
    print(json.dumps({{"exit": code, "fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(),
                      "children": len(kids)}}), file=sys.stderr)
"""


def grader(home: Path, *args, timeout: float = 1800) -> subprocess.CompletedProcess:
    """`python -m grader ARGS`; with "-c", SCRIPT as first arguments, `python -c SCRIPT`."""
    env = {**os.environ, "NO_COLOR": "1", "GRADER_HOME": str(home)}
    env.pop("GRADER_INVENTORY", None)
    argv = ["-c", args[1]] if args[:1] == ("-c",) else ["-m", "grader", *map(str, args)]
    proc = subprocess.run([sys.executable, *argv], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


def test_twenty_drill_checks_of_the_whole_pack_leak_nothing(cluster_alone, tmp_path):  # noqa: F811
    lab = cluster_alone
    home = tmp_path / "home"
    inv = str(lab.inventory_path)
    ids = [line.split()[0] for line in grader(home, "list", PACK).stdout.splitlines()[1:] if line.strip()]
    started = grader(home, "drill", "start", PACK, "-i", inv, "--mode", "training", "--seed", SEED,
                     "--tasks", ",".join(ids))
    assert started.returncode == 0, started.stdout[-3000:] + started.stderr[-3000:]
    try:
        state = json.loads((home / "drill.json").read_text())
        for task, status in state["setup"].items():
            if status == "staged":
                begun = grader(home, "drill", "begin", task)
                assert begun.returncode == 0, begun.stdout + begun.stderr
        for task in state["tasks"]:
            solved = grader(home, "solve", f"{PACK}/{task}", "-i", inv, "--seed", SEED)
            assert solved.returncode == 0, f"{task}: {solved.stdout[-2000:]} {solved.stderr[-2000:]}"

        warm = grader(home, "drill", "check", "--json")     # connections, caches: what a first run sets up
        assert warm.returncode != 3, warm.stdout[-4000:]
        expected = {(t["id"], c["name"]): c["status"] for t in json.loads(warm.stdout)["tasks"] for c in t["checks"]}
        before = settled(lab, home, counts(lab, home))
        print(f"before: {before}")
        times = []
        for n in range(RUNS):
            t0 = time.monotonic()
            proc = grader(home, "drill", "check", "--json")
            times.append(time.monotonic() - t0)
            assert proc.returncode in (0, 1), f"run {n + 1}: exit {proc.returncode}: {proc.stdout[-3000:]}"
            got = {(t["id"], c["name"]): c["status"] for t in json.loads(proc.stdout)["tasks"] for c in t["checks"]}
            assert got == expected, f"run {n + 1}: verdicts changed: " + str(
                {k: (expected.get(k), v) for k, v in got.items() if expected.get(k) != v})
        after = settled(lab, home, before)
        print(f"after:  {after}")
        print(f"{RUNS} drill checks of {len(expected)} checks: first {times[0]:.1f}s, last {times[-1]:.1f}s, "
              f"median {statistics.median(times):.1f}s, max {max(times):.1f}s")
        inside = grader(home, "-c", IN_ONE_PROCESS)       # (run by `python -c`, see grader())
        rows = [json.loads(line) for line in inside.stderr.splitlines() if line.startswith("{")]
        print(f"one process, {len(rows)} drill checks: {rows}")
        assert len(rows) == IN_PROCESS_RUNS and all(r["exit"] in (0, 1) for r in rows), inside.stderr[-3000:]
        assert rows[-1]["fds"] <= rows[0]["fds"] and rows[-1]["threads"] <= rows[0]["threads"], rows
        assert rows[-1]["children"] <= rows[0]["children"], rows
        grown = {k: (before[k], after[k]) for k in before if after[k] > before[k]}
        assert not grown, f"left behind after {RUNS} runs (before, after): {grown}"
        assert max(times) < SANE, times
        assert sum(s == "PASS" for s in expected.values()) == len(expected), \
            [k for k, v in expected.items() if v != "PASS"]
    finally:
        grader(home, "drill", "abort")
        wait_healthy(lab)
