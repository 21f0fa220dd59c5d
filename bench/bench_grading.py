"""Benchmark: grader's check of a 100-check pack against per-check `ssh` baselines.

Run on the local lab (root):  python bench/bench_grading.py [--checks 100] [--runs 5]

Measures, in one run, the median wall time of:
  grader      grader's Runner, connecting afresh (one round trip per host)
  grader-warm the same over connections kept open, as within a drill or validate run
  grader-cli  the `grader check` command as a user runs it again (Python's bytecode cache on, as
              in any install): handed to the check holder its first run left, opened before
              the timing as ssh-cm's master is
  grader-cli-1st  the same with no check holder (GRADER_CHECK_PERSIST=0: start-up, imports,
              the pack, the SSH handshakes), what the first run of a session costs
  drill-check `grader drill check 1` (one task, 10 checks) in a running training drill of the
              pack; drill-direct the same with the connection holder off (GRADER_HOLDER=off)
  ssh         one `ssh host 'command'` process per check (what per-script graders do)
  ssh-cm      the same with OpenSSH connection sharing (ControlMaster) on
  raw         the same commands back to back (a subshell each, as grader runs them) over the
              same open connections, unframed, untimed: the cost of the commands themselves,
              to derive grader's own overhead
and prints the ratios.  Timing is printed, never asserted.
"""
from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.engine.checks import command_for  # noqa: E402
from grader.inventory import load as load_inventory  # noqa: E402
from grader.engine.lifecycle import check_tasks, render  # noqa: E402
from grader.packs.loader import load_pack  # noqa: E402
from grader.engine.runner import Runner  # noqa: E402

LAB_INVENTORY = Path(os.environ.get("GRADER_LAB_DIR", "/var/lib/grader/lab")) / "inventory.yaml"


def make_pack(root: Path, checks: int) -> Path:
    """A pack of `checks` run/file checks spread over controlplane and node01, 10 per task."""
    pack = root / "bench-pack"
    pack.mkdir(parents=True)
    (pack / "pack.yaml").write_text("name: bench\ntitle: Benchmark pack\nversion: '1'\ntarget: linux\n")
    per_task = 10
    for t in range(0, checks, per_task):
        task = pack / f"t{t // per_task:03d}"
        task.mkdir()
        lines = [f"id: t{t // per_task:03d}", "title: bench", "minutes: 1", "checks:"]
        for i in range(t, min(t + per_task, checks)):
            host = "controlplane" if i % 2 == 0 else "node01"
            if i % 3 == 0:
                lines += [f"  - name: c{i}", f"    host: {host}", "    file: /etc/hostname",
                          "    expect: {exists: true, type: file}"]
            else:
                lines += [f"  - name: c{i}", f"    host: {host}", f"    run: echo {i} && test -d /etc",
                          f"    expect: {{stdout: {{contains: '{i}'}}}}"]
        (task / "task.yaml").write_text("\n".join(lines) + "\n")
        (task / "description.md").write_text("bench\n")
    return pack


def grader_command() -> list[str]:
    """The `grader` command a user runs: the one next to this Python (a venv's bin), else -m."""
    exe = Path(sys.executable).with_name("grader")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "grader"]


def user_env(**extra) -> dict:
    """This environment as a user's shell has it: Python may write its bytecode cache."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(extra)
    return env


def timed(fn, runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def interleaved(rows: dict, runs: int) -> dict[str, list[float]]:
    """Each row's timings, the rows taking turns (one run of each per round): a change in
    the machine's load during the bench falls on every row alike, not on one."""
    out = {name: [] for name in rows}
    for _ in range(runs):
        for name, fn in rows.items():
            out[name] += timed(fn, 1)
    return out


def check_holder_up(home: Path, within: float = 15.0) -> None:
    """Wait for the check holder the first `grader check` started to answer."""
    from grader.holder import CHECK_SLOT
    from grader.holder.control import alive

    end = time.monotonic() + within
    while time.monotonic() < end:
        if alive(home, CHECK_SLOT):
            return
        time.sleep(0.1)
    raise SystemExit(f"no check holder came up in {home}")


def stop_check_holder(home: Path) -> None:
    from grader.holder import CHECK_SLOT
    from grader.holder.control import stop

    stop(home, CHECK_SLOT)


