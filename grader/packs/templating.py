"""Render a TaskSpec into a concrete Task for one seed and one inventory.  Pure: no I/O.

Two Jinja2 environments, both with StrictUndefined:
- text: descriptions, hints, explanations, check values, copied files;
- command: `run` commands, where every `{{ expression }}` is shell-quoted on output
  (like a parameterised SQL query), unless the author writes `{{ value | raw }}`.
Params are drawn from a random generator seeded by (seed, task id, param name), so the
same seed always gives the same task.
"""
from __future__ import annotations

import random
import re
import shlex
import string
from functools import lru_cache

from grader.errors import PackError
from grader.packs.model import (CHECK_KINDS, DEFAULT_CHECK_TIMEOUT, DEFAULT_INTERVAL, DEFAULT_STEP_TIMEOUT,
                                Alternative, Check, NearMiss, Step, Task, TaskSpec)



class Raw(str):
    """A value the author asked to insert unquoted into a command."""


def _quote_output(value):
    if isinstance(value, Raw):
        return str(value)
    return shlex.quote(str(value))


@lru_cache(maxsize=None)
def _env(command: bool):
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                             finalize=_quote_output if command else None)
    env.filters["raw"] = Raw
    env.filters["q"] = lambda v: Raw(shlex.quote(str(v)))
    return env


@lru_cache(maxsize=4096)
def _compiled(template: str, command: bool):
    return _env(command).from_string(template)


def draw_params(spec: TaskSpec, seed: int) -> dict:
    out = {}
    for name, value in spec.data.get("params", {}).items():
        rng = random.Random(f"{seed}:{spec.id}:{name}")
        if isinstance(value, dict) and "choice" in value:
            out[name] = rng.choice(list(value["choice"]))
        elif isinstance(value, dict) and "randint" in value:
            low, high = value["randint"]
            out[name] = rng.randint(min(low, high), max(low, high))
        elif isinstance(value, dict) and "token" in value:
            alphabet = string.ascii_letters + string.digits
            out[name] = "".join(rng.choice(alphabet) for _ in range(int(value["token"])))
        else:
            out[name] = value
    return out


def env_name(param: str) -> str:
    """The environment variable a param becomes in scripts: upper-cased, `-` as `_`."""
    return re.sub(r"[^A-Za-z0-9_]", "_", param).upper()


def script_env(params: dict, inventory) -> dict:
    env = {env_name(k): str(v) for k, v in params.items()}
    env["GRADER_KUBE_HOST"] = inventory.kube_host
    for role, spec in inventory.hosts.items():
        tag = re.sub(r"[^A-Za-z0-9_]", "_", role).upper()
        env[f"GRADER_HOST_{tag}_IP"] = spec.ip or spec.address or ""
        env[f"GRADER_HOST_{tag}_NODE"] = spec.node_name
    return env


