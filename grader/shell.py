"""Quoting for a POSIX shell: everything grader interpolates into a shell command goes through
`quote` (or the command templates' automatic quoting, which uses it).  A module of its own,
with no imports of grader, so that pure modules (checks, batch, the exporter) quote without
importing the transports."""
from __future__ import annotations

import shlex


def quote(value) -> str:
    """Quote one value for a POSIX shell (every interpolation goes through this)."""
    return shlex.quote(str(value))
