"""The check holder without the lab: which runs it refuses (another grader code, another
environment, not a check), what it keeps per inventory and when it opens connections afresh,
that a command line run in it leaves the process as it found it (folder, umask, stdout), and
a whole `grader check` of a local pack handed over through its socket printing what the
command prints in-process.  The lab tests (tests/integration/test_check_holder_lab.py) run it
as its own process over SSH."""
from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

import grader.holder as holders
from grader.cli import main
from grader.holder import (CHECK_SLOT, check_persist, code_digest, env_digest, files_fingerprint, handover,
                           inventory_digest, inventory_files, server, socket_path, state_path)
from grader.holder.checks import Checks
from grader.inventory import HostSpec, Inventory

MINI = Path(__file__).resolve().parents[1] / "data" / "packs" / "mini"


def local_inventory(tmp_path) -> Path:
    inv = tmp_path / "inventory.yaml"
    inv.write_text("hosts:\n  controlplane: {transport: local}\n")
    return inv


# --- pure parts ------------------------------------------------------------------------


@pytest.mark.parametrize("value, seconds", [(None, 300.0), ("0", 0.0), ("off", 0.0), ("12.5", 12.5),
                                            ("-3", 0.0), ("soon", 300.0)])
def test_how_long_a_check_holder_stays(monkeypatch, value, seconds):
    if value is None:
        monkeypatch.delenv("GRADER_CHECK_PERSIST", raising=False)
    else:
        monkeypatch.setenv("GRADER_CHECK_PERSIST", value)
    assert check_persist() == seconds


def test_the_environment_digest_ignores_what_a_shell_changes_between_commands():
    base = {"PATH": "/usr/bin", "HOME": "/root", "GRADER_HOME": "/x"}
    assert env_digest({**base, "PWD": "/a", "OLDPWD": "/b", "SHLVL": "2", "_": "/usr/bin/grader"}) == env_digest(base)
    assert env_digest({**base, "NO_COLOR": "1"}) != env_digest(base)
    assert env_digest({**base, "GRADER_HOME": "/y"}) != env_digest(base)


def test_refusals():
    checks = Checks(log=lambda message: None)
    ok = {"argv": ["check", "pack"], "code": code_digest(), "env": env_digest(os.environ)}
    assert checks.refusal(ok) == ""
    assert checks.refusal({**ok, "argv": ["validate", "pack"]}) == "not a grader check command line"
    assert checks.refusal({**ok, "argv": "check pack"}) == "not a grader check command line"
    assert checks.refusal({**ok, "code": "0" * 32}) == "grader's code changed"
    assert checks.refusal({**ok, "env": "0" * 32}) == "another environment"
    assert env_digest({**os.environ, "SSH_CONNECTION": "x", "COLUMNS": "80"}) == env_digest(
        {k: v for k, v in os.environ.items() if k not in ("SSH_CONNECTION", "COLUMNS")})
    drills = Checks(log=lambda message: None, drill=("d1", "digest", object()))
    assert drills.refusal({**ok, "argv": ["drill", "check", "1"]}) == ""
    assert drills.refusal(ok) == "not a grader drill check command line"
    assert drills.refusal({**ok, "argv": ["drill", "grade"]}) == "not a grader drill check command line"


def test_a_drills_holder_lends_its_connections_to_its_own_drill_only():
    pool = object()
    inv = Inventory(hosts={"controlplane": HostSpec(role="controlplane")}, source="x")
    other = Inventory(hosts={"controlplane": HostSpec(role="controlplane")}, source="y")
    drills = Checks(log=lambda message: None, drill=("d1", inventory_digest(inv), pool))
    assert drills.drill_pool("d1", inv) is pool
    assert drills.drill_pool("d2", inv) is None and drills.drill_pool("d1", other) is None
    assert Checks(log=lambda message: None).drill_pool("d1", inv) is None


def test_the_files_a_holders_connections_depend_on(tmp_path):
    key, known = tmp_path / "id", tmp_path / "known"
    inv = Inventory(hosts={"node01": HostSpec(role="node01", transport="ssh", address="192.0.2.1", key=str(key),
                                              known_hosts=str(known)),
                           "controlplane": HostSpec(role="controlplane")}, source=str(tmp_path / "inv.yaml"))
    files = inventory_files(inv)
    assert files == [str(tmp_path / "inv.yaml"), str(key), str(known)]
    before = files_fingerprint(files)
    assert files_fingerprint(files) == before
    known.write_text("a new lab's host key\n")
    assert files_fingerprint(files) != before


def test_connections_are_kept_per_inventory_until_its_files_change(tmp_path):
    log = []
    checks = Checks(log.append)
    inv_file = local_inventory(tmp_path)
    inv = Inventory(hosts={"controlplane": HostSpec(role="controlplane")}, source=str(inv_file))
    other = Inventory(hosts={"controlplane": HostSpec(role="controlplane")}, source=str(tmp_path / "other.yaml"))
    pool = checks.pool_for(inv)
    assert checks.pool_for(inv) is pool
    assert checks.pool_for(other) is not pool and checks.pool_for(inv) is pool
    time.sleep(0.01)
    inv_file.write_text(inv_file.read_text() + "# changed\n")
    checks.drop_stale_pools()
    assert log == [f"closed the connections of {inv_file}: its files changed"]
    assert checks.pool_for(inv) is not pool
    checks.close()


