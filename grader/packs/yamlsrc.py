"""Safe YAML that remembers where each key came from, and schema errors that say so.

`load_yaml(path)` returns plain dicts/lists (subclasses that carry `.lines`, a map
from key to line number) so that any later error can name the file, line and key.
"""
from __future__ import annotations

import difflib
import json
from functools import lru_cache
from pathlib import Path

import yaml

from grader.engine.matchers import MATCHERS
from grader.errors import PackError
from grader.packs.lines import LineDict, LineList, line_of
from grader.packs.model import CHECK_KINDS

SCHEMA_DIR = Path(__file__).parent.parent / "schema"     # grader/schema


class _Loader(yaml.SafeLoader):
    pass


def _map(loader, node):
    loader.flatten_mapping(node)
    out = LineDict()
    out.lines, out.line = {}, node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise PackError("a mapping key must be a plain value", line=key_node.start_mark.line + 1) from None
        if key in out:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key '{key}'", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _seq(loader, node):
    out = LineList(loader.construct_object(child, deep=True) for child in node.value)
    out.lines = {i: child.start_mark.line + 1 for i, child in enumerate(node.value)}
    out.line = node.start_mark.line + 1
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _map)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _seq)


def load_yaml(path: Path):
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise PackError("file not found", file=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PackError(f"cannot read: {exc}", file=str(path)) from None
    return parse_yaml(text, file=str(path))


def parse_yaml(text: str, *, file: str):
    """`text` as data that remembers its lines; duplicate keys and YAML errors -> PackError
    with the file and line (the inventory turns it into an InventoryError)."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader derives from SafeLoader
    except PackError as exc:  # raised by _map, which does not know the file
        raise PackError(exc.message, file=file, line=exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PackError(f"not valid YAML: {problem}", file=file,
                        line=mark.line + 1 if mark else None) from None


@lru_cache(maxsize=None)
def schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())


@lru_cache(maxsize=None)
def _validator(name: str):
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema(name))


def key_path(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validate(data, schema_name: str, file: Path) -> list[PackError]:
    """Every schema problem of `data`, each as a PackError naming file, line and key."""
    validator = _validator(schema_name)
    problems = []
    for error in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        error = _most_specific(error)
        path = list(error.absolute_path)
        message = _describe(error)
        if error.validator == "additionalProperties":
            extra = [k for k in error.instance if k not in error.schema.get("properties", {})]
            for key in extra:
                known = sorted(error.schema.get("properties", {}))
                close = difflib.get_close_matches(str(key), known, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(known)})"
                problems.append(PackError(f"unknown key{hint}", file=str(file),
                                          line=line_of(data, path + [key]), key=key_path(path + [key])))
            continue
        problems.append(PackError(message, file=str(file), line=line_of(data, path),
                                  key=key_path(path) or None))
    return problems




def _most_specific(error):
    """For a oneOf over check/step kinds, report the branch the author meant."""
    if error.validator != "oneOf" or not error.context or not isinstance(error.instance, dict):
        return error
    branches = error.validator_value
    meant = [index for index, branch in enumerate(branches)
             if branch.get("required") and all(k in error.instance for k in branch["required"])]
    nested = False
    if not meant and not any(branch.get("required") for branch in branches):
        # a matcher: the one mapping branch, when the problem is inside it ({not: {equalz: 1}})
        meant, nested = [i for i, branch in enumerate(branches) if branch.get("type") == "object"], True
    if len(meant) != 1:  # none or several kinds: that is the error, not a detail of one branch
        return error
    index = meant[0]
    # the branch's own "not (another kind)" and "required" clauses only restate the choice
    inner = [e for e in error.context if e.schema_path and e.schema_path[0] == index
             and not (len(e.schema_path) <= 2 and e.validator in ("not", "required"))]
    if inner:
        deepest = max(inner, key=lambda e: len(e.absolute_path))
        if nested and len(deepest.absolute_path) <= len(error.absolute_path):
            return error  # a problem of this mapping itself: _describe says it better
        return _most_specific(deepest)
    return error


def _describe(error) -> str:
    inst = error.instance
    if error.validator == "anyOf" and isinstance(inst, dict) and not any(b.get("required")
                                                                         for b in error.validator_value):
        return _describe_mapping(inst, MATCHER_NAMES)  # expect.exit: a code, a list of codes, or a matcher
    if error.validator == "oneOf" and isinstance(inst, dict):
        branch_keys = {k for branch in error.validator_value for k in branch.get("required", [])}
        if not branch_keys & {"run", "script", "copy", "file", "kube"}:  # a matcher or a param
            return _describe_mapping(inst, sorted(branch_keys) if branch_keys else MATCHER_NAMES)
        found = [k for k in CHECK_KINDS if k in inst]
        steps = [k for k in ("run", "script", "copy") if k in inst]
        if "name" in inst or "points" in inst or "expect" in inst:
            if not found:
                return f"a check needs exactly one kind: {', '.join(CHECK_KINDS)} (it has none)"
            if len(found) > 1:
                return f"a check needs exactly one kind, it has {len(found)}: {', '.join(found)}"
        if not steps:
            return "a step needs exactly one of run, script or copy (with to)"
        if len(steps) > 1:
            return f"a step needs exactly one of run, script or copy, it has {', '.join(steps)}"
        if "copy" in inst and "to" not in inst:
            return "a copy step needs 'to', the destination path"
        return "'to' and 'mode' go with copy only"
    if error.validator == "oneOf":
        return f"{_short(inst)} is not a valid value here"
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator == "type":
        return f"expected {error.validator_value}, got {_short(inst)}"
    if error.validator == "enum":
        return f"{_short(inst)} is not one of {', '.join(map(str, error.validator_value))}"
    if error.validator == "pattern":
        return f"{_short(inst)} does not match {error.validator_value}"
    if error.validator == "not" and isinstance(inst, dict) and "name" in inst and "selector" in inst:
        return "give either name or selector, not both"
    if error.validator == "not" and isinstance(inst, dict) and inst.get("exists") is False and "jsonpath" in inst:
        return "exists: false cannot go with jsonpath (an absent object has no fields to read)"
    return error.message


MATCHER_NAMES = tuple(MATCHERS)


def _describe_mapping(inst: dict, known) -> str:
    """A matcher or a param written as a mapping with an unknown or a second key."""
    what = "a matcher" if known is MATCHER_NAMES else "a param"
    unknown = [k for k in inst if k not in known]
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), known, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"use one of: {', '.join(known)}"
        return f"{what} cannot have the key '{unknown[0]}' ({hint})"
    if len(inst) != 1:
        return f"{what} mapping has exactly one key, this one has {len(inst)}: {', '.join(map(str, inst))}"
    return f"{_short(inst)} is not a valid value here"


def _short(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
