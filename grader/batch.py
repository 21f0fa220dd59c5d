"""Many commands in one round trip: a generated bash script and its framed output.  Pure.

Each command runs exactly as it would alone: `timeout -k 2 T bash -c CMD </dev/null`
in the login folder, its stdout and stderr kept apart.  Around each command the script
prints a frame marker carrying a random nonce on both streams, so the output of one
command can never be mistaken for the frame of another.  Durations come from bash's
$EPOCHREALTIME (no extra process per command).

    script = build([Item(key, command, timeout), ...], nonce)
    results = parse(stdout, stderr, nonce, items, host)   # key -> Framed
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from grader.transport.base import quote

TIMEOUT_CODES = (124, 137)   # coreutils timeout: TERM sent (124), KILL after the grace (137)
KILL_GRACE = 2


@dataclass(frozen=True)
class Item:
    key: str
    command: str
    timeout: float


@dataclass(frozen=True)
class Framed:
    key: str
    exit_code: int
    stdout: str
    stderr: str
    duration: float
    timed_out: bool


def new_nonce() -> str:
    return secrets.token_hex(12)


PRELUDE = r"""cd ~ 2>/dev/null || cd /
_g() {
  local s=$EPOCHREALTIME rc
  printf '@@%s:B:%s\n' "$N" "$1"; printf '@@%s:B:%s\n' "$N" "$1" >&2
  timeout -k %GRACE% "$2" bash -c "$3" </dev/null
  rc=$?
  printf '\n@@%s:E:%s:%s:%s:%s\n' "$N" "$1" "$rc" "$s" "$EPOCHREALTIME"; printf '\n@@%s:E:%s\n' "$N" "$1" >&2
}
"""


def build(items: list[Item], nonce: str) -> str:
    lines = [f"N={nonce}", PRELUDE.replace("%GRACE%", str(KILL_GRACE))]
    for item in items:
        lines.append(f"_g {quote(item.key)} {item.timeout:g} {quote(item.command)}")
    lines.append("exit 0")
    return "\n".join(lines) + "\n"


def budget(items: list[Item]) -> float:
    """Time the whole batch may take before the transport gives up on it."""
    return sum(i.timeout + KILL_GRACE for i in items) + 15.0


def _sections(text: str, nonce: str) -> dict:
    """key -> (body, end-fields) for every complete frame in one stream."""
    out = {}
    pattern = re.compile(rf"@@{nonce}:B:(?P<key>[^\n]*)\n(?P<body>.*?)\n@@{nonce}:E:(?P=key)(?P<tail>[^\n]*)\n",
                         re.DOTALL)
    for m in pattern.finditer(text):
        out[m.group("key")] = (m.group("body"), m.group("tail"))
    return out


def parse(stdout: str, stderr: str, nonce: str, items: list[Item]) -> dict:
    """Framed results for the commands that finished; unfinished ones are absent."""
    outs, errs = _sections(stdout, nonce), _sections(stderr, nonce)
    done = {}
    for item in items:
        if item.key not in outs:
            continue
        body, tail = outs[item.key]
        fields = tail.lstrip(":").split(":")
        try:
            rc = int(fields[0])
            duration = max(0.0, float(fields[2].replace(",", ".")) - float(fields[1].replace(",", ".")))
        except (IndexError, ValueError):
            continue
        err = errs.get(item.key, ("", ""))[0]
        timed_out = rc in TIMEOUT_CODES and duration >= item.timeout - 0.05
        done[item.key] = Framed(item.key, rc, body, err, duration, timed_out)
    return done
