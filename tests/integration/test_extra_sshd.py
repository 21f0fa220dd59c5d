"""The tests' extra sshd (tests/extra_sshd.py) needs nothing from the machine and leaves
nothing on it: it runs inside the controlplane host's own namespaces, where the host's
private /run has the /run/sshd that sshd wants, and keeps its files in the host's /tmp.
"""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from extra_sshd import ADDRESS, ExtraSSHD, dead, tree  # tests/extra_sshd.py
from grader.lab.labnet import ns_inode

pytestmark = pytest.mark.lab


def _ssh(lab, sshd: ExtraSSHD, command: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", "/dev/null", "-i", str(lab.lab.key), "-o", "IdentitiesOnly=yes",
                           "-o", f"UserKnownHostsFile={sshd.known_hosts}", "-o", "StrictHostKeyChecking=yes",
                           "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "-p", str(sshd.port),
                           f"root@{ADDRESS}", command],
                          capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)


def test_the_extra_sshd_runs_inside_the_host_and_leaves_nothing_behind(lab, tmp_path):
    machine_run_sshd = Path("/run/sshd").exists()
    sshd = ExtraSSHD(lab, tmp_path / "sshd")
    try:
        sshd.start().trust()
        for kind in ("mnt", "uts", "net", "pid"):
            assert ns_inode(sshd.pid, kind) == ns_inode(sshd.host_pid, kind), f"not in the host's {kind} namespace"
        inside, outside = sshd.file("probe")
        proc = _ssh(lab, sshd, f"hostname; test -d /run/sshd && echo run-sshd; echo here > {inside}")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["controlplane", "run-sshd"]
        assert outside.read_text() == "here\n"       # the host's private /tmp, seen from here
        assert not Path(inside).exists()              # ... which is not the machine's /tmp
        pids = tree(sshd.proc.pid)
    finally:
        sshd.close()
    assert not sshd.outer.exists(), "its files are still in the host's /tmp"
    assert Path("/run/sshd").exists() == machine_run_sshd, "it changed the machine's /run"
    assert not [p for p in pids if not dead(p)], "processes survived close()"
