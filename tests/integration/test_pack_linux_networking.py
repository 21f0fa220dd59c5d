"""The `linux-networking` pack validated end to end on the local lab.

`grader validate` runs every drill: setup must make each check fail, the reference
solution must make each pass, and reset must leave the hosts as they were. The last
part is asserted here by comparing snapshots of both hosts' network state (namespaces,
links, routes, NAT and filter rules, ip_forward, listening sockets, the state folder)
taken before and after.

The lab is shared by every test session on the machine. In CI this session is alone,
and the snapshots must be equal line for line. Elsewhere other sessions may add and
remove their own namespaces meanwhile, so only the lines that belong to this pack (its
namespace and link names, its 10.0.x subnets, its state folder) are compared, plus the
ip_forward setting.
"""
from __future__ import annotations

import fcntl
import os
import re
from pathlib import Path

import pytest

from grader.cli import main
from needs import in_ci  # tests/needs.py

PACK = Path(__file__).resolve().parents[2] / "tasks" / "linux-networking"
HOSTS = ("controlplane", "node01")
# two sessions validating this pack on the one lab at once would undo each other's drills
PACK_LOCK = "/run/lock/grader-pack-linux-networking.lock"

# name: command; each runs on both hosts
SNAPSHOT = {
    "ip netns": "ip netns list | sed 's/ (id: [0-9]*)//' | sort",
    "ip link": "ip -br link | awk '{print $1, $2}' | sort",
    "ip route": "ip route show | sed 's/ linkdown//' | sort",   # cni0 goes linkdown when no pod runs
    # KUBE-* chains belong to the kube lab's controllers (kube-proxy, kube-router's NetworkPolicy
    # chains, renamed at every sync), not to the pack
    "nat table": "iptables -w 5 -t nat -S | grep -v -e KUBE- | sort",
    "filter table": "iptables -w 5 -S | grep -v -e KUBE- | sort",
    "ip_forward": "cat /proc/sys/net/ipv4/ip_forward",
    "listening": "ss -Hltn | awk '{print $4}' | sort",
    "state": "ls -A /run/grader-state 2>/dev/null; true",
}

# what the pack creates carries one of these names or addresses
FOOTPRINT = re.compile(
    r"\b(myns|loopns|routens|natns|appns|webns|veth-(host|container|route|nat|app|web)"
    r"|10\.0\.(0|3|4|5|6|1[0-9][0-9])\.\d+|linux-networking)\b"
)


def snapshot(lab) -> dict[tuple[str, str], list[str]]:
    out = {}
    for host in HOSTS:
        for name, command in SNAPSHOT.items():
            proc = lab.ssh(host, command, timeout=30)
            assert proc.returncode == 0, f"{host}: {command!r} failed: {proc.stderr.strip()}"
            out[(host, name)] = proc.stdout.splitlines()
    return out


def ours(snap: dict) -> dict:
    return {key: [line for line in lines if key[1] == "ip_forward" or FOOTPRINT.search(line)]
            for key, lines in snap.items()}


def differences(before: dict, after: dict) -> list[str]:
    found = []
    for key in before:
        gone = sorted(set(before[key]) - set(after[key]))
        new = sorted(set(after[key]) - set(before[key]))
        found += [f"{key[0]} {key[1]}: - {line}" for line in gone]
        found += [f"{key[0]} {key[1]}: + {line}" for line in new]
    return found


@pytest.fixture
def pack_lock():
    Path(PACK_LOCK).parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(PACK_LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # waits for another session's run of this test
        yield
    finally:
        os.close(fd)


@pytest.mark.lab
def test_every_drill_validates_and_reset_leaves_nothing_behind(lab, pack_lock):
    inventory = str(lab.inventory_path)
    # start from a clean slate even if an interrupted run left a drill behind
    assert main(["reset", str(PACK), "--inventory", inventory]) == 0

    before = snapshot(lab)
    assert not any(ours(before)[(h, n)] for h in HOSTS for n in SNAPSHOT if n != "ip_forward"), \
        f"the pack's objects are still there after its reset: {ours(before)}"

    # two at a time, as CI and trainers run it (bench/README.md: 116 s serial, 67 s with --jobs 2)
    assert main(["validate", str(PACK), "--inventory", inventory, "--jobs", "2"]) == 0

    after = snapshot(lab)
    assert differences(ours(before), ours(after)) == [], "reset left the pack's objects behind"
    if in_ci():
        assert differences(before, after) == [], "the hosts differ before and after the pack's validate"
