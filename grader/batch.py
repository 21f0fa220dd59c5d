"""Many commands in one round trip: a generated bash script and its framed output.  Pure.

Each command runs as it would alone in a fresh shell: in a subshell of the batch
(`( eval CMD )`, a fork, no exec) with stdin from /dev/null, in the login folder, with
the batch's own variables and functions removed, job control off, its stdout and stderr
kept apart; whatever it leaves running in its process group is killed when it ends.
Every command has its own timeout: a watchdog (one bash coprocess per
batch, fed through its pipe, no process per command) sends TERM to the command's whole
process group at its deadline and KILL two seconds later.  Around each command the
script prints a frame marker carrying a random nonce on both streams, so the output of
one command can never be mistaken for the frame of another.  Durations come from bash's
$EPOCHREALTIME.  The script is read by `bash -s`: no temporary file, and the batch
starts no program of its own.  Known differences from `bash -c CMD`: `$$` is the
batch's PID and `$-` shows `s`.

    script = build([Item(key, command, timeout), ...], nonce)
    results = parse(stdout, stderr, nonce, items)   # key -> Framed
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from grader.transport.base import quote

TIMEOUT_CODES = (143, 137)   # TERM at the deadline, KILL after the grace
KILL_GRACE = 2
OLD_BASH = 98                # the batch's exit code when bash lacks $EPOCHREALTIME (bash < 5)


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


PRELUDE = r"""[ -n "${EPOCHREALTIME-}" ] || { echo "grader: bash 5.0 or newer is needed on this host (it has bash ${BASH_VERSION-?})" >&2; exit %OLDBASH%; }
exec 3>&2 2>/dev/null
cd ~ 2>/dev/null || cd /
set -m
__gw() {
  local pid=0 dl=0 now np nd
  while kill -0 "$$"; do
    if read -r -t 0.05 np nd; then
      [ "$np" = stop ] && return
      pid=$np dl=$nd
      continue
    fi
    [ "$pid" = 0 ] && continue
    now=${EPOCHREALTIME/[.,]/}
    if (( now > dl )); then
      kill -TERM -- "-$pid"
      (( now > dl + %GRACE%000000 )) && kill -KILL -- "-$pid"
    fi
  done
  [ "$pid" = 0 ] || kill -KILL -- "-$pid"
}
coproc __GW { __gw >/dev/null; }
__gwfd=${__GW[1]} __grfd=${__GW[0]}
_g() {
  local __gs=$EPOCHREALTIME __grc __gp
  printf '@@%s:B:%s\n' "$__gn" "$1"; printf '@@%s:B:%s\n' "$__gn" "$1" >&3
  ( set +m; __gc=$3; set --; unset -f _g __gw; exec 2>&3 3>&- {__gwfd}>&- {__grfd}<&-
    unset __gn __gs __grc __gp __GW __GW_PID __gwfd __grfd; eval "$__gc" ) </dev/null &
  __gp=$!
  printf '%s %s\n' "$__gp" "$(( ${__gs/[.,]/} + $2 ))" >&"$__gwfd"
  wait "$__gp"; __grc=$?
  kill -KILL -- "-$__gp"
  printf '0 0\n' >&"$__gwfd"
  printf '\n@@%s:E:%s:%s:%s:%s\n' "$__gn" "$1" "$__grc" "$__gs" "$EPOCHREALTIME"
  printf '\n@@%s:E:%s\n' "$__gn" "$1" >&3
}
"""
EPILOGUE = 'printf \'stop 0\\n\' >&"$__gwfd"; wait "$__GW_PID"; exit 0'


def build(items: list[Item], nonce: str) -> str:
    lines = [f"__gn={nonce}", PRELUDE.replace("%GRACE%", str(KILL_GRACE)).replace("%OLDBASH%", str(OLD_BASH))]
    for item in items:
        lines.append(f"_g {quote(item.key)} {int(item.timeout * 1_000_000)} {quote(item.command)}")
    lines.append(EPILOGUE)
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
