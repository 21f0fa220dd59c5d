"""Declarative matchers on text (goss-style).  Pure functions, no I/O.

A matcher is a scalar (equals), a list (all of), or a one-key mapping:
equals, contains, regex, lt, le, gt, ge, empty, not, any, all (the `MATCHERS` registry).
`holds(spec, value)` says whether it holds; `describe(spec)` says in words what it wants.

The killercoda export embeds this module's source (grader/killercoda/verify_runtime.py):
it imports nothing of grader.
"""
from __future__ import annotations

import re

NUMERIC = {"lt": ("<", lambda a, b: a < b), "le": ("<=", lambda a, b: a <= b),
           "gt": (">", lambda a, b: a > b), "ge": (">=", lambda a, b: a >= b)}


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(text: str):
    try:
        return float(text.strip())
    except (TypeError, ValueError):
        return None


def _equals(expected, value: str) -> bool:
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        got = _number(value)
        return got is not None and got == float(expected)
    return value.strip() == _scalar(expected).strip()


def holds(spec, value: str) -> bool:
    value = "" if value is None else value
    if isinstance(spec, list):
        return all(holds(s, value) for s in spec)
    if not isinstance(spec, dict):
        return _equals(spec, value)
    (op, arg), = spec.items()
    if op not in MATCHERS:
        raise ValueError(f"unknown matcher '{op}'")
    return MATCHERS[op][0](arg, value)


def describe(spec, *, hide: bool = False) -> str:
    """What the matcher wants, in words; `hide` masks the literal values (secrets)."""
    if isinstance(spec, list):
        return " and ".join(describe(s, hide=hide) for s in spec) or "anything"
    if not isinstance(spec, dict):
        return f"equals {_lit(spec, hide)}"
    (op, arg), = spec.items()
    if op not in MATCHERS:
        raise ValueError(f"unknown matcher '{op}'")
    return MATCHERS[op][1](arg, hide)


def _lit(value, hide: bool) -> str:
    return "***" if hide else repr(_scalar(value))


def _number_holds(op):
    def check(arg, value):
        got = _number(value)
        return got is not None and NUMERIC[op][1](got, float(arg))
    return check


def _number_says(op):
    return lambda arg, hide: f"is a number {NUMERIC[op][0]} {_lit(arg, hide) if hide else _scalar(arg)}"


# The matchers by name: (holds(arg, value) -> bool, describe(arg, hide) -> str).  Adding one is
# one entry here; the `matcher` definition of grader/schema/task.schema.json says what its
# argument may be (tests/unit/test_registries.py fails while the two name different matchers).
MATCHERS = {
    "equals": (_equals, lambda arg, hide: f"equals {_lit(arg, hide)}"),
    "contains": (lambda arg, value: _scalar(arg) in value, lambda arg, hide: f"contains {_lit(arg, hide)}"),
    "regex": (lambda arg, value: re.search(arg, value, re.MULTILINE) is not None,
              lambda arg, hide: f"matches /{'***' if hide else arg}/"),
    **{op: (_number_holds(op), _number_says(op)) for op in NUMERIC},
    "empty": (lambda arg, value: (value.strip() == "") == bool(arg),
              lambda arg, hide: "is empty" if arg else "is not empty"),
    "not": (lambda arg, value: not holds(arg, value), lambda arg, hide: f"not ({describe(arg, hide=hide)})"),
    "any": (lambda arg, value: any(holds(s, value) for s in arg),
            lambda arg, hide: "one of: " + " | ".join(describe(s, hide=hide) for s in arg)),
    "all": (lambda arg, value: all(holds(s, value) for s in arg),
            lambda arg, hide: " and ".join(describe(s, hide=hide) for s in arg)),
}


def exit_holds(spec, code: int) -> bool:
    if isinstance(spec, bool):
        return False
    if isinstance(spec, int):
        return code == spec
    if isinstance(spec, list) and all(isinstance(x, int) and not isinstance(x, bool) for x in spec):
        return code in spec
    return holds(spec, str(code))


def describe_exit(spec) -> str:
    if isinstance(spec, int) and not isinstance(spec, bool):
        return f"exit code {spec}"
    if isinstance(spec, list) and all(isinstance(x, int) for x in spec):
        return "exit code in " + ", ".join(map(str, spec))
    return "exit code " + describe(spec)


def excerpt(text: str, limit: int = 400) -> str:
    """A short, one-paragraph view of command output for evidence."""
    text = (text or "").strip()
    if not text:
        return "(empty)"
    if len(text) > limit:
        more = len(text) - limit
        text = text[:limit] + f"... [{more} more characters]"
    return text
