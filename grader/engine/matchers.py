"""Declarative matchers on text (goss-style).  Pure functions, no I/O.

A matcher is a scalar (equals), a list (all of), or a one-key mapping:
equals, contains, regex, lt, le, gt, ge, empty, not, any, all.
`holds(spec, value)` says whether it holds; `describe(spec)` says in words what it wants.
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
    if op == "equals":
        return _equals(arg, value)
    if op == "contains":
        return _scalar(arg) in value
    if op == "regex":
        return re.search(arg, value, re.MULTILINE) is not None
    if op in NUMERIC:
        got = _number(value)
        return got is not None and NUMERIC[op][1](got, float(arg))
    if op == "empty":
        return (value.strip() == "") == bool(arg)
    if op == "not":
        return not holds(arg, value)
    if op == "any":
        return any(holds(s, value) for s in arg)
    if op == "all":
        return all(holds(s, value) for s in arg)
    raise ValueError(f"unknown matcher '{op}'")


def describe(spec, *, hide: bool = False) -> str:
    """What the matcher wants, in words; `hide` masks the literal values (secrets)."""
    def lit(v):
        return "***" if hide else repr(_scalar(v))
    if isinstance(spec, list):
        return " and ".join(describe(s, hide=hide) for s in spec) or "anything"
    if not isinstance(spec, dict):
        return f"equals {lit(spec)}"
    (op, arg), = spec.items()
    if op == "equals":
        return f"equals {lit(arg)}"
    if op == "contains":
        return f"contains {lit(arg)}"
    if op == "regex":
        return f"matches /{'***' if hide else arg}/"
    if op in NUMERIC:
        return f"is a number {NUMERIC[op][0]} {lit(arg) if hide else _scalar(arg)}"
    if op == "empty":
        return "is empty" if arg else "is not empty"
    if op == "not":
        return f"not ({describe(arg, hide=hide)})"
    if op == "any":
        return "one of: " + " | ".join(describe(s, hide=hide) for s in arg)
    if op == "all":
        return " and ".join(describe(s, hide=hide) for s in arg)
    raise ValueError(f"unknown matcher '{op}'")


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
