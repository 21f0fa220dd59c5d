"""The SSH transport against the lab's real sshd hosts (no mocks).

Connection drops are made for real: a command finds the sshd processes serving its
own session (its ancestors) and kills them, which works whatever PID namespace the
host lives in.  A host that freezes at a precise moment is played on an sshd of our
own (`own_sshd`), in the controlplane host's network namespace on a spare port (as
in test_faults.py), so the lab's sshd is never touched.
"""
from __future__ import annotations

import random
import socket
import subprocess
import threading
import time
from dataclasses import replace

import pytest

from extra_sshd import ADDRESS, ExtraSSHD  # tests/extra_sshd.py
from grader.errors import AuthError, CommandTimedOut, ConnectError, ConnectionLost, HostKeyError, InventoryError
from grader.inventory import Inventory
from grader.transport import Pool, connect

pytestmark = pytest.mark.lab

# Sets $pids to the sshd processes serving the session this runs in (sshd: root@notty,
# and the privileged monitor when there is one), never the listener.  Run it in the
# foreground: an orphaned background child no longer has them as ancestors.
FIND_OWN_SSHD = r"""p=$$; pids=; while [ "$p" -gt 1 ]; do
  p=$(ps -o ppid= -p "$p" | tr -d ' '); [ -n "$p" ] || break
  case "$(tr '\0' ' ' < /proc/$p/cmdline)" in "sshd: "*"@"*|"sshd: "*"[priv]"*) pids="$pids $p";; esac
done; [ -n "$pids" ]"""




@pytest.fixture(scope="module")
def inv(lab) -> Inventory:
    return lab.inventory


@pytest.fixture
def cp(inv):
    return inv.host("controlplane")


@pytest.fixture
def transport(cp, inv):
    with connect(cp, inv) as t:
        yield t


@pytest.fixture
def own_sshd(lab, tmp_path):
    """(address, port, known_hosts file, the sshd) of a fresh sshd of our own on the
    controlplane address (tests/extra_sshd.py); killed with all it started afterwards."""
    sshd = ExtraSSHD(lab, tmp_path / "own-sshd").start()
    sshd.trust()
    try:
        yield ADDRESS, sshd.port, sshd.known_hosts, sshd
    finally:
        sshd.close()


def _tag() -> str:
    return f"{random.randint(100, 999)}.{random.randint(100000, 999999)}"


def _client_port(t) -> str:
    return t.run("echo $SSH_CLIENT", timeout=10).stdout.split()[1]


# --- running commands ------------------------------------------------------------

def test_one_connection_reused_for_many_commands(transport):
    first = transport.paramiko_transport
    ports = {_client_port(transport) for _ in range(5)}
    for i in range(20):
        assert transport.run(f"echo {i}", timeout=10).stdout == f"{i}\n"
    assert len(ports) == 1                           # one TCP connection seen by the server
    assert transport.paramiko_transport is first     # one paramiko Transport
    assert transport.connects == 1


def test_result_fields_exit_codes_and_stderr(transport):
    r = transport.run("echo out; echo err >&2; exit 3", timeout=10)
    assert (r.exit_code, r.stdout, r.stderr, r.ok, r.host) == (3, "out\n", "err\n", False, "controlplane")
    assert r.command == "echo out; echo err >&2; exit 3" and r.duration > 0
    assert transport.run("true", timeout=10).ok
    assert transport.run("kill -9 $$", timeout=10).exit_code == 137  # 128 + signal, no "Killed" noise
    assert transport.run("kill -9 $$", timeout=10).stderr == ""
    # a command that kills the far shell running it: no exit status, but the link is fine
    assert transport.run(f"pkill -9 -f 'self-{_tag()}'; sleep 1", timeout=10).exit_code == 255
    assert transport.connects == 1


def test_bash_semantics_and_quoting(transport):
    r = transport.run("""x='a "b" $c'; [[ $x == a* ]] && echo "$x" && echo $0""", timeout=10)
    assert r.stdout == 'a "b" $c\nbash\n'


