"""Plain-text rendering for the terminal: a run summary, and Markdown (task sheets).

ANSI colours only when asked (`color=True`); the CLI passes `sys.stdout.isatty()` and
honours NO_COLOR.  Without colour the output is plain text that reads well in a log.
"""
from __future__ import annotations

import re
import shutil

from grader.report import fmt
from grader.report.markdown import Block, inline, parse
from grader.engine.results import ERROR, FAIL, FLAKY, PASS, RunResult
from grader.engine.scoring import FAILED, INCOMPLETE, PASSED, score
from grader.engine.verdicts import UNSCORED_KINDS

_CODES = {"bold": "1", "dim": "2", "italic": "3", "underline": "4", "red": "31", "green": "32",
          "yellow": "33", "blue": "34", "magenta": "35", "cyan": "36"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STATUS_STYLE = {PASS: ("green", "bold"), FAIL: ("red", "bold"), ERROR: ("yellow", "bold"),
                 FLAKY: ("magenta", "bold")}
_VERDICT_STYLE = {PASSED: ("green", "bold"), FAILED: ("red", "bold"), INCOMPLETE: ("yellow", "bold")}
_EVIDENCE_LINES = 6


class _Painter:
    def __init__(self, color: bool):
        self.color = color

    def __call__(self, text: str, *styles: str) -> str:
        if not self.color or not styles or not text:
            return text
        return "\x1b[" + ";".join(_CODES[s] for s in styles) + "m" + text + "\x1b[0m"


def visible_len(text: str) -> int:
    return len(_ANSI.sub("", text))


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - visible_len(text))


def _clean(text: str) -> str:
    """Drop control characters (a terminal must not obey escapes found in evidence)."""
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f\x9b]", "?", text.replace("\t", "    "))


# --- run summary ------------------------------------------------------------


def render_run(run: RunResult, *, color: bool, width: int | None = None) -> str:
    """A compact summary: per task, per check status and points, evidence for the ones
    that did not pass; domains, totals and the verdict."""
    p = _Painter(color)
    width = width or min(shutil.get_terminal_size((100, 24)).columns, 110)
    s = score(run)
    out: list[str] = []

    title = run.pack_title or run.pack
    head = f"{title} ({run.pack}{' ' + run.pack_version if run.pack_version else ''})"
    meta = [run.mode]
    if run.seed is not None:
        meta.append(f"seed {run.seed}")
    if run.inventory:
        meta.append(f"inventory {run.inventory}")
    out.append(p(_clean(head), "bold") + "  " + p(" · ".join(_clean(m) for m in meta), "dim"))
    info = []
    if run.hosts:
        info.append("hosts " + ", ".join(_clean(h) for h in run.hosts))
    if run.started:
        info.append("started " + fmt.when(run.started))
    used = "time used " + fmt.clock(run.time_used)
    limit = fmt.limit_seconds(run)
    if limit:
        used += " of " + fmt.clock(limit)
    info.append(used + (" " + p("LATE", "red", "bold") if run.late else ""))
    out.append(p(" · ", "dim").join(info))
    out.append("")

    for n, task in enumerate(run.tasks, 1):
        status = task.status
        badge = p(f"{status:<5}", *_STATUS_STYLE[status])
        right = f"{fmt.num(task.earned)}/{fmt.num(task.points)} pts"
        if task.time_spent is not None:
            right += f" · {fmt.clock(task.time_spent)}"
            if task.target_minutes:
                right += f" / {fmt.num(task.target_minutes)} min"
        flag = " " + p("[flagged]", "magenta") if task.flagged else ""
        left = f"{badge} {n}. {p(_clean(task.title or task.id), 'bold')} {p('· ' + _clean(task.domain), 'dim')}{flag}"
        out.append(_pad(left, max(0, width - len(right) - 1)) + " " + right)
        if task.error:
            out.extend(_evidence(p, "environment", task.error, "yellow"))
        for check in task.checks:
            mark = {PASS: "✓", FAIL: "✗", ERROR: "!", FLAKY: "~"}[check.status]
            mark = p(mark, *_STATUS_STYLE[check.status][:1])
            pts = f"{fmt.num(check.earned)}/{fmt.num(check.points)}"
            if check.kind in UNSCORED_KINDS:       # validate's alternative, near-miss and cluster rows
                pts = check.status
            elif check.status == ERROR:
                pts += " not judged"
            elif check.status == FLAKY:
                pts += " FLAKY"
            where = p(f" ({_clean(check.host)})", "dim") if check.host else ""
            line = f"    {mark} {_clean(check.name)}{where}"
            out.append(_pad(line, max(0, width - len(pts) - 1)) + " " + p(pts, "dim"))
            if check.status == PASS:
                continue
            if check.expected:
                out.extend(_evidence(p, "expected", check.expected))
            if check.actual or check.status == FAIL:
                out.extend(_evidence(p, "found", check.actual or "(nothing)"))
            if check.message:
                label = "fix the environment" if check.status == ERROR else "why"
                out.extend(_evidence(p, label, check.message, "yellow" if check.status == ERROR else ""))
    if not run.tasks:
        out.append(p("(no tasks in this results file)", "dim"))
    out.append("")

    if len(s.domains) > 1 or run.domain_weights:
        parts = []
        for d in s.domains:
            w = run.domain_weights.get(d.domain)
            weight = f" w{fmt.num(w)}" if w else ""
            parts.append(f"{_clean(d.domain)} {fmt.num(d.percent)}% ({fmt.num(d.earned)}/{fmt.num(d.possible)}{weight})")
        out.append(p("domains ", "dim") + " · ".join(parts))
    total = (f"score {p(fmt.num(s.percent) + '%', 'bold')} ({fmt.num(s.earned)}/{fmt.num(s.possible)} points)"
             f" · pass mark {fmt.num(s.pass_percent)}%")
    out.append(total)
    if s.errors:
        out.append(p(f"{s.errors} check{'s' if s.errors != 1 else ''} not judged ({fmt.num(s.unjudged)} points): "
                     "fix the environment and grade again", "yellow"))
    out.append(p(s.verdict, *_VERDICT_STYLE[s.verdict]) + (" " + p("(late)", "red") if run.late else ""))
    return "\n".join(out) + "\n"


