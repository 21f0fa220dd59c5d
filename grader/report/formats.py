"""The report files grader writes: one entry per format, in the order they are written.

Adding a format is one `Format` here plus its own module with a `render_X(run) -> str`;
`write_reports(run, KEY=path)` and `write_report_dir` (a drill's and `check -o`'s folder)
then write it.  A renderer is named as "module:function" and imported only when its file
is written, so a command that writes no HTML never imports Jinja2.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Format:
    key: str            # the keyword of write_reports()
    filename: str       # its name in a report folder
    renderer: str       # "module:function", function(run) -> the file's text


FORMATS = (
    Format("json_path", "results.json", "grader.report.formats:render_json"),
    Format("html", "report.html", "grader.report.html:render_html"),
    Format("junit", "junit.xml", "grader.report.junit:render_junit"),
)


def render_json(run) -> str:
    return run.to_json() + "\n"


def renderer(fmt: Format):
    module, _, function = fmt.renderer.partition(":")
    return getattr(importlib.import_module(module), function)