def test_stdin_is_fed_then_closed(transport):
    assert transport.run("cat; echo end", timeout=10, stdin=b"hello\n").stdout == "hello\nend\n"
    assert transport.run("cat; echo end", timeout=10).stdout == "end\n"       # no stdin: EOF at once
    assert transport.run("wc -c", timeout=30, stdin=b"x" * (5 << 20)).stdout.strip() == str(5 << 20)


def test_five_mib_on_stdout_and_stderr_at_once(transport):
    r = transport.run("head -c 5242880 /dev/zero | tr '\\0' o & head -c 5242880 /dev/zero | tr '\\0' e >&2; wait",
                      timeout=60)
    assert r.ok and len(r.stdout) == 5 << 20 and len(r.stderr) == 5 << 20
    assert set(r.stdout) == {"o"} and set(r.stderr) == {"e"}


def test_output_is_decoded_with_replacement(transport):
    assert transport.run(r"printf 'caf\xc3\xa9 \xff'", timeout=10).stdout == "café \ufffd"


def test_background_child_holding_output_does_not_hang(transport):
    tag = _tag()
    start = time.monotonic()
    r = transport.run(f"sleep {tag} & echo started", timeout=20)
    assert r.ok and r.stdout == "started\n" and time.monotonic() - start < 5
    assert transport.run(f"pkill -f 'sleep {tag.replace('.', '[.]')}'", timeout=10).ok


def test_timeout_kills_the_remote_command(transport):
    tag = _tag()
    pattern = f"sleep {tag.replace('.', '[.]')}"
    start = time.monotonic()
    with pytest.raises(CommandTimedOut) as info:
        transport.run(f"echo begun; sleep {tag} & sleep {tag}; echo never", timeout=1.5)
    assert 1.5 <= time.monotonic() - start < 6
    err = info.value
    assert err.host == "controlplane" and err.timeout == 1.5 and "timed out after 1.5s" in str(err)
    assert err.partial.stdout == "begun\n" and "never" not in err.partial.stdout
    # the command and its background child are gone on the host (closing a channel alone would not do it)
    assert transport.run(f"pgrep -f '{pattern}'", timeout=10).exit_code == 1
    assert transport.run("echo still usable", timeout=10).ok and transport.connects == 1


def test_concurrent_commands_share_the_connection(transport):
    results, errors = [], []

    def work(i):
        try:
            results.append(transport.run(f"sleep 0.3; echo {i}", timeout=30).stdout)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors and sorted(results) == sorted(f"{i}\n" for i in range(16))
    assert transport.connects == 1


# --- dropped connections ---------------------------------------------------------

def test_reconnects_once_after_the_server_dropped_an_idle_connection(transport):
    port = _client_port(transport)
    # kill our own sshd from a detached child, after this command has returned
    assert transport.run(f"{FIND_OWN_SSHD} && {{ ( sleep 0.5; kill -9 $pids ) >/dev/null 2>&1 & }}", timeout=10).ok
    time.sleep(2)
    old = transport.paramiko_transport
    assert not old.is_active()
    r = transport.run("echo back", timeout=10)
    assert r.stdout == "back\n" and transport.connects == 2
    assert transport.paramiko_transport is not old and _client_port(transport) != port


def test_reconnects_when_a_silently_dead_connection_looks_alive(cp, inv):
    # the server side freezes (SIGSTOP): no FIN, the connection still looks active;
    # opening the next channel times out and that call reconnects once
    with connect(replace(cp, connect_timeout=2), inv) as t:
        pids = t.run(f"{FIND_OWN_SSHD} && echo $pids && {{ ( sleep 0.5; kill -STOP $pids ) >/dev/null 2>&1 & }}",
                     timeout=10).stdout.split()
        try:
            time.sleep(1.5)
            assert t.paramiko_transport.is_active()
            start = time.monotonic()
            assert t.run("echo revived", timeout=10).stdout == "revived\n"
            assert t.connects == 2 and time.monotonic() - start < 6
        finally:
            t.run(f"kill -9 {' '.join(pids)}", timeout=10)


