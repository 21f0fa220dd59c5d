"""The drill's connection holder: one small process per running drill that keeps its SSH
connections open, so `drill check`, `begin`, `grade` and `abort` pay no handshake and no
paramiko import (like OpenSSH's ControlMaster, for grader).

    drill start   spawns it (after the setups, in the background)
    drill check / begin   use it; a holder that is missing, dead, hung or of another drill
                  is replaced (the command itself connects directly that once)
    drill grade / abort   use it if it answers, then stop it

It never outlives its drill: it exits when drill.json is gone, names another drill or says
graded; after IDLE seconds without a request (GRADER_HOLDER_IDLE); when its socket is
removed or replaced; on SIGTERM and on `stop`.  A killed holder leaves a socket nobody
listens on: the next command finds it dead and starts another.  GRADER_HOLDER=off: no
holder is used or started.

Files (in the grader home, private to the user):
    holder.sock   its Unix socket (mode 0600; a peer of another uid is refused); when the
                  home's path is too long for a socket, /tmp/grader-UID/holder-DIGEST.sock
    holder.json   pid, its start time, drill id, inventory digest, socket (written after bind)
    holder.lock   held (flock) for the holder's whole life: one holder per home
    holder.log    what it did (start, stop and why, each request), cut when over LOG_MAX

`wire` is the protocol, `server` the process, `transport` the client side (a Pool whose
transports run commands through the holder), `control` finding, starting and stopping it.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

ENV = "GRADER_HOLDER"
IDLE_ENV = "GRADER_HOLDER_IDLE"
IDLE = 900.0            # seconds without a request before the holder exits
LOG_MAX = 256 << 10     # holder.log is cut to its last half past this size
SUN_PATH_MAX = 100      # bytes; AF_UNIX paths hold 107


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() not in ("off", "0", "no", "false")


def idle_timeout() -> float:
    try:
        return max(1.0, float(os.environ.get(IDLE_ENV, IDLE)))
    except ValueError:
        return IDLE


def socket_path(home: Path) -> Path:
    path = Path(home) / "holder.sock"
    if len(os.fsencode(str(path))) <= SUN_PATH_MAX:
        return path
    digest = hashlib.sha256(os.fsencode(str(Path(home).resolve()))).hexdigest()[:16]
    return Path("/tmp") / f"grader-{os.getuid()}" / f"holder-{digest}.sock"


def state_path(home: Path) -> Path:
    return Path(home) / "holder.json"


def lock_path(home: Path) -> Path:
    return Path(home) / "holder.lock"


def log_path(home: Path) -> Path:
    return Path(home) / "holder.log"


def inventory_digest(inventory) -> str:
    """Which inventory a holder connects with: every field of every host, the source too."""
    return hashlib.sha256(repr(inventory).encode()).hexdigest()[:32]
