"""`grader check` handed to the check holder, `grader drill check` to the drill's holder: the
client side, run before the command line is parsed (grader.cli.main), so that a handed-over
run imports next to nothing.

    code = check(home, argv)    # the exit code of the run the holder made, its output printed;
                                # None: run it here (no holder, a stale, hung or dead one: stopped
                                # or cleared away, and the command starts a new one)

The holder answers at once with an h frame (whether it serves this run: the same grader
code and environment), then runs the command line and sends its output and exit code.  A
holder that goes away before the end makes the run start again here: checks only read.
"""
from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import grader.holder as holders
from grader import __version__
from grader.holder import (CHECK_SLOT, DRILL_SLOT, check_persist, code_digest, enabled, env_digest, open_socket,
                           socket_path, wire)

ANSWER_WAIT = 1.0       # seconds for the holder's first answer; a busy holder answers at once too
CHUNK = 65536


def check(home: Path, argv: list[str]) -> int | None:
    drill = argv[:1] == ["drill"]
    if holders.serving is not None or not enabled() or (not drill and check_persist() <= 0) \
            or os.environ.get("GRADER_DEBUG"):
        return None         # in the holder itself, no holder wanted, or the debug log wanted here
    slot = DRILL_SLOT if drill else CHECK_SLOT
    try:
        sock = open_socket(socket_path(home, slot), ANSWER_WAIT)
    except FileNotFoundError:
        return None
    except OSError:         # a socket nobody listens on: a killed holder's
        _replace(home, slot, stop=False)
        return None
    code, stale, hung, out, err = _run(sock, argv, "drill" if drill else "check")
    if stale or hung:
        _replace(home, slot, stop=True)
    if code is not None:        # printed here, outside the hand-over: a closed pipe is the command's own
        _write(sys.stdout, out)
        _write(sys.stderr, err)
    return code


def _request(argv) -> bytes:
    import shutil

    mask = os.umask(0o022)
    os.umask(mask)
    tty = [sys.stdout.isatty(), sys.stderr.isatty()]
    size = list(shutil.get_terminal_size()) if tty[0] or os.environ.get("COLUMNS") else None
    return wire.request("check", argv=list(argv), cwd=os.getcwd(), umask=mask, tty=tty, size=size,
                        code=code_digest(), env=env_digest(os.environ))


def _run(sock, argv, holder_kind: str = "check"):
    """(exit code or None, whether the holder is stale, whether it did not answer in time,
    stdout, stderr); a busy holder is not stale: the command runs itself."""
    frames, out, err = wire.Frames(), b"", b""
    with sock:
        try:
            request = _request(argv)
        except (OSError, AttributeError, ValueError):   # no working folder, no stdout: run it here
            return None, False, False, out, err
        try:
            sock.sendall(request)
            while True:
                data = sock.recv(CHUNK)
                if not data:        # it went away before the end: run here
                    return None, False, False, out, err
                for kind, payload in frames.feed(data):
                    if kind == wire.HELLO:
                        answer = json.loads(payload)
                        if answer.get("why") == "busy":
                            return None, False, False, out, err
                        if answer.get("kind") != holder_kind or answer.get("version") != __version__ \
                                or not answer.get("serving"):
                            return None, True, False, out, err
                        sock.settimeout(None)       # it runs the checks now: as long as they take
                    elif kind == wire.STDOUT:
                        out = payload
                    elif kind == wire.STDERR:
                        err = payload
                    elif kind == wire.EXIT:
                        return int(json.loads(payload)["code"]), False, False, out, err
        except socket.timeout:
            return None, False, True, b"", b""
        except (OSError, ValueError, KeyError, TypeError):
            return None, False, False, b"", b""


def _write(stream, data: bytes) -> None:
    if data:
        stream.write(data.decode("utf-8", "surrogateescape"))
        stream.flush()


def _replace(home: Path, slot: str, *, stop: bool) -> None:
    from grader.holder import control

    if stop:
        control.stop(home, slot)
    else:
        control.clear_dead(home, slot)
