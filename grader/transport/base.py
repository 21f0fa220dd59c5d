"""The one interface every way of reaching a host implements, and its result type.

A transport runs a shell command on one host and returns a `CommandResult`.  It
keeps its connection open between calls (one connection per host for a whole
grading run) and reconnects once when the connection has dropped.

Failures that mean "we could not judge" are raised as `TransportError`
subclasses from `grader.errors` (ConnectError, AuthError, HostKeyError,
ConnectionLost, CommandTimedOut); a command that runs and exits non-zero is a
normal result, never an exception.
"""
from __future__ import annotations

import shlex
from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandResult:
    host: str
    command: str
    exit_code: int
    stdout: str
    stderr: str
    duration: float  # seconds

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


def quote(value) -> str:
    """Quote one value for a POSIX shell (every interpolation goes through this)."""
    return shlex.quote(str(value))


class Transport(ABC):
    """Runs commands on one host.  Use as a context manager or call close()."""

    def __init__(self, host: str):
        self.host = host

    @abstractmethod
    def run(self, command: str, *, timeout: float, stdin: bytes | None = None) -> CommandResult:
        """Run `command` with `bash -c` semantics on the host as the inventory user.

        `stdin` is fed to the command and then closed (no stdin: /dev/null-like EOF).
        Raises CommandTimedOut past `timeout` seconds (with the partial output),
        ConnectionLost when the link drops mid-command (with the partial output),
        ConnectError / AuthError / HostKeyError when the host cannot be reached.
        """

    def close(self) -> None:  # pragma: no cover - trivial default
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
