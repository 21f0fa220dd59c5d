"""Finding, starting, replacing and stopping a drill's holder (what grader.drill.drill calls).

    connections(home, drill, inventory, ...)  the Pool for a drill command: the holder's when
                                              it answers for this drill and inventory, else
                                              a direct one (and a holder started for next time)
    start(home, drill, ...)                   a holder in the background, detached
    stop(home)                                ask it to stop; kill one that does not answer
"""
from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import suppress
from pathlib import Path

from grader.holder import enabled, inventory_digest, log_path, socket_path, state_path
from grader.holder.transport import ask, HeldPool
from grader.procs import owner_alive
from grader.transport import Pool


def read_state(home: Path) -> dict | None:
    try:
        data = json.loads(state_path(home).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _hello(home: Path) -> tuple[dict | None, bool]:
    """(its answer or None, whether something is there that did not answer in time)."""
    import socket


    try:
        return ask(socket_path(home), "hello"), False
    except socket.timeout:
        return None, True
    except (OSError, ValueError):
        return None, False


def connections(home: Path, drill: str, inventory, *, inventory_flag=None, trust_on_first_use=False,
                start_if_missing: bool = True):
    """The pool a drill command connects through.  A holder of another drill is stopped, a dead
    or hung one cleared away; with `start_if_missing` a new one is started for the next
    command (this one connects directly: waiting for a new holder costs what connecting does)."""
    if not enabled() or not _has_ssh(inventory):
        return Pool(inventory)
    info, hung = _hello(home)
    if info is not None and info.get("drill") == drill:
        if info.get("inventory") == inventory_digest(inventory):
            return HeldPool(inventory, socket_path(home))
        return Pool(inventory)          # this command names another inventory: leave the holder be
    if info is not None or hung:
        stop(home)
    else:
        _clear_dead(home)
    if start_if_missing:
        start(home, drill, inventory, inventory_flag=inventory_flag, trust_on_first_use=trust_on_first_use)
    return Pool(inventory)


def _has_ssh(inventory) -> bool:
    return any(h.transport == "ssh" for h in inventory.hosts.values())


def start(home: Path, drill: str, inventory, *, inventory_flag=None, trust_on_first_use=False) -> None:
    """Start a holder for `drill`, detached (its own session, a child of init): this process
    neither waits for it nor leaves a zombie.  It connects to the hosts as it starts.  None for
    an inventory without ssh hosts: local and docker hosts have no connection to keep."""
    import subprocess

    if not enabled() or not _has_ssh(inventory):
        return
    home = Path(home)
    argv = [sys.executable, "-m", "grader.holder.server", "--home", str(home.resolve()), "--drill", drill]
    if inventory_flag:
        argv += ["--inventory", str(inventory_flag)]
    if trust_on_first_use:
        argv.append("--trust-on-first-use")
    home.mkdir(parents=True, exist_ok=True)
    with suppress(OSError, subprocess.SubprocessError), open(os.devnull, "rb") as null, \
            open(log_path(home), "ab") as log:
        # sh starts it in the background and exits at once: the holder is reparented
        subprocess.run(["/bin/sh", "-c", '"$@" &', "sh", *argv], stdin=null, stdout=log, stderr=log,
                       start_new_session=True, close_fds=True, timeout=10, check=False)


STOP_WAIT = 2.0         # seconds a holder asked to stop has to end before it is killed


def stop(home: Path) -> None:
    """Stop the holder and return once it has ended: asked to stop, it ends within moments;
    one that does not answer or end, and is still the process its state file names (PID and
    start time), is killed."""
    import time


    state = read_state(home)
    if not socket_path(home).exists() and state is None:
        return
    pid = state.get("pid") if state else None
    live = isinstance(pid, int) and pid > 0 and owner_alive(pid, state.get("pid_started"))
    try:
        ask(socket_path(home), "stop")
    except (OSError, ValueError):
        pass
    else:
        end = time.monotonic() + STOP_WAIT
        while live and owner_alive(pid, state.get("pid_started")) and time.monotonic() < end:
            time.sleep(0.02)
    if live and owner_alive(pid, state.get("pid_started")):
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)   # it does not answer or end: nothing it does can be trusted
    _clear_dead(home)


def _clear_dead(home: Path) -> None:
    """Remove the socket and state a killed holder left, once no live holder owns them."""

    state = read_state(home)
    pid = state.get("pid") if state else None
    if isinstance(pid, int) and pid > 0 and owner_alive(pid, state.get("pid_started")):
        return
    for path in (socket_path(home), state_path(home)):
        with suppress(OSError):
            path.unlink()


def alive(home: Path) -> dict | None:
    """The state of the holder that answers hello now, or None (for `drill status` and tests)."""
    info, _ = _hello(home)
    return info


def for_drill(store, session, inventory, inventory_flag=None, *, start_if_missing: bool = True):
    """`connections()` for a drill command, with the inventory the drill's commands resolve."""
    return connections(store.home, session.id, inventory, inventory_flag=inventory_flag or session.inventory,
                       trust_on_first_use=session.trust_on_first_use, start_if_missing=start_if_missing)
