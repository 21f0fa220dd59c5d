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

The output is parsed as it arrives (`Frames`, a sink for the transport): each command's
streams are kept capped, the first CHECK_HEAD and the last CHECK_TAIL bytes, and the
bytes dropped are counted, so a command that prints hundreds of MB costs a few MB.  The
frames also show progress: each command must end within its own timeout, the
watchdog's grace and STALL_MARGIN, so the stdout parser, given a clock, keeps a
deadline for the next frame marker; past it the transport gives up on a host that
stopped answering (a frozen host) instead of waiting for the whole batch's budget.

    script = build([Item(key, command, timeout), ...], nonce)
    out, err = Frames(nonce, items).watch(time.monotonic), Frames(nonce, items)
    transport.run("exec bash -s", timeout=budget(items), stdin=script, stdout=out, stderr=err)
    results = collect(out, err, items)              # key -> Framed
    results = parse(stdout, stderr, nonce, items)   # the same from whole texts
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from grader.shell import quote
from grader.transport.base import Capture

TIMEOUT_CODES = (143, 137)   # TERM at the deadline, KILL after the grace
KILL_GRACE = 2
OLD_BASH = 98                # the batch's exit code when bash lacks $EPOCHREALTIME (bash < 5)
CHECK_HEAD = 2 << 20         # per command and stream: the first 2 MiB are kept (a file check's 1 MiB fits)...
CHECK_TAIL = 256 << 10       # ...and the last 256 KiB
OUTSIDE = 64 << 10           # what the batch prints outside the frames (bash's own complaints): head and tail
STALL_MARGIN = 3.0           # seconds, on top of a command's timeout and the grace, for latency and load
MARKER_LINE = 4096           # a marker line is never longer; a longer one is output that looked like one


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
    stdout_cut: int = 0          # bytes dropped by the cap
    stderr_cut: int = 0


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
    """Time the whole batch may take before the transport gives up on it, however it
    progresses (the far side's kill too).  A host that stops answering is given up on
    much sooner: see `Frames.deadline`."""
    return sum(i.timeout + KILL_GRACE for i in items) + 15.0


def allowance(timeout: float) -> float:
    """The longest a command's frame may take, from its begin marker to its end marker."""
    return timeout + KILL_GRACE + STALL_MARGIN


class Frames:
    """A sink for one stream of a batch: parses the frames as bytes arrive.

    `frames` maps each finished command's key to (its body, a `Capture`; the end
    marker's fields), `outside` holds what came outside any frame, `current` is the key
    of the frame open now.  Once `watch(clock)` is called, `deadline` is the moment by which the next
    marker is due: the open command's allowance after its begin marker; between two
    frames, the allowance of the command due next (the batch's own work between
    commands is a few printfs); after the last, STALL_MARGIN.  The first marker is
    given `start` seconds more (the transport starting the batch on the host).
    """

    def __init__(self, nonce: str, items=(), *, head: int = CHECK_HEAD, tail: int = CHECK_TAIL):
        self._marker = f"@@{nonce}:".encode()
        self._head, self._tail = head, tail
        self._items = list(items)
        self._timeouts = {i.key: i.timeout for i in self._items}
        self._index = {i.key: n for n, i in enumerate(self._items)}
        self._buf = bytearray()
        self._body: Capture | None = None
        self._done = 0
        self._clock = None
        self.current: str | None = None
        self.frames: dict[str, tuple[Capture, str]] = {}
        self.outside = Capture(OUTSIDE, OUTSIDE)
        self.deadline: float | None = None

    def watch(self, clock, start: float = 0.0) -> "Frames":
        """Keep `deadline` from now on, by `clock` (time.monotonic)."""
        self._clock = clock
        self._expect_next()
        self.deadline += start
        return self

    def write(self, data) -> None:
        buf, marker = self._buf, self._marker
        buf += data
        while buf:
            i = buf.find(marker)
            if i < 0:
                keep = len(marker) - 1          # a marker's beginning may end the chunk
                if len(buf) > keep:
                    self._emit(buf[:len(buf) - keep])
                    del buf[:len(buf) - keep]
                return
            if i:
                self._emit(buf[:i])
                del buf[:i]
            j = buf.find(b"\n", len(marker))
            if j < 0:
                if len(buf) <= MARKER_LINE:
                    return                      # the rest of the line is still to come
                j = MARKER_LINE                 # too long for a marker: plain output
            line = bytes(buf[len(marker):j])
            if not self._marker_line(line.decode("utf-8", "replace")):
                self._emit(buf[:j + 1])
            del buf[:j + 1]

    def _marker_line(self, line: str) -> bool:
        kind, _, rest = line.partition(":")
        if kind == "B" and rest in self._timeouts:
            self.current, self._body = rest, Capture(self._head, self._tail)
            if self._clock:
                self.deadline = self._clock() + allowance(self._timeouts[rest])
            return True
        if kind == "E" and self.current is not None and rest.startswith(self.current) and \
                rest[len(self.current):len(self.current) + 1] in ("", ":"):
            self._body.drop_trailing_newline()  # the end marker begins with a newline of its own
            self.frames[self.current] = (self._body, rest[len(self.current):])
            self._done = max(self._done, self._index[self.current] + 1)
            self.current, self._body = None, None
            self._expect_next()
            return True
        return False

    def _expect_next(self) -> None:
        if self._clock:
            todo = self._items[self._done:]
            self.deadline = self._clock() + (allowance(todo[0].timeout) if todo else STALL_MARGIN)

    def _emit(self, data) -> None:
        (self._body if self._body is not None else self.outside).write(data)

    def text(self) -> str:
        """What came outside the frames (with what is still undecided when no frame is open)."""
        rest = "" if self._body is not None else bytes(self._buf).decode("utf-8", "replace")
        return self.outside.text() + rest

    @property
    def dropped(self) -> int:
        return self.outside.dropped


def collect(stdout: Frames, stderr: Frames, items: list[Item]) -> dict:
    """Framed results for the commands that finished; unfinished ones are absent."""
    done = {}
    for item in items:
        if item.key not in stdout.frames:
            continue
        body, tail = stdout.frames[item.key]
        fields = tail.lstrip(":").split(":")
        try:
            rc = int(fields[0])
            duration = max(0.0, float(fields[2].replace(",", ".")) - float(fields[1].replace(",", ".")))
        except (IndexError, ValueError):
            continue
        err = stderr.frames.get(item.key, (Capture(0, 0), ""))[0]
        timed_out = rc in TIMEOUT_CODES and duration >= item.timeout - 0.05
        done[item.key] = Framed(item.key, rc, body.text(), err.text(), duration, timed_out,
                                stdout_cut=body.dropped, stderr_cut=err.dropped)
    return done


def parse(stdout: str, stderr: str, nonce: str, items: list[Item]) -> dict:
    """`collect()` for two whole texts."""
    out, err = Frames(nonce, items), Frames(nonce, items)
    out.write(stdout.encode("utf-8", "surrogateescape"))
    err.write(stderr.encode("utf-8", "surrogateescape"))
    return collect(out, err, items)
