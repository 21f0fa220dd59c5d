"""The docker variant of the lab (grader/lab/dockerlab.py): a private dockerd, kind-like nodes.

Tests marked `docker` share the session's docker lab (fixture `docker_lab`).  The
lifecycle test runs after all others, alone, and brings the docker lab back up.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

NODES = {"controlplane": "grader-control-plane", "node01": "grader-worker"}


def grader(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=Path(__file__).resolve().parents[2])


def test_rootfs_is_built_from_local_binaries(tmp_path):
    import tarfile

    from grader.lab.dockerlab import build_rootfs
    out = tmp_path / "rootfs.tar"
    build_rootfs(out)
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
        assert {"usr/bin/bash", "usr/bin/sh", "usr/bin/cat", "usr/bin/timeout", "usr/bin/mktemp"} <= names
        assert tar.getmember("bin").issym() and tar.getmember("tmp").mode == 0o1777
        assert any(n.startswith("usr/lib") and "libc.so" in n for n in names)


@pytest.mark.docker
def test_containers_are_named_like_kind_nodes_and_running(docker_lab):
    for name in NODES.values():
        proc = docker_lab.docker("inspect", "-f", "{{.State.Status}} {{.Config.Hostname}} {{.HostConfig.NetworkMode}}",
                                 name)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == ["running", name, "none"]
    images = docker_lab.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert "grader-node:lab" in images


@pytest.mark.docker
def test_docker_exec_runs_commands_with_stdin(docker_lab):
    for name in NODES.values():
        proc = docker_lab.docker("exec", name, "bash", "-c", "hostname; id -u; f=$(mktemp); echo ok > $f; cat $f")
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.split() == [name, "0", "ok"]
    piped = docker_lab.docker("exec", "-i", NODES["node01"], "sh", "-c", "cat; exit 7", input=b"from stdin\n")
    assert (piped.returncode, piped.stdout) == (7, "from stdin\n")


@pytest.mark.docker
def test_inventory_points_the_docker_transport_at_the_nodes(docker_lab):
    inv = docker_lab.inventory
    assert inv.kube_host == "controlplane" and set(inv.hosts) == set(NODES)
    for role, name in NODES.items():
        h = inv.hosts[role]
        assert (h.transport, h.container, h.docker, h.node) == ("docker", name, docker_lab.docker_host, name)
    assert docker_lab.docker_host == f"unix://{docker_lab.lab.socket}"


@pytest.mark.docker
def test_dockerd_is_private_and_off_the_network(docker_lab):
    pid = int(docker_lab.lab.pidfile.read_text())
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    assert "--bridge=none" in cmd and "--iptables=false" in cmd and "--ip6tables=false" in cmd
    assert str(docker_lab.dir / "data") in cmd and docker_lab.docker_host in cmd
    nets = docker_lab.docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "bridge" not in nets


@pytest.mark.docker
def test_docker_lab_up_twice_changes_nothing(docker_lab):
    ids = docker_lab.docker("ps", "-q", "--no-trunc").stdout.split()
    proc = grader("lab", "up", "--docker", "--dir", str(docker_lab.dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(docker_lab.inventory_path) and "already up" in proc.stderr
    assert docker_lab.docker("ps", "-q", "--no-trunc").stdout.split() == ids


def docker_leftovers(lab) -> list[str]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(lab.dir) in cmd or str(lab.run_dir) in cmd:
            found.append(f"process {entry}: {cmd}")
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    found += [f"mount {m.split()[4]}" for m in mounts
              if m.split()[4].startswith((str(lab.dir), str(lab.run_dir)))]
    found += [f"path {p}" for p in (lab.dir, lab.run_dir, lab.socket) if p.exists()]
    return found


@pytest.mark.docker
@pytest.mark.lab_lifecycle
def test_docker_lab_lifecycle_down_up_down(docker_lab_alone, request):
    handle = docker_lab_alone
    refused = grader("lab", "down", "--docker", "--dir", str(handle.dir))
    assert refused.returncode == 3 and "in use" in refused.stderr
    down = grader("lab", "down", "--docker", "--force", "--dir", str(handle.dir))
    assert down.returncode == 0, down.stderr
    assert docker_leftovers(handle.lab) == []
    again = grader("lab", "down", "--docker", "--force", "--dir", str(handle.dir))
    assert again.returncode == 0 and "nothing to remove" in again.stdout
    assert grader("lab", "status", "--docker", "--dir", str(handle.dir)).returncode == 3

    start = time.monotonic()
    up = grader("lab", "up", "--docker", "--dir", str(handle.dir))
    took = time.monotonic() - start
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        reporter.write_line(f"\n`grader lab up --docker` from nothing: {took:.2f}s")
    assert up.returncode == 0, up.stderr
    assert handle.docker("exec", NODES["controlplane"], "hostname").stdout.strip() == NODES["controlplane"]

    assert grader("lab", "down", "--docker", "--force", "--dir", str(handle.dir)).returncode == 0
    assert docker_leftovers(handle.lab) == []
    # the `docker_lab_alone` fixture brings it back up for the rest of the session
