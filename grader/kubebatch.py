"""Kube checks by name, fetched a namespace at a time.  Pure: no I/O.

One kubectl process per kube check costs a Go binary's start each time (about 65 ms on a
2-core host, and most of a pass).  `plan(checks, inventory, nonce)` groups the kube checks
of a pass that name one object (`resource` + `name`, no selector, a jsonpath that can be
concatenated) by namespace: one `kubectl get RES/NAME RES/NAME ... -n NS -o jsonpath=T`
per group, all groups started at once in a single command of the host's batch.  kubectl
itself evaluates every check's jsonpath, so its semantics stay exactly kubectl's:

- one object in a group: T is the checks' templates one after the other, each opened by a
  marker `@@NONCE:o:c@@` (object o, check c) and the last closed by `@@NONCE:o:e@@`;
  kubectl prints that object as it does for `kubectl get RES NAME`;
- several objects: kubectl prints them as a List, and T holds one
  `{range .items[?(@.metadata.name=="NAME")]}...{end}` per object (names are unique within a
  group; a second object of the same name goes into another group), whose body is that
  object's markers and templates, evaluated on the object as in a call of its own.

`split(plan, stdout)` cuts the command's output back into one (exit code, stdout, stderr)
per check, the ones a call of its own would have given: the text between a check's marker
and the next; for an object kubectl answered NotFound about (its line
`Error from server (NotFound): pods "x" not found` on stderr, and no markers), exit code 1
and that line.  Whatever the batch cannot vouch for (a jsonpath error, any other stderr
with a failing exit, a marker missing or out of order, a timeout) is left out, and the
runner runs those checks one kubectl each, as before.  Checks it never batches: label
selectors, templates with `range`/`end`, backslashes, `@@` or unbalanced braces, names or
resources that are not plain Kubernetes names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.transport.base import quote

KEY_PREFIX = "kube-batch:"
NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
RESOURCE = re.compile(r"^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$")
SPEC_KEYS = {"resource", "name", "namespace"}
NOT_FOUND_LINE = re.compile(r'^Error from server \(NotFound\): \S+ "([^"]+)" not found$')
MISSING = 1          # kubectl's exit code for NotFound


@dataclass
class Obj:
    resource: str
    name: str
    checks: list = field(default_factory=list)      # (check key, jsonpath or "")


@dataclass
class Group:
    namespace: str | None
    objects: list = field(default_factory=list)     # Obj
    timeout: float = 0.0                             # the smallest timeout of its checks

    def names(self) -> set[str]:
        return {o.name for o in self.objects}


@dataclass
class Plan:
    nonce: str
    groups: list = field(default_factory=list)      # Group
    timeout: float = 0.0                             # the batch item's: the largest of its checks'

    @property
    def keys(self) -> set[str]:
        return {k for g in self.groups for o in g.objects for k, _ in o.checks}

    @property
    def key(self) -> str:
        return KEY_PREFIX + self.nonce


def concatenable(template: str) -> bool:
    """A jsonpath template that parses the same alone and between other templates: every
    action `{...}` closed (quotes inside it respected), no `range`/`end`, no backslash, no `@@`."""
    if "\\" in template or "@@" in template or "\n" in template:
        return False
    inside, quote_char = False, ""
    for i, ch in enumerate(template):
        if not inside:
            if ch == "{":
                inside = True
                if re.match(r"\s*(range|end)\b", template[i + 1:]):
                    return False
        elif quote_char:
            if ch == quote_char:
                quote_char = ""
        elif ch in "\"'":
            quote_char = ch
        elif ch == "}":
            inside = False
    return not inside


def batchable(check) -> bool:
    if check.kind != "kube" or not isinstance(check.target, dict):
        return False
    spec, e = check.target, check.expect
    if set(spec) - SPEC_KEYS or not spec.get("name"):
        return False
    if not RESOURCE.match(str(spec.get("resource", ""))) or not NAME.match(str(spec["name"])):
        return False
    ns = spec.get("namespace")
    if ns is not None and not NAME.match(str(ns)):
        return False
    return "jsonpath" not in e or (isinstance(e["jsonpath"], str) and concatenable(e["jsonpath"]))


def plan(checks, nonce: str) -> Plan:
    """Groups for the batchable kube checks among `checks`; a plan without groups batches nothing.
    A group of one check would save nothing and is dropped (that check runs alone)."""
    p = Plan(nonce)
    by_ns: dict = {}
    for c in checks:
        if not batchable(c):
            continue
        spec = c.target
        groups = by_ns.setdefault(spec.get("namespace"), [])
        for g in groups:
            obj = next((o for o in g.objects if o.name == spec["name"]), None)
            if obj is None or obj.resource == spec["resource"]:
                break
        else:
            g = Group(spec.get("namespace"))
            groups.append(g)
            obj = None
        if obj is None:
            obj = Obj(spec["resource"], spec["name"])
            g.objects.append(obj)
        obj.checks.append((c.key, c.expect.get("jsonpath", "")))
        g.timeout = min(g.timeout or c.timeout, c.timeout)
        p.timeout = max(p.timeout, c.timeout)
    p.groups = [g for gs in by_ns.values() for g in gs if sum(len(o.checks) for o in g.objects) > 1]
    return p


def marker(nonce: str, obj: int, check) -> str:
    return f"@@{nonce}:{obj}:{check}@@"


def template(g: Group, nonce: str) -> str:
    def body(n: int, o: Obj) -> str:
        return "".join(marker(nonce, n, i) + t for i, (_, t) in enumerate(o.checks)) + marker(nonce, n, "e")
    if len(g.objects) == 1:
        return body(0, g.objects[0])
    return "".join(f'{{range .items[?(@.metadata.name=="{o.name}")]}}{body(n, o)}{{end}}'
                   for n, o in enumerate(g.objects))


def kubectl_call(g: Group, nonce: str, inventory) -> str:
    parts = [inventory.kubectl]
    if inventory.kubeconfig:
        parts += ["--kubeconfig", quote(inventory.kubeconfig)]
    parts.append("get")
    parts += [quote(f"{o.resource}/{o.name}") for o in g.objects]
    if g.namespace:
        parts += ["-n", quote(g.namespace)]
    parts.append(f"--request-timeout={max(1, int(g.timeout) - 1)}s")
    parts += ["-o", quote("jsonpath=" + template(g, nonce))]
    return " ".join(parts)


def section(nonce: str, n: int, part: str) -> str:
    return f"\n@@{nonce}:G{n}:{part}@@\n"


def command(p: Plan, inventory) -> str:
    """Every group's kubectl at once, then each one's exit code, stdout and stderr, framed."""
    lines = ['__kd=$(mktemp -d) || exit 97']
    for n, g in enumerate(p.groups):
        lines.append(f'( {kubectl_call(g, p.nonce, inventory)} >"$__kd/{n}.o" 2>"$__kd/{n}.e"; '
                     f'echo $? >"$__kd/{n}.r" ) &')
    lines.append("wait")
    for n, _ in enumerate(p.groups):
        lines.append(f"printf '%s%s%s' {quote(section(p.nonce, n, 'r'))} \"$(cat \"$__kd/{n}.r\")\" "
                     f"{quote(section(p.nonce, n, 'o'))}; cat \"$__kd/{n}.o\"; "
                     f"printf '%s' {quote(section(p.nonce, n, 'e'))}; cat \"$__kd/{n}.e\"; "
                     f"printf '%s' {quote(section(p.nonce, n, 'z'))}")
    lines.append('rm -rf -- "$__kd"')
    return "\n".join(lines)


def sections(p: Plan, stdout: str) -> dict[int, tuple[int, str, str]]:
    """Group number -> (exit code, stdout, stderr) of its kubectl, for the groups whose frame is whole."""
    out = {}
    for n, _ in enumerate(p.groups):
        marks = [section(p.nonce, n, part) for part in "roez"]
        at = [stdout.find(m) for m in marks]
        if any(i < 0 for i in at) or at != sorted(at):
            continue
        ends = [i + len(m) for i, m in zip(at, marks)]
        try:
            rc = int(stdout[ends[0]:at[1]])
        except ValueError:
            continue
        out[n] = (rc, stdout[ends[1]:at[2]], stdout[ends[2]:at[3]])
    return out


def split(p: Plan, stdout: str) -> dict[str, tuple[int, str, str]]:
    """Check key -> (exit code, stdout, stderr) as its own kubectl call would have given them,
    for every check the batch can vouch for; the others are absent (run them alone)."""
    done = {}
    for n, (rc, out, err) in sections(p, stdout).items():
        done.update(split_group(p.groups[n], p.nonce, rc, out, err))
    return done


def split_group(g: Group, nonce: str, rc: int, out: str, err: str) -> dict[str, tuple[int, str, str]]:
    pieces = re.split(rf"@@{re.escape(nonce)}:(\d+):(\d+|e)@@", out)
    if pieces[0]:
        return {}                                   # output outside the markers: not ours to judge
    found: dict[int, list[str]] = {}
    order = []
    for i in range(1, len(pieces), 3):
        n, part, text = int(pieces[i]), pieces[i + 1], pieces[i + 2]
        order.append((n, part))
        if part != "e":
            found.setdefault(n, []).append(text)
        elif text:
            return {}                               # text after an object's last marker
    expected = []
    for n in dict.fromkeys(n for n, _ in order):
        if n >= len(g.objects):
            return {}
        expected += [(n, str(i)) for i in range(len(g.objects[n].checks))] + [(n, "e")]
    if order != expected:
        return {}                                   # a marker missing, repeated or out of order
    missing = {}
    if rc != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        for ln in lines:
            m = NOT_FOUND_LINE.match(ln)
            if not m or m.group(1) not in g.names():
                return {}                           # anything but NotFound: each check alone says what
            missing[m.group(1)] = ln
    done = {}
    for n, o in enumerate(g.objects):
        if n in found:
            if o.name in missing:
                return {}
            for (key, _), value in zip(o.checks, found[n]):
                done[key] = (0, value, "")
        elif o.name in missing:
            for key, _ in o.checks:
                done[key] = (MISSING, "", missing[o.name] + "\n")
        elif rc == 0:
            return {}                               # kubectl said nothing about it
    return done
