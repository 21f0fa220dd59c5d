"""Whether a recorded process is still the one that was recorded: its PID and its start
time, since a PID is reused.  A drill's owner and a drill's holder are recorded so; apart
from the drill so that the holder asks without importing the drill's model."""
from __future__ import annotations

import os
from pathlib import Path


def process_started(pid: int) -> int | None:
    """When process `pid` started, in clock ticks after boot (/proc/PID/stat field 22);
    None when there is no such live process (none, a zombie) or no /proc to ask."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
        fields = stat[stat.rindex(b")") + 2:].split()     # the name (field 2) may hold spaces and ')'
        return None if fields[0] in (b"Z", b"X") else int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def owner_alive(pid: int, started: int | None) -> bool:
    """Is process `pid`, started at `started` (None: not recorded), still running?"""
    if os.path.exists("/proc/self/stat"):
        now = process_started(pid)
        return now is not None and (started is None or now == started)
    try:                                                # no /proc: the PID alone has to do
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
