"""Finding, starting, replacing and stopping holders (what grader.drill.drill and `grader
check` call).

    connections(home, drill, inventory, ...)  the Pool for a drill command: the holder's when
                                              it answers for this drill and inventory, else
                                              a direct one (and a holder started for next time)
    check_pool(inventory)                     the pool `grader check` grades with (in a check
                                              holder, its own connections)
    after_check(home, inventory, ...)         a check holder started after a run that had none
                                              (handing a run over to it: grader.holder.handover)
    start(home, drill, ...)                   a holder in the background, detached
    stop(home, slot)                          ask it to stop; kill one that does not answer
"""
from __future__ import annotations

import json
import os
import signal
import sys
from contextlib import suppress
from pathlib import Path

from grader import __version__
import grader.holder as holders
from grader.holder import DRILL_SLOT, check_persist, enabled, inventory_digest, log_path, socket_path, state_path
from grader.holder.transport import ask, HeldPool
from grader.procs import owner_alive
from grader.transport import Pool


def read_state(home: Path, slot: str = DRILL_SLOT) -> dict | None:
    try:
        data = json.loads(state_path(home, slot).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _hello(home: Path, slot: str = DRILL_SLOT) -> tuple[dict | None, bool]:
    """(its answer or None, whether something is there that did not answer in time)."""
    import socket

    try:
        return ask(socket_path(home, slot), "hello"), False
    except socket.timeout:
        return None, True
    except (OSError, ValueError):
        return None, False


def connections(home: Path, drill: str, inventory, *, inventory_flag=None, trust_on_first_use=False,
                start_if_missing: bool = True):
    """The pool a drill command connects through.  A holder of another drill is stopped, a dead
    or hung one cleared away; with `start_if_missing` a new one is started for the next
    command (this one connects directly: waiting for a new holder costs what connecting does)."""
    if holders.serving is not None:         # a `drill check` this drill's holder runs: its own connections
        own = holders.serving.drill_pool(drill, inventory)
        return _Borrowed(own) if own is not None else Pool(inventory)
    if not enabled() or not _has_ssh(inventory):
        return Pool(inventory)
    info, hung = _hello(home)
    if info is not None and info.get("drill") == drill and info.get("version") == __version__:
        if info.get("inventory") == inventory_digest(inventory):
            return HeldPool(inventory, socket_path(home))
        return Pool(inventory)          # this command names another inventory: leave the holder be
    if info is not None or hung:
        stop(home)
    else:
        clear_dead(home)
    if start_if_missing:
        start(home, drill, inventory, inventory_flag=inventory_flag, trust_on_first_use=trust_on_first_use)
    return Pool(inventory)


def check_pool(inventory):
    """The pool `grader check` grades with: in a check holder, the holder's own connections for
    this inventory (closing what this returns leaves them open); else new ones."""
    if holders.serving is not None:
        return _Borrowed(holders.serving.pool_for(inventory))
    return Pool(inventory)


def after_check(home: Path, inventory, *, inventory_flag=None, trust_on_first_use=False) -> None:
    """After a `grader check` that ran in its own process: start a check holder for the next
    runs (none in a holder, when turned off, or for an inventory without ssh hosts)."""
    if holders.serving is None and check_persist() > 0:
        start(home, None, inventory, inventory_flag=inventory_flag, trust_on_first_use=trust_on_first_use)


class _Borrowed:
    """A holder's pool as a handed-over run sees it: closing it keeps the connections."""

    def __init__(self, pool):
        self._pool = pool

    def get(self, role: str):
        return self._pool.get(role)

    def warm(self, roles) -> None:
        self._pool.warm(roles)

    def opened(self) -> list[str]:
        return self._pool.opened()

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _has_ssh(inventory) -> bool:
    return any(h.transport == "ssh" for h in inventory.hosts.values())


def start(home: Path, drill: str | None, inventory, *, inventory_flag=None, trust_on_first_use=False) -> None:
    """Start a holder for `drill` (None: a check holder for `inventory`), detached (its own
    session, a child of init): this process neither waits for it nor leaves a zombie.  It
    connects to the hosts as it starts.  None for an inventory without ssh hosts: local and
    docker hosts have no connection to keep."""
    import subprocess

    if not enabled() or not _has_ssh(inventory):
        return
    home = Path(home)
    whose = ["--drill", drill] if drill is not None else ["--check"]
    argv = [sys.executable, "-m", "grader.holder.server", "--home", str(home.resolve()), *whose]
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


def stop(home: Path, slot: str = DRILL_SLOT) -> None:
    """Stop the holder and return once it has ended: asked to stop, it ends within moments;
    one that does not answer or end, and is still the process its state file names (PID and
    start time), is killed."""
    import time

    state = read_state(home, slot)
    if not socket_path(home, slot).exists() and state is None:
        return
    pid = state.get("pid") if state else None
    live = isinstance(pid, int) and pid > 0 and owner_alive(pid, state.get("pid_started"))
    try:
        ask(socket_path(home, slot), "stop")
    except (OSError, ValueError):
        pass
    else:
        end = time.monotonic() + STOP_WAIT
        while live and owner_alive(pid, state.get("pid_started")) and time.monotonic() < end:
            time.sleep(0.02)
    if live and owner_alive(pid, state.get("pid_started")):
        with suppress(OSError):
            os.kill(pid, signal.SIGKILL)   # it does not answer or end: nothing it does can be trusted
    clear_dead(home, slot)


def clear_dead(home: Path, slot: str = DRILL_SLOT) -> None:
    """Remove the socket and state a killed holder left, once no live holder owns them."""
    state = read_state(home, slot)
    pid = state.get("pid") if state else None
    if isinstance(pid, int) and pid > 0 and owner_alive(pid, state.get("pid_started")):
        return
    for path in (socket_path(home, slot), state_path(home, slot)):
        with suppress(OSError):
            path.unlink()


def alive(home: Path, slot: str = DRILL_SLOT) -> dict | None:
    """The state of the holder that answers hello now, or None (for `drill status` and tests)."""
    info, _ = _hello(home, slot)
    return info


def for_drill(store, session, inventory, inventory_flag=None, *, start_if_missing: bool = True):
    """`connections()` for a drill command, with the inventory the drill's commands resolve."""
    return connections(store.home, session.id, inventory, inventory_flag=inventory_flag or session.inventory,
                       trust_on_first_use=session.trust_on_first_use, start_if_missing=start_if_missing)
