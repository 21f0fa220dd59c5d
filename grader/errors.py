"""One exception tree for everything grader reports to a user.

Every error carries a one-line message that names the place (file, key, host or
command).  The CLI maps the class to an exit code and prints only the message:

    0  everything passed
    1  checks failed, or the score is below the pass mark
    2  bad input or usage (pack, task, inventory, archive, results file, flags)
    3  the environment prevented judging (host unreachable, auth, timeout, kubectl)
    4  internal error (a bug in grader)
"""
from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_ENVIRONMENT = 3
EXIT_INTERNAL = 4     # a bug in grader, never a verdict on the candidate


class GraderError(Exception):
    """Base of every error grader turns into a message and an exit code."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split("\n"))


# --- bad input: exit 2 ------------------------------------------------------

class UsageError(GraderError):
    """Wrong flags or arguments, an unknown pack or task name."""


class PackError(GraderError):
    """A task pack is malformed.  Names the file, and the line and key when known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None):
        where = ""
        if file:
            where = str(file)
            if line:
                where += f":{line}"
            where += ": "
        if key:
            where += f"{key}: "
        super().__init__(where + message)
        self.file, self.line, self.key = file, line, key


class InventoryError(GraderError):
    """The inventory file is malformed or names hosts that do not exist."""


class ArchiveError(GraderError):
    """A pack archive is not a pack, is tampered with, or escapes its folder."""


class ResultsFileError(GraderError):
    """A file given to `grader report` is not a grader results file."""


class DrillError(GraderError):
    """No drill running, a drill already running, a hint asked for in exam mode..."""


class DrillSuperseded(DrillError):
    """The drill a process was setting up or grading was aborted or taken over meanwhile."""


# --- environment: exit 3 ----------------------------------------------------

class EnvironmentProblem(GraderError):
    """Something outside the candidate's work kept grader from judging."""

    exit_code = EXIT_ENVIRONMENT


class TransportError(EnvironmentProblem):
    """A host could not be reached or a command could not be run on it."""

    def __init__(self, host: str, message: str, *, hint: str = ""):
        text = f"host {host}: {message}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)
        self.host = host
        self.hint = hint


class ConnectError(TransportError):
    """The host did not answer (down, wrong address, port closed)."""


class AuthError(TransportError):
    """The host answered but refused our credentials."""


class HostKeyError(TransportError):
    """The host's key is unknown or has changed."""


class ConnectionLost(TransportError):
    """The connection dropped while a command ran.  `partial` holds what arrived."""

    def __init__(self, host: str, message: str, *, partial=None, hint: str = ""):
        super().__init__(host, message, hint=hint)
        self.partial = partial


class CommandTimedOut(TransportError):
    """A command ran past its timeout.  `partial` holds what arrived before."""

    def __init__(self, host: str, command: str, timeout: float, *, partial=None):
        short = command if len(command) <= 60 else command[:57] + "..."
        super().__init__(host, f"command timed out after {timeout:g}s: {short}")
        self.command, self.timeout, self.partial = command, timeout, partial


class HostStalled(TransportError):
    """The host stopped making progress on a command (frozen, overloaded) before its
    caller's deadline for the next sign of life.  `partial` holds what arrived."""

    def __init__(self, host: str, command: str, *, partial=None):
        short = command if len(command) <= 60 else command[:57] + "..."
        super().__init__(host, f"stopped answering while running: {short}",
                         hint="the host may be frozen or overloaded")
        self.command, self.partial = command, partial


class StepFailed(EnvironmentProblem):
    """A setup, solution or reset step exited non-zero."""


class LabError(EnvironmentProblem):
    """The local lab could not be built or torn down."""


class KubeBuildError(LabError):
    """Kubernetes binaries could not be found or built (names the step and its log)."""


class KubeLabError(LabError):
    """The kube lab's cluster could not be brought up (names the host and component)."""


class KubeImageError(LabError):
    """A container image for the kube lab could not be built (names the image and the step)."""
