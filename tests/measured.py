"""Run `python -m grader ...` as a child process and measure it: exit code, output, wall
time and its peak RSS.

The peak is ru_maxrss from wait4() on the grader process (it and the children it waited
for).  A child's ru_maxrss also counts what it had mapped before its exec, i.e. a fork of
the pytest process, so grader is started by a small launcher (python -S, no imports to
speak of) that spawns it and reports its wait4() figure: an upper bound of grader's own
peak that does not depend on the size of the test session.

Used by tests/unit/test_output_cap.py and tests/integration/test_reliability_lab.py.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Measured:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_rss_mib: float


def grader_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NO_COLOR"] = "1"
    return env


LAUNCHER = """
import os, sys
argv = [sys.executable, "-m", "grader"] + sys.argv[2:]
pid = os.posix_spawn(sys.executable, argv, os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def spawn(*args, out, err) -> subprocess.Popen:
    """grader with these arguments, through the launcher; `proc.rss_file` gets its peak RSS (KiB)."""
    fd, rss_file = tempfile.mkstemp(prefix="grader-rss-")
    os.close(fd)
    proc = subprocess.Popen([sys.executable, "-S", "-c", LAUNCHER, rss_file, *map(str, args)], stdout=out,
                            stderr=err, stdin=subprocess.DEVNULL, env=grader_env(), cwd=REPO,
                            start_new_session=True)
    proc.rss_file = rss_file
    return proc


def wait_measured(proc: subprocess.Popen, out, err, started: float, timeout: float) -> Measured:
    try:
        try:
            proc.wait(timeout=max(started + timeout - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise AssertionError(f"grader did not end within {timeout:g}s") from None
        seconds = time.monotonic() - started
        rss = Path(proc.rss_file).read_text()
    finally:
        os.unlink(proc.rss_file)
    assert rss, "the launcher did not report grader's peak RSS"
    out.seek(0), err.seek(0)
    return Measured(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                    seconds, int(rss) / 1024)


def run_measured(*args, timeout: float = 300) -> Measured:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = spawn(*args, out=out, err=err)
        return wait_measured(proc, out, err, started, timeout)


def write_pack(root: Path, checks: list[dict], hosts, *, setup: list[dict] | None = None) -> Path:
    """A one-task pack `reliability` with these checks (and setup steps)."""
    (root / "t1").mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(yaml.safe_dump({"name": "reliability", "title": "Reliability",
                                                    "version": "0.1.0", "target": "linux",
                                                    "hosts": list(hosts)}))
    task = {"id": "t1", "title": "Reliability", "minutes": 1, "description": "Nothing to do.", "checks": checks}
    if setup:
        task["setup"] = setup
    (root / "t1" / "task.yaml").write_text(yaml.safe_dump(task, sort_keys=False))
    return root


def checks_of(out: Path) -> dict:
    """name -> check of the results.json in `out`."""
    import json

    data = json.loads((out / "results.json").read_text())
    return {c["name"]: c for t in data["tasks"] for c in t["checks"]}


HALF_GB = 500_000_000


def big_checks(host: str) -> list[dict]:
    """A check that prints 500 MB between two recognisable lines, and one after it."""
    return [
        {"name": "prints 500 MB", "host": host, "timeout": 240,
         "run": f"echo first-line; head -c {HALF_GB} /dev/zero | tr '\\0' x; printf '\\nlast-line\\n'",
         "expect": {"stdout": {"regex": "^first-line\n"}}},
        {"name": "ends with its last line", "host": host, "timeout": 240,
         "run": f"head -c {HALF_GB} /dev/zero; echo; echo last-line",
         "expect": {"stdout": {"regex": "\nlast-line\n?$"}}},
        {"name": "after", "host": host, "run": "echo after", "expect": {"stdout": "after"}},
    ]


def big_pack(root: Path, host: str) -> Path:
    """big_checks() on `host`, and a setup step that prints 500 MB on each stream."""
    step = {"run": f"head -c {HALF_GB} /dev/zero; head -c {HALF_GB} /dev/zero >&2", "host": host, "timeout": 240}
    return write_pack(root, big_checks(host), hosts=[host], setup=[step])


def assert_big_step_ran(m: Measured, *, rss_limit_mib: float = 150) -> None:
    assert m.returncode == 0, m.stderr[-2000:]
    assert m.peak_rss_mib < rss_limit_mib, f"peak RSS of grader setup was {m.peak_rss_mib:.0f} MiB"


def assert_big_output_graded(m: Measured, out: Path, *, rss_limit_mib: float = 150) -> dict:
    assert m.returncode == 0, m.stderr[-2000:]
    assert m.peak_rss_mib < rss_limit_mib, f"peak RSS of grader was {m.peak_rss_mib:.0f} MiB"
    got = checks_of(out)
    for name in ("prints 500 MB", "ends with its last line"):
        assert got[name]["status"] == "PASS", got[name]
        assert "output too long" in got[name]["actual"] and "dropped stdout" in got[name]["actual"], got[name]
    # 500 000 000 + the two lines, less the 2 MiB head and 256 KiB tail kept
    assert f"dropped stdout {HALF_GB + 22 - (2 << 20) - (256 << 10)} bytes" in got["prints 500 MB"]["actual"]
    assert got["after"]["status"] == "PASS"
    for name in ("results.json", "report.html", "junit.xml"):
        size = (out / name).stat().st_size
        assert size < 256 * 1024, f"{name} is {size} bytes"
    return got
