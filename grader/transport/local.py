"""Run commands on this machine through a subprocess (`run_process`, which the docker
transport shares: `docker exec` is a local process too).

`run_process()` feeds stdin and reads stdout and stderr concurrently from one
selector loop, so any amount of output on both streams at once never deadlocks; it
reads everything and keeps what the sinks keep (`base.Capture`: head and tail).
Each command starts in its own session (process group); on timeout the whole
group is killed, so `sleep 100 & sleep 200` leaves nothing behind.
"""
from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time

from grader.errors import CommandTimedOut, ConnectError, HostStalled
from grader.transport.base import Capture, CommandResult, Transport, result_of, stall_deadline
from grader.transport.common import CHUNK, DRAIN_IDLE, KILL_DRAIN


def exit_code(returncode: int) -> int:
    """Map Popen's -N for "killed by signal N" to the shell's 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def run_process(argv: list[str], *, host: str, command: str, timeout: float,
                stdin: bytes | None = None, grace: float = 0.0, stdout=None, stderr=None) -> CommandResult:
    """Run `argv`, feed `stdin` then EOF, read both streams into their sinks (default:
    a `Capture` each), enforce `timeout`.

    A process still running at the deadline is given `grace` seconds to end by
    itself (the docker transport's far-side `timeout` needs a moment to act), then
    its process group is killed with SIGKILL; either way CommandTimedOut is raised
    with the partial output (exit_code -1).  Past a sink's deadline the group is
    killed at once and HostStalled is raised, with the partial output.  `command` is
    what results and errors report.
    """
    start = time.monotonic()
    deadline = start + timeout
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except OSError as exc:
        raise ConnectError(host, f"cannot start {argv[0]}: {exc.strerror or exc}") from None
    out = Capture() if stdout is None else stdout
    err = Capture() if stderr is None else stderr
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    pending = memoryview(stdin or b"")
    if proc.stdin is not None:
        if pending:
            os.set_blocking(proc.stdin.fileno(), False)
            sel.register(proc.stdin, selectors.EVENT_WRITE, None)
        else:
            proc.stdin.close()
    exited_at = None        # when the process itself was seen to exit
    last_data = start
    timed_out = stalled = False
    try:
        while _reading(sel):
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            stall = stall_deadline(out, err)
            if exited_at is None and stall is not None and now >= stall:
                timed_out = stalled = True
                break
            if exited_at is not None and now - max(last_data, exited_at) >= DRAIN_IDLE:
                break       # exited; a background child holds the pipes open
            if now >= deadline:
                if exited_at is not None:
                    _drain(sel, now + 0.05)
                    break   # the command finished; only leftovers are pending
                if grace > 0 and now < deadline + grace:
                    pass    # let the far side's own kill take effect first
                else:
                    timed_out = True
                    break
            for sk, _ in sel.select(timeout=0.1):
                if sk.data is None:  # stdin is writable
                    try:
                        n = os.write(sk.fd, pending[:CHUNK])
                        pending = pending[n:]
                    except BlockingIOError:
                        continue
                    except (BrokenPipeError, OSError):
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(sk.fileobj)
                        sk.fileobj.close()
                    continue
                data = os.read(sk.fd, CHUNK)
                if data:
                    sk.data.write(data)
                    last_data = time.monotonic()
                else:
                    sel.unregister(sk.fileobj)
        if timed_out:
            _kill_group(proc)
            _drain(sel, time.monotonic() + KILL_DRAIN)
        returncode = None
        if not timed_out:
            try:
                returncode = proc.wait(timeout=max(deadline + grace - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                timed_out = True
            # ended during the grace, i.e. killed by the far side's own timeout
            if not timed_out and (exited_at or time.monotonic()) > deadline:
                timed_out = True
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None and not stream.closed:
                stream.close()
    duration = time.monotonic() - start
    if timed_out:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:  # pragma: no cover - unkillable process
            pass
        partial = result_of(host, command, -1, out, err, duration)
        if stalled:
            raise HostStalled(host, command, partial=partial)
        raise CommandTimedOut(host, command, timeout, partial=partial)
    return result_of(host, command, exit_code(returncode), out, err, duration)


def _reading(sel) -> bool:
    """True while stdout or stderr is still open (stdin alone does not count)."""
    return any(key.data is not None for key in sel.get_map().values())


def _drain(sel, until: float) -> None:
    """Read what is left in the pipes after a kill, for at most `until`."""
    while _reading(sel) and time.monotonic() < until:
        for sk, _ in sel.select(timeout=0.1):
            if sk.data is None:
                sel.unregister(sk.fileobj)
                sk.fileobj.close()
                continue
            data = os.read(sk.fd, CHUNK)
            if data:
                sk.data.write(data)
            else:
                sel.unregister(sk.fileobj)


def _kill_group(proc) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class LocalTransport(Transport):
    """Runs commands on this machine as the current user (`HostSpec.user` is not used).

    Thread-safe: every call is an independent subprocess.
    """

    def __init__(self, host: str = "localhost"):
        super().__init__(host)

    def run(self, command: str, *, timeout: float, stdin: bytes | None = None,
            stdout=None, stderr=None) -> CommandResult:
        return run_process(["bash", "-c", command], host=self.host, command=command,
                           timeout=timeout, stdin=stdin, stdout=stdout, stderr=stderr)

    def __repr__(self) -> str:
        return f"LocalTransport({self.host!r})"


def open_transport(spec, inventory, jump=None) -> LocalTransport:
    """The registry's opener (grader.inventory.TRANSPORTS): never fails."""
    return LocalTransport(spec.role)