def test_host_that_never_starts_the_command_raises_connection_lost(cp, inv, lab, own_sshd):
    # the session's sshd freezes right after it opened the channel: the request to
    # start the command is never answered; connect_timeout bounds the wait for it
    address, port, known, sshd = own_sshd
    spec = replace(cp, role="frozen", address=address, port=port, key=str(lab.lab.key), known_hosts=str(known),
                   connect_timeout=1.5)
    with connect(spec, inv) as t:
        assert t.run("echo up", timeout=10).stdout == "up\n"
        open_session = t._session

        def open_then_freeze():
            chan = open_session()
            t._session = open_session  # only this once
            sshd.freeze_sessions()
            return chan

        t._session = open_then_freeze
        start = time.monotonic()
        with pytest.raises(ConnectionLost) as info:
            t.run("echo never", timeout=30)
        assert 1.4 <= time.monotonic() - start < 5
        err = info.value
        assert err.host == "frozen" and err.partial is None
        assert "did not start the command within 1.5s" in str(err) and f"{address}:{port}" in str(err)
        # grading goes on: the next command finds the connection dead and reconnects
        assert t.run("echo back", timeout=10).stdout == "back\n" and t.connects == 2


def test_drop_during_a_command_raises_connection_lost_with_partial_output(transport):
    with pytest.raises(ConnectionLost) as info:
        transport.run(f"echo before; echo warn >&2; sleep 0.5; {FIND_OWN_SSHD} && kill -9 $pids; sleep 5; echo after", timeout=30)
    err = info.value
    assert err.host == "controlplane" and "dropped" in str(err)
    assert err.partial.stdout == "before\n" and err.partial.stderr == "warn\n"
    assert transport.run("echo next", timeout=10).stdout == "next\n"  # the next call reconnects
    assert transport.connects == 2


# --- host keys -----------------------------------------------------------------

