"""The holder's wire format, both ends: a request line, then frames.  Pure: bytes in, bytes out.

A client sends one JSON line (`request()`), then for `run` the stdin bytes it announced.
The holder answers with frames, each a kind byte, a 4-byte big-endian length and the
payload:

    o  stdout bytes, as they arrive        e  stderr bytes, as they arrive
    x  the command exited: {"code": N}     r  the transport raised: an `error_json()` object
    h  an answer to hello or stop: {"kind", "drill", "inventory", "files", "pid", "version"};
       to check, at once: the same and "serving" (false: this holder will not run it)

`check` hands over a `grader check` (to a check holder) or `grader drill check` (to the
drill's) command line: {"argv", "cwd", "umask", "tty": [stdout is a tty, stderr is a tty],
"size": [columns, lines] or null, "code", "env"}; the answer is an h frame with "serving"
and "why" ("busy", or why it is stale), then (when serving) one o and one e frame with the
command's whole output and an x frame with its exit code.

Exceptions cross as their class name and constructor fields, and are raised again on the
client with its own copy of the partial output (`raise_error()`), so a caller sees what a
direct transport would have raised.
"""
from __future__ import annotations

import json
import struct

from grader.errors import AuthError, CommandTimedOut, ConnectError, ConnectionLost, HostKeyError, HostStalled

HEAD = struct.Struct(">cI")
MAX_LINE = 1 << 20                  # a request line longer than this is refused
MAX_FRAME = 64 << 20
STDOUT, STDERR, EXIT, RAISED, HELLO = b"o", b"e", b"x", b"r", b"h"
_SIMPLE = {c.__name__: c for c in (ConnectError, AuthError, HostKeyError)}


def request(op: str, **fields) -> bytes:
    return (json.dumps({"op": op, **fields}, separators=(",", ":")) + "\n").encode()


def parse_request(line: bytes) -> dict:
    """The request a line holds; ValueError when it is not one."""
    data = json.loads(line.decode())
    if not isinstance(data, dict) or not isinstance(data.get("op"), str):
        raise ValueError("not a request")
    return data


def frame(kind: bytes, payload: bytes) -> bytes:
    return HEAD.pack(kind, len(payload)) + payload


def json_frame(kind: bytes, data: dict) -> bytes:
    return frame(kind, json.dumps(data, separators=(",", ":")).encode())


class Frames:
    """Cuts a byte stream into (kind, payload) frames, whatever the chunks it is fed."""

    def __init__(self):
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self._buf += data
        out = []
        while len(self._buf) >= HEAD.size:
            kind, size = HEAD.unpack_from(self._buf)
            if size > MAX_FRAME:
                raise ValueError(f"a frame of {size} bytes")
            if len(self._buf) < HEAD.size + size:
                break
            out.append((kind, bytes(self._buf[HEAD.size:HEAD.size + size])))
            del self._buf[:HEAD.size + size]
        return out


def _bare(exc) -> str:
    """A TransportError's message without the 'host H: ' and ' (hint)' its text adds."""
    text = exc.message
    prefix = f"host {exc.host}: "
    text = text[len(prefix):] if text.startswith(prefix) else text
    suffix = f" ({exc.hint})" if exc.hint else ""
    return text[:-len(suffix)] if suffix and text.endswith(suffix) else text


def error_json(exc) -> dict:
    """What the client needs to raise `exc` again (a TransportError; anything else becomes
    ConnectionLost, since the command may or may not have run)."""
    name = type(exc).__name__
    if isinstance(exc, CommandTimedOut):
        return {"type": name, "host": exc.host, "command": exc.command, "timeout": exc.timeout}
    if isinstance(exc, HostStalled):
        return {"type": name, "host": exc.host, "command": exc.command}
    if isinstance(exc, ConnectionLost):
        return {"type": name, "host": exc.host, "message": _bare(exc), "hint": exc.hint,
                "partial": exc.partial is not None}
    if name in _SIMPLE and type(exc) is _SIMPLE[name]:
        return {"type": name, "host": exc.host, "message": _bare(exc), "hint": exc.hint}
    return {"type": "ConnectionLost", "host": getattr(exc, "host", "?"), "partial": True,
            "message": f"grader's connection holder failed: {type(exc).__name__}: {exc}", "hint": ""}


def raise_error(data: dict, partial):
    """Raise the exception `error_json()` described, with `partial` (this side's output so far)."""
    kind, host = data.get("type"), str(data.get("host", "?"))
    if kind == "CommandTimedOut":
        raise CommandTimedOut(host, str(data["command"]), float(data["timeout"]), partial=partial)
    if kind == "HostStalled":
        raise HostStalled(host, str(data["command"]), partial=partial)
    if kind in _SIMPLE:
        raise _SIMPLE[kind](host, str(data.get("message", "")), hint=str(data.get("hint", "")))
    raise ConnectionLost(host, str(data.get("message", "the connection holder failed")),
                         partial=partial if data.get("partial", True) else None, hint=str(data.get("hint", "")))
