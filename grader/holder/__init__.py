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

`grader check` outside drills has a holder too (like ControlPersist, and like a build
daemon): a run that finds none checks directly, then starts a *check holder* (one per home:
check.sock, check.json, check.lock); the next runs hand their command line to it before
they even parse it (`handover`), and it runs the same `grader check` code in its already
started interpreter, in the command's folder and umask, one at a time, over connections it
keeps per inventory, and sends back the output and the exit code.  A run is handed over
only to a holder of the same grader code (every file of the package, `code_digest`) and
environment (`env_digest`); any other is stopped and replaced.  Connections whose inventory
file, key or known_hosts file has changed or gone (`files_fingerprint`: a new lab, `grader
lab down`) are closed and opened afresh.  It exits after GRADER_CHECK_PERSIST seconds
without a request (default 300; 0 = no check holder), and like the drill's on `stop`,
SIGTERM or a removed socket.  `drill check` is handed to the drill's holder the same way
(it runs the command line over the drill's own connections); a busy holder says so and the
command runs itself.

`wire` is the protocol, `server` the process, `transport` the client side (a Pool whose
transports run commands through the holder), `control` finding, starting and stopping it,
`handover` handing a command line over, `checks` what a holder does with one.
"""
from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

ENV = "GRADER_HOLDER"
IDLE_ENV = "GRADER_HOLDER_IDLE"
IDLE = 900.0            # seconds without a request before the drill's holder exits
CHECK_ENV = "GRADER_CHECK_PERSIST"
CHECK_IDLE = 300.0      # the same for a check holder
LOG_MAX = 256 << 10     # holder.log is cut to its last half past this size
SUN_PATH_MAX = 100      # bytes; AF_UNIX paths hold 107
BUILT_IN = "built-in killercoda layout"      # grader.inventory.Inventory.source when no file is used
DRILL_SLOT = "holder"   # the drill's holder files are holder.sock, holder.json, holder.lock
CHECK_SLOT = "check"    # the check holder's, check.sock, check.json, check.lock
serving = None          # in a holder: its grader.holder.checks.Checks, what handed-over runs use


def enabled() -> bool:
    return os.environ.get(ENV, "").lower() not in ("off", "0", "no", "false")


def _seconds(env: str, default: float, floor: float) -> float:
    try:
        value = float(os.environ.get(env, default))
    except ValueError:
        return default
    return max(floor, value) if value == value else default     # NaN: the default


def idle_timeout() -> float:
    return _seconds(IDLE_ENV, IDLE, 1.0)


def check_persist() -> float:
    """Seconds a check holder stays without a request; 0: `grader check` starts none."""
    raw = os.environ.get(CHECK_ENV, "").strip().lower()
    if raw in ("off", "no", "false"):
        return 0.0
    return _seconds(CHECK_ENV, CHECK_IDLE, 0.0)


def socket_path(home: Path, slot: str = DRILL_SLOT) -> Path:
    path = Path(home) / f"{slot}.sock"
    if len(os.fsencode(str(path))) <= SUN_PATH_MAX:
        return path
    where = os.fsencode(str(Path(home).resolve()))
    if slot != DRILL_SLOT:
        where += b"\0" + slot.encode()
    digest = hashlib.sha256(where).hexdigest()[:16]
    return Path("/tmp") / f"grader-{os.getuid()}" / f"{slot}-{digest}.sock"


def state_path(home: Path, slot: str = DRILL_SLOT) -> Path:
    return Path(home) / f"{slot}.json"


def lock_path(home: Path, slot: str = DRILL_SLOT) -> Path:
    return Path(home) / f"{slot}.lock"


def log_path(home: Path) -> Path:
    return Path(home) / "holder.log"


def inventory_digest(inventory) -> str:
    """Which inventory a holder connects with: every field of every host, the source too."""
    return hashlib.sha256(repr(inventory).encode()).hexdigest()[:32]


def inventory_files(inventory) -> list[str]:
    """The files a holder's connections depend on, as absolute paths (from the working folder
    now): the inventory file and each ssh host's key and known_hosts (the defaults under ~/.ssh
    when the inventory names none)."""
    paths = [] if inventory.source == BUILT_IN else [inventory.source]
    for spec in inventory.hosts.values():
        if spec.transport == "ssh":
            paths += [spec.key] if spec.key else [f"~/.ssh/id_{kind}" for kind in ("ed25519", "ecdsa", "rsa")]
            paths.append(spec.known_hosts or "~/.ssh/known_hosts")
    return list(dict.fromkeys(os.path.abspath(os.path.expanduser(p)) for p in paths))


def files_fingerprint(paths) -> str:
    """A digest of what these files (`inventory_files`) are now (inode, size, mtime; or missing):
    connections opened before a file changed (a new lab, a new key) are stale."""
    seen = []
    for path in paths:
        try:
            st = os.stat(path)
            seen.append((path, st.st_ino, st.st_size, st.st_mtime_ns))
        except OSError:
            seen.append((path, None))
    return hashlib.sha256(repr(seen).encode()).hexdigest()[:32]


# what a shell changes between two commands, or one terminal's session has and another's not:
# none of it changes what `grader check` does (the terminal's size is sent with each run)
VOLATILE_ENV = frozenset({"_", "PWD", "OLDPWD", "SHLVL", "COLUMNS", "LINES", "SSH_CLIENT", "SSH_CONNECTION",
                          "SSH_TTY", "TMUX_PANE", "WINDOWID", "STY", "TERM_SESSION_ID", "XDG_SESSION_ID"})


def env_digest(environ) -> str:
    """The environment a check holder runs `grader check` in must be the command's own."""
    items = sorted((k, v) for k, v in environ.items() if k not in VOLATILE_ENV)
    return hashlib.sha256(repr(items).encode()).hexdigest()[:32]


def code_digest() -> str:
    """Which grader a holder runs: the interpreter, its site-packages folder (whose mtime moves
    when a package is installed, upgraded or removed) and every file of the package (path, size,
    mtime), so that an edited or upgraded grader is never served by a holder started before."""
    import sys

    root = Path(__file__).resolve().parent.parent
    site = os.path.join(sys.prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}", "site-packages")
    seen = [str(root), sys.executable, sys.version]
    try:
        st = os.stat(site)
        seen.append(f"{site}:{st.st_mtime_ns}")
    except OSError:
        pass
    for top, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            try:
                st = os.stat(os.path.join(top, name))
            except OSError:
                continue
            seen.append(f"{top}/{name}:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.sha256("\n".join(seen).encode()).hexdigest()[:32]


def open_socket(path, timeout: float) -> socket.socket:
    """A connection to the holder at `path`; OSError when nobody listens there or the one who
    does is not this user (whatever another user would answer is never believed)."""
    import struct

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(str(path))
        uid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[1]
        if uid != os.getuid():
            raise PermissionError(f"{path}: served by uid {uid}, not this user")
    except BaseException:
        sock.close()
        raise
    return sock
