"""Killercoda Markdown -> grader texts: the task text without its solutions and hints, which
go where grader keeps them (`solution`, `hints`), so `grader show` never prints a solution.

- `split(text)`: (description, hints, solutions).  Solutions are `<details>` blocks whose
  summary says Solution or Answer, and sections under a heading (or a line in bold) that says
  so, up to the next heading of the same level or higher; hints are the same with Hint or Tip.
- `template(text)`: a text as a grader template: killercoda's action markers removed, other
  `{{ }}` kept literal with `{% raw %}`.
- `solution_script(parts)`: a solution in Markdown as a bash script: shell code blocks and
  `cmd`{{exec}} snippets are its commands, everything else is kept as comments, so that
  `grader show --solution` prints it all and `grader validate` can run it.
"""
from __future__ import annotations

import re

from grader.killercoda.common import JINJA_DELIMS, KC_MARKERS

_TAIL = r"(?:\s*\d+)?\s*(?:[:.!\-\u2013\u2014(].*)?$"       # "Solution", "Hint 2", "Solution: ...", "Answer (spoiler)"
SOLUTION = re.compile(r"^(?:(?:show|see|view|reveal|possible|reference|sample|suggested|example|the|a|one|my)\s+)*"
                      r"(?:solutions?|answers?)\b" + _TAIL, re.I)
HINT = re.compile(r"^(?:(?:show|see|view|reveal|a|the|one|small|little)\s+)*(?:hints?|tips?)\b" + _TAIL, re.I)
FENCE = re.compile(r"^\s{0,3}(```+|~~~+)\s*([\w+-]*)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
BOLD_LINE = re.compile(r"^\s*(\*\*|__)([^*_]{1,60}?)[:.]?\s*(\*\*|__)\s*:?\s*$")
DETAILS = re.compile(r"<details\b[^>]*>(.*?)</details\s*>", re.I | re.S)
SUMMARY = re.compile(r"^\s*<summary\b[^>]*>(.*?)</summary\s*>", re.I | re.S)
SHELL_LANGS = {"", "bash", "sh", "shell", "zsh", "console", "terminal", "shell-session", "shellsession"}
EXEC_SNIPPET = re.compile(r"`([^`\n]+)`\{\{\s*(exec|execute)\b[^}]*\}\}")
FENCE_END = re.compile(r"^\s{0,3}(```+|~~~+)\s*(\{\{\s*(\w+)[^}]*\}\})?\s*$")


def _kind(label: str) -> str | None:
    label = " ".join(re.sub(r"<[^>]+>|[*_`]", "", label).split())
    if SOLUTION.match(label):
        return "solution"
    if HINT.match(label):
        return "hint"
    return None


def _details(text: str, hints: list, solutions: list) -> str:
    def take(m):
        body = m.group(1)
        summary = SUMMARY.match(body)
        kind = _kind(summary.group(1)) if summary else None
        if kind is None:
            return m.group(0)
        content = body[summary.end():].strip("\n")
        (solutions if kind == "solution" else hints).append(_dedent(content))
        return ""
    return DETAILS.sub(take, text)


def _dedent(text: str) -> str:
    lines = text.splitlines()
    pad = min((len(x) - len(x.lstrip()) for x in lines if x.strip()), default=0)
    return "\n".join(x[pad:] for x in lines).strip()


def _sections(text: str, hints: list, solutions: list) -> str:
    """Remove the sections under a Solution/Hint heading (or bold line) and keep them."""
    out, taken, level, kind, fence = [], [], 0, None, None
    for line in text.split("\n"):
        f = FENCE.match(line)
        if fence is None:
            h = HEADING.match(line)
            b = None if h else BOLD_LINE.match(line)
            if h or b:
                this = len(h.group(1)) if h else 7
                if kind and (this <= level or (b and level == 7)):
                    _keep(kind, taken, hints, solutions)
                    kind, taken = None, []
                if kind is None:
                    found = _kind(h.group(2) if h else b.group(2))
                    if found:
                        kind, level, taken = found, this, []
                        continue
        if f:
            fence = None if fence and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence) else \
                (fence or f.group(1))
        (taken if kind else out).append(line)
    if kind:
        _keep(kind, taken, hints, solutions)
    return "\n".join(out)