def ssh_argv(spec, extra=()):
    return ["ssh", "-i", spec.key, "-o", f"UserKnownHostsFile={spec.known_hosts}", "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes", *extra, f"{spec.user}@{spec.address}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checks", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--inventory", default=str(LAB_INVENTORY))
    ap.add_argument("--no-ssh", action="store_true", help="skip the slow one-ssh-per-check row")
    args = ap.parse_args()
    inventory = load_inventory(Path(args.inventory))
    with tempfile.TemporaryDirectory() as tmp:
        pack_dir = make_pack(Path(tmp), args.checks)
        pack = load_pack(pack_dir, inventory=inventory)
        tasks = render(pack, list(pack.tasks), seed=0, inventory=inventory)
        checks = [(c, command_for(c, inventory)) for t in tasks for c in t.checks]

        def grader_api():
            with Runner(inventory) as runner:
                run = check_tasks(runner, pack, tasks)
            bad = [c for _, c in run.all_checks() if c.status != "PASS"]
            assert not bad, bad[0]

        warm = Runner(inventory)

        def grader_warm():
            run = check_tasks(warm, pack, tasks)
            assert all(c.status == "PASS" for _, c in run.all_checks())

        home = Path(tmp) / "home"

        def grader_cli(**env):
            subprocess.run(grader_command() + ["check", str(pack_dir), "-i", args.inventory, "--json"],
                           check=True, capture_output=True, env=user_env(GRADER_HOME=str(home), **env),
                           timeout=300)

        def drill(*words, **env):
            subprocess.run(grader_command() + ["drill", *words], check=True, capture_output=True,
                           env=user_env(GRADER_HOME=str(home), **env), timeout=300)

        def per_check(extra=()):
            for check, cmd in checks:
                spec = inventory.hosts[check.host]
                subprocess.run(ssh_argv(spec, extra) + [f"bash -c {shlex.quote(cmd)}"], capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=60)

        control = Path(tmp) / "cm-%r@%h:%p"
        cm = ("-o", "ControlMaster=auto", "-o", f"ControlPath={control}", "-o", "ControlPersist=120")

        def raw():
            """The commands alone, as the batch runs them (a subshell each), unframed, no
            timeouts, no evaluation, over the same open connections, hosts in parallel."""
            def host_run(host):
                script = "\n".join(f"( eval {shlex.quote(cmd)} ) </dev/null >/dev/null 2>&1"
                                   for c, cmd in checks if c.host == host)
                warm.pool.get(host).run("exec bash -s", timeout=120, stdin=script.encode())
            with ThreadPoolExecutor(2) as ex:
                list(ex.map(host_run, ("controlplane", "node01")))

        grader_api()  # warm-up: host keys, page cache
        per_check(cm)  # warm-up: opens the shared master connections
        grader_warm()
        grader_cli()          # warm-up, and it leaves the check holder the timed runs use...
        check_holder_up(home)  # ...as ssh-cm's master is opened before its timing
        drill("start", str(pack_dir), "--mode", "training", "--seed", "0", "-i", args.inventory)
        drill("check", "1")   # warm-up
        results = interleaved({
            "grader": grader_api,
            "grader-warm": grader_warm,
            "grader-cli": grader_cli,
            "grader-cli-1st": lambda: grader_cli(GRADER_CHECK_PERSIST="0"),
            "drill-check": lambda: drill("check", "1"),
            "drill-direct": lambda: drill("check", "1", GRADER_HOLDER="off"),
            "ssh-cm": lambda: per_check(cm),
            "raw": raw,
        }, args.runs)
        if not args.no_ssh:
            results["ssh"] = timed(per_check, max(2, args.runs // 2))
        drill("abort")
        stop_check_holder(home)
        warm.close()
        for host in ("controlplane", "node01"):
            subprocess.run(ssh_argv(inventory.hosts[host], cm[:2] + ("-O", "exit")), capture_output=True, timeout=10)
    med = {k: statistics.median(v) for k, v in results.items()}
    n = len(checks)
    print(f"{n} checks over 2 hosts, medians of {args.runs} runs (ssh: {max(2, args.runs // 2)} runs); "
          f"load average {os.getloadavg()[0]:.2f}")
    for name, value in med.items():
        print(f"  {name:<14} {value:8.3f} s   {1000 * value / n:7.2f} ms/check")
    if "ssh" in med:
        print(f"  ratio ssh/grader     {med['ssh'] / med['grader']:7.1f}x   (target >= 30x)")
    print(f"  ratio ssh-cm/grader  {med['ssh-cm'] / med['grader']:7.1f}x   (target >= 10x)")
    print(f"  ratio ssh-cm/grader-cli  {med['ssh-cm'] / med['grader-cli']:7.1f}x   (target >= 4.5x; "
          f"grader-cli target <= 0.35 s)")
    print(f"  ratio ssh-cm/grader-cli-1st  {med['ssh-cm'] / med['grader-cli-1st']:7.1f}x   (no check holder yet)")
    print(f"  drill-check {med['drill-check']:.3f} s (target <= 0.25 s), without the holder "
          f"{med['drill-direct']:.3f} s")
    if "ssh" in med:
        print(f"  ratio ssh/grader-warm     {med['ssh'] / med['grader-warm']:7.1f}x")
    print(f"  ratio ssh-cm/grader-warm  {med['ssh-cm'] / med['grader-warm']:7.1f}x")
    overhead = 1000 * (med["grader-warm"] - med["raw"]) / n
    print(f"  grader overhead beyond the commands: {overhead:.2f} ms/check   (target <= 2 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
