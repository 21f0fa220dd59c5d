"""Checks as commands, and command results as verdicts.  Pure: no I/O.

`command_for(check, inventory)` gives the shell command that gathers what a check
needs on its host; `evaluate(check, result)` turns that command's result into an
Outcome (PASS/FAIL/ERROR with expected and actual in words).  Kube checks run the
real kubectl on the kube host, so kubectl's own jsonpath semantics apply; a kubectl
that cannot reach an apiserver gives ERROR, a NotFound answer is a plain fact.  A run
or script check whose stderr shows kubectl failing to get any answer is an ERROR too
(grader.kubeerrors tells those faults apart).
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Callable

from grader.engine.kubeerrors import RUN_KINDS, classify, last_word, not_found
from grader.engine.batch import CHECK_HEAD, CHECK_TAIL
from grader.engine.matchers import describe, describe_exit, excerpt, exit_holds, holds
from grader.packs.model import Check
from grader.engine.results import ERROR, FAIL, PASS
from grader.shell import quote
from grader.transport.base import CommandResult

CONTENT_LIMIT = 1024 * 1024
ABSENT = "@@grader:absent"
@dataclass(frozen=True)
class Outcome:
    status: str
    expected: str
    actual: str
    message: str = ""


def kube_env(host: str, inventory) -> dict:
    """On the kube host, commands see the inventory's kubeconfig as $KUBECONFIG."""
    if inventory.kubeconfig and host == inventory.kube_host:
        return {"KUBECONFIG": inventory.kubeconfig}
    return {}


def exports(env: dict) -> str:
    return "".join(f"export {k}={quote(v)}\n" for k, v in sorted(env.items()))


def command_for(check: Check, inventory, env: dict | None = None) -> str:
    return KINDS[check.kind].command(check, inventory, env or {})


def _run_command(check: Check, inventory, env: dict) -> str:
    return exports(kube_env(check.host, inventory)) + check.target


def _script_command(check: Check, inventory, env: dict) -> str:
    return exports({**env, **kube_env(check.host, inventory)}) + check.target


STAT_KEYS = ("mode", "owner", "group")


def _file_command(check: Check, inventory=None, env=None) -> str:
    """type|mode|owner|group on the first line, then the content.  The type comes from shell
    tests; `stat` runs only when mode, owner or group matter, `head` only when content does."""
    p = quote(check.target)
    if any(k in check.expect for k in STAT_KEYS):
        meta = f"{{ stat -L -c \"$t|%a|%U|%G\" -- {p} 2>/dev/null || stat -c \"$t|%a|%U|%G\" -- {p}; }}"
    else:
        meta = "printf '%s|||\\n' \"$t\""
    content = (f" && if [ -f {p} ]; then head -c {CONTENT_LIMIT} -- {p}; fi"
               if "content" in check.expect else "")
    return (f"if [ -L {p} ]; then t='symbolic link'; elif [ -d {p} ]; then t=directory; "
            f"elif [ -f {p} ]; then t='regular file'; elif [ -e {p} ]; then t=other; "
            f"else echo {ABSENT}; exit 0; fi; {meta}{content}")


def kubectl_prefix(inventory) -> str:
    """kubectl as the inventory runs it on the kube host: its command, and --kubeconfig when set."""
    return inventory.kubectl + (f" --kubeconfig {quote(inventory.kubeconfig)}" if inventory.kubeconfig else "")


def _kube_command(check: Check, inventory, env=None) -> str:
    spec = check.target
    parts = [kubectl_prefix(inventory), "get", quote(spec["resource"])]
    if spec.get("name"):
        parts.append(quote(spec["name"]))
    if spec.get("namespace"):
        parts += ["-n", quote(spec["namespace"])]
    if spec.get("selector"):
        parts += ["-l", quote(spec["selector"])]
    timeout = max(1, int(check.timeout) - 1)
    parts.append(f"--request-timeout={timeout}s")
    jsonpath = check.expect.get("jsonpath")
    parts += ["-o", quote(f"jsonpath={jsonpath}") if jsonpath else "name"]
    return " ".join(parts)


def evaluate(check: Check, result: CommandResult, *, names: dict | None = None) -> Outcome:
    """`names` maps host addresses to host names, for the messages about kubectl's faults."""
    return _with_cuts(KINDS[check.kind].evaluate(check, result, names), result)


def _evaluate_run(check: Check, r: CommandResult, names=None) -> Outcome:
    """run and script checks: their exit code and streams, unless kubectl inside got no answer."""
    return _unjudged_kubectl(check, r, names) or _evaluate_command(check, r)


