"""The connection holder without the lab: its wire format, and a holder serving from a thread
with a local host, talked to through HeldTransport as the CLI does (output, stdin, exit codes,
timeouts, a caller's deadline, the fallback, and every way it ends).  The lab tests
(tests/integration/test_holder_lab.py) run it as its own process over SSH."""
from __future__ import annotations

import json
import threading
import time

import pytest

from grader.errors import AuthError, CommandTimedOut, ConnectError, ConnectionLost, HostKeyError, HostStalled
from grader.holder import server, socket_path, state_path, wire
from grader.holder.transport import HeldPool, HeldTransport, ask
from grader.inventory import HostSpec, Inventory
from grader.transport.base import Capture, CommandResult
from grader.transport.local import LocalTransport

DRILL = "20260101T000000-abcdef"


# --- wire ------------------------------------------------------------------------------


def test_frames_survive_any_chunking():
    stream = wire.frame(wire.STDOUT, b"hello") + wire.json_frame(wire.EXIT, {"code": 3}) + wire.frame(wire.STDERR, b"")
    for cut in range(len(stream) + 1):
        frames = wire.Frames()
        got = frames.feed(stream[:cut]) + frames.feed(stream[cut:])
        assert got == [(b"o", b"hello"), (b"x", b'{"code":3}'), (b"e", b"")]


PARTIAL = CommandResult("node01", "cmd", -1, "so far", "", 0.5)


@pytest.mark.parametrize("exc", [
    ConnectError("node01", "connection refused by 10.0.0.2:22", hint="is the host up?"),
    AuthError("node01", "root@10.0.0.2 refused key /k"),
    HostKeyError("node01", "the host key changed\nsee line 3", hint="remove line 3"),
    ConnectionLost("node01", "connection dropped while running: x", partial=PARTIAL, hint="may or may not"),
    ConnectionLost("node01", "opened a session but did not start the command", partial=None),
    CommandTimedOut("node01", "sleep 100", 2.5, partial=PARTIAL),
    HostStalled("node01", "bash -s", partial=PARTIAL),
])
def test_errors_cross_as_themselves(exc):
    with pytest.raises(type(exc)) as raised:
        wire.raise_error(json.loads(json.dumps(wire.error_json(exc))), PARTIAL)
    got = raised.value
    assert type(got) is type(exc) and str(got) == str(exc) and got.host == exc.host and got.hint == exc.hint
    assert getattr(got, "partial", None) == getattr(exc, "partial", None)
    assert getattr(got, "timeout", None) == getattr(exc, "timeout", None)


def test_anything_else_becomes_connection_lost():
    with pytest.raises(ConnectionLost, match="holder failed: KeyError"):
        wire.raise_error(wire.error_json(KeyError("x")), PARTIAL)


# --- a holder in a thread ----------------------------------------------------------------


class Served:
    def __init__(self, home, idle=60.0):
        self.home = home
        self.inventory = Inventory(hosts={"controlplane": HostSpec(role="controlplane")}, source="test")
        self.log_lines = []
        self.holder = server.Holder(home, DRILL, self.inventory, idle, self.log_lines.append)
        self.code = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        end = time.monotonic() + 5
        while not state_path(home).exists() and time.monotonic() < end:
            time.sleep(0.01)
        self.pool = HeldPool(self.inventory, socket_path(home))
        self.transport = HeldTransport("controlplane", self.pool)

    def _serve(self):
        self.code = self.holder.serve()

    def ended(self, within=5.0) -> bool:
        self.thread.join(within)
        return not self.thread.is_alive()


@pytest.fixture
def served(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "drill.json").write_text(json.dumps({"id": DRILL, "phase": "running"}))
    s = Served(home)
    yield s
    s.holder.stop("test over")
    s.ended()
    s.pool.close()


def test_it_answers_hello_with_its_drill(served):
    answer = ask(socket_path(served.home), "hello")
    assert answer["drill"] == DRILL and answer["pid"] > 0
    state = json.loads(state_path(served.home).read_text())
    assert state["drill"] == DRILL and state["socket"] == str(socket_path(served.home))
    assert socket_path(served.home).stat().st_mode & 0o777 == 0o600


