"""What a holder does with command lines handed to it (grader.holder.server serves it): run
them in this process, as the command would have run them itself.  A check holder runs
`grader check` over SSH connections it keeps per inventory; a drill's holder runs `grader
drill check` over the drill's connections.

    checks = Checks(log)                    # a check holder's; Checks(log, drill=(id, inventory, pool))
    why = checks.refusal(request)           # "" when it may run this request's command line
    code, out, err = checks.run(argv, cwd, umask, (tty_out, tty_err), size)   # holding checks.checking
    checks.pool_for(inventory)              # what `grader check` grades with here (control.check_pool)

Runs take turns: the working folder, the umask and sys.stdout are the process's own.
"""
from __future__ import annotations

import io
import os
import threading
from contextlib import redirect_stderr, redirect_stdout, suppress

from grader.holder import code_digest, env_digest, files_fingerprint, inventory_digest, inventory_files
from grader.transport import Pool

POOLS = 4               # the connections of this many inventories are kept at most


class Checks:
    def __init__(self, log, drill=None):
        self.log = log
        self.drill = drill                  # a drill's holder: (drill id, inventory digest, its pool)
        self.command = ["check"] if drill is None else ["drill", "check"]
        self.code, self.env = code_digest(), env_digest(os.environ)
        self.checking = threading.Lock()
        self.pools: dict[str, tuple] = {}   # inventory digest -> (pool, its files, their fingerprint, inventory)
        self.pools_lock = threading.Lock()

    def refusal(self, request: dict) -> str:
        """Why this holder must not run the request's command line ("" when it may): it would
        not be what the command runs itself (another grader code, another environment)."""
        argv = request.get("argv")
        if not isinstance(argv, list) or argv[:len(self.command)] != self.command:
            return f"not a grader {' '.join(self.command)} command line"
        if request.get("code") != self.code:
            return "grader's code changed"
        if request.get("env") != self.env:
            return "another environment"
        return ""

    def run(self, argv: list[str], cwd: str, umask: int, tty: tuple[bool, bool], size) -> tuple[int, bytes, bytes]:
        """Run it; the caller holds `checking` (taken without waiting: a busy holder says so
        and the command runs itself, rather than wait behind another run)."""
        return _run_cli(argv, cwd, umask, tty, size)

    def drill_pool(self, drill: str, inventory):
        """A drill's holder's own connections, for a `drill check` it runs of that drill and
        inventory; None otherwise."""
        if self.drill is not None and self.drill[0] == drill and self.drill[1] == inventory_digest(inventory):
            return self.drill[2]
        return None

    def pool_for(self, inventory) -> Pool:
        """A check holder's connections for `inventory`: kept from an earlier run while the
        inventory's files are as they were, else opened afresh."""
        key, files = inventory_digest(inventory), inventory_files(inventory)
        seen = files_fingerprint(files)
        with self.pools_lock:
            kept = self.pools.pop(key, None)
            stale = [] if kept is None or kept[1:3] == (files, seen) else [kept[0]]
            pool = kept[0] if kept is not None and not stale else Pool(inventory)
            self.pools[key] = (pool, files, seen, inventory)        # the latest used last
            while len(self.pools) > POOLS:
                stale.append(self.pools.pop(next(iter(self.pools)))[0])
        for old in stale:
            old.close()
        return pool

    def drop_stale_pools(self) -> None:
        """Close the connections of inventories whose files changed or went (a lab taken down);
        never while a check runs (it may be using them)."""
        if not self.checking.acquire(blocking=False):
            return
        try:
            with self.pools_lock:
                items = list(self.pools.items())
            for key, (pool, files, seen, inventory) in items:
                if files_fingerprint(files) != seen:
                    with self.pools_lock:
                        del self.pools[key]
                    pool.close()
                    self.log(f"closed the connections of {inventory.source}: its files changed")
        finally:
            self.checking.release()

    def close(self) -> None:
        with self.pools_lock:
            pools, self.pools = list(self.pools.values()), {}
        for pool, *_ in pools:
            pool.close()


class _Output(io.StringIO):
    """The command's stdout or stderr, kept whole; a tty when the client's is one (colour)."""

    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty

    def data(self) -> bytes:
        return self.getvalue().encode("utf-8", "surrogateescape")


HOME_FOLDER = "/"       # where a holder waits between runs (the folder it was started in may go)


def _run_cli(argv: list[str], cwd: str, umask: int, tty: tuple[bool, bool], size) -> tuple[int, bytes, bytes]:
    """(exit code, stdout, stderr) of `grader ARGV` run here, in `cwd` with `umask`, its output
    as wide as the command's terminal (`size`: columns, lines; None when it has none)."""
    from grader import cli

    out, err = _Output(tty[0]), _Output(tty[1])
    mask = os.umask(umask & 0o777)
    saved = {k: os.environ.get(k) for k in ("COLUMNS", "LINES")}
    try:
        if size:
            os.environ["COLUMNS"], os.environ["LINES"] = str(int(size[0])), str(int(size[1]))
        else:
            for k in saved:
                os.environ.pop(k, None)
        os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = cli.main(argv)
            except SystemExit as exc:     # argparse's usage errors and --help
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except OSError as exc:
        code = 2
        err.write(f"grader: cannot run in {cwd}: {exc.strerror or exc}\n")
    finally:
        os.umask(mask)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        with suppress(OSError):
            os.chdir(HOME_FOLDER)
    return code, out.data(), err.data()


def import_check_path(drill: bool = False) -> None:
    """What `grader check` (`drill check`) imports, imported before the first one comes."""
    import importlib

    for name in ("grader.cli", "grader.cli.drill" if drill else "grader.cli.core", "grader.drill.drill",
                 "grader.packs.packcache", "grader.engine.lifecycle", "grader.engine.runner",
                 "grader.engine.scoring", "grader.report.terminal"):
        with suppress(Exception):
            importlib.import_module(name)
