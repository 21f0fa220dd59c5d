"""Reports from results: terminal summary, HTML, JUnit XML.

    from grader.report import write_reports
    write_reports(run, html="report.html", junit="junit.xml", json_path="results.json")

Renderers live in submodules (html, junit, terminal, markdown) and import Jinja2 and
friends only when used.
"""
from __future__ import annotations

import json
from pathlib import Path

from grader.engine import results
from grader.errors import ResultsFileError, UsageError
from grader.report.formats import FORMATS, renderer

_PACKAGE = Path(__file__).resolve().parent.parent          # .../grader


def templates_dir() -> Path:
    """Where the Jinja2 templates are: `<package>/_data/templates` in a wheel install,
    else `<repo>/templates` in a checkout."""
    for candidate in (_PACKAGE / "_data" / "templates", _PACKAGE.parent / "templates"):
        if (candidate / "report.html.j2").is_file():
            return candidate
    raise FileNotFoundError(f"grader templates not found (looked in {_PACKAGE / '_data' / 'templates'} "
                            f"and {_PACKAGE.parent / 'templates'}); the installation is incomplete")


def schema_path() -> Path:
    """The JSON Schema of the results file (docs/results-format.md)."""
    return _PACKAGE / "schema" / "results.schema.json"


def load_results(path: str | Path):
    """Read a results file, check it against the JSON Schema, return a RunResult.
    Anything else -> ResultsFileError (one line)."""
    data = results.read(Path(path))       # not JSON / not a results file (names the file)
    problem = validation_error(data)      # the schema names the key, so it speaks first
    if problem:
        raise ResultsFileError(f"{path}: malformed results: {problem}")
    return results.from_dict(data, source=str(path))


def validation_error(data) -> str | None:
    """The first schema violation in `data`, as one line, or None."""
    import jsonschema

    schema = json.loads(schema_path().read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(data))
    if error is None:
        return None
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    message = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    return f"{where or 'top level'}: {message}"


def write_reports(run, **paths) -> list[Path]:
    """Write the reports asked for by their keyword (`html=`, `junit=`, `json_path=`: the keys
    of grader.report.formats.FORMATS), in the registry's order.  Returns the paths written.
    A path that cannot be written -> UsageError."""
    unknown = set(paths) - {f.key for f in FORMATS}
    if unknown:
        raise TypeError(f"write_reports() got unexpected report formats: {', '.join(sorted(unknown))}")
    written: list[Path] = []
    for fmt in FORMATS:
        if not paths.get(fmt.key):
            continue
        path = Path(paths[fmt.key])
        text = renderer(fmt)(run)
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: cannot write: {exc.strerror or exc}") from None
        written.append(path)
    return written


REPORT_FILES = {f.key: f.filename for f in FORMATS}


def write_report_dir(run, out: str | Path) -> list[Path]:
    """All three reports into one folder (made if needed), under their usual names."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return write_reports(run, **{key: out / name for key, name in REPORT_FILES.items()})

