"""The dict and list a pack's YAML loads into, each knowing the lines its keys came from.
Apart from grader.packs.yamlsrc (which builds them) so that a cached pack loads without YAML."""
from __future__ import annotations


class LineDict(dict):
    lines: dict
    line: int | None = None


class LineList(list):
    lines: dict
    line: int | None = None


def line_of(data, path) -> int | None:
    """The line of the deepest key along `path` (a sequence of keys/indexes)."""
    line = getattr(data, "line", None)
    node = data
    for part in path:
        lines = getattr(node, "lines", None)
        if lines is not None and part in lines:
            line = lines[part]
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
        line = getattr(node, "line", None) or line
    return line
