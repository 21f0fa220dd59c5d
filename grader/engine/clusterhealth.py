"""Is the cluster fit for `grader validate`?  Every node Ready and the apiserver answering.

On a kubernetes pack validate asks before it starts (and refuses, exit 3, when the
answer is no: a NotReady node would fail every task for a reason that is not theirs),
and after each exclusive task (which may break a node's kubelet, runtime or a static
pod, and must leave the cluster as it found it), waiting a bounded time for it to heal.

`command()` and `problem()` are pure; `probe()` runs the one kubectl call on the kube
host; `wait_healthy()` polls it.
"""
from __future__ import annotations

import time

from grader.engine.checks import kubectl_prefix
from grader.errors import EnvironmentProblem, TransportError
from grader.engine.kubehealth import READY
from grader.engine.matchers import excerpt
from grader.shell import quote

REQUEST_TIMEOUT = 10            # seconds kubectl waits for the apiserver
WAIT_AFTER_EXCLUSIVE = 180.0    # seconds an exclusive task's reset gets to bring every node back to Ready
POLL = 5.0
JSONPATH = f'{{range .items[*]}}{{.metadata.name}}{{"\\t"}}{READY}.status}}{{"\\t"}}{READY}.reason}}{{"\\n"}}{{end}}'


class ClusterUnhealthy(EnvironmentProblem):
    """The cluster is not fit to validate on: a node NotReady, or no answer from the apiserver."""


def command(inventory) -> str:
    return (f"{kubectl_prefix(inventory)} get nodes --request-timeout={REQUEST_TIMEOUT}s "
            f"-o {quote('jsonpath=' + JSONPATH)}")


def problem(exit_code: int, stdout: str, stderr: str) -> str | None:
    """What is wrong with the cluster, from the answer to `command()`; None when it is healthy."""
    if exit_code != 0:
        return f"the apiserver does not answer (kubectl get nodes exited {exit_code}: {excerpt(stderr or stdout, 200)})"
    nodes = [line.split("\t") for line in stdout.splitlines() if line.strip()]
    if not nodes:
        return "the cluster has no nodes (kubectl get nodes lists none)"
    bad = []
    for fields in nodes:
        name, status, reason = (fields + ["", ""])[:3]
        if status != "True":
            bad.append(f"{name} (Ready={status or 'missing'}{', ' + reason if reason else ''})")
    if bad:
        return f"node{'s' if len(bad) > 1 else ''} NotReady: {', '.join(bad)}"
    return None


def probe(runner) -> str | None:
    """Ask the cluster once, on the kube host: None when it is healthy, else what is wrong."""
    inventory = runner.inventory
    host = inventory.kube_host
    try:
        result = runner.pool.get(host).run(command(inventory), timeout=REQUEST_TIMEOUT + 10)
    except TransportError as exc:
        return f"cannot ask the cluster on {host}: {exc}"
    return problem(result.exit_code, result.stdout, result.stderr)


def preflight(runner) -> None:
    """Refuse to validate on an unhealthy cluster, saying why."""
    found = probe(runner)
    if found:
        raise ClusterUnhealthy(f"the cluster is not healthy, so validate ran no task: {found} "
                               "(see `grader lab status` or `kubectl get nodes`; fix it and run validate again)")


def wait_healthy(runner, limit: float = WAIT_AFTER_EXCLUSIVE, *, poll: float = POLL,
                 clock=time.monotonic, sleep=time.sleep) -> str | None:
    """Poll until the cluster is healthy (None) or `limit` seconds are up (the last problem)."""
    deadline = clock() + limit
    while True:
        found = probe(runner)
        if found is None or clock() >= deadline:
            return found
        sleep(max(0.0, min(poll, deadline - clock())))
