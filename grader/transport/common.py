"""What the transports share: how much they read at a time, how long they drain output
after a command ended, and the far-side command text of the ssh and docker transports.

`remote_command()` builds the string the ssh and docker transports hand to the
far side's shell: the command under `bash -c`, wrapped in coreutils `timeout -s
KILL` so the far side kills the command's process group itself at the deadline
(closing an SSH channel or killing a `docker exec` client does not stop the
remote process), in a bash that always reports an exit status.
"""
from __future__ import annotations

from grader.shell import quote

CHUNK = 65536
# After the command itself has exited, keep reading until EOF, or until no output
# arrived for this long (a background child may hold stdout open forever).
DRAIN_IDLE = 1.0
# How long to wait for output pipes to close after killing a timed-out command.
KILL_DRAIN = 1.0


def remote_command(command: str, timeout: float) -> str:
    """The shell text that runs `command` with `bash -c` semantics and a far-side kill.

    Whatever the far login shell is, bash runs the command under
    `timeout -s KILL` with the shell's own stderr silenced (no "Killed" job notice;
    the command's stderr goes through untouched) and ends with `exit $?`, so an
    exit status is always sent, 128+N for a command killed by signal N.  Where
    coreutils `timeout` is missing it falls back to a plain `bash -c`; the caller's
    own deadline still applies then, but the far process may outlive it.
    """
    secs = f"{max(float(timeout), 0.001):.3f}"
    inner = (f"c={quote(command)}; if command -v timeout >/dev/null 2>&1; "
             f"then {{ timeout -s KILL {secs} bash -c \"$c\" 2>&3 3>&-; }} 3>&2 2>/dev/null; "
             f"else bash -c \"$c\"; fi; exit $?")
    # a login shell that is bash evals it (one bash start less: sshd-started bash
    # reads ~/.bashrc); any other shell hands it to bash
    return f"w={quote(inner)}; if [ -n \"${{BASH_VERSION-}}\" ]; then eval \"$w\"; else exec bash -c \"$w\"; fi"
