"""Faults on the hosts, on the real lab: grading completes anyway.

In every case the reports are written, the results of the checks the fault did not
touch are kept, the exit code is 3 when any check is an ERROR, and the ERROR message
names the host and says what to do.

The shared lab must stay intact for other sessions, so the faults that need a host
to go down, change its key or refuse our key are played on an EXTRA sshd this module
starts itself: inside the controlplane host's network namespace (address 172.30.1.2,
a free port), with its own host key and authorized_keys.  It is the inventory role
`extra`; killing it touches nothing of the lab.  The other faults (a hanging check,
5 MiB of output) run on the lab's own node01, harmlessly.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from extra_sshd import ADDRESS, ExtraSSHD, keygen  # tests/extra_sshd.py

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]
@pytest.fixture
def extra(lab, tmp_path):
    sshd = ExtraSSHD(lab, tmp_path / "extra-sshd")
    try:
        yield sshd
    finally:
        sshd.close()


def write_inventory(lab, extra: ExtraSSHD, path: Path, *, key: str | None = None) -> Path:
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["name"] = "faults"
    data["hosts"]["extra"] = {"transport": "ssh", "address": ADDRESS, "port": extra.port, "user": "root",
                              "key": key or str(lab.lab.key), "known_hosts": str(extra.known_hosts),
                              "connect_timeout": 5, "node": "extra", "ip": ADDRESS}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def write_pack(root: Path, checks: list[dict], *, hosts=("node01", "extra")) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(yaml.safe_dump({"name": "faults", "title": "Faults", "version": "0.1.0",
                                                    "target": "linux", "hosts": list(hosts)}))
    task = root / "t1"
    task.mkdir(exist_ok=True)
    (task / "task.yaml").write_text(yaml.safe_dump({"id": "t1", "title": "Faults", "minutes": 1,
                                                    "description": "Nothing to do.", "checks": checks},
                                                   sort_keys=False))
    return root


def grader(*args, timeout: float = 180, cwd=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["NO_COLOR"] = "1"
    return subprocess.run([sys.executable, "-m", "grader", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL, cwd=cwd)


def results(out: Path) -> dict:
    """name -> check of results.json, after checking that all three reports were written."""
    for name in ("results.json", "report.html", "junit.xml"):
        assert (out / name).is_file(), f"{name} was not written"
    ET.parse(out / "junit.xml")
    data = json.loads((out / "results.json").read_text())
    return {c["name"]: c for t in data["tasks"] for c in t["checks"]}


def assert_completed(proc, out: Path, *, code: int = 3) -> dict:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert proc.returncode == code, f"exit {proc.returncode}, wanted {code}\n{proc.stdout}\n{proc.stderr}"
    return results(out)


def assert_error(check: dict, host: str, *hints: str) -> None:
    assert check["status"] == "ERROR", check
    message = check["message"]
    print(f"{check['name']}: {message}")
    assert f"host {host}" in message or f"on {host}" in message, f"the message does not name {host}: {message}"
    for hint in hints:
        assert hint in message, f"{hint!r} not in {message!r}"


NODE01_OK = {"name": "node01 answers", "host": "node01", "run": "hostname", "expect": {"stdout": "node01"}}


# --- a host down before grading starts -------------------------------------------------

def test_host_down_before_grading(lab, extra, tmp_path):
    extra.reserve_dead_port()          # nothing listens there
    extra.trust()
    inv = write_inventory(lab, extra, tmp_path / "inv.yaml")
    pack = write_pack(tmp_path / "pack", [NODE01_OK,
                                          {"name": "extra one", "host": "extra", "run": "true"},
                                          {"name": "extra two", "host": "extra", "file": "/etc/hostname"}])
    start = time.monotonic()
    proc = grader("check", pack, "-i", inv, "-o", tmp_path / "out")
    assert time.monotonic() - start < 60
    got = assert_completed(proc, tmp_path / "out")
    assert got["node01 answers"]["status"] == "PASS"
    for name in ("extra one", "extra two"):
        assert_error(got[name], "extra", "refused", "is the host up?")
    assert "host extra" in proc.stdout and "fix the environment" in proc.stdout


# --- sshd killed in the middle of a grading pass --------------------------------------------

def test_sshd_killed_mid_pass(lab, extra, tmp_path):
    extra.start().trust()
    inv = write_inventory(lab, extra, tmp_path / "inv.yaml")
    marker, seen = extra.file("second-check-started")  # the check touches it inside the host
    pack = write_pack(tmp_path / "pack", [
        NODE01_OK,
        {"name": "first", "host": "extra", "run": "echo first", "expect": {"stdout": "first"}},
        {"name": "second", "host": "extra", "run": f"touch {marker} && sleep 60", "timeout": 120},
        {"name": "third", "host": "extra", "run": "echo third", "expect": {"stdout": "third"}},
    ])
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env["PYTHONPATH"] = str(REPO)
    start = time.monotonic()
    with subprocess.Popen([sys.executable, "-m", "grader", "check", str(pack), "-i", str(inv), "-o",
                           str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, stdin=subprocess.DEVNULL) as run:
        try:
            deadline = time.monotonic() + 60
            while not seen.exists():
                assert run.poll() is None, run.communicate()
                assert time.monotonic() < deadline, "the second check never started"
                time.sleep(0.05)
            extra.kill()
            stdout, stderr = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
    assert time.monotonic() - start < 50, "grading waited for the dead host"
    proc = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    got = assert_completed(proc, tmp_path / "out")
    assert got["node01 answers"]["status"] == "PASS"
    assert got["first"]["status"] == "PASS", "the result that arrived before the drop was lost"
    for name in ("second", "third"):
        assert_error(got[name], "extra", "grade again")


# --- a host that freezes (a paused VM: TCP still accepted, nothing answers) ---------------------

def test_host_frozen_before_grading(lab, extra, tmp_path):
    extra.start().trust()
    extra.signal(signal.SIGSTOP)
    inv = write_inventory(lab, extra, tmp_path / "inv.yaml")
    pack = write_pack(tmp_path / "pack", [NODE01_OK, {"name": "extra", "host": "extra", "run": "true"}])
    start = time.monotonic()
    got = assert_completed(grader("check", pack, "-i", inv, "-o", tmp_path / "out"), tmp_path / "out")
    assert time.monotonic() - start < 40
    assert got["node01 answers"]["status"] == "PASS"
    assert_error(got["extra"], "extra", "no SSH answer", "is the host up?")


def test_host_frozen_mid_pass(lab, extra, tmp_path):
    extra.start().trust()
    inv = write_inventory(lab, extra, tmp_path / "inv.yaml")
    marker, seen = extra.file("second-check-started")  # the check touches it inside the host
    pack = write_pack(tmp_path / "pack", [
        NODE01_OK,
        {"name": "first", "host": "extra", "run": "echo first", "expect": {"stdout": "first"}, "timeout": 1},
        {"name": "second", "host": "extra", "run": f"touch {marker} && sleep 60", "timeout": 5},
        {"name": "third", "host": "extra", "run": "echo third", "timeout": 1},
    ])
    env = {k: v for k, v in os.environ.items() if k != "GRADER_INVENTORY"}
    env["PYTHONPATH"] = str(REPO)
    start = time.monotonic()
    with subprocess.Popen([sys.executable, "-m", "grader", "check", str(pack), "-i", str(inv), "-o",
                           str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env, stdin=subprocess.DEVNULL) as run:
        try:
            deadline = time.monotonic() + 60
            while not seen.exists():
                assert run.poll() is None, run.communicate()
                assert time.monotonic() < deadline, "the second check never started"
                time.sleep(0.05)
            extra.signal(signal.SIGSTOP)
            stdout, stderr = run.communicate(timeout=90)
        finally:
            if run.poll() is None:
                run.kill()
    took = time.monotonic() - start
    proc = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    got = assert_completed(proc, tmp_path / "out")
    assert took < 60, f"grading took {took:.0f}s"
    assert got["node01 answers"]["status"] == "PASS"
    assert got["first"]["status"] == "PASS", "the result that arrived before the freeze was lost"
    for name in ("second", "third"):
        assert_error(got[name], "extra", "grade again")


# --- authentication failure ----------------------------------------------------------------

def test_wrong_key(lab, extra, tmp_path):
    extra.start().trust()
    keygen(tmp_path / "wrong_key")
    inv = write_inventory(lab, extra, tmp_path / "inv.yaml", key=str(tmp_path / "wrong_key"))
    pack = write_pack(tmp_path / "pack", [NODE01_OK, {"name": "extra", "host": "extra", "run": "true"}])
    got = assert_completed(grader("check", pack, "-i", inv, "-o", tmp_path / "out"), tmp_path / "out")
    assert got["node01 answers"]["status"] == "PASS"
    assert_error(got["extra"], "extra", "refused key", "authorized_keys")


# --- host keys: changed (refused, way out named), unknown (refused unless asked) -----------------

def test_changed_host_key_is_refused(lab, extra, tmp_path):
    extra.start()
    other = keygen(tmp_path / "other_host_key").split()
    extra.known_hosts.write_text(f"{extra.known_name} {other[0]} {other[1]}\n")
    inv = write_inventory(lab, extra, tmp_path / "inv.yaml")
    pack = write_pack(tmp_path / "pack", [NODE01_OK, {"name": "extra", "host": "extra", "run": "true"}])
    for flags in ([], ["--trust-on-first-use"]):   # trust-on-first-use never replaces a changed key
        out = tmp_path / f"out{len(flags)}"
        got = assert_completed(grader("check", pack, "-i", inv, "-o", out, *flags), out)
        assert got["node01 answers"]["status"] == "PASS"
        assert_error(got["extra"], "extra", "HOST KEY CHANGED", f"ssh-keygen -f {extra.known_hosts} -R")
    assert extra.known_hosts.read_text().split()[2] == other[1], "the known key was replaced"


def test_unknown_host_key_needs_trust_on_first_use(lab, extra, tmp_path):
    extra.start()
    inv = write_inventory(lab, extra, tmp_path / "inv.yaml")
    pack = write_pack(tmp_path / "pack", [NODE01_OK, {"name": "extra", "host": "extra", "run": "true"}])
    got = assert_completed(grader("check", pack, "-i", inv, "-o", tmp_path / "out1"), tmp_path / "out1")
    assert_error(got["extra"], "extra", "unknown host key", "--trust-on-first-use")
    assert not extra.known_hosts.exists() or extra.host_pub.split()[1] not in extra.known_hosts.read_text()

    got = assert_completed(grader("check", pack, "-i", inv, "-o", tmp_path / "out2", "--trust-on-first-use"),
                           tmp_path / "out2", code=0)
    assert got["extra"]["status"] == "PASS"
    assert extra.host_pub.split()[1] in extra.known_hosts.read_text(), "the accepted key was not recorded"

    # recorded: verified from now on, without the flag
    got = assert_completed(grader("check", pack, "-i", inv, "-o", tmp_path / "out3"), tmp_path / "out3", code=0)
    assert got["extra"]["status"] == "PASS"


# --- a check that hangs ---------------------------------------------------------------------

def test_hanging_check_times_out_and_the_others_go_on(lab, tmp_path):
    pack = write_pack(tmp_path / "pack", [
        {"name": "before", "host": "node01", "run": "echo before", "expect": {"stdout": "before"}},
        {"name": "hangs", "host": "node01", "run": "sleep 600", "timeout": 2},
        {"name": "ignores TERM", "host": "node01", "run": "trap '' TERM; sleep 600", "timeout": 2},
        {"name": "after", "host": "node01", "run": "echo after", "expect": {"stdout": "after"}},
        {"name": "controlplane too", "host": "controlplane", "run": "hostname", "expect": {"stdout": "controlplane"}},
    ], hosts=("controlplane", "node01"))
    start = time.monotonic()
    proc = grader("check", pack, "-i", lab.inventory_path, "-o", tmp_path / "out")
    took = time.monotonic() - start
    got = assert_completed(proc, tmp_path / "out")
    assert took < 40, f"grading took {took:.0f}s"
    for name in ("before", "after", "controlplane too"):
        assert got[name]["status"] == "PASS", got[name]
    for name in ("hangs", "ignores TERM"):
        assert_error(got[name], "node01", "timed out after 2s")
    left = lab.ssh("node01", "pgrep -x sleep -a || true").stdout
    assert "sleep 600" not in left, f"the hung command was left running on node01: {left}"


# --- 5 MiB of output -------------------------------------------------------------------------

def test_five_mib_of_output(lab, tmp_path):
    five = 5 * 1024 * 1024
    pack = write_pack(tmp_path / "pack", [
        {"name": "big stdout passes", "host": "node01", "run": f"head -c {five} /dev/zero | tr '\\0' x",
         "expect": {"stdout": {"regex": "^x{1000}"}}},
        {"name": "big stdout fails", "host": "node01", "run": f"yes '<b>line</b>' | head -c {five}",
         "expect": {"stdout": {"contains": "never there"}}},
        {"name": "big stderr", "host": "node01", "run": f"head -c {five} /dev/zero | tr '\\0' e >&2; exit 1"},
        {"name": "after", "host": "node01", "run": "echo after", "expect": {"stdout": "after"}},
    ], hosts=("controlplane", "node01"))
    start = time.monotonic()
    proc = grader("check", pack, "-i", lab.inventory_path, "-o", tmp_path / "out")
    took = time.monotonic() - start
    got = assert_completed(proc, tmp_path / "out", code=1)      # FAILs, no ERROR
    assert took < 60, f"grading took {took:.0f}s"
    assert got["big stdout passes"]["status"] == "PASS"
    assert got["big stdout fails"]["status"] == "FAIL"
    assert got["big stderr"]["status"] == "FAIL"
    assert got["after"]["status"] == "PASS"
    for name in ("results.json", "report.html", "junit.xml"):
        size = (tmp_path / "out" / name).stat().st_size
        assert size < 256 * 1024, f"{name} is {size} bytes: the evidence was not cut short"
    assert len(proc.stdout) < 64 * 1024
