"""Each thing grader has several of is listed once, in a registry, and what else names them
(the task schema, the inventory, the report folder) agrees with it: adding one is one entry."""
from __future__ import annotations

import importlib
import inspect
import json
from pathlib import Path

from grader.engine import checks, matchers
from grader.inventory import TRANSPORTS
from grader.packs import model, templating, yamlsrc
from grader.report import REPORT_FILES, formats
from grader.transport.base import Transport

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "grader" / "schema" / "task.schema.json").read_text())
DEFS = SCHEMA["$defs"]


def test_the_schema_accepts_exactly_the_check_kinds():
    branches = {b["required"][0] for b in DEFS["check"]["oneOf"]}
    assert branches == set(model.CHECK_KINDS)
    assert set(model.CHECK_KINDS) <= set(DEFS["check"]["properties"])


def test_loading_and_rendering_use_the_one_tuple_of_kinds():
    assert yamlsrc.CHECK_KINDS is model.CHECK_KINDS and templating.CHECK_KINDS is model.CHECK_KINDS


def test_checks_gather_and_judge_every_kind():
    assert tuple(checks.KINDS) == model.CHECK_KINDS, "grader/engine/checks.py KINDS and CHECK_KINDS disagree"
    for name, kind in checks.KINDS.items():
        assert all(callable(f) for f in (kind.command, kind.evaluate, kind.expected)), name


def test_the_schema_accepts_exactly_the_matchers():
    mapping = next(b for b in DEFS["matcher"]["oneOf"] if b.get("type") == "object")
    assert set(mapping["properties"]) == set(matchers.MATCHERS)
    assert yamlsrc.MATCHER_NAMES == tuple(matchers.MATCHERS)


def test_every_matcher_holds_and_says_what_it_wants():
    samples = {"equals": "a", "contains": "a", "regex": "^a", "lt": 2, "le": 1, "gt": 0, "ge": 1, "empty": False,
               "not": "b", "any": ["a", "b"], "all": ["a"]}
    assert set(samples) == set(matchers.MATCHERS)
    for op, arg in samples.items():
        assert matchers.holds({op: arg}, "1" if op in matchers.NUMERIC else "a"), op
        assert matchers.describe({op: arg}) and matchers.describe({op: arg}, hide=True), op


def test_every_transport_opens_through_its_registry_entry():
    for name, target in TRANSPORTS.items():
        module, _, function = target.partition(":")
        opener = getattr(importlib.import_module(module), function)
        assert callable(opener), name
        assert list(inspect.signature(opener).parameters)[:3] == ["spec", "inventory", "jump"], name
        classes = [c for c in vars(importlib.import_module(module)).values()
                   if isinstance(c, type) and issubclass(c, Transport) and c is not Transport]
        assert classes, f"{module} defines no Transport"


def test_every_report_format_renders_and_has_a_file_name():
    assert list(REPORT_FILES) == [f.key for f in formats.FORMATS]
    assert len(set(REPORT_FILES.values())) == len(REPORT_FILES)
    for fmt in formats.FORMATS:
        assert callable(formats.renderer(fmt)), fmt.key