def _evidence(p: _Painter, label: str, text: str, style: str = "") -> list[str]:
    lines = _clean(text).rstrip("\n").split("\n")
    if len(lines) > _EVIDENCE_LINES:
        lines = lines[:_EVIDENCE_LINES] + [f"... ({len(lines) - _EVIDENCE_LINES} more lines)"]
    lines = [ln if len(ln) <= 200 else ln[:197] + "..." for ln in lines]
    head = p(f"{label}:", *((style,) if style else ("dim",)))
    pad = " " * visible_len(head)
    return [f"        {head if k == 0 else pad} {ln}" for k, ln in enumerate(lines)]


# --- Markdown ---------------------------------------------------------------


def render_markdown(text: str, *, color: bool, width: int = 80) -> str:
    """Markdown for the terminal: headings, bold and italics, inline code, code blocks,
    lists, quotes and tables; paragraphs wrapped to `width`."""
    p = _Painter(color)
    lines: list[str] = []
    for ln in _md_blocks(parse(text), p, width, ""):
        if ln.strip() or (lines and lines[-1].strip()):      # one blank line at most
            lines.append(ln.rstrip() if not ln.strip() else ln)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _inline_term(text: str, p: _Painter) -> str:
    out = []
    for span in inline(_clean(text).replace("\n", " ")):
        st = span.styles
        if "url" in st:
            out.append(" " + p(f"<{span.text}>", "dim"))
            continue
        styles = []
        if "strong" in st:
            styles.append("bold")
        if "em" in st:
            styles.append("italic")
        if "link" in st:
            styles.append("underline")
        if "code" in st:
            out.append(p(span.text, "cyan", *styles) if p.color else f"`{span.text}`")
        else:
            out.append(p(span.text, *styles))
    return "".join(out)


def _wrap(text: str, width: int, first: str, rest: str) -> list[str]:
    words = text.split(" ")
    lines, cur, cur_len = [], first, visible_len(first)
    base = cur_len
    for word in words:
        if not word:
            continue
        wl = visible_len(word)
        if cur_len > base and cur_len + 1 + wl > width:
            lines.append(cur)
            cur, cur_len = rest + word, visible_len(rest) + wl
            base = visible_len(rest)
        else:
            sep = " " if cur_len > base else ""
            cur += sep + word
            cur_len += len(sep) + wl
    lines.append(cur)
    return lines


def _md_blocks(blocks: list[Block], p: _Painter, width: int, indent: str) -> list[str]:
    out: list[str] = []
    for b in blocks:
        if b.kind == "heading":
            text = _inline_term(b.text, p)
            if p.color:
                out.append(indent + p(_ANSI.sub("", text).upper() if b.level == 1 else _ANSI.sub("", text),
                                      "bold", *(("underline",) if b.level <= 2 else ())))
            else:
                out.append(indent + text)
                if b.level <= 2:
                    out.append(indent + ("=" if b.level == 1 else "-") * min(visible_len(text), width))
        elif b.kind == "para":
            out.extend(_wrap(_inline_term(b.text, p), width, indent, indent))
        elif b.kind == "code":
            for ln in _clean(b.text).split("\n"):
                out.append(indent + "    " + p(ln, "cyan"))
        elif b.kind == "hr":
            out.append(indent + p("─" * max(10, width - len(indent)), "dim"))
        elif b.kind == "quote":
            inner = _md_blocks(b.items[0], p, width - 2, "")
            while inner and not inner[-1].strip():
                inner.pop()
            for ln in inner:
                out.append(indent + p("│ ", "dim") + ln)
        elif b.kind == "table":
            rows = [[_inline_term(c, p) for c in row] for row in b.rows]
            cols = max(len(r) for r in rows)
            widths = [max((visible_len(r[k]) for r in rows if k < len(r)), default=0) for k in range(cols)]
            for r, row in enumerate(rows):
                cells = [_pad(row[k] if k < len(row) else "", widths[k]) for k in range(cols)]
                out.append(indent + "  ".join(p(c, "bold") if r == 0 else c for c in cells).rstrip())
                if r == 0:
                    out.append(indent + "  ".join("-" * w for w in widths))
        elif b.kind == "list":
            for k, item in enumerate(b.items):
                marker = f"{b.start + k}. " if b.ordered else "• "
                sub = _md_blocks(item, p, width, indent + " " * len(marker))
                if sub and item and item[0].kind == "para":
                    sub[0] = indent + p(marker, "bold") + sub[0][len(indent) + len(marker):]
                else:
                    sub.insert(0, indent + p(marker.rstrip(), "bold"))
                loose = sum(x.kind in ("para", "code", "table") for x in item) > 1
                out.extend(ln for ln in sub if ln.strip() or loose)
            out.append("")
            continue
        out.append("")
    return out