def _keep(kind: str, lines: list, hints: list, solutions: list) -> None:
    body = "\n".join(lines).strip()
    if not body:
        return
    if kind == "solution":
        solutions.append(body)
        return
    items = re.split(r"^\s{0,3}[-*+]\s+|^\s{0,3}\d+[.)]\s+", body, flags=re.M)
    if items and not items[0].strip() and len(items) > 2:           # a list of hints: one each
        hints.extend(" ".join(i.split()) for i in items[1:] if i.strip())
    else:
        hints.append(body)


def split(text: str) -> tuple[str, list[str], list[str]]:
    """(description, hints, solutions) of a killercoda step text."""
    hints: list[str] = []
    solutions: list[str] = []
    text = _details(text, hints, solutions)
    text = _sections(text, hints, solutions)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return (text + "\n" if text else ""), hints, solutions


def literal(text: str) -> str:
    """A text as a grader template that shows it as it is."""
    if not JINJA_DELIMS.search(text):
        return text
    body = text.rstrip("\n")
    return "{% raw %}" + body.replace("{% endraw %}", "{ % endraw % }") + "{% endraw %}" + text[len(body):]


def plain(text: str, report=None, where: str = "") -> str:
    """Killercoda Markdown as grader shows it: action markers like {{exec}} removed."""
    text, n = KC_MARKERS.subn("", text)
    if n and report is not None:
        report.note(f"{where}: {n} killercoda action marker(s) like {{{{exec}}}} removed (grader shows plain code)")
    if report is not None and re.search(r"\]\((\./)?assets/", text):
        report.note(f"{where}: links to assets/ (images?) are kept but grader does not serve those files")
    return text.strip()


def template(text: str, report=None, where: str = "") -> str:
    """Killercoda Markdown -> a grader description (a Jinja2 template that shows it as it is)."""
    text = plain(text, report, where) + "\n"
    if JINJA_DELIMS.search(text):
        text = "{% raw %}\n" + text.replace("{% endraw %}", "{ % endraw % }") + "{% endraw %}\n"
    return text


def _comment(line: str) -> str:
    return ("# " + line).rstrip()


def solution_script(parts: list[tuple[str, str]]) -> tuple[str, int]:
    """(bash script, number of commands) of solutions given as (where, Markdown) pairs."""
    out = ["#!/usr/bin/env bash",
           "# The reference solution, imported from the killercoda scenario: shell code blocks and",
           "# `cmd`{{exec}} snippets are commands, the rest of the text is kept as comments.",
           "# Review it before `grader validate` runs it."]
    commands = 0
    for where, text in parts:
        out += ["", f"# --- {where}"]
        fence, lang, block = None, "", []
        for line in text.split("\n"):
            if fence is None:
                f = FENCE.match(line)
                if f:
                    fence, lang, block = f.group(1), f.group(2).lower(), []
                    continue
                snippets = EXEC_SNIPPET.findall(line)
                out.append(_comment(KC_MARKERS.sub("", line)) if line.strip() else "")
                for cmd, _ in snippets:
                    out.append(cmd.strip())
                    commands += 1
                continue
            end = FENCE_END.match(line)
            if end and end.group(1)[0] == fence[0] and len(end.group(1)) >= len(fence):
                runnable = lang in SHELL_LANGS or (end.group(3) or "") in ("exec", "execute")
                for b in block:
                    if runnable and lang == "console" and not b.lstrip().startswith("$ "):
                        out.append(_comment(b))         # the output of a console session
                    elif runnable:
                        out.append(re.sub(r"^\s*\$\s+", "", b))
                        commands += 1 if b.strip() else 0
                    else:
                        out.append(_comment(b))
                fence = None
                continue
            block.append(line)
        if fence is not None:                            # an unclosed block: keep it as text
            out += [_comment(b) for b in block]
    return "\n".join(out).rstrip() + "\n", commands