def test_a_command_line_leaves_the_process_as_it_found_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_HOME", str(tmp_path / "home"))
    checks = Checks(log=lambda message: None)
    here, stdout = os.getcwd(), sys.stdout
    mask = os.umask(0o022)
    os.umask(mask)
    os.chdir("/")                   # where a holder waits between runs
    try:
        monkeypatch.delenv("COLUMNS", raising=False)
        code, out, err = checks.run(["check", "--help"], str(tmp_path), 0o077, (True, False), [61, 20])
        assert code == 0 and b"usage: grader check" in out and err == b""
        assert (os.getcwd(), sys.stdout, os.environ.get("COLUMNS")) == ("/", stdout, None)
        assert os.umask(mask) == mask
        code, out, err = checks.run(["check", str(MINI)], str(tmp_path / "gone"), 0o022, (False, False), None)
        assert code == 2 and b"cannot run in" in err and os.getcwd() == "/"
    finally:
        os.chdir(here)


# --- a check holder in a thread ----------------------------------------------------------


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A check holder serving from a thread of this process, over a local inventory."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("GRADER_HOME", str(home))
    monkeypatch.setenv("NO_COLOR", "1")
    inv = local_inventory(tmp_path)
    inventory = Inventory(hosts={"controlplane": HostSpec(role="controlplane")}, source=str(inv))
    lines = []
    holder = server.Holder(home, None, inventory, 60.0, lines.append)
    thread = threading.Thread(target=holder.serve, daemon=True)
    thread.start()
    end = time.monotonic() + 5
    while not state_path(home, CHECK_SLOT).exists() and time.monotonic() < end:
        time.sleep(0.01)
    yield home, inv, lines, holder
    holder.stop("test over")
    thread.join(5)
    assert holders.serving is None


def hand_over(served, argv, capsys):
    home, _, _, holder = served
    holder.checks.env = env_digest(os.environ)  # pytest's PYTEST_CURRENT_TEST changed since the fixture
    sock = handover.open_socket(socket_path(home, CHECK_SLOT), 1.0)
    code, stale, hung, out, err = handover._run(sock, argv)    # check() steps aside in a holder's process
    return code, stale, hung, out.decode(), err.decode()


def test_a_handed_over_check_prints_what_the_command_prints(served, capsys, tmp_path):
    home, inv, lines, _ = served
    argv = ["check", str(MINI), "-i", str(inv), "--json", "--task", "hello-file"]
    code, stale, hung, out, err = hand_over(served, argv, capsys)
    assert (stale, hung) == (False, False), lines
    assert any(line.startswith("ran grader check ") for line in lines), lines
    holders.serving, keep = None, holders.serving           # the same command line, run here
    try:
        with redirect_stdout(io.StringIO()) as here:
            direct = main(argv)
    finally:
        holders.serving = keep
    assert code == direct == 1                               # hello-file is unsolved here
    strip = lambda text: [{k: v for k, v in c.items() if k != "duration"}   # noqa: E731
                          for t in json.loads(text)["tasks"] for c in t["checks"]]
    assert strip(out) == strip(here.getvalue()) and strip(out)
    assert err == ""


def test_a_refused_run_is_said_at_once(served, capsys, monkeypatch):
    home, inv, lines, holder = served
    code, stale, hung, out, err = hand_over(served, ["check", str(MINI), "-i", str(inv)], capsys)
    assert code == 1                                          # served (hello-file and count-lines unsolved)
    monkeypatch.setenv("GRADER_SOMETHING_ELSE", "1")          # this client's environment differs
    sock = handover.open_socket(socket_path(home, CHECK_SLOT), 1.0)
    code, stale, hung, out, err = handover._run(sock, ["check", str(MINI), "-i", str(inv)])
    assert (code, stale, hung, out) == (None, True, False, b"")
    assert "check not served: another environment" in lines


def test_a_busy_holder_says_so_and_is_left_alone(served):
    home, inv, lines, holder = served
    holder.checks.env = env_digest(os.environ)
    with holder.checks.checking:                              # another run is under way
        sock = handover.open_socket(socket_path(home, CHECK_SLOT), 1.0)
        assert handover._run(sock, ["check", str(MINI), "-i", str(inv)])[:3] == (None, False, False)
    end = time.monotonic() + 5
    while "check not served: busy" not in lines and time.monotonic() < end:   # logged after the answer
        time.sleep(0.01)
    assert "check not served: busy" in lines


def test_the_client_believes_only_a_holder_of_its_own_user(tmp_path, monkeypatch):
    import socket as sockets

    path = tmp_path / "s.sock"
    srv = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
    srv.bind(str(path))
    srv.listen(1)
    handover.open_socket(path, 1.0).close()                   # ours: accepted
    monkeypatch.setattr(handover.os, "getuid", lambda: 12345)
    with pytest.raises(PermissionError, match="not this user"):
        handover.open_socket(path, 1.0)
    srv.close()