def _unjudged_kubectl(check: Check, r: CommandResult, names) -> Outcome | None:
    """A run or script check whose stderr shows, in kubectl's own words, that kubectl could not
    get an answer (apiserver refused, timed out, kubeconfig unreadable...): whatever its
    verdict would be (an `exit: 1` or a `not` matcher can pass on a dead cluster), the check
    was not judged.  A check about kubectl's connection itself judges it in its stdout (2>&1)."""
    problem = classify(r.stderr, names=names)
    if problem is None or problem.kind not in RUN_KINDS:
        return None
    return Outcome(ERROR, _expected_of(check), f"exit code {r.exit_code}; stderr "
                   f"{_shown(check, last_word(r.stderr))}",
                   f"kubectl in this check on {check.host} could not get an answer: {problem.text()}")


def _with_cuts(o: Outcome, r: CommandResult) -> Outcome:
    """The evidence says when the output judged was cut short (see grader.batch.Frames)."""
    cuts = [f"{name} {n} bytes" for name, n in (("stdout", r.stdout_cut), ("stderr", r.stderr_cut)) if n]
    if not cuts:
        return o
    note = (f"output too long, judged on its first {CHECK_HEAD >> 20} MiB and last {CHECK_TAIL >> 10} KiB: "
            f"dropped {' and '.join(cuts)} from the middle")
    return Outcome(o.status, o.expected, f"{o.actual}; {note}", o.message)


def error(check: Check, message: str) -> Outcome:
    """The environment kept this check from being judged."""
    return Outcome(ERROR, expected=_expected_of(check), actual="(not judged)", message=message)


def _expected_of(check: Check) -> str:
    return KINDS[check.kind].expected(check)


def _expected_run(check: Check) -> str:
    e = check.expect
    parts = [describe_exit(e.get("exit", 0))]
    for stream in ("stdout", "stderr"):
        if stream in e:
            parts.append(f"{stream} {describe(e[stream], hide=check.sensitive)}")
    return "; ".join(parts)


def _expected_file(check: Check) -> str:
    e = check.expect
    if not e.get("exists", True):
        return f"{check.target} is absent"
    parts = [f"{check.target} exists"]
    for key in ("type", "mode", "owner", "group"):
        if key in e:
            parts.append(f"{key} {e[key]}")
    if "content" in e:
        parts.append(f"content {describe(e['content'], hide=check.sensitive)}")
    return "; ".join(parts)


def _expected_kube(check: Check) -> str:
    e = check.expect
    hide = check.sensitive
    what = _kube_name(check)
    if not e.get("exists", True):
        return f"{what} is absent"
    if "jsonpath" in e:
        decoded = " (base64-decoded)" if e.get("decode") else ""
        return f"{what} {e['jsonpath']}{decoded} {describe(e['value'], hide=hide)}"
    return f"{what} exists"


def _shown(check: Check, text: str) -> str:
    if check.sensitive:
        return f"(hidden: {len(text.strip())} characters)"
    return repr(excerpt(text)) if text.strip() else "(empty)"


def _evaluate_command(check: Check, r: CommandResult) -> Outcome:
    e = check.expect
    expected = _expected_of(check)
    misses = []
    exit_spec = e.get("exit", 0)
    if not exit_holds(exit_spec, r.exit_code):
        misses.append(f"exit code {r.exit_code}")
    for stream in ("stdout", "stderr"):
        if stream in e and not holds(e[stream], getattr(r, stream)):
            misses.append(f"{stream} {_shown(check, getattr(r, stream))}")
    if not misses:
        return Outcome(PASS, expected, f"exit code {r.exit_code}")
    if not any(m.startswith("stderr") for m in misses) and r.exit_code != 0 and r.stderr.strip():
        misses.append(f"stderr {_shown(check, r.stderr)}")
    if not any(m.startswith("stdout") for m in misses) and "stdout" not in e and r.stdout.strip():
        misses.append(f"stdout {_shown(check, r.stdout)}")
    return Outcome(FAIL, expected, "; ".join(misses))


