"""The dict and list a pack's YAML loads into, each knowing the lines its keys came from.
Apart from grader.packs.yamlsrc (which builds them) so that a cached pack loads without YAML."""
from __future__ import annotations


class LineDict(dict):
    lines: dict
    line: int | None = None


class LineList(list):
    lines: dict
    line: int | None = None
