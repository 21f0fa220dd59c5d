"""Shared fixtures: the local lab (`lab`) and its docker variant (`docker_lab`).

Each is brought up once per test session and shared.  The lab is one thing per
machine (fixed names and addresses), and several test sessions may run at once
(other developers in the same tree), so:

* a session that finds a lab already up reuses it and leaves it up;
* every session using a lab holds a shared lease (grader.lab.labnet.Lease, a flock on
  /run/lock/grader-lab.users or grader-docker-lab.users) while it runs, and
  `grader lab down` refuses while one is held (unless --force);
* a session tears down only a lab it created itself, and only if it can take the
  lease exclusively (no other session is using the lab); otherwise it leaves it up;
* tests that bring a lab down (marked `lab_lifecycle`) run after all other tests of
  the session, need the exclusive lease, and bring the lab back up when done.

If the machine cannot build a lab (not root, tools missing), the fixture fails in CI
(CI=true) and skips elsewhere.
"""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from needs import in_ci, unavailable  # tests/needs.py

# `grader check` leaves a check holder behind for the next runs (grader.holder).  In the suite
# only the tests about it want one (they set GRADER_CHECK_PERSIST themselves), so that no other
# test finds a holder's connections on the lab's hosts; GRADER_CHECK_PERSIST=300 pytest runs
# the whole suite with them.
os.environ.setdefault("GRADER_CHECK_PERSIST", "0")


def pytest_configure(config):
    config.addinivalue_line("markers", "lab_lifecycle: brings a lab down and up again; runs after all other tests")
    config.addinivalue_line("markers", "kube: needs the kube lab (a real cluster in the lab's hosts)")


def pytest_collection_modifyitems(session, config, items):
    # stable: everything else first, in its order; then the lifecycle tests, in theirs
    items.sort(key=lambda item: item.get_closest_marker("lab_lifecycle") is not None)


def _cannot_build(tools: dict) -> str | None:
    if os.geteuid() != 0:
        return "the lab needs root"
    from grader.lab import labnet
    from grader.errors import LabError
    try:
        labnet.require_tools(tools)
    except LabError as exc:
        return str(exc)
    return None


@dataclass
class _Handle:
    """What a lab fixture gives a test (the network lab or the docker one)."""

    lab: object                  # grader.lab.lab.Lab or grader.lab.dockerlab.DockerLab
    created: bool                # this session built it (and will remove it)
    up_seconds: float            # how long `up` took in this session
    lease: object = field(repr=False)  # grader.lab.labnet.Lease

    @property
    def dir(self) -> Path:
        return self.lab.dir

    @property
    def inventory_path(self) -> Path:
        return self.lab.inventory_path

    @property
    def inventory(self):
        return self.lab.inventory()


class LabHandle(_Handle):
    """What the `lab` fixture gives a test."""

    def ssh(self, host: str, command: str, *, timeout: float = 30, input: bytes | None = None,
            check: bool = False) -> subprocess.CompletedProcess:
        """Run `command` on a lab host with the OpenSSH client (text output)."""
        from grader.lab.lab import HOSTS, ssh_command
        proc = subprocess.run(ssh_command(self.lab, HOSTS[host], command), input=input, capture_output=True,
                              timeout=timeout, stdin=None if input is not None else subprocess.DEVNULL)
        proc.stdout, proc.stderr = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        if check and proc.returncode != 0:
            raise AssertionError(f"{host}: {command!r} exited {proc.returncode}: {proc.stderr.strip()}")
        return proc


class DockerLabHandle(_Handle):
    """What the `docker_lab` fixture gives a test."""

    @property
    def docker_host(self) -> str:
        return self.lab.docker_host

    def docker(self, *args, timeout: float = 60, input: bytes | None = None) -> subprocess.CompletedProcess:
        proc = self.lab.docker(*args, timeout=timeout, check=False, input=input)
        proc.stdout, proc.stderr = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")
        return proc


def _session_lab(request, make, lease_path: str, tools: dict, handle_cls, **up_args):
    reason = _cannot_build(tools)
    if reason:
        unavailable(reason)
    from grader.errors import LabError
    from grader.lab.labnet import Lease
    lease = Lease(lease_path)
    lab = make()
    start = time.monotonic()
    try:
        created = lab.up(**up_args)
    except LabError as exc:
        lease.close()
        unavailable(f"cannot bring the lab up: {exc}")
    handle = handle_cls(lab=lab, created=created, up_seconds=time.monotonic() - start, lease=lease)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter:
        verb = "brought up" if created else "reused (already up)"
        reporter.write_line(f"\n{type(lab).__name__} {verb} in {handle.up_seconds:.2f}s: {lab.inventory_path}")
    yield handle
    try:
        if handle.created and lease.try_exclusive():
            lab.down(force=True)  # we hold the lease ourselves, alone
    finally:
        lease.close()


@pytest.fixture(scope="session")
def lab(request):
    """The local two-host lab (controlplane, node01), up for the whole session."""
    from grader.lab import labnet
    from grader.lab.lab import LEASE_FILE, Lab
    kube = wants_kube(request.session)
    yield from _session_lab(request, Lab.current, LEASE_FILE, labnet.TOOLS, LabHandle,
                            **({"kube": True, "progress": _progress(request)} if kube else {}))


def wants_kube(session) -> bool:
    """The session runs tests marked `kube`: then the one lab of the session is the kube lab
    (the same two hosts with a real cluster inside), so every lab test runs on it."""
    return any(item.get_closest_marker("kube") for item in session.items)


def _progress(request):
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    return (lambda msg: reporter.write_line(f"  {msg}")) if reporter else (lambda msg: None)


@pytest.fixture(scope="session")
def kube_lab(lab):
    """The lab with its Kubernetes cluster (both nodes Ready), for tests marked `kube`."""
    if not lab.lab.kube_built():
        unavailable("the lab is up without a cluster (it was up before this session): "
                    "`grader lab down` and run again, or `grader lab up --kube` first")
    return lab


@pytest.fixture(scope="session")
def docker_lab(request):
    """The docker lab (grader-control-plane, grader-worker), up for the whole session."""
    from grader.lab.dockerlab import LEASE_FILE, TOOLS, DockerLab
    yield from _session_lab(request, DockerLab.default, LEASE_FILE, TOOLS, DockerLabHandle)


@pytest.fixture
def lab_alone(lab):
    """The lab, owned alone for a lifecycle test; brought back up afterwards."""
    yield from _exclusive(lab)


@pytest.fixture
def docker_lab_alone(docker_lab):
    """The docker lab, owned alone for a lifecycle test; brought back up afterwards."""
    yield from _exclusive(docker_lab)


def _exclusive(handle):
    """Own the lab alone (no other session using it), then restore it.

    Outside CI, a lab this session did not build may be in use by someone who holds no
    lease (a `grader` command pointed at its inventory): leave it alone unless
    GRADER_LAB_LIFECYCLE=1 says bringing it down is fine.
    """
    if not (handle.created or in_ci() or os.environ.get("GRADER_LAB_LIFECYCLE") == "1"):
        pytest.skip("the lab was already up when this session started and may be in use; "
                    "set GRADER_LAB_LIFECYCLE=1 to run the down/up lifecycle test anyway")
    if not handle.lease.try_exclusive():
        unavailable("another test session is using the lab; not bringing it down under it")
    kube = bool(getattr(handle.lab, "kube_built", lambda: False)())
    try:
        yield handle
    finally:
        try:
            handle.lab.up(**({"kube": True} if kube else {}))  # leave it as the session had it
        finally:
            handle.lease.shared()
