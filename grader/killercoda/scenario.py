"""A killercoda (or Katacoda) scenario folder as the importer reads it: index.json with the
type of every key it knows checked, and the files it names, refused when missing or when they
(or a link on the way) leave the scenario folder.

`SPEC` is the shape of index.json; `docs/trainers.md` has a table with a row for each of its
keys (a test keeps the two in step).
"""
from __future__ import annotations

import json
from pathlib import Path

from grader.errors import PackError, UsageError
from grader.killercoda.common import INDEX

ANY = object()          # any JSON value
_PAGE = {"text": str, "background": str, "foreground": str,
         "courseData": str, "code": str, "credits": str}                 # the last three: Katacoda
_STEP = {"title": str, "text": str, "verify": str, "background": str, "foreground": str,
         "courseData": str, "code": str, "answer": str}                  # the last three: Katacoda
_ASSET = {"file": str, "target": str, "chmod": (str, int)}
SPEC = {
    "title": str, "description": str, "difficulty": str, "time": (str, int, float),
    "details": {"intro": _PAGE, "steps": [_STEP], "finish": _PAGE, "assets": {"*": [_ASSET]}},
    "backend": {"imageid": str},
    "interface": dict,
    "environment": dict,        # Katacoda
}
# what a wrong type should have been, by key (the first that matches, most specific first)
EXAMPLES = {"backend": '{"imageid": "ubuntu"}', "details.intro": '{"text": "intro.md"}',
            "details.finish": '{"text": "finish.md"}', "details.steps": '[{"title": ..., "text": ...}]',
            "details.assets.": '[{"file": "app.conf", "target": "/root"}]',
            "details.assets": '{"host01": [{"file": ..., "target": ...}]}'}


def read(root: str | Path) -> "Scenario":
    root = Path(root)
    index_file = root / INDEX
    if not index_file.is_file():
        raise UsageError(f"{root}: not a killercoda scenario folder (no {INDEX})")
    scenario = Scenario(root)
    scenario.inside(index_file, None, INDEX)
    try:
        index = json.loads(index_file.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise PackError(f"not valid JSON: {exc}", file=str(index_file)) from None
    if not isinstance(index, dict):
        raise PackError(f"is {_kind(index)}; a killercoda index.json is an object", file=str(index_file))
    _check(index, SPEC, "", str(index_file))
    scenario.index = index
    return scenario


def _kind(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({json.dumps(value)})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({json.dumps(shown)})"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _wanted(spec) -> str:
    if isinstance(spec, dict) or spec is dict:
        return "an object"
    if isinstance(spec, list):
        return "a list"
    kinds = spec if isinstance(spec, tuple) else (spec,)
    return " or ".join({str: "a string", int: "a number", float: "a number"}[k] for k in dict.fromkeys(kinds)
                       if k is not float or int not in kinds)


def _wrong(value, spec, key: str, file: str) -> PackError:
    example = next((e for prefix, e in EXAMPLES.items()
                    if key == prefix or (prefix.endswith(".") and key.startswith(prefix) and "[" not in key)), "")
    return PackError(f"is {_kind(value)}, not {_wanted(spec)}" + (f" (like {example})" if example else ""),
                     file=file, key=key)


def _check(value, spec, key: str, file: str) -> None:
    """Raise a PackError naming the first key whose value has the wrong type (null is absent)."""
    if value is None or spec is ANY:
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _wrong(value, spec, key, file)
        for name, sub in spec.items():
            items = value.items() if name == "*" else [(name, value.get(name))]
            for child, v in items:
                _check(v, sub, f"{key}.{child}" if key else child, file)
    elif isinstance(spec, list):
        if not isinstance(value, list):
            raise _wrong(value, spec, key, file)
        for i, item in enumerate(value):
            _check(item, spec[0], f"{key}[{i}]", file)
    elif spec is dict:
        if not isinstance(value, dict):
            raise _wrong(value, spec, key, file)
    elif isinstance(value, bool) or not isinstance(value, spec):
        raise _wrong(value, spec, key, file)


def spec_paths(spec=SPEC, prefix: str = "") -> list[str]:
    """Every key of SPEC as a path: `details.steps[].verify`, `details.assets.<host>[].file`."""
    out = []
    if isinstance(spec, dict):
        for name, sub in spec.items():
            path = f"{prefix}.{'<host>' if name == '*' else name}" if prefix else name
            out.append(path)
            out += spec_paths(sub, path)
    elif isinstance(spec, list):
        out += spec_paths(spec[0], prefix + "[]")
    return out


def unknown_keys(index: dict) -> list[str]:
    """The keys index.json has and SPEC does not (grader has no counterpart for them)."""
    out = []

    def walk(value, spec, key):
        if isinstance(spec, dict) and isinstance(value, dict) and "*" not in spec:
            for name in value:
                path = f"{key}.{name}" if key else name
                if name not in spec:
                    out.append(path)
                else:
                    walk(value[name], spec[name], path)
        elif isinstance(spec, dict) and isinstance(value, dict):
            for name, v in value.items():
                walk(v, spec["*"], f"{key}.{name}")
        elif isinstance(spec, list) and isinstance(value, list):
            for i, item in enumerate(value):
                walk(item, spec[0], f"{key}[{i}]")

    walk(index, SPEC, "")
    return out


class Scenario:
    """The scenario folder and its index.json; hands out the files index.json names."""

    def __init__(self, root: Path):
        self.root = root
        self.real = root.resolve()
        self.index: dict = {}

    @property
    def index_file(self) -> str:
        return str(self.root / INDEX)

    def get(self, *keys, default=None):
        value = self.index
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        return default if value is None else value

    def inside(self, path: Path, key: str | None, rel: str) -> Path:
        """`path` if it stays inside the scenario folder once every link on the way is followed."""
        try:
            real = path.resolve()
            ok = real.is_relative_to(self.real)
        except (OSError, RuntimeError, ValueError):
            real, ok = path, False
        if not ok:
            linked = any(p.is_symlink() for p in [path, *path.parents] if p.is_relative_to(self.root))
            how = "is a link that leaves" if linked else "lies outside"
            raise PackError(f"'{rel}' {how} the scenario folder (it resolves to {real}); refused",
                            file=self.index_file if key else str(path), key=key)
        return path

    def path(self, rel: str, key: str) -> Path:
        """The file that index.json's `key` names: it must exist and stay inside the folder."""
        if Path(rel).is_absolute():
            raise PackError(f"'{rel}' is an absolute path; killercoda names files in the scenario folder",
                            file=self.index_file, key=key)
        path = self.inside(self.root / rel, key, rel)
        if not path.is_file():
            raise PackError(f"file '{rel}' not found in {self.root}", file=self.index_file, key=key)
        return path

    def data(self, rel: str, key: str) -> bytes:
        return self.path(rel, key).read_bytes()

    def text(self, rel: str, key: str, report) -> str:
        """A Markdown file as text: CRLF made LF; bytes that are not UTF-8 shown as U+FFFD, noted."""
        raw = self.data(rel, key)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
            report.note(f"{key} ({rel}): not UTF-8; the bytes that are not are shown as U+FFFD")
        return text.replace("\r\n", "\n").replace("\r", "\n")