def _evaluate_file(check: Check, r: CommandResult, names=None) -> Outcome:
    e = check.expect
    expected = _expected_of(check)
    want = e.get("exists", True)
    if r.exit_code != 0 and not r.stdout.startswith(ABSENT):
        return Outcome(ERROR, expected, f"exit code {r.exit_code}; stderr {excerpt(r.stderr)!r}",
                       f"could not inspect {check.target} on {check.host}: {excerpt(r.stderr, 200)}")
    if r.stdout.startswith(ABSENT):
        if want:
            return Outcome(FAIL, expected, f"{check.target} does not exist")
        return Outcome(PASS, expected, f"{check.target} does not exist")
    if not want:
        return Outcome(FAIL, expected, f"{check.target} exists")
    head, _, content = r.stdout.partition("\n")
    fields = head.split("|")
    if len(fields) != 4:
        return Outcome(ERROR, expected, repr(excerpt(r.stdout, 200)),
                       f"unexpected stat output on {check.host}; is coreutils' stat installed?")
    kind, mode, owner, group = fields
    kind = {"regular file": "file", "symbolic link": "symlink"}.get(kind, kind)
    misses = []
    if "type" in e and e["type"] != kind:
        misses.append(f"type {kind}")
    if "mode" in e and int(str(e["mode"]), 8) != int(mode, 8):
        misses.append(f"mode {int(mode, 8):04o}")
    if "owner" in e and str(e["owner"]) != owner:
        misses.append(f"owner {owner}")
    if "group" in e and str(e["group"]) != group:
        misses.append(f"group {group}")
    if "content" in e and not holds(e["content"], content):
        misses.append(f"content {_shown(check, content)}")
    if misses:
        return Outcome(FAIL, expected, "; ".join(misses))
    facts = [kind] + ([f"mode {int(mode, 8):04o}", f"{owner}:{group}"] if mode else [])
    return Outcome(PASS, expected, f"{check.target}: {', '.join(facts)}")


def _kube_name(check: Check) -> str:
    spec = check.target
    what = f"{spec['resource']}/{spec['name']}" if spec.get("name") else spec["resource"]
    if spec.get("selector"):
        what += f" -l {spec['selector']}"
    if spec.get("namespace"):
        what += f" in namespace {spec['namespace']}"
    return what


def _evaluate_kube(check: Check, r: CommandResult, names=None) -> Outcome:
    e = check.expect
    expected = _expected_of(check)
    what = _kube_name(check)
    if r.exit_code == 127:
        return Outcome(ERROR, expected, "kubectl: command not found",
                       f"kubectl is not installed on {check.host}, the kube host")
    if r.exit_code != 0:
        if not_found(r.stderr):     # the apiserver's answer: a fact
            if not e.get("exists", True):
                return Outcome(PASS, expected, f"{what} not found")
            return Outcome(FAIL, expected, f"{what} not found")
        said = last_word(r.stderr)
        problem = classify(r.stderr, names=names)
        cause = problem.text() if problem else (f"{excerpt(said, 200)} (is the apiserver up and the kubeconfig "
                                                "right? try `kubectl get nodes` there)")
        return Outcome(ERROR, expected, f"kubectl exit code {r.exit_code}: {excerpt(said, 300)}",
                       f"kubectl on {check.host} could not answer: {cause}")
    # by name, exit 0 means it exists; by selector without jsonpath, `-o name` lists the matches
    # (with a jsonpath a selector yields a List, possibly empty, and the jsonpath decides)
    exists = bool(r.stdout.strip()) if (check.target.get("selector") and "jsonpath" not in e) else True
    if not e.get("exists", True):
        return Outcome(PASS if not exists else FAIL, expected, f"{what} {'exists' if exists else 'not found'}")
    if not exists:
        return Outcome(FAIL, expected, f"no object matches {what}")
    if "jsonpath" not in e:
        return Outcome(PASS, expected, f"{what} exists")
    value = r.stdout
    if e.get("decode") == "base64":
        try:
            value = base64.b64decode(value.strip(), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return Outcome(FAIL, expected, f"{e['jsonpath']} is not valid base64")
    if holds(e["value"], value):
        return Outcome(PASS, expected, f"{e['jsonpath']} = {_shown(check, value)}")
    return Outcome(FAIL, expected, f"{e['jsonpath']} = {_shown(check, value)}")


@dataclass(frozen=True)
class Kind:
    """What a check kind does: the command that gathers its facts on its host (`command`:
    check, inventory, env -> shell text), its verdict on that command's result (`evaluate`:
    check, result, names -> Outcome) and what it wants, in words (`expected`: check -> str)."""
    command: Callable
    evaluate: Callable
    expected: Callable


# The check kinds, one entry each (grader.packs.model.CHECK_KINDS names them for the loader;
# tests/unit/test_registries.py keeps the two and the schema equal).
KINDS = {
    "run": Kind(_run_command, _evaluate_run, _expected_run),
    "file": Kind(_file_command, _evaluate_file, _expected_file),
    "kube": Kind(_kube_command, _evaluate_kube, _expected_kube),
    "script": Kind(_script_command, _evaluate_run, _expected_run),
}
