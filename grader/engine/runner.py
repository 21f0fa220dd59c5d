"""Runs steps and checks on the hosts, over one persistent transport per host.

Checks are grouped by host; each host gets one generated script per pass (one round
trip), and hosts are graded in parallel threads.  A check with `within` that still
fails is re-run, alone with the others that still fail, until it passes or its time
is up.  Anything that keeps a check from being judged (host unreachable, connection
lost, timeout, kubectl without an apiserver) becomes ERROR with a message saying what
to fix; the results of the other checks are kept.  A host that stops answering mid-pass
(frozen) is given up on once the check it is running is overdue (its timeout plus a
margin: `batch.Frames`), not after the whole pass's budget.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from grader.engine import batch, kubehealth
from grader.engine.checks import Outcome, command_for, error, evaluate, exports, kube_env
from grader.errors import CommandTimedOut, ConnectionLost, HostStalled, StepFailed, TransportError
from grader.engine.matchers import excerpt
from grader.packs.model import Check, Step, Task
from grader.engine.results import ERROR, FAIL, PASS, CheckResult
from grader.shell import quote
from grader.transport.base import CommandResult


NODES_TIMEOUT = 2 * kubehealth.REQUEST_TIMEOUT + 5   # the nodes, and the pods of NotReady nodes


@dataclass
class _Pending:
    check: Check
    command: str
    deadline: float
    attempts: int = 0
    outcome: Outcome | None = None
    duration: float = 0.0


class Runner:
    def __init__(self, inventory, pool=None, *, progress=None):
        from grader.transport import Pool

        self.inventory = inventory
        self.pool = pool or Pool(inventory)
        self.progress = progress or (lambda message: None)

    def close(self):
        self.pool.close()

    def _names(self) -> dict[str, str]:
        """Host addresses -> roles, so a kubectl fault names the host (172.30.1.2:6443 (controlplane))."""
        return {a: role for role, h in self.inventory.hosts.items() for a in (h.ip, h.address) if a}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- steps ---------------------------------------------------------------

    def run_steps(self, task: Task, section: str) -> None:
        for step in getattr(task, section):
            self.run_step(task, step)

    def run_step(self, task: Task, step: Step) -> CommandResult:
        self.progress(f"{task.id}: {step.label} on {step.host}")
        command, stdin = self._step_command(task, step)
        try:
            result = self.pool.get(step.host).run(command, timeout=step.timeout, stdin=stdin)
        except CommandTimedOut:
            raise StepFailed(f"task {task.id}: {step.label} on {step.host} timed out after {step.timeout:g}s") from None
        except TransportError as exc:
            raise StepFailed(f"task {task.id}: {step.label} could not run: {exc}") from None
        if result.exit_code != 0:
            detail = excerpt(result.stderr or result.stdout, 300)
            raise StepFailed(f"task {task.id}: {step.label} on {step.host} exited {result.exit_code}: {detail}")
        return result

    def _step_command(self, task: Task, step: Step):
        env = exports({**task.env, **kube_env(step.host, self.inventory)})
        if step.kind == "copy":
            to = quote(step.to)
            return (f"mkdir -p -- \"$(dirname -- {to})\" && cat > {to} && chmod {quote(step.mode)} -- {to}",
                    step.command.encode())
        return "cd ~ 2>/dev/null || cd /\n" + env + step.command, None

    # --- checks --------------------------------------------------------------

    def check(self, checks: list[Check], env_of=None) -> dict[str, CheckResult]:
        """Judge checks; returns check.key -> CheckResult.  `env_of(check)` gives script env."""
        now = time.monotonic()
        by_host: dict[str, list[_Pending]] = {}
        for c in checks:
            env = env_of(c) if env_of else {}
            by_host.setdefault(c.host, []).append(_Pending(c, command_for(c, self.inventory, env), now + c.within))
        if not by_host:
            return {}
        with ThreadPoolExecutor(max_workers=min(8, len(by_host))) as ex:
            list(ex.map(self._grade_host, by_host.items()))
        out = {}
        for pending in (p for group in by_host.values() for p in group):
            o, c = pending.outcome, pending.check
            out[c.key] = CheckResult(name=c.name, status=o.status, points=c.points, host=c.host, kind=c.kind,
                                     expected=o.expected, actual=o.actual, message=o.message,
                                     duration=round(pending.duration, 4), attempts=pending.attempts)
        return out

    def _grade_host(self, item) -> None:
        host, pendings = item
        todo = list(pendings)
        while todo:
            self._pass(host, todo)
            now = time.monotonic()
            retry = [p for p in todo if p.outcome.status != PASS and p.deadline > now]
            if not retry:
                return
            pause = min(p.check.interval for p in retry)
            time.sleep(max(0.0, min(pause, min(p.deadline for p in retry) - now)))
            todo = retry

    def _cluster(self, host: str, todo: list[_Pending]):
        """The cluster's health (grader.kubehealth) before a pass with kube checks on the kube host."""
        if host != self.inventory.kube_host or not any(p.check.kind == "kube" for p in todo):
            return None
        try:
            r = self.pool.get(host).run(kubehealth.command(self.inventory), timeout=NODES_TIMEOUT)
        except TransportError:
            return None                 # the pass meets the same fault and says so, check by check
        return kubehealth.parse(r.exit_code, r.stdout, r.stderr, names=self._names())

    def _pass(self, host: str, todo: list[_Pending]) -> None:
        health = self._cluster(host, todo)
        if health and health.down:      # no answer from the apiserver: the kube checks are not run
            for p in (p for p in todo if p.check.kind == "kube"):
                p.attempts += 1
                p.outcome = error(p.check, f"kubectl on {host} could not answer: {health.down.text()}")
            todo = [p for p in todo if p.check.kind != "kube"]
            if not todo:
                return
        items = [batch.Item(p.check.key, p.command, p.check.timeout) for p in todo]
        nonce = batch.new_nonce()
        script = batch.build(items, nonce)
        out, err = batch.Frames(nonce, items), batch.Frames(nonce, items)
        lost = None
        try:
            transport = self.pool.get(host)
            # stdout's deadline gives up on a frozen host; starting the command on the host
            # may take up to connect_timeout more
            out.watch(time.monotonic, start=self.inventory.host(host).connect_timeout)
            raw = transport.run("exec bash -s", timeout=batch.budget(items), stdin=script.encode(),
                                stdout=out, stderr=err)
            if raw.exit_code == batch.OLD_BASH:
                lost = raw.stderr.strip().splitlines()[0] if raw.stderr.strip() else "bash 5 is needed"
        except (ConnectionLost, CommandTimedOut, HostStalled) as exc:
            lost = exc
        except TransportError as exc:
            for p in todo:
                p.attempts += 1
                p.outcome = error(p.check, f"{exc}{'' if exc.hint else ' (check the host and the inventory)'}")
            return
        framed = batch.collect(out, err, items)
        for p in todo:
            p.attempts += 1
            f = framed.get(p.check.key)
            if f is None:
                if isinstance(lost, HostStalled) and out.current == p.check.key:
                    why = (f"host {host} stopped answering while this check ran (no result "
                           f"{batch.allowance(p.check.timeout):g}s after it started, past its "
                           f"{p.check.timeout:g}s timeout): is it frozen or overloaded?")
                elif isinstance(lost, HostStalled):
                    why = f"host {host} stopped answering during grading, before this check's result came back"
                elif isinstance(lost, ConnectionLost):  # lost's own text is about the batch wrapper command
                    why = f"host {host}: the connection dropped during grading, before this check's result came back"
                elif isinstance(lost, CommandTimedOut):
                    why = (f"host {host}: the grading pass ran past its {lost.timeout:g}s budget before this "
                           "check's result came back")
                elif isinstance(lost, str):
                    why = f"host {host}: {lost}"
                else:
                    why = f"host {host}: no result came back for this check"
                p.outcome = error(p.check, f"{why} (check that the host is up, e.g. `grader lab status`, "
                                           "then grade again)")
                continue
            p.duration = f.duration
            if f.timed_out:
                p.outcome = error(p.check, f"timed out after {p.check.timeout:g}s on {host} "
                                           "(the command hung: is the host overloaded or a service down?)")
                continue
            result = CommandResult(host=host, command=p.command, exit_code=f.exit_code, stdout=f.stdout,
                                   stderr=f.stderr, duration=f.duration, stdout_cut=f.stdout_cut,
                                   stderr_cut=f.stderr_cut)
            p.outcome = evaluate(p.check, result, names=self._names())
            why = kubehealth.stale(p.check, health) if p.outcome.status == FAIL else None
            if why:
                p.outcome = Outcome(ERROR, p.outcome.expected, p.outcome.actual, why)
