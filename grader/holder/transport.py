"""The client side: a Pool whose ssh transports run commands through the drill's holder.

`HeldTransport.run()` behaves as `SSHTransport.run()` does for its caller: the output goes
into the caller's sinks as it arrives, a sink's deadline gives the command up
(HostStalled), the transport's errors come back as the same exceptions.  When the holder
cannot be reached before anything was sent, the call goes over a direct connection
instead; when it goes away mid-command, the call raises ConnectionLost (the command may
or may not have finished, so it is never sent twice).
"""
from __future__ import annotations

import json
import select
import threading
import time

from grader.errors import CommandTimedOut, ConnectionLost, HostStalled
from grader.holder import open_socket, wire
from grader.inventory import check_jump_chain
from grader.transport import Pool
from grader.transport.base import Capture, CommandResult, Transport, result_of, stall_deadline

CONNECT_TIMEOUT = 2.0
KILL_GRACE = 3.0        # as the ssh transport's: the far side's kill needs a moment to show
SLACK = 5.0             # beyond that, a holder that says nothing about the command is given up on
CHUNK = 65536


def ask(path, op: str, timeout: float = 1.0) -> dict:
    """Send `op` (hello, stop) and return the holder's answer; OSError or ValueError when
    there is no answer (no holder, a dead one, a hung one: socket.timeout)."""
    with open_socket(path, timeout) as sock:
        sock.sendall(wire.request(op))
        frames = wire.Frames()
        while True:
            data = sock.recv(CHUNK)
            if not data:
                raise ValueError("the holder hung up without an answer")
            for kind, payload in frames.feed(data):
                if kind == wire.HELLO:
                    answer = json.loads(payload)
                    if not isinstance(answer, dict):
                        raise ValueError("not an answer")
                    return answer


class HeldTransport(Transport):
    def __init__(self, role: str, pool: "HeldPool"):
        super().__init__(role)
        self.pool = pool

    def run(self, command: str, *, timeout: float, stdin: bytes | None = None,
            stdout=None, stderr=None) -> CommandResult:
        out = Capture() if stdout is None else stdout
        err = Capture() if stderr is None else stderr
        start = time.monotonic()
        head = wire.request("run", host=self.host, command=command, timeout=timeout,
                            stdin=None if stdin is None else len(stdin))
        sock = None
        try:
            sock = open_socket(self.pool.path, CONNECT_TIMEOUT)
            sock.sendall(head + (stdin or b""))   # the holder starts nothing before it has all of it
        except OSError:
            if sock is not None:
                sock.close()
            return self.pool.direct(self.host).run(command, timeout=timeout, stdin=stdin, stdout=out, stderr=err)
        with sock:
            return self._answer(sock, command, timeout, start, out, err)

    def _answer(self, sock, command, timeout, start, out, err) -> CommandResult:
        def result(code: int) -> CommandResult:
            return result_of(self.host, command, code, out, err, time.monotonic() - start)

        frames = wire.Frames()
        limit = start + timeout + KILL_GRACE + SLACK
        while True:
            now = time.monotonic()
            stall = stall_deadline(out, err)
            if stall is not None and now >= stall:
                raise HostStalled(self.host, command, partial=result(-1))
            if now >= limit:
                raise CommandTimedOut(self.host, command, timeout, partial=result(-1))
            wait = min(0.1, limit - now, *(() if stall is None else (stall - now,)))
            readable, _, _ = select.select([sock], [], [], max(wait, 0.001))
            if not readable:
                continue
            try:
                data = sock.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                raise ConnectionLost(self.host, "grader's connection holder stopped while the command ran",
                                     partial=result(-1), hint="the command may or may not have finished")
            for kind, payload in frames.feed(data):
                if kind == wire.STDOUT:
                    out.write(payload)
                elif kind == wire.STDERR:
                    err.write(payload)
                elif kind == wire.EXIT:
                    return result(int(json.loads(payload)["code"]))
                elif kind == wire.RAISED:
                    wire.raise_error(json.loads(payload), result(-1))

    def __repr__(self) -> str:
        return f"HeldTransport({self.host!r}, {self.pool.path})"


class HeldPool:
    """Pool's interface (get, warm, opened, close): ssh hosts through the holder at `path`,
    the others (local, docker), and any call the holder cannot take, directly."""

    def __init__(self, inventory, path):
        self.inventory, self.path = inventory, path
        self._lock = threading.Lock()
        self._held: dict[str, HeldTransport] = {}
        self._direct = None

    def get(self, role: str) -> Transport:
        spec = self.inventory.host(role)
        check_jump_chain(self.inventory, spec)
        if spec.transport != "ssh":
            return self.direct(role)
        with self._lock:
            return self._held.setdefault(role, HeldTransport(role, self))

    def direct(self, role: str) -> Transport:
        with self._lock:
            if self._direct is None:
                self._direct = Pool(self.inventory)
        return self._direct.get(role)

    def warm(self, roles) -> None:      # the holder's connections are open already
        pass

    def opened(self) -> list[str]:
        with self._lock:
            return list(self._held) + (self._direct.opened() if self._direct else [])

    def close(self) -> None:
        with self._lock:
            direct, self._direct = self._direct, None
        if direct is not None:
            direct.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
