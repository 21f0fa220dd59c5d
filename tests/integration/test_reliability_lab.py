"""Reliability on the real labs (real sshd, real containers, real grader processes): 500 MB
of check output over SSH and over docker exec stays small in memory, and a host that
freezes mid-pass is given up on within its running check's timeout plus a margin, not
after the sum of all its checks' timeouts.

The frozen host is an sshd of this test's own (tests/extra_sshd.py) mapped to the role
node01, so the shared lab's sshd is never frozen; controlplane is the lab's own.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import yaml

from extra_sshd import ADDRESS, ExtraSSHD
from measured import (HALF_GB, assert_big_output_graded, assert_big_step_ran, big_pack, checks_of, run_measured,
                      spawn, wait_measured, write_pack)


@pytest.mark.lab
def test_grading_500_mb_of_output_over_ssh(lab, tmp_path):
    pack = big_pack(tmp_path / "pack", "node01")
    step = run_measured("setup", pack, "-i", lab.inventory_path, timeout=600)
    assert_big_step_ran(step)
    m = run_measured("check", pack, "-i", lab.inventory_path, "-o", tmp_path / "out", timeout=600)
    got = assert_big_output_graded(m, tmp_path / "out")
    print(f"ssh to node01, {2 * HALF_GB} bytes of check output: peak RSS {m.peak_rss_mib:.0f} MiB, "
          f"{m.seconds:.1f}s; {got['prints 500 MB']['actual']}; the setup step's 1 GB: peak RSS "
          f"{step.peak_rss_mib:.0f} MiB")


@pytest.mark.docker
def test_grading_500_mb_of_output_over_docker_exec(docker_lab, tmp_path):
    pack = big_pack(tmp_path / "pack", "node01")
    step = run_measured("setup", pack, "-i", docker_lab.inventory_path, timeout=600)
    assert_big_step_ran(step)
    m = run_measured("check", pack, "-i", docker_lab.inventory_path, "-o", tmp_path / "out", timeout=600)
    got = assert_big_output_graded(m, tmp_path / "out")
    print(f"docker exec into node01, {2 * HALF_GB} bytes of check output: peak RSS {m.peak_rss_mib:.0f} MiB, "
          f"{m.seconds:.1f}s; {got['prints 500 MB']['actual']}; the setup step's 1 GB: peak RSS "
          f"{step.peak_rss_mib:.0f} MiB")


@pytest.fixture
def extra(lab, tmp_path):
    sshd = ExtraSSHD(lab, tmp_path / "extra-sshd")
    try:
        yield sshd
    finally:
        sshd.close()


@pytest.mark.lab
def test_a_frozen_host_is_given_up_on_within_one_check_timeout(lab, extra, tmp_path):
    extra.start().trust()
    data = yaml.safe_load(lab.inventory_path.read_text())
    data["hosts"]["node01"] = {"transport": "ssh", "address": ADDRESS, "port": extra.port, "user": "root",
                               "key": str(lab.lab.key), "known_hosts": str(extra.known_hosts),
                               "connect_timeout": 5, "node": "node01", "ip": ADDRESS}
    inv = tmp_path / "inventory.yaml"
    inv.write_text(yaml.safe_dump(data, sort_keys=False))
    marker, seen = extra.file("first-check-started")
    node01 = [{"name": "node01 #1", "host": "node01", "timeout": 5,
               "run": f"touch {marker}; sleep 2; echo 1", "expect": {"stdout": "1"}}]
    node01 += [{"name": f"node01 #{n}", "host": "node01", "timeout": 5, "run": f"echo {n}",
                "expect": {"stdout": str(n)}} for n in range(2, 21)]
    controlplane = [
        {"name": "cp passes", "host": "controlplane", "run": "hostname", "expect": {"stdout": "controlplane"}},
        {"name": "cp fails", "host": "controlplane", "run": "echo no", "expect": {"stdout": "yes"}},
        {"name": "cp slow passes", "host": "controlplane", "run": "sleep 3; echo late", "timeout": 8,
         "expect": {"stdout": "late"}},
    ]
    pack = write_pack(tmp_path / "pack", node01 + controlplane, hosts=["controlplane", "node01"])
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = spawn("check", pack, "-i", inv, "-o", tmp_path / "out", out=out, err=err)
        try:
            while not seen.exists():
                assert proc.poll() is None, "grader ended before the first node01 check started"
                assert time.monotonic() - started < 30, "the first node01 check never started"
                time.sleep(0.02)
            extra.freeze_sessions()          # node01 accepted us and now answers nothing
            frozen_at = time.monotonic() - started
        except BaseException:
            proc.kill()
            raise
        m = wait_measured(proc, out, err, started, timeout=120)
    print(f"node01 frozen {frozen_at:.1f}s into the pass; the pass ended after {m.seconds:.1f}s")
    assert m.returncode == 3, m.stderr                 # ERRORs: the environment kept grader from judging
    assert "Traceback" not in m.stderr + m.stdout
    assert m.seconds < 15, f"the pass took {m.seconds:.1f}s with node01 frozen"
    got = checks_of(tmp_path / "out")
    assert got["cp passes"]["status"] == "PASS"
    assert got["cp fails"]["status"] == "FAIL"
    assert got["cp slow passes"]["status"] == "PASS"
    first = got["node01 #1"]
    assert first["status"] == "ERROR" and "host node01 stopped answering while this check ran" in first["message"]
    assert "grade again" in first["message"], first["message"]
    for n in range(2, 21):
        check = got[f"node01 #{n}"]
        assert check["status"] == "ERROR", check
        assert "host node01 stopped answering during grading" in check["message"], check["message"]
    assert (Path(tmp_path / "out") / "report.html").is_file()
