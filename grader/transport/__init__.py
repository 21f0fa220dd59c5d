"""How grader reaches hosts: `connect()` opens one transport for one host, `Pool`
keeps one per role for a whole run.

    with Pool(inventory) as pool:
        result = pool.get("node01").run("systemctl is-active kubelet", timeout=10)

Transports (all implement `grader.transport.base.Transport`; the registry, name -> the
function that opens one, is `grader.inventory.TRANSPORTS`):
  local   this machine, through a subprocess            (grader.transport.local)
  ssh     paramiko, one persistent connection per host  (grader.transport.ssh)
  docker  `docker exec` into a container                (grader.transport.docker)

paramiko is imported only when an ssh host is connected, so importing this package
stays cheap.  Errors are the TransportError family of `grader.errors`.
"""
from __future__ import annotations

import importlib
import threading

from grader.errors import InventoryError
from grader.inventory import TRANSPORTS, HostSpec, Inventory, check_jump_chain
from grader.shell import quote
from grader.transport.base import CommandResult, Transport

__all__ = ["CommandResult", "Pool", "Transport", "connect", "quote"]


def connect(spec: HostSpec, inventory: Inventory, *, jump: Transport | None = None) -> Transport:
    """Open a transport to the host `spec` describes.

    ssh connects now (raising ConnectError, HostKeyError or AuthError at once);
    docker checks now that the daemon answers and the container runs; local never
    fails here.  For an ssh host with `spec.jump`, `jump` is the already-open
    transport of that jump host to reuse; without it, one is opened here and
    closed together with the returned transport.
    """
    check_jump_chain(inventory, spec)
    target = TRANSPORTS.get(spec.transport)
    if target is None:
        raise InventoryError(f"{inventory.source}: hosts.{spec.role}.transport: unknown transport '{spec.transport}'")
    module, _, function = target.partition(":")
    # imported when a host uses it: paramiko only for ssh hosts, so the CLI starts fast
    return getattr(importlib.import_module(module), function)(spec, inventory, jump)


class Pool:
    """One transport per host role, opened on first use and shared by all threads.

    `get()` is thread-safe: concurrent calls for the same role wait for one
    connection; different roles connect in parallel.  A jump host is opened
    through the pool too, so its connection is shared.  A failed connect is not
    cached: the next `get()` tries again.  `warm(roles)` connects in background
    threads right away (the handshakes, and the host's own set-up after the login,
    overlap what the caller does meanwhile); a `get()` waits for a connect under way,
    and a failed background connect is raised by the next `get()` of that role, once
    (so a host that is down costs one connect timeout, not two).  `close()` closes
    every transport (dependents before their jump hosts); call it once the work is done.
    """

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        self._lock = threading.Lock()
        self._role_locks: dict[str, threading.Lock] = {}
        self._open: dict[str, Transport] = {}  # in opening order
        self._failed: dict[str, BaseException] = {}   # a background connect's error, for the next get()

    def get(self, role: str) -> Transport:
        return self._get(role, remember=False)

    def warm(self, roles) -> None:
        """Start connecting to these hosts (those not open yet) in the background.  Their
        transports' modules (the ssh one imports paramiko) are imported here first, so that
        the threads go straight to the network instead of sharing the interpreter with the
        caller's work while they import."""
        roles = [r for r in dict.fromkeys(roles) if r in self.inventory.hosts and r not in self._open]
        for name in dict.fromkeys(self.inventory.hosts[r].transport for r in roles):
            importlib.import_module(TRANSPORTS[name].partition(":")[0])
        for role in roles:
            threading.Thread(target=self._warm, args=(role,), daemon=True, name=f"grader-warm-{role}").start()

    def _warm(self, role: str) -> None:
        try:
            self._get(role, remember=True)
        except Exception:   # kept in _failed for the next get()
            pass

    def _get(self, role: str, *, remember: bool) -> Transport:
        spec = self.inventory.host(role)
        with self._lock:
            if role in self._open:
                return self._open[role]
            role_lock = self._role_locks.setdefault(role, threading.Lock())
        with role_lock:
            with self._lock:
                if role in self._open:
                    return self._open[role]
                failed = self._failed.pop(role, None)
            if failed is not None and not remember:
                raise failed
            check_jump_chain(self.inventory, spec)  # before recursing: a loop would deadlock
            try:
                jump = self.get(spec.jump) if spec.transport == "ssh" and spec.jump else None
                transport = connect(spec, self.inventory, jump=jump)
            except Exception as exc:
                if remember:
                    with self._lock:
                        self._failed[role] = exc
                raise
            with self._lock:
                self._open[role] = transport
            return transport

    def opened(self) -> list[str]:
        """Roles with an open transport, in opening order."""
        with self._lock:
            return list(self._open)

    def close(self) -> None:
        with self._lock:
            transports = list(self._open.values())
            self._open.clear()
        for transport in reversed(transports):
            try:
                transport.close()
            except Exception:  # closing must not hide the error that got us here
                pass

    def __enter__(self) -> "Pool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
