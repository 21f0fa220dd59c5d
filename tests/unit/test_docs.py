"""Documentation stays in step with the code: a key or command missing from the docs fails here."""
import json
import re
from pathlib import Path

import pytest

from grader.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
TASK_DOC = (ROOT / "docs" / "task-format.md").read_text()
README = (ROOT / "README.md").read_text()


def schema_keys(node, out=None):
    """Every property name anywhere in a JSON Schema."""
    out = set() if out is None else out
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            out.add(name)
            schema_keys(sub, out)
        for key, sub in node.items():
            if key != "properties":
                schema_keys(sub, out)
    elif isinstance(node, list):
        for sub in node:
            schema_keys(sub, out)
    return out


def doc_keys(text):
    """Keys named in the first column of the reference tables (`key` or `a.b`)."""
    keys = set()
    for line in text.splitlines():
        m = re.match(r"\|\s*`([a-z_][a-z_.]*)`", line)
        if m:
            keys.add(m.group(1).split(".")[-1])
    return keys


@pytest.mark.parametrize("name", ["pack", "task"])
def test_every_schema_key_is_documented(name):
    schema = json.loads((ROOT / "grader" / "schema" / f"{name}.schema.json").read_text())
    forms = ("`{}`", ".{}`", "{{{}:")          # `key`, `exam.key`, {key: ...} (matchers)
    missing = sorted(k for k in schema_keys(schema) if not any(f.format(k) in TASK_DOC for f in forms))
    assert not missing, f"keys in {name}.schema.json but not in docs/task-format.md: {missing}"


def test_every_documented_key_exists_in_a_schema():
    known = set()
    for name in ("pack", "task"):
        known |= schema_keys(json.loads((ROOT / "grader" / "schema" / f"{name}.schema.json").read_text()))
    extra = sorted(doc_keys(TASK_DOC) - known)
    assert not extra, f"docs/task-format.md documents keys no schema has: {extra}"


def commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        nested = [a for a in p._actions if a.__class__.__name__ == "_SubParsersAction"]
        if nested:
            for child in nested[0].choices:
                yield f"{name} {child}"
        else:
            yield name


def test_every_command_is_in_the_readme():
    cli = README[README.index("## The CLI"):]
    missing = []
    for command in commands():
        group, _, child = command.partition(" ")
        pattern = rf"grader {re.escape(group)}\b[^\n|]*" + (rf"\b{re.escape(child)}\b" if child else "")
        if not re.search(pattern, cli):
            missing.append(command)
    assert not missing, f"commands missing from the README's CLI section: {missing}"


def test_every_command_has_help():
    for command in commands():
        argv = command.split() + ["--help"]
        with pytest.raises(SystemExit) as exc:
            build_parser().parse_args(argv)
        assert exc.value.code == 0


def test_an_internal_error_is_one_line_and_exit_4(monkeypatch, capsys):
    """A bug in grader (here: a handler that raises) is reported, not a traceback."""
    import grader.cli.core as core
    from grader.cli import main

    def boom(args):
        raise ZeroDivisionError("planted")
    monkeypatch.setattr(core, "cmd_list", boom)
    monkeypatch.delenv("GRADER_DEBUG", raising=False)
    assert main(["list"]) == 4
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error: ZeroDivisionError: planted" in err and "Traceback" not in err
