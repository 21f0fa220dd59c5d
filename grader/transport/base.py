"""The one interface every way of reaching a host implements, and its result type.

A transport runs a shell command on one host and returns a `CommandResult`.  It
keeps its connection open between calls (one connection per host for a whole
grading run) and reconnects once when the connection has dropped.

Failures that mean "we could not judge" are raised as `TransportError`
subclasses from `grader.errors` (ConnectError, AuthError, HostKeyError,
ConnectionLost, CommandTimedOut, HostStalled); a command that runs and exits
non-zero is a normal result, never an exception.

Output is capped: each stream goes into a `Capture` that keeps its first and last
bytes and only counts the middle, so a command that prints hundreds of MB costs a
few MB of memory, while the transport keeps reading (the far side never blocks on a
full pipe).  The result's text then says where and how much was cut, and
`stdout_cut`/`stderr_cut` count the bytes dropped.  A caller may pass its own sinks
(the batch's frame parser is one); a sink's `deadline`, when set, is a
`time.monotonic()` moment past which the transport stops waiting (HostStalled).
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandResult:
    host: str
    command: str
    exit_code: int
    stdout: str
    stderr: str
    duration: float  # seconds
    stdout_cut: int = 0  # bytes of stdout dropped by the cap (0: the text is whole)
    stderr_cut: int = 0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


KEEP_HEAD = 4 << 20     # a command's output kept by default, per stream: the first 4 MiB...
KEEP_TAIL = 4 << 20     # ...and the last 4 MiB


def cut_note(dropped: int) -> str:
    return f"[grader: {dropped} bytes of output cut here]"


class Capture:
    """One output stream: keeps the first `head` and the last `tail` bytes, counts the rest.

    `write()` costs O(len(data)) whatever came before; memory stays under head + tail
    plus one write's worth.
    """

    deadline: float | None = None       # see the module docstring; plain captures have none

    def __init__(self, head: int = KEEP_HEAD, tail: int = KEEP_TAIL):
        self.head_limit, self.tail_limit = head, tail
        self._head = bytearray()
        self._tail: deque[bytes] = deque()   # chunks; together at most tail_limit + the last chunk
        self._tail_len = 0
        self.total = 0

    def write(self, data) -> None:
        self.total += len(data)
        room = self.head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data or not self.tail_limit:
            return
        self._tail.append(bytes(data))
        self._tail_len += len(data)
        while self._tail_len - len(self._tail[0]) >= self.tail_limit:
            self._tail_len -= len(self._tail.popleft())

    def drop_trailing_newline(self) -> None:
        """Take back one final newline (the batch's end marker begins with it)."""
        if self._tail:
            if self._tail[-1].endswith(b"\n"):
                self._tail[-1] = self._tail[-1][:-1]
                self._tail_len -= 1
                self.total -= 1
        elif self._head.endswith(b"\n"):
            del self._head[-1]
            self.total -= 1

    @property
    def dropped(self) -> int:
        return self.total - len(self._head) - min(self._tail_len, self.tail_limit)

    def text(self) -> str:
        """The stream as text; when bytes were dropped, a note stands where they were."""
        tail = b"".join(self._tail)[-self.tail_limit:] if self._tail else b""
        if not self.dropped:
            return (self._head + tail).decode("utf-8", errors="replace")
        return (self._head.decode("utf-8", errors="replace") + f"\n{cut_note(self.dropped)}\n"
                + tail.decode("utf-8", errors="replace"))


def stall_deadline(*sinks) -> float | None:
    """The earliest deadline the sinks set, or None."""
    found = [s.deadline for s in sinks if getattr(s, "deadline", None) is not None]
    return min(found) if found else None


def result_of(host: str, command: str, code: int, out, err, duration: float) -> CommandResult:
    """The CommandResult for what two sinks hold."""
    return CommandResult(host, command, code, out.text(), err.text(), duration,
                         stdout_cut=out.dropped, stderr_cut=err.dropped)


class Transport(ABC):
    """Runs commands on one host.  Use as a context manager or call close()."""

    def __init__(self, host: str):
        self.host = host

    @abstractmethod
    def run(self, command: str, *, timeout: float, stdin: bytes | None = None,
            stdout=None, stderr=None) -> CommandResult:
        """Run `command` with `bash -c` semantics on the host as the inventory user.

        `stdin` is fed to the command and then closed (no stdin: /dev/null-like EOF).
        `stdout`/`stderr`: sinks for the streams (default: a `Capture()` each); the
        whole output is always read, whatever the sinks keep.
        Raises CommandTimedOut past `timeout` seconds (with the partial output),
        HostStalled past a sink's deadline (with the partial output),
        ConnectionLost when the link drops mid-command (with the partial output),
        ConnectError / AuthError / HostKeyError when the host cannot be reached.
        """

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
