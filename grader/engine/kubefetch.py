"""Many kube checks answered by one kubectl: the plan and the answers.  Pure.

One kubectl process per kube check costs ~0.1 s of a Go start-up, a TLS handshake and a
request each; a pack's grading pass has dozens.  Instead, a pass on the kube host runs

    kubectl api-resources ...                   (once per runner: the resource names)
    kubectl get R1,R2,... -A -o json            (every kube check's resource, all namespaces)

and each check's answer is worked out here from that listing: the object by kind, group,
namespace and name (or the label selector's List), then the check's jsonpath evaluated by
`grader.engine.jsonpath`, which returns only what kubectl itself would print.  The answer
has the shape of the check's own kubectl call (exit code, stdout, stderr), so the verdict
is the same `checks.evaluate` as for one kubectl per check.

Whatever this cannot answer with certainty falls back to the check's own kubectl call
(`answer` returns None): a resource name that is unknown or ambiguous, a namespaced
resource without a namespace (kubectl would use the kubeconfig's), a selector outside the
plain grammar, a jsonpath this module does not evaluate or one kubectl would reject, and
any listing that did not come back whole (an error, a timeout, cut output).

    resources = parse_resources(api_resources_stdout)
    listing = parse_listing(get_stdout)
    result = answer(check, listing, resources)    # CommandResult-like fields, or None
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from grader.engine import jsonpath
from grader.packs.model import Check
from grader.shell import quote

GROUPABLE_KIND = "kube"


@dataclass(frozen=True)
class Resource:
    name: str            # plural: deployments
    shortnames: tuple
    group: str           # "" for the core group
    namespaced: bool
    kind: str            # Deployment

    def spellings(self) -> set[str]:
        singular = self.kind.lower()
        plain = {self.name, singular, *self.shortnames}
        if self.group:
            plain |= {f"{self.name}.{self.group}", f"{singular}.{self.group}"}
        return plain


@dataclass(frozen=True)
class Answer:
    exit_code: int
    stdout: str
    stderr: str


def groupable(check: Check) -> bool:
    """A kube check whose jsonpath (if any) this module can evaluate."""
    if check.kind != GROUPABLE_KIND:
        return False
    path = check.expect.get("jsonpath")
    if path is None:
        return True
    try:
        _compiled(path)
    except jsonpath.Unsupported:
        return False
    return True


@lru_cache(maxsize=1024)
def _compiled(path: str) -> jsonpath.Template:
    """Each check's jsonpath is parsed once per process, not once per check per pass."""
    return jsonpath.compile(path)


def resources_command(prefix: str, timeout: int) -> str:
    return f"{prefix} api-resources --request-timeout={timeout}s"


def listing_command(prefix: str, names: list[str], timeout: int) -> str:
    """One `kubectl get` of every resource the checks name, in every namespace, as JSON."""
    return f"{prefix} get {quote(','.join(sorted(set(names))))} -A --request-timeout={timeout}s -o json"


def parse_resources(stdout: str) -> dict[str, list[Resource]] | None:
    """`kubectl api-resources` (a table aligned by its header) -> spelling -> resources."""
    lines = [ln for ln in stdout.splitlines() if ln.strip()]
    if not lines or lines[0].split() != ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]:
        return None
    head = lines[0]
    starts = [head.index(word) for word in ("NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")]
    out: dict[str, list[Resource]] = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
        name, shorts, version, namespaced, kind = cells
        if not name or namespaced not in ("true", "false") or not kind or " " in version:
            return None             # not the table we expect: fall back, never guess
        group = version.rsplit("/", 1)[0] if "/" in version else ""
        r = Resource(name, tuple(s for s in shorts.split(",") if s), group, namespaced == "true", kind)
        for spelling in r.spellings():
            out.setdefault(spelling, []).append(r)
    return out


def parse_listing(stdout: str) -> dict | None:
    try:
        data = json.loads(stdout)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        return None
    return data


