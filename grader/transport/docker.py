"""Run commands inside a container with `docker exec` (the docker lab variant).

Each command is `docker [-H <HostSpec.docker>] exec -i -u <user> <container> bash -c
<wrapper>`, where the wrapper (`local.remote_command`) runs the command with `bash
-c` semantics under the container's `timeout -s KILL`: killing the docker client
does not stop a process inside the container, so the container kills it itself.
There is no connection to keep: `open()` only checks that the daemon answers and
the container runs, and a command that fails because docker itself failed (daemon
gone, container removed or stopped) raises ConnectError instead of returning.
"""
from __future__ import annotations

import re
import subprocess

from grader.errors import ConnectError
from grader.inventory import HostSpec
from grader.transport.base import CommandResult, Transport
from grader.transport.common import remote_command
from grader.transport.local import run_process

KILL_GRACE = 3.0  # after the deadline, time for the in-container kill to end `docker exec`
UP_HINT = "is the docker lab up? check `grader lab status`"
# What the docker client (not the command) prints when it could not run the command.
_DOCKER_FAILURE = re.compile(r"^(Error response from daemon: |Error: No such container|Cannot connect to the Docker daemon|"
                             r"error during connect: |OCI runtime exec failed: )")


class DockerTransport(Transport):
    """Runs commands in `spec.container` through the docker CLI.  Thread-safe."""

    def __init__(self, spec: HostSpec):
        super().__init__(spec.role)
        self.spec = spec

    @property
    def docker(self) -> list[str]:
        return ["docker"] + (["-H", self.spec.docker] if self.spec.docker else [])

    @property
    def where(self) -> str:
        return f"container {self.spec.container}" + (f" on {self.spec.docker}" if self.spec.docker else "")

    def open(self) -> "DockerTransport":
        """Check that the daemon answers and the container exists and runs."""
        container, timeout = self.spec.container, self.spec.connect_timeout
        argv = self.docker + ["inspect", "--type", "container", "--format", "{{.State.Running}}", container]
        try:
            probe = subprocess.run(argv, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise ConnectError(self.host, "the docker command is not installed",
                               hint="install the docker CLI or use an ssh inventory") from None
        except subprocess.TimeoutExpired:
            raise ConnectError(self.host, f"the docker daemon{self._daemon()} did not answer within {timeout:g}s",
                               hint=UP_HINT) from None
        err = probe.stderr.decode("utf-8", "replace").strip()
        if probe.returncode != 0:
            if "no such" in err.lower():
                raise ConnectError(self.host, f"container {container} does not exist{self._daemon(' on')}",
                                   hint=UP_HINT)
            first = err.splitlines()[0] if err else f"docker inspect exited {probe.returncode}"
            raise ConnectError(self.host, f"cannot reach the docker daemon{self._daemon()}: {first}",
                               hint="is the docker daemon running? " + UP_HINT)
        if probe.stdout.decode().strip() != "true":
            raise ConnectError(self.host, f"container {container} is not running",
                               hint=f"start it (docker start {container}) or rebuild the lab")
        return self

    def run(self, command: str, *, timeout: float, stdin: bytes | None = None,
            stdout=None, stderr=None) -> CommandResult:
        argv = self.docker + ["exec", "-i", "-u", self.spec.user, self.spec.container,
                              "bash", "-c", remote_command(command, timeout)]
        result = run_process(argv, host=self.host, command=command, timeout=timeout, stdin=stdin,
                             grace=KILL_GRACE, stdout=stdout, stderr=stderr)
        if result.exit_code in (1, 125, 126, 127) and not result.stdout and _DOCKER_FAILURE.match(result.stderr):
            self.open()  # names the cause: daemon down, container gone or stopped
            raise ConnectError(self.host, f"docker exec in {self.where} failed: "
                               f"{result.stderr.strip().splitlines()[0]}", hint=UP_HINT)
        return result

    def _daemon(self, prefix: str = " at") -> str:
        return f"{prefix} {self.spec.docker}" if self.spec.docker else ""

    def __repr__(self) -> str:
        return f"DockerTransport({self.host!r}, {self.where})"


def open_transport(spec, inventory, jump=None) -> DockerTransport:
    """The registry's opener (grader.inventory.TRANSPORTS): checks now that the daemon
    answers and the container runs."""
    return DockerTransport(spec).open()