class _Renderer:
    def __init__(self, spec: TaskSpec, context: dict):
        self.spec, self.context = spec, context

    def text(self, template, *path, command=False):
        if not isinstance(template, str):
            return template
        if "{" not in template:          # no {{ }}, {% %} or {# #}: nothing to render
            return template
        import jinja2

        try:
            return _compiled(template, command).render(self.context)
        except jinja2.TemplateSyntaxError as exc:
            raise self._error(f"template syntax error: {exc.message}", path, lineno=exc.lineno) from None
        except jinja2.UndefinedError as exc:
            raise self._error(f"template error: {exc.message}", path) from None
        except Exception as exc:  # a filter or expression that fails at render time
            raise self._error(f"template error: {exc}", path) from None

    def deep(self, value, *path):
        if isinstance(value, str):
            return self.text(value, *path)
        if isinstance(value, dict):
            return {k: self.deep(v, *path, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.deep(v, *path, i) for i, v in enumerate(value)]
        return value

    def _error(self, message, path, lineno=None):
        # yamlsrc imports PyYAML: only for a template error, not on a cached load
        from grader.packs.yamlsrc import key_path

        if path and path[0] == "description" and "description" not in self.spec.data:
            return PackError(message, file=str(self.spec.dir / "description.md"), line=lineno)
        if lineno and path and path[-1] == "copy":  # a syntax error in the copied file
            item = self.spec.data
            for key in path[:-1]:
                item = item[key]
            return PackError(message, file=str(self.spec.dir / item["copy"]), line=lineno)
        return PackError(message, file=str(self.spec.file), line=self.spec.line(*path), key=key_path(path) or None)


def render_task(spec: TaskSpec, *, seed: int, inventory) -> Task:
    params = draw_params(spec, seed)
    context = dict(params)
    context.update(hosts=inventory.facts(), kube_host=inventory.kube_host, seed=seed, task_id=spec.id)
    r = _Renderer(spec, context)
    data = spec.data

    def host(item, *path):
        role = item.get("host", inventory.kube_host)
        if role not in inventory.hosts:
            raise r._error(f"host '{role}' is not in the inventory {inventory.source} "
                           f"(it has: {', '.join(sorted(inventory.hosts))})", (*path, "host"))
        return role

    if "host" in data:
        host(data)                      # where the candidate works: a host the inventory has

    def steps(section, items=None, where=()):
        out = []
        for i, item in enumerate(data.get(section, []) if items is None else items):
            base = (*where, i) if where else (section, i)
            label = f"{section}.steps[{i}]" if where else f"{section}[{i}]"
            timeout = float(item.get("timeout", DEFAULT_STEP_TIMEOUT))
            if "run" in item:
                _no_quoted_expressions(r, item["run"], (*base, "run"))
                out.append(Step("run", r.text(item["run"], *base, "run", command=True), host(item, *base),
                                timeout, label=label))
            elif "script" in item:
                out.append(Step("script", spec.files[item["script"]], host(item, *base), timeout, label=label,
                                source=item["script"]))
            else:
                body = r.text(spec.files[item["copy"]], *base, "copy")
                out.append(Step("copy", body, host(item, *base), timeout, to=r.text(item["to"], *base, "to"),
                                mode=str(item.get("mode", "0644")), label=label, source=item["copy"]))
        return tuple(out)

    checks = []
    for i, item in enumerate(data["checks"]):
        base = ("checks", i)
        kind = next(k for k in CHECK_KINDS if k in item)
        if kind == "run":
            _no_quoted_expressions(r, item["run"], (*base, "run"))
            target = r.text(item["run"], *base, "run", command=True)
        elif kind == "script":
            target = spec.files[item["script"]]
        else:
            target = r.deep(item[kind], *base, kind)
        role = inventory.kube_host if kind == "kube" else host(item, *base)
        sensitive = bool(item.get("sensitive", False))
        if kind == "kube" and str(target.get("resource", "")).lower() in ("secret", "secrets"):
            sensitive = True
        checks.append(Check(task_id=spec.id, index=i, name=r.text(item["name"], *base, "name"), kind=kind,
                            host=role, points=float(item.get("points", 1)),
                            timeout=float(item.get("timeout", DEFAULT_CHECK_TIMEOUT)),
                            within=float(item.get("within", 0)), interval=float(item.get("interval", DEFAULT_INTERVAL)),
                            passes_before_fix=bool(item.get("passes_before_fix", False)), sensitive=sensitive,
                            id=str(item.get("id", "")), target=target,
                            expect=_valid_regexes(r, r.deep(dict(item.get("expect", {})), *base, "expect"),
                                                  (*base, "expect"))))
    alternatives = tuple(
        Alternative(r.text(item["name"], "alternatives", i, "name"),
                    steps(f"alternatives[{i}]", item["steps"], ("alternatives", i, "steps")))
        for i, item in enumerate(data.get("alternatives", [])))
    near_misses = tuple(
        NearMiss(r.text(item["name"], "near_misses", i, "name"),
                 steps(f"near_misses[{i}]", item["steps"], ("near_misses", i, "steps")),
                 _resolve_fails(r, item["fails"], data["checks"], checks, ("near_misses", i, "fails")))
        for i, item in enumerate(data.get("near_misses", [])))
    return Task(spec=spec, seed=seed, params=params, env=script_env(params, inventory),
                description=r.text(spec.description, "description"),
                hints=tuple(r.text(h, "hints", i) for i, h in enumerate(data.get("hints", []))),
                explanation=r.text(data.get("explanation", ""), "explanation"),
                setup=steps("setup"), solution=steps("solution"), reset=steps("reset"), checks=tuple(checks),
                alternatives=alternatives, near_misses=near_misses)


def _resolve_fails(r: _Renderer, fails, raw_checks, checks, path) -> tuple:
    """A near miss's `fails` as check indices: each item is a check's `id` or its exact name as written
    (a template's text, so that it names the same check for every seed)."""
    out = []
    for j, ref in enumerate(fails):
        index = next((c.index for c, raw in zip(checks, raw_checks) if ref in (raw.get("id"), raw["name"])), None)
        if index is None:
            ids = [raw["id"] for raw in raw_checks if raw.get("id")]
            known = f"ids: {', '.join(ids)}; or a check's exact name" if ids else "a check's exact name or id"
            raise r._error(f"near miss names no check '{ref}' ({known})", (*path, j))
        if index not in out:
            out.append(index)
    return tuple(out)


def _valid_regexes(r: _Renderer, value, path):
    """`value` (a rendered expect), after checking that every regex matcher compiles."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "regex" and isinstance(item, str):
                try:
                    re.compile(item)
                except re.error as exc:
                    raise r._error(f"not a valid regular expression {item!r}: {exc}", (*path, key)) from None
            else:
                _valid_regexes(r, item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _valid_regexes(r, item, (*path, i))
    return value


_RAW_EXPR = re.compile(r"\{\{[^}]*\|\s*raw\s*\}\}")


def quoted_expressions(template: str) -> bool:
    """True when a {{ ... }} (not marked raw) stands inside shell quotes."""
    state = None  # None, "'" or '"'
    i = 0
    while i < len(template):
        c = template[i]
        if template.startswith("{{", i):
            end = template.find("}}", i)
            end = len(template) if end < 0 else end + 2
            if state and not _RAW_EXPR.fullmatch(template[i:end]):
                return True
            i = end
            continue
        if c == "\\" and state != "'":
            i += 2
            continue
        if c in "'\"" and state in (None, c):
            state = None if state else c
        i += 1
    return False


def _no_quoted_expressions(r: _Renderer, template: str, path) -> None:
    if quoted_expressions(template):
        raise r._error("do not put {{ ... }} inside quotes in a command: grader quotes every value itself "
                       "(write {{ value | raw }} to insert one unquoted)", path)
