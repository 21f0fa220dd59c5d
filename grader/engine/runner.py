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

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from grader.engine import batch, kubefetch, kubehealth
from grader.engine.checks import Outcome, command_for, error, evaluate, exports, kube_env, kubectl_prefix
from grader.errors import CommandTimedOut, ConnectionLost, HostStalled, StepFailed, TransportError
from grader.engine.matchers import excerpt
from grader.packs.model import Check, Step, Task
from grader.engine.results import ERROR, FAIL, PASS, CheckResult
from grader.shell import quote
from grader.transport.base import CommandResult


NODES_TIMEOUT = 2 * kubehealth.REQUEST_TIMEOUT + 5   # the nodes, and the pods of NotReady nodes
# one kubectl listing answers many kube checks (grader.engine.kubefetch); GRADER_KUBE_GROUPING=off
# runs one kubectl per check, GRADER_KUBE_VERIFY=1 runs both and makes a difference an ERROR
GROUPING = os.environ.get("GRADER_KUBE_GROUPING", "on") != "off"
VERIFY = os.environ.get("GRADER_KUBE_VERIFY") == "1"
RESOURCES, LISTING, LISTING_AFTER = "@kube-resources", "@kube-listing", "@kube-listing-after"


@dataclass
class _Pending:
    check: Check
    command: str
    deadline: float
    attempts: int = 0
    outcome: Outcome | None = None
    duration: float = 0.0


