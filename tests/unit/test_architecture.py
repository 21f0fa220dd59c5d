"""docs/architecture.md draws the package as it is, and the package keeps its shape: every
module is in the module table and every module in the table exists, grader's modules import
each other without a cycle (top-level and function-level imports alike), and a module over
400 lines says why at its top."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "grader"
DOC = (ROOT / "docs" / "architecture.md").read_text()
MAX_LINES = 400
REASON = "Over 400 lines:"          # the line of a long module's docstring that says why


def module_files() -> dict[str, Path]:
    """grader's modules by dotted name (a package by its __init__.py)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def table_entries() -> set[str]:
    """The `grader/...` paths named in the module table's rows."""
    rows = [line for line in DOC.splitlines() if line.startswith("| `grader/")]
    return {m for row in rows for m in re.findall(r"`(grader/[\w/.]+)`", row.split(" | ")[0])}


def listed(path: Path, entries: set[str]) -> bool:
    rel = path.relative_to(ROOT).as_posix()
    return rel in entries or (path.name == "__init__.py" and rel[: -len("__init__.py")] in entries)


def imports(path: Path, known) -> tuple[set[str], set[str]]:
    """(top-level, function-level) grader modules that `path` imports."""
    top, deferred = set(), set()

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            names = []
            if isinstance(child, ast.Import):
                names = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom) and child.level == 0 and child.module:
                names = [f"{child.module}.{a.name}" if f"{child.module}.{a.name}" in known else child.module
                         for a in child.names]
            (deferred if in_function else top).update(n for n in names if n in known)
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)))

    visit(ast.parse(path.read_text()), False)
    return top, deferred


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (module -> modules it imports), or None."""
    state: dict[str, int] = {}           # 1 on the stack, 2 done
    stack: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def graphs():
    known = module_files()
    top, every = {}, {}
    for name, path in known.items():
        t, d = imports(path, known)
        top[name], every[name] = t - {name}, (t | d) - {name}
    return top, every


def test_every_module_is_in_the_table():
    entries = table_entries()
    missing = [p.relative_to(ROOT).as_posix() for p in module_files().values() if not listed(p, entries)]
    assert not missing, f"modules missing from the table of docs/architecture.md: {missing}"


def test_every_module_in_the_table_exists():
    gone = sorted(e for e in table_entries() if not (ROOT / e).exists())
    assert not gone, f"docs/architecture.md lists modules that do not exist: {gone}"


def test_the_folder_tree_names_every_package():
    tree = DOC[DOC.index("```\ngrader/"):]
    tree = tree[: tree.index("```", 4)]
    packages = sorted(p.parent.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("__init__.py") if p.parent != PACKAGE)
    missing = [p for p in packages if f"{p.split('/')[-1]}/" not in tree]
    assert not missing, f"the folder tree of docs/architecture.md lacks: {missing}"


def test_no_import_cycle_among_top_level_imports():
    top, _ = graphs()
    assert cycle(top) is None, " -> ".join(cycle(top))


def test_no_import_cycle_even_through_imports_in_functions():
    """A function-level import runs later, but a cycle through it is still a tangle."""
    _, every = graphs()
    assert cycle(every) is None, " -> ".join(cycle(every))


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_long_modules_say_why():
    unexplained = []
    for path in module_files().values():
        lines = path.read_text().count("\n")
        if lines > MAX_LINES:
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            if not any(line.startswith(REASON) for line in doc.splitlines()):
                unexplained.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not unexplained, f"over {MAX_LINES} lines without a '{REASON}' line in the docstring: {unexplained}"
