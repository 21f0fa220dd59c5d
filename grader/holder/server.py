"""The holder process: keeps a drill's SSH connections (or, for `grader check`, those of the
inventories it is handed) and serves grader commands of the same user (the package docstring
says when it starts and ends).

    python -m grader.holder.server --home HOME (--drill ID | --check) [--inventory FILE] [--trust-on-first-use]

Each client connection carries one request (`grader.holder.wire`), served in its own thread:
`run` streams a command's output back as it arrives (a client that goes away makes the sinks
report a passed deadline, so the transport gives the command up as for its own caller);
`check` runs a handed-over command line in this process (grader.holder.checks), one at a time.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path

from grader import __version__
from grader.drill.drill import resolve_inventory
from grader.errors import TransportError
import grader.holder as holders
from grader.holder import (CHECK_SLOT, DRILL_SLOT, LOG_MAX, check_persist, idle_timeout, inventory_digest, lock_path,
                           log_path, socket_path, state_path)
from grader.holder.checks import HOME_FOLDER, Checks, import_check_path
from grader.holder import wire
from grader.home import write_atomic
from grader.procs import process_started
from grader.transport import Pool

POLL = 0.5              # seconds between looks at the drill, the socket and the idle time
LOCK_WAIT = 5.0         # a holder ending (its drill over) may still hold the lock this long


class Forward:
    """A transport sink that sends what it gets to the client as frames.  Once the client
    is gone, its `deadline` has passed: the transport stops waiting for the command."""

    def __init__(self, conn, kind: bytes, lock: threading.Lock):
        self.conn, self.kind, self.lock = conn, kind, lock
        self.deadline = None
        self.dropped = 0

    def gone(self) -> None:
        self.deadline = time.monotonic() - 1.0

    def write(self, data) -> None:
        if self.deadline is not None or not data:
            return
        try:
            with self.lock:
                self.conn.sendall(wire.frame(self.kind, bytes(data)))
        except OSError:
            self.gone()

    def text(self) -> str:      # the client keeps the output; the holder keeps none
        return ""


class Holder:
    """A drill's holder (`drill` its id, `inventory` the drill's), or with `drill=None` a check
    holder: it runs `grader check` command lines, over connections it keeps per inventory
    (`inventory` the one to connect to at once, or None)."""

    def __init__(self, home: Path, drill: str | None, inventory, idle: float, log):
        self.home, self.drill, self.inventory, self.idle, self.log = home, drill, inventory, idle, log
        self.slot = DRILL_SLOT if drill is not None else CHECK_SLOT
        if drill is not None:
            self.pool = Pool(inventory)
            self.checks = Checks(log, drill=(drill, inventory_digest(inventory), self.pool))
        else:
            self.checks = Checks(log)
            self.pool = self.checks.pool_for(inventory)
        self.stopping = threading.Event()
        self.why = ""
        self.busy, self.last = 0, time.monotonic()
        self.count = threading.Lock()
        self.sock_path = socket_path(home, self.slot)
        self.inode = None
        self.listener = None

    # --- life ------------------------------------------------------------------

    def serve(self) -> int:
        self.listener = self._listen()
        state = {**self._hello(), "pid_started": process_started(os.getpid()), "socket": str(self.sock_path)}
        write_atomic(state_path(self.home, self.slot), json.dumps(state) + "\n")
        if threading.current_thread() is threading.main_thread():      # (tests serve from a thread)
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: self.stop("signalled"))
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
        self.log(f"serving {'drill ' + self.drill if self.drill is not None else 'grader check'} on {self.sock_path}")
        with suppress(OSError):
            os.chdir(HOME_FOLDER)       # the folder it was started in may be removed while it runs
        roles = [r for r, h in self.inventory.hosts.items() if h.transport == "ssh"]
        # connecting (paramiko's import first) in the background: requests are answered meanwhile
        threading.Thread(target=self.pool.warm, args=(roles,), daemon=True, name="holder-warm").start()
        holders.serving = self.checks
        threading.Thread(target=import_check_path, args=(self.drill is not None,), daemon=True,
                         name="holder-imports").start()
        threading.Thread(target=self._watch, daemon=True, name="holder-watch").start()
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                if self.stopping.is_set():
                    break
                time.sleep(0.05)
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True, name="holder-request").start()
        self._cleanup()
        return 0

    def _listen(self):
        path = self.sock_path
        if path.parent != self.home:            # the short path under /tmp: a folder of ours alone
            path.parent.mkdir(mode=0o700, exist_ok=True)
            st = path.parent.stat()
            if st.st_uid != os.getuid() or st.st_mode & 0o077:
                raise SystemExit(f"{path.parent}: not a private folder of this user")
        with suppress(FileNotFoundError):
            path.unlink()
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            srv.bind(str(path))
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        srv.listen(16)
        srv.settimeout(POLL)
        self.inode = os.stat(path).st_ino
        return srv

    def stop(self, why: str) -> None:
        if not self.stopping.is_set():
            self.why = why
            self.stopping.set()
            with suppress(OSError):
                self.listener.shutdown(socket.SHUT_RDWR)   # wakes accept()

    def _cleanup(self) -> None:
        with suppress(OSError):
            self.listener.close()
        with suppress(OSError):
            if os.stat(self.sock_path).st_ino == self.inode:
                self.sock_path.unlink()
        with suppress(OSError, ValueError):
            if json.loads(state_path(self.home, self.slot).read_text()).get("pid") == os.getpid():
                state_path(self.home, self.slot).unlink()
        if holders.serving is self.checks:
            holders.serving = None
        if self.drill is not None:
            self.pool.close()
        else:
            self.checks.close()
        self.log(f"stopped: {self.why}")

    def _watch(self) -> None:
        drill_file = self.home / "drill.json"
        seen = None
        while not self.stopping.wait(POLL):
            if self.drill is None:
                self.checks.drop_stale_pools()
            else:
                why, seen = self._drill_over(drill_file, seen)
                if why:
                    return self.stop(why)
            try:
                if os.stat(self.sock_path).st_ino != self.inode:
                    return self.stop("its socket was replaced")
            except OSError:
                return self.stop("its socket was removed")
            with self.count:
                idle = self.busy == 0 and time.monotonic() - self.last > self.idle
            if idle:
                return self.stop(f"idle for {self.idle:g}s")

    def _drill_over(self, drill_file: Path, seen) -> tuple[str, object]:
        """(why the drill's holder must end, or "", what drill.json's stat was)."""
        try:
            st = os.stat(drill_file)
        except FileNotFoundError:
            return "the drill is over (no drill.json)", seen
        except OSError as exc:
            return f"cannot read drill.json: {exc}", seen
        if (st.st_ino, st.st_mtime_ns, st.st_size) == seen:
            return "", seen
        seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        try:
            data = json.loads(drill_file.read_text())
        except (OSError, ValueError) as exc:
            return f"drill.json unreadable: {exc}", seen
        if data.get("id") != self.drill:
            return f"drill.json is now drill {data.get('id')}", seen
        if data.get("phase") == "graded":
            return "the drill is graded", seen
        return "", seen

    # --- requests ----------------------------------------------------------------

    def _handle(self, conn) -> None:
        try:
            uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED,
                                                      struct.calcsize("3i")))[1]
            if uid != os.getuid():
                self.log(f"refused a client of uid {uid}")
                return
            conn.settimeout(10.0)
            line, rest = _read_line(conn)
            req = wire.parse_request(line)
            if req["op"] == "hello":
                conn.sendall(wire.json_frame(wire.HELLO, self._hello()))
            elif req["op"] == "stop":
                conn.sendall(wire.json_frame(wire.HELLO, {**self._hello(), "stopping": True}))
                self.stop("asked to stop")
            elif req["op"] == "run" and self.drill is not None:     # (only a drill's Pool runs through one)
                self._run(conn, req, rest)
            elif req["op"] == "check":
                self._check(conn, req)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.log(f"a request failed: {type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def _hello(self) -> dict:
        return {"kind": "drill" if self.drill is not None else "check", "drill": self.drill,
                "inventory": inventory_digest(self.inventory) if self.drill is not None else None,
                "pid": os.getpid(), "version": __version__}

    def _check(self, conn, req: dict) -> None:
        """Run a handed-over command line, when this holder is free and is what the client would run it with."""
        argv = req.get("argv")
        busy = not self.checks.checking.acquire(blocking=False)
        try:
            why = "busy" if busy else self.checks.refusal(req)      # busy first: never stopped mid-run
            if why:             # logged before the answer, as each run is: the log is never behind it
                self.log(f"check not served: {why}")
            conn.sendall(wire.json_frame(wire.HELLO, {**self._hello(), "serving": not why, "why": why}))
            if why:
                return
            argv = [str(a) for a in argv]
            tty = req.get("tty") or [False, False]
            with self.count:
                self.busy += 1
            start = time.monotonic()
            try:
                code, out, err = self.checks.run(argv, str(req["cwd"]), int(req["umask"]),
                                                 (bool(tty[0]), bool(tty[1])), req.get("size"))
            finally:
                with self.count:
                    self.busy -= 1
        finally:
            if not busy:
                self.checks.checking.release()
                self.last = time.monotonic()
        self.log(f"ran grader {' '.join(argv)[:200]}: exit {code} after {time.monotonic() - start:.3f}s")
        with suppress(OSError):
            conn.sendall(wire.frame(wire.STDOUT, out) + wire.frame(wire.STDERR, err)
                         + wire.json_frame(wire.EXIT, {"code": code}))

    def _run(self, conn, req: dict, rest: bytes) -> None:
        size = req.get("stdin")
        stdin = None if size is None else _read_exact(conn, rest, int(size))
        host, command, timeout = str(req["host"]), str(req["command"]), float(req["timeout"])
        with self.count:
            self.busy += 1
        lock = threading.Lock()
        out, err = Forward(conn, wire.STDOUT, lock), Forward(conn, wire.STDERR, lock)
        done = threading.Event()
        threading.Thread(target=_watch_client, args=(conn, done, (out, err)), daemon=True).start()
        start = time.monotonic()
        try:
            result = self.pool.get(host).run(command, timeout=timeout, stdin=stdin, stdout=out, stderr=err)
            reply, what = wire.json_frame(wire.EXIT, {"code": result.exit_code}), f"exit {result.exit_code}"
        except TransportError as exc:
            reply, what = wire.json_frame(wire.RAISED, wire.error_json(exc)), type(exc).__name__
        except Exception as exc:    # a bug or an inventory problem: the client's check is ERROR, never a verdict
            reply, what = wire.json_frame(wire.RAISED, wire.error_json(exc)), f"{type(exc).__name__}: {exc}"
        finally:
            done.set()
            with self.count:
                self.busy -= 1
                self.last = time.monotonic()
        with suppress(OSError), lock:
            conn.sendall(reply)
        self.log(f"run on {host}: {what} after {time.monotonic() - start:.3f}s")


def _watch_client(conn, done: threading.Event, sinks) -> None:
    """Until `done`: a client that hangs up (or sends more than its request) is gone."""
    while not done.is_set():
        try:
            readable, _, _ = select.select([conn], [], [], POLL)
        except (OSError, ValueError):
            break
        if readable:            # its end of file, or bytes it should not send: gone either way
            break
    else:
        return
    for sink in sinks:
        sink.gone()


def _read_line(conn) -> tuple[bytes, bytes]:
    buf = b""
    while b"\n" not in buf:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("the client hung up before its request")
        buf += chunk
        if len(buf) > wire.MAX_LINE:
            raise ValueError("a request line too long")
    line, _, rest = buf.partition(b"\n")
    return line, rest


def _read_exact(conn, have: bytes, size: int) -> bytes:
    parts, got = [have[:size]], len(have[:size])
    while got < size:
        chunk = conn.recv(min(1 << 20, size - got))
        if not chunk:
            raise ValueError("the client hung up while sending stdin")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


class Log:
    def __init__(self, home: Path):
        self.path = log_path(home)
        with suppress(OSError):
            if self.path.stat().st_size > LOG_MAX:
                data = self.path.read_bytes()[-LOG_MAX // 2:]
                self.path.write_bytes(data[data.find(b"\n") + 1:])

    def __call__(self, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with suppress(OSError), open(self.path, "a", encoding="utf-8") as f:
            f.write(f"{stamp} holder {os.getpid()}: {message}\n")


def _take_lock(home: Path, slot: str):
    fd = os.open(lock_path(home, slot), os.O_RDWR | os.O_CREAT, 0o600)
    end = time.monotonic() + LOCK_WAIT
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            if time.monotonic() >= end:
                os.close(fd)
                return None
            time.sleep(0.1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m grader.holder.server")
    ap.add_argument("--home", required=True)
    whose = ap.add_mutually_exclusive_group(required=True)
    whose.add_argument("--drill")
    whose.add_argument("--check", action="store_true", help="a check holder (--inventory: connect to it at once)")
    ap.add_argument("--inventory")
    ap.add_argument("--trust-on-first-use", action="store_true")
    args = ap.parse_args(argv)
    home = Path(args.home)
    home.mkdir(parents=True, exist_ok=True)
    log = Log(home)
    slot = DRILL_SLOT if args.drill is not None else CHECK_SLOT
    fd = _take_lock(home, slot)
    if fd is None:
        log(f"not started for {'drill ' + args.drill if args.drill else 'grader check'}: "
            f"another holder keeps {lock_path(home, slot).name}")
        return 0
    try:
        inventory, _ = resolve_inventory(args.inventory or None, trust_on_first_use=args.trust_on_first_use)
        idle = idle_timeout() if args.drill is not None else check_persist()
        code = Holder(home, args.drill, inventory, idle, log).serve()
    except BaseException as exc:        # noqa: BLE001 - say why in the log, then go
        log(f"failed: {type(exc).__name__}: {exc}")
        code = 1
    sys.stdout.flush()
    os._exit(code)      # daemon threads (requests, paramiko's) end with the process


if __name__ == "__main__":
    main()