def test_unknown_host_key_is_refused_by_default(cp, inv, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text("")
    with pytest.raises(HostKeyError) as info:
        connect(replace(cp, known_hosts=str(known)), inv)
    text = str(info.value)
    assert "controlplane" in text and "unknown host key" in text and str(known) in text
    assert "--trust-on-first-use" in text and "ssh-keyscan" in text
    assert known.read_text() == ""


def test_missing_known_hosts_file_means_unknown(cp, inv, tmp_path):
    with pytest.raises(HostKeyError, match="unknown host key"):
        connect(replace(cp, known_hosts=str(tmp_path / "nope" / "known_hosts")), inv)


def test_trust_on_first_use_accepts_and_records(cp, inv, tmp_path):
    known = tmp_path / "ssh" / "known_hosts"
    with connect(replace(cp, known_hosts=str(known), trust_on_first_use=True), inv) as t:
        assert t.run("echo hi", timeout=10).ok
    lines = known.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{cp.address} ssh-")
    with connect(replace(cp, known_hosts=str(known)), inv) as t:  # now known, no TOFU needed
        assert t.run("echo again", timeout=10).ok
    assert len(known.read_text().splitlines()) == 1


def test_hashed_known_hosts_entries_are_understood(cp, inv, tmp_path):
    known = tmp_path / "known_hosts"
    known.write_text(open(cp.known_hosts).read())
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert cp.address not in known.read_text()
    with connect(replace(cp, known_hosts=str(known)), inv) as t:
        assert t.run("true", timeout=10).ok


def test_changed_host_key_is_refused_even_with_trust_on_first_use(cp, inv, tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()
    known = tmp_path / "known_hosts"
    known.write_text(f"# comment\nsomewhere.else {other[0]} {other[1]}\n{cp.address} {other[0]} {other[1]}\n")
    before = known.read_text()
    for tofu in (False, True):
        with pytest.raises(HostKeyError) as info:
            connect(replace(cp, known_hosts=str(known), trust_on_first_use=tofu), inv)
        text = str(info.value)
        assert "CHANGED" in text and "controlplane" in text
        assert f"line 3 of {known}" in text and "ssh-keygen" in text and "-R" in text
    assert known.read_text() == before


# --- authentication and reachability ---------------------------------------------

def test_wrong_key_is_an_auth_error_naming_host_user_and_key(cp, inv, tmp_path):
    key = tmp_path / "id_wrong"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    with pytest.raises(AuthError) as info:
        connect(replace(cp, key=str(key)), inv)
    text = str(info.value)
    assert "controlplane" in text and f"root@{cp.address}" in text and str(key) in text


def test_missing_key_file_is_an_auth_error(cp, inv, tmp_path):
    with pytest.raises(AuthError, match="not found"):
        connect(replace(cp, key=str(tmp_path / "absent")), inv)


def test_passphrase_key_is_an_auth_error(cp, inv, tmp_path):
    key = tmp_path / "id_locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", str(key)], check=True)
    with pytest.raises(AuthError, match="passphrase"):
        connect(replace(cp, key=str(key)), inv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_closed_port_is_a_connect_error_with_a_hint(cp, inv):
    spec = replace(cp, address="127.0.0.1", port=_free_port(), connect_timeout=3)
    start = time.monotonic()
    with pytest.raises(ConnectError) as info:
        connect(spec, inv)
    assert time.monotonic() - start < 2
    assert "controlplane" in str(info.value) and "refused" in str(info.value)
    assert "grader lab status" in str(info.value)


def test_silent_host_times_out_quickly(cp, inv):
    with socket.socket() as server:  # accepts TCP (backlog) but never speaks SSH
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        spec = replace(cp, address="127.0.0.1", port=server.getsockname()[1], connect_timeout=1)
        start = time.monotonic()
        with pytest.raises(ConnectError) as info:
            connect(spec, inv)
        assert time.monotonic() - start < 3
    assert "within 1s" in str(info.value) and "grader lab status" in str(info.value)


# --- jump host and pool --------------------------------------------------------

def test_jump_host_tunnels_to_node01(inv):
    node = replace(inv.host("node01"), jump="controlplane")
    jumped = replace(inv, hosts={**inv.hosts, "node01": node})
    with connect(node, jumped) as t:
        r = t.run("hostname; echo $SSH_CLIENT", timeout=10)
        name, client = r.stdout.splitlines()
        assert name == "node01"
        assert client.split()[0] == inv.host("controlplane").ip  # came from controlplane
        assert t.run("echo again", timeout=10).ok and t.connects == 1


def test_pool_shares_the_jump_connection_and_is_thread_safe(inv):
    node = replace(inv.host("node01"), jump="controlplane")
    jumped = replace(inv, hosts={**inv.hosts, "node01": node})
    got = []
    with Pool(jumped) as pool:
        threads = [threading.Thread(target=lambda r=role: got.append((r, pool.get(r))))
                   for role in ("node01", "controlplane") * 4]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        by_role = {}
        for role, t in got:
            assert by_role.setdefault(role, t) is t  # one transport per role
        assert pool.opened() == ["controlplane", "node01"]
        assert by_role["node01"]._jump is by_role["controlplane"]
        assert by_role["controlplane"].connects == 1 and by_role["node01"].connects == 1
        assert pool.get("node01").run("hostname", timeout=10).stdout == "node01\n"
    assert by_role["controlplane"].paramiko_transport is None  # closed


def test_jump_loop_is_an_inventory_error(inv):
    hosts = {"controlplane": replace(inv.host("controlplane"), jump="node01"),
             "node01": replace(inv.host("node01"), jump="controlplane")}
    with pytest.raises(InventoryError, match="loop"):
        Pool(replace(inv, hosts=hosts)).get("node01")