def test_a_command_runs_as_it_would_directly(served):
    cmd = "cat; echo out; echo err >&2; exit 7"
    held = served.transport.run(cmd, timeout=10, stdin=b"in\n")
    direct = LocalTransport("controlplane").run(cmd, timeout=10, stdin=b"in\n")
    assert (held.exit_code, held.stdout, held.stderr) == (direct.exit_code, direct.stdout, direct.stderr) == \
        (7, "in\nout\n", "err\n")
    assert any("run on controlplane: exit 7" in line for line in served.log_lines)


def test_output_streams_into_the_callers_sinks(served):
    out = Capture(head=10, tail=10)
    result = served.transport.run("head -c 100000 /dev/zero | tr '\\0' a", timeout=10, stdout=out)
    assert out.total == 100000 and result.stdout_cut == 100000 - 20


def test_a_timeout_is_the_transports_own(served):
    with pytest.raises(CommandTimedOut) as held:
        served.transport.run("echo started; sleep 30", timeout=0.5)
    with pytest.raises(CommandTimedOut) as direct:
        LocalTransport("controlplane").run("echo started; sleep 30", timeout=0.5)
    assert str(held.value) == str(direct.value)
    assert held.value.partial.stdout == "started\n"


def test_the_callers_deadline_gives_the_command_up(served):
    out = Capture()
    out.deadline = time.monotonic() + 0.5
    t0 = time.monotonic()
    with pytest.raises(HostStalled) as raised:
        served.transport.run("echo a; sleep 30", timeout=60, stdout=out)
    assert time.monotonic() - t0 < 5 and raised.value.partial.stdout == "a\n"
    end = time.monotonic() + 5                         # the holder gives it up too, at once
    while served.holder.busy and time.monotonic() < end:
        time.sleep(0.05)
    assert served.holder.busy == 0


def test_without_a_holder_a_call_goes_direct(served):
    served.holder.stop("test")
    assert served.ended()
    assert not socket_path(served.home).exists() and not state_path(served.home).exists()
    assert served.transport.run("echo direct", timeout=10).stdout == "direct\n"


def test_a_holder_that_dies_mid_command_is_connection_lost(tmp_path):
    """A holder killed mid-command: its socket closes after some output.  The call raises
    ConnectionLost with that output; it is not sent again (the command may have run)."""
    import socket as socketlib

    path = tmp_path / "h.sock"
    listener = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(1)
    seen = []

    def dying_holder():
        conn, _ = listener.accept()
        seen.append(conn.recv(65536))
        conn.sendall(wire.frame(wire.STDOUT, b"half"))
        conn.close()
    threading.Thread(target=dying_holder, daemon=True).start()
    inventory = Inventory(hosts={"node01": HostSpec(role="node01", transport="ssh", address="192.0.2.1")})
    with pytest.raises(ConnectionLost, match="holder stopped while the command ran") as raised:
        HeldTransport("node01", HeldPool(inventory, path)).run("echo x", timeout=5)
    assert raised.value.partial.stdout == "half" and len(seen) == 1
    listener.close()


@pytest.mark.parametrize("change", ["drill.json removed", "another drill", "graded", "socket removed"])
def test_it_ends_with_its_drill(served, change):
    drill_file = served.home / "drill.json"
    if change == "drill.json removed":
        drill_file.unlink()
    elif change == "another drill":
        drill_file.write_text(json.dumps({"id": "other", "phase": "running"}))
    elif change == "graded":
        drill_file.write_text(json.dumps({"id": DRILL, "phase": "graded", "pad": "x" * 10}))
    else:
        socket_path(served.home).unlink()
    assert served.ended()
    assert not state_path(served.home).exists()


def test_it_ends_when_idle(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "drill.json").write_text(json.dumps({"id": DRILL, "phase": "running"}))
    s = Served(home, idle=1.0)
    assert s.transport.run("true", timeout=5).exit_code == 0
    assert s.ended(within=5)
    assert any("idle for 1s" in line for line in s.log_lines)


def test_stop_request(served):
    assert ask(socket_path(served.home), "stop")["stopping"] is True
    assert served.ended() and served.code == 0