def resource_of(check: Check, resources: dict) -> Resource | None:
    found = {r for r in resources.get(check.target["resource"], [])}
    return found.pop() if len(found) == 1 else None


def answer(check: Check, listing: dict, resources: dict) -> Answer | None:
    """The check's kubectl answer worked out from the listing, or None: ask kubectl itself."""
    spec = check.target
    res = resource_of(check, resources)
    if res is None or (res.namespaced and not spec.get("namespace")):
        return None
    selector = None
    if spec.get("selector"):
        selector = parse_selector(spec["selector"])
        if selector is None:
            return None
    items = [o for o in listing["items"] if _is(o, res, spec.get("namespace"))]
    if spec.get("name"):
        items = [o for o in items if o.get("metadata", {}).get("name") == spec["name"]]
        if selector is not None:
            return None             # a name and a selector together: kubectl's own rules
        if not items:
            return Answer(1, "", f'Error from server (NotFound): {res.name} "{spec["name"]}" not found\n')
        if len(items) > 1:
            return None
        obj = items[0]
        shown = f"{res.kind.lower()}{'.' + res.group if res.group else ''}/{spec['name']}\n"
    else:
        items = [o for o in items if selector is None or matches(selector, o)]
        obj = {"apiVersion": "v1", "items": items, "kind": "List",
               "metadata": listing.get("metadata", {"resourceVersion": ""})}
        shown = "".join(f"{res.kind.lower()}{'.' + res.group if res.group else ''}/"
                        f"{o.get('metadata', {}).get('name', '')}\n" for o in items)
    path = check.expect.get("jsonpath")
    if path is None:
        return Answer(0, shown, "")
    try:
        return Answer(0, _compiled(path).render(obj), "")
    except jsonpath.Unsupported:
        return None


def _is(obj: dict, res: Resource, namespace: str | None) -> bool:
    version = obj.get("apiVersion", "")
    group = version.rsplit("/", 1)[0] if "/" in version else ""
    if obj.get("kind") != res.kind or group != res.group:
        return False
    return not res.namespaced or obj.get("metadata", {}).get("namespace") == namespace


# --- label selectors: the plain grammar only; anything else is kubectl's to judge ---------

_NAME = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?"
_KEY = rf"(?:[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?/)?{_NAME}"
_VALUE = rf"(?:{_NAME})?"
_EQ = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*({_VALUE})$")
_SET = re.compile(rf"^({_KEY})\s+(in|notin)\s+\(\s*({_VALUE}(?:\s*,\s*{_VALUE})*)\s*\)$")
_EXISTS = re.compile(rf"^(!?)\s*({_KEY})$")


def _fits(key: str, *values: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return len(prefix) <= 253 and len(name) <= 63 and all(len(v) <= 63 for v in values)


def parse_selector(text: str) -> list[tuple] | None:
    """`app=web,tier!=db,env in (a,b),!legacy` -> requirements, or None when unsure."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    out = []
    for part in (p.strip() for p in parts):
        if m := _EQ.match(part):
            out.append(("!=" if m.group(2) == "!=" else "=", m.group(1), m.group(3)))
            values = [m.group(3)]
        elif m := _SET.match(part):
            values = [v.strip() for v in m.group(3).split(",")]
            out.append((m.group(2), m.group(1), set(values)))
        elif m := _EXISTS.match(part):
            out.append(("!" if m.group(1) else "exists", m.group(2), None))
            values = []
        else:
            return None
        if not _fits(out[-1][1], *values):
            return None
    return out or None


def matches(selector: list[tuple], obj: dict) -> bool:
    labels = obj.get("metadata", {}).get("labels") or {}
    for op, key, value in selector:
        have = key in labels
        if op == "=" and not (have and labels[key] == value):
            return False
        if op == "!=" and have and labels[key] == value:
            return False
        if op == "in" and not (have and labels[key] in value):
            return False
        if op == "notin" and have and labels[key] in value:
            return False
        if op == "exists" and not have:
            return False
        if op == "!" and have:
            return False
    return True