class Runner:
    def __init__(self, inventory, pool=None, *, progress=None, grouping: bool | None = None,
                 verify: bool | None = None):
        from grader.transport import Pool

        self.inventory = inventory
        self.pool = pool or Pool(inventory)
        self.progress = progress or (lambda message: None)
        self.grouping = GROUPING if grouping is None else grouping
        self.verify = VERIFY if verify is None else verify
        self._resources: dict[str, dict] = {}      # host -> kubectl's resource names (kubefetch)
        self.kube_stats = {"grouped": 0, "fallback": 0}

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
        grouped = self._grouped(host, todo)
        if grouped:
            return self._grouped_pass(host, todo, grouped)
        health = self._cluster(host, todo)
        if health and health.down:      # no answer from the apiserver: the kube checks are not run
            self._down(host, [p for p in todo if p.check.kind == "kube"], health)
            todo = [p for p in todo if p.check.kind != "kube"]
            if not todo:
                return
        run = self._batch(host, [self._item(p) for p in todo])
        for p in todo:
            self._judge(host, p, run, health)

    def _down(self, host: str, pendings: list[_Pending], health) -> None:
        for p in pendings:
            p.attempts += 1
            p.outcome = error(p.check, f"kubectl on {host} could not answer: {health.down.text()}")

    def _grouped_pass(self, host: str, todo: list[_Pending], grouped: list[_Pending]) -> None:
        """The kube checks from one listing (which also gives the nodes' health, instead of the
        probe), alongside a batch of the run, file and script checks on a second channel; then
        the kube checks the listing could not answer, each with its own kubectl."""
        own = [p for p in todo if p not in grouped and p.check.kind != "kube"]
        rest = [p for p in todo if p not in grouped and p.check.kind == "kube"]
        verify = self.verify
        items = self._listing_items(host, grouped, LISTING)
        if verify:                      # each grouped check's own kubectl too, between two listings
            items += [self._item(p) for p in grouped] + self._listing_items(host, grouped, LISTING_AFTER)[-1:]
        with ThreadPoolExecutor(max_workers=2) as ex:
            others = ex.submit(self._batch, host, [self._item(p) for p in own]) if own else None
            run = self._batch(host, items)
            others = others.result() if others else None
        for p in own:
            self._judge(host, p, others, None)
        if run.failed:
            for p in grouped + rest:
                p.attempts += 1
                p.outcome = error(p.check, run.failed)
            return
        listing = run.framed.get(LISTING)
        if run.lost is not None and listing is None:   # the host went away: no second batch
            for p in grouped + rest:
                p.attempts += 1
                p.outcome = error(p.check, self._why_lost(host, run, LISTING, p.check))
            return
        answers, data = self._answers(host, grouped, run, LISTING)
        health = kubehealth.from_listing(data) if data is not None else self._health_after(host, listing, todo)
        if health and health.down:
            self._down(host, grouped + rest, health)
            return
        direct = {}
        if verify:
            after, _ = self._answers(host, grouped, run, LISTING_AFTER)
            for p in grouped:
                self._judge(host, p, run, health)
                direct[p.check.key] = p.outcome
                p.attempts -= 1
        fallback = []
        for p in grouped:
            a = answers.get(p.check.key)
            if a is None:
                fallback.append(p)
                continue
            p.attempts += 1
            p.duration = listing.duration
            p.outcome = self._verdict(host, p, _as_result(host, p, a, listing.duration), health)
            if verify:
                p.outcome = self._compared(host, p, direct[p.check.key], after.get(p.check.key), health)
        self.kube_stats["grouped"] += len(grouped) - len(fallback)
        self.kube_stats["fallback"] += len(fallback)
        if verify:                      # already run on their own above
            for p in fallback:
                p.attempts += 1
                p.outcome = direct[p.check.key]
            fallback = []
        if fallback or rest:
            second = self._batch(host, [self._item(p) for p in fallback + rest])
            for p in fallback + rest:
                self._judge(host, p, second, health)

    def _health_after(self, host: str, listing, todo):
        """The listing got no usable answer: kubectl's own words say whether the apiserver is
        down; otherwise the probe gives the nodes' health as in a pass without grouping."""
        if listing is not None and listing.exit_code != 0 and not listing.timed_out:
            health = kubehealth.parse(listing.exit_code, "", listing.stderr, names=self._names())
            if health and health.down:
                return health
        return self._cluster(host, todo)

    # --- one kubectl for many kube checks (grader.engine.kubefetch) ------------

    def _grouped(self, host: str, todo: list[_Pending]) -> list[_Pending]:
        """The kube checks one listing answers: worth it from two (three with api-resources)."""
        if not self.grouping or host != self.inventory.kube_host:
            return []
        grouped = [p for p in todo if kubefetch.groupable(p.check)]
        return grouped if len(grouped) > 1 + (host not in self._resources) else []

    def _listing_items(self, host: str, grouped: list[_Pending], key: str) -> list[batch.Item]:
        if not grouped:
            return []
        timeout = min(p.check.timeout for p in grouped)
        request = max(1, int(timeout) - 1)
        prefix = exports(kube_env(host, self.inventory)) + kubectl_prefix(self.inventory)
        items = [] if host in self._resources else [
            batch.Item(RESOURCES, kubefetch.resources_command(prefix, request), timeout)]
        names = [p.check.target["resource"] for p in grouped] + list(kubehealth.LISTED)
        return items + [batch.Item(key, kubefetch.listing_command(prefix, names, request), timeout)]

    def _answers(self, host: str, grouped: list[_Pending], run, key: str) -> tuple[dict, dict | None]:
        """check key -> kubefetch.Answer for the checks the listing answers for certain, and the
        listing itself (None when it did not come back whole)."""
        res = run.framed.get(RESOURCES)
        if res is not None and res.exit_code == 0 and not res.timed_out and not res.stdout_cut:
            parsed = kubefetch.parse_resources(res.stdout)
            if parsed is not None:
                self._resources[host] = parsed
        f = run.framed.get(key)
        resources = self._resources.get(host)
        if f is None or f.exit_code != 0 or f.timed_out or f.stdout_cut or f.stderr.strip():
            return {}, None
        listing = kubefetch.parse_listing(f.stdout)
        if listing is None or resources is None:
            return {}, listing
        return {p.check.key: kubefetch.answer(p.check, listing, resources) for p in grouped}, listing

    def _compared(self, host: str, p: _Pending, direct: Outcome, after, health) -> Outcome:
        """GRADER_KUBE_VERIFY=1: a grouped verdict must equal the check's own kubectl's, or the
        listing's after it (the state may change between the two)."""
        if direct == p.outcome:
            return direct
        if after is not None:
            later = self._verdict(host, p, _as_result(host, p, after, 0.0), health)
            if later == direct:
                return direct
        return Outcome(ERROR, direct.expected, direct.actual,
                       f"the grouped kube answer differs from kubectl's own: {p.outcome.status} "
                       f"{p.outcome.actual!r} ({p.outcome.message!r}) vs {direct.status} {direct.actual!r}")

    # --- batches ---------------------------------------------------------------

    def _item(self, p: _Pending) -> batch.Item:
        return batch.Item(p.check.key, p.command, p.check.timeout)

    def _batch(self, host: str, items: list[batch.Item]) -> "_Run":
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
            return _Run({}, None, f"{exc}{'' if exc.hint else ' (check the host and the inventory)'}", None)
        return _Run(batch.collect(out, err, items), lost, None, out.current)

    def _why_lost(self, host: str, run: "_Run", key: str, check: Check) -> str:
        lost = run.lost
        if isinstance(lost, HostStalled) and run.current == key:
            why = (f"host {host} stopped answering while this check ran (no result "
                   f"{batch.allowance(check.timeout):g}s after it started, past its "
                   f"{check.timeout:g}s timeout): is it frozen or overloaded?")
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
        return f"{why} (check that the host is up, e.g. `grader lab status`, then grade again)"

    def _judge(self, host: str, p: _Pending, run: "_Run", health) -> None:
        p.attempts += 1
        if run.failed:
            p.outcome = error(p.check, run.failed)
            return
        f = run.framed.get(p.check.key)
        if f is None:
            p.outcome = error(p.check, self._why_lost(host, run, p.check.key, p.check))
            return
        p.duration = f.duration
        if f.timed_out:
            p.outcome = error(p.check, f"timed out after {p.check.timeout:g}s on {host} "
                                       "(the command hung: is the host overloaded or a service down?)")
            return
        result = CommandResult(host=host, command=p.command, exit_code=f.exit_code, stdout=f.stdout,
                               stderr=f.stderr, duration=f.duration, stdout_cut=f.stdout_cut,
                               stderr_cut=f.stderr_cut)
        p.outcome = self._verdict(host, p, result, health)

    def _verdict(self, host: str, p: _Pending, result: CommandResult, health) -> Outcome:
        outcome = evaluate(p.check, result, names=self._names())
        why = kubehealth.stale(p.check, health) if outcome.status == FAIL else None
        return Outcome(ERROR, outcome.expected, outcome.actual, why) if why else outcome


def _as_result(host: str, p: _Pending, a: kubefetch.Answer, duration: float) -> CommandResult:
    """A kube check's answer from the listing, shaped as its own kubectl call's result."""
    return CommandResult(host=host, command=p.command, exit_code=a.exit_code, stdout=a.stdout, stderr=a.stderr,
                         duration=duration)


@dataclass
class _Run:
    """One batch's results: frames by key, what cut it short, or why it never ran."""
    framed: dict
    lost: object
    failed: str | None
    current: str | None
