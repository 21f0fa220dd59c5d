"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

Rendered from templates/report.html.j2 with Jinja2 autoescaping; Markdown goes through
grader.report.markdown, which escapes raw HTML.  Chart geometry is computed here so the
template only draws.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from grader import __version__
from grader.report import fmt, templates_dir
from grader.report.markdown import plain, to_html
from grader.engine.results import ERROR, FAIL, FLAKY, PASS, RunResult
from grader.engine.scoring import Score, score

# chart layout, in SVG user units
_CHART_W = 720
_LABEL_W = 215
_VALUE_W = 130
_ROW_H = 30


@dataclass
class Bar:
    label: str
    full_label: str
    y: float
    width: float = 0.0          # main bar (score, or time spent)
    tone: str = "pass"          # pass | fail | error | over | muted
    value: str = ""             # text at the right
    target: float | None = None  # time chart: target bar width
    known: bool = True


@dataclass
class Chart:
    title: str
    caption: str
    width: int
    height: int
    x0: float
    span: float
    bars: list[Bar] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    mark: tuple[float, str] | None = None     # a vertical line (the pass mark)
    legend: list[tuple[str, str]] = field(default_factory=list)


def _short(text: str, limit: int = 26) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def domain_chart(s: Score, weights: dict[str, float] | None = None) -> Chart | None:
    """Horizontal bars: percent per domain, with the pass mark as a line."""
    domains = [d for d in s.domains if d.possible or d.earned]
    if not domains:
        return None
    span = _CHART_W - _LABEL_W - _VALUE_W - 10
    chart = Chart("Score per domain", "Percent of the points of each domain; the dashed line is the pass mark.",
                  _CHART_W, 34 + _ROW_H * len(domains) + 22, _LABEL_W, span)
    for k, d in enumerate(domains):
        weight = (weights or {}).get(d.domain)
        value = f"{fmt.num(d.percent)}%  ({fmt.num(d.earned)}/{fmt.num(d.possible)})"
        if weight:
            value += f" ×{fmt.num(weight)}"
        chart.bars.append(Bar(_short(d.domain), d.domain, 24 + k * _ROW_H, span * min(d.percent, 100) / 100,
                              "pass" if d.percent >= s.pass_percent else "fail", value))
    chart.ticks = [(_LABEL_W + span * t / 100, f"{t}%") for t in (0, 25, 50, 75, 100)]
    chart.mark = (_LABEL_W + span * min(s.pass_percent, 100) / 100, f"pass {fmt.num(s.pass_percent)}%")
    chart.legend = [("pass", "at or above the pass mark"), ("fail", "below the pass mark")]
    return chart


def _nice_step(max_minutes: float) -> int:
    for step in (1, 2, 5, 10, 15, 20, 30, 60, 120):
        if max_minutes / step <= 6:
            return step
    return 240


def time_chart(run: RunResult) -> Chart | None:
    """Per task: the target minutes (grey) and the time spent (blue, red when over)."""
    tasks = [t for t in run.tasks if t.target_minutes or t.time_spent is not None]
    if not tasks:
        return None
    longest = max(max(t.target_minutes, (t.time_spent or 0) / 60) for t in tasks) or 1
    step = _nice_step(longest)
    top = step * math.ceil(longest / step)
    span = _CHART_W - _LABEL_W - _VALUE_W - 10
    chart = Chart("Time per task", "Target minutes for a prepared candidate against the time you spent.",
                  _CHART_W, 34 + _ROW_H * len(tasks) + 22, _LABEL_W, span)
    for k, t in enumerate(tasks):
        n = run.tasks.index(t) + 1
        label = f"{n}. {t.title or t.id}"
        target = span * t.target_minutes / top if t.target_minutes else None
        if t.time_spent is None:
            bar = Bar(_short(label), label, 24 + k * _ROW_H, 0, "muted",
                      f"not recorded / {fmt.clock(t.target_minutes * 60)}", target, known=False)
        else:
            over = bool(t.target_minutes) and t.time_spent > t.target_minutes * 60
            value = fmt.clock(t.time_spent) + (f" / {fmt.clock(t.target_minutes * 60)}" if t.target_minutes else "")
            bar = Bar(_short(label), label, 24 + k * _ROW_H, span * min(t.time_spent / 60, top) / top,
                      "over" if over else "time", value, target)
        chart.bars.append(bar)
    chart.ticks = [(_LABEL_W + span * m / top, f"{m} min") for m in range(0, int(top) + 1, step)]
    chart.legend = [("target", "target"), ("time", "time spent"), ("over", "over target")]
    return chart


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _printable(value):
    """Every {{ value }}: control characters (not allowed in HTML text) are dropped."""
    if not isinstance(value, str):
        return value
    cleaned = _CONTROL.sub("", value)
    return type(value)(cleaned) if type(value) is not str else cleaned    # keeps Markup markup


def _environment(*, autoescape: bool = True):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined
    from markupsafe import Markup

    env = Environment(loader=FileSystemLoader(str(templates_dir())), autoescape=autoescape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, finalize=_printable)
    env.filters["md"] = lambda text: Markup(to_html(text or ""))       # to_html escapes everything
    env.filters["plain"] = plain
    env.filters["num"] = fmt.num
    env.filters["clock"] = fmt.clock
    env.filters["dur"] = fmt.short_duration
    env.filters["when"] = fmt.when
    return env


_VALIDATE_SECTIONS = (("Reference solution", ""), ("Alternative solutions", "alternative"),
                      ("Near misses", "near_miss"), ("The cluster after the task", "cluster"))


def check_sections(run: RunResult, task) -> list[tuple[str, list]]:
    """A task's result rows under their headings: in a validate run the reference solution's
    per-check verdicts, then each alternative, each near miss and the cluster's health."""
    if not task.checks:
        return []
    if run.mode != "validate":
        return [("Checks", task.checks)]
    kinds = {kind for _, kind in _VALIDATE_SECTIONS if kind}
    out = []
    for title, kind in _VALIDATE_SECTIONS:
        rows = [c for c in task.checks if (c.kind if c.kind in kinds else "") == kind]
        if rows:
            out.append((title, rows))
    return out


def render_html(run: RunResult) -> str:
    """The report for `run`, as one self-contained HTML document."""
    s = score(run)
    errors = [(t, c) for t, c in run.all_checks() if c.status == ERROR]
    task_errors = [t for t in run.tasks if t.error]
    counts = {st: sum(1 for _, c in run.all_checks() if c.status == st) for st in (PASS, FAIL, ERROR, FLAKY)}
    context = dict(
        run=run, score=s, verdict=s.verdict, title=run.pack_title or run.pack,
        limit=fmt.limit_seconds(run), counts=counts,
        tasks_passed=sum(1 for t in run.tasks if t.status == PASS),
        error_checks=errors, task_errors=task_errors,
        domain_chart=domain_chart(s, run.domain_weights), time_chart=time_chart(run),
        version=__version__, PASS=PASS, FAIL=FAIL, ERROR=ERROR, FLAKY=FLAKY, sections=check_sections,
    )
    return _environment().get_template("report.html.j2").render(**context)
