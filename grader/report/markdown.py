"""A small, safe Markdown reader for task texts: one parser, two renderers (HTML here,
terminal in grader.report.terminal).

Supported: ATX and setext headings, paragraphs, fenced and indented code, bullet and
numbered lists (nested), block quotes, rules, pipe tables; inline code, **strong**,
*emphasis*, [links](url) and backslash escapes.

Safety: raw HTML is never passed through, it is text and comes out escaped.  Links and
images are never turned into href/src (a report opens from disk and must not touch the
network): a link shows its label and its address, an image its alt text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from html import escape

# --- blocks -----------------------------------------------------------------


@dataclass
class Block:
    kind: str                   # heading para code list quote hr table
    text: str = ""              # heading, para: inline source; code: the code
    level: int = 0              # heading level
    lang: str = ""              # code: info string
    ordered: bool = False       # list
    start: int = 1              # list: first number
    items: list[list["Block"]] = field(default_factory=list)   # list items; quote: [blocks]
    rows: list[list[str]] = field(default_factory=list)        # table: header row first


_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_ITEM = re.compile(r"^( {0,3})([-*+]|\d{1,9}[.)])([ \t]+|$)(.*)")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")


def parse(text: str) -> list[Block]:
    """Markdown text -> blocks."""
    lines = (text or "").replace("\r\n", "\n").replace("\r", "\n").expandtabs(4).split("\n")
    return _blocks(lines)


def _starts_block(line: str) -> bool:
    return bool(_FENCE.match(line) or _HEADING.match(line) or _HR.match(line)
                or _QUOTE.match(line) or _ITEM.match(line))


def _blocks(lines: list[str]) -> list[Block]:
    out: list[Block] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if not line.strip():
            i += 1
            continue
        m = _FENCE.match(line)
        if m:
            fence, body = m.group(1), []
            indent = len(line) - len(line.lstrip(" "))
            i += 1
            while i < n and not re.match(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$", lines[i]):
                body.append(re.sub(r"^ {0,%d}" % indent, "", lines[i]))
                i += 1
            out.append(Block("code", text="\n".join(body), lang=m.group(2)))
            i += 1
            continue
        m = _HEADING.match(line)
        if m:
            out.append(Block("heading", text=(m.group(2) or "").strip(), level=len(m.group(1))))
            i += 1
            continue
        if _HR.match(line):
            out.append(Block("hr"))
            i += 1
            continue
        if _QUOTE.match(line):
            body = []
            while i < n and lines[i].strip():
                q = _QUOTE.match(lines[i])
                body.append(q.group(1) if q else lines[i])
                i += 1
            out.append(Block("quote", items=[_blocks(body)]))
            continue
        if _ITEM.match(line):
            block, i = _list(lines, i)
            out.append(block)
            continue
        if line.startswith("    "):
            body = []
            while i < n and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            while body and not body[-1].strip():
                body.pop()
            out.append(Block("code", text="\n".join(body)))
            continue
        if "|" in line and i + 1 < n and _TABLE_SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
            rows = [_cells(line)]
            i += 2
            while i < n and lines[i].strip() and "|" in lines[i]:
                rows.append(_cells(lines[i]))
                i += 1
            out.append(Block("table", rows=rows))
            continue
        para = [line.strip()]
        i += 1
        while i < n and lines[i].strip() and not _starts_block(lines[i]):
            if _SETEXT.match(lines[i]):
                break
            para.append(lines[i].strip())
            i += 1
        if i < n and _SETEXT.match(lines[i]) and lines[i].strip():
            out.append(Block("heading", text=" ".join(para), level=1 if "=" in lines[i] else 2))
            i += 1
            continue
        out.append(Block("para", text="\n".join(para)))
    return out


def _cells(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)]


def _list(lines: list[str], i: int) -> tuple[Block, int]:
    first = _ITEM.match(lines[i])
    ordered = first.group(2)[0].isdigit()
    start = int(first.group(2)[:-1]) if ordered else 1
    items: list[list[Block]] = []
    n = len(lines)
    while i < n:
        m = _ITEM.match(lines[i])
        if not m or m.group(2)[0].isdigit() != ordered:
            break
        content_indent = len(m.group(1)) + len(m.group(2)) + min(len(m.group(3)), 4) if m.group(4) else len(m.group(1)) + len(m.group(2)) + 1
        body = [m.group(4)]
        i += 1
        while i < n:
            line = lines[i]
            if not line.strip():
                j = i
                while j < n and not lines[j].strip():
                    j += 1
                if j < n and len(lines[j]) - len(lines[j].lstrip(" ")) >= content_indent:
                    body.extend([""] * (j - i))
                    i = j
                    continue
                i = j
                break
            indent = len(line) - len(line.lstrip(" "))
            if indent >= content_indent:
                body.append(line[content_indent:])
            elif _ITEM.match(line) or _starts_block(line) or not body[-1].strip():
                break
            else:                                   # lazy continuation of the paragraph
                body.append(line.strip())
            i += 1
        items.append(_blocks(body))
        if i < n and not _ITEM.match(lines[i]):
            break
    return Block("list", ordered=ordered, start=start, items=items), i


# --- inline -----------------------------------------------------------------


@dataclass(frozen=True)
class Span:
    text: str
    styles: frozenset = frozenset()     # of "code", "strong", "em", "link"
    url: str = ""                       # link: its address


_INLINE = re.compile(
    r"(?P<esc>\\[\\`*_\[\]()#+\-.!<>{}|~])"
    r"|(?P<code>(?P<ticks>`+)(?P<codetext>.+?)(?P=ticks))"
    r"|(?P<image>!\[(?P<alt>[^\]]*)\]\((?P<src>[^)\s]*)(?:\s+\"[^\"]*\")?\))"
    r"|(?P<link>\[(?P<label>[^\]]+)\]\((?P<href>[^)\s]*)(?:\s+\"[^\"]*\")?\))"
    r"|(?P<autolink><(?P<auto>https?://[^>\s]+)>)"
    r"|(?P<strong>\*\*(?P<s1>\S(?:.*?\S)?)\*\*|__(?P<s2>\S(?:.*?\S)?)__)"
    r"|(?P<em>\*(?P<e1>[^*\s](?:[^*]*?[^*\s])?)\*|(?<![\w])_(?P<e2>[^_\s](?:[^_]*?[^_\s])?)_(?![\w]))",
    re.S,
)


def inline(text: str, styles: frozenset = frozenset()) -> list[Span]:
    """Inline Markdown -> spans of plain text, each with its styles."""
    spans: list[Span] = []
    pos = 0
    for m in _INLINE.finditer(text):
        if m.start() > pos:
            spans.append(Span(text[pos:m.start()], styles))
        pos = m.end()
        if m.group("esc"):
            spans.append(Span(m.group("esc")[1], styles))
        elif m.group("code"):
            code = m.group("codetext")
            if code.startswith(" ") and code.endswith(" ") and code.strip():
                code = code[1:-1]
            spans.append(Span(code.replace("\n", " "), styles | {"code"}))
        elif m.group("image"):
            spans.append(Span(m.group("alt") or "image", styles | {"em"}))
        elif m.group("link"):
            spans.extend(inline(m.group("label"), styles | {"link"}))
            if m.group("href") and m.group("href") != m.group("label"):
                spans.append(Span(m.group("href"), styles | {"url"}))
        elif m.group("autolink"):
            spans.append(Span(m.group("auto"), styles | {"url"}))
        elif m.group("strong"):
            spans.extend(inline(m.group("s1") or m.group("s2"), styles | {"strong"}))
        else:
            spans.extend(inline(m.group("e1") or m.group("e2"), styles | {"em"}))
    if pos < len(text):
        spans.append(Span(text[pos:], styles))
    return spans


def plain(text: str) -> str:
    """Inline Markdown -> its plain text."""
    return "".join(s.text for s in inline(text))


# --- HTML -------------------------------------------------------------------


def to_html(text: str) -> str:
    """Markdown -> an HTML fragment.  Every piece of text is escaped; no raw HTML,
    no href, no src.  Wrap the result in markupsafe.Markup to put it in a template."""
    return "\n".join(_block_html(b) for b in parse(text))


def inline_html(text: str) -> str:
    out = []
    for span in inline(text):
        piece = escape(span.text).replace("\n", " ")
        if "url" in span.styles:
            piece = f'<span class="md-url">({piece})</span>'
            out.append(" " + piece)
            continue
        if "code" in span.styles:
            piece = f"<code>{piece}</code>"
        if "em" in span.styles:
            piece = f"<em>{piece}</em>"
        if "strong" in span.styles:
            piece = f"<strong>{piece}</strong>"
        if "link" in span.styles:
            piece = f'<span class="md-link">{piece}</span>'
        out.append(piece)
    return "".join(out)


def _block_html(b: Block, tight: bool = False) -> str:
    if b.kind == "heading":
        level = min(b.level + 2, 6)          # a task text sits below the report's own h1/h2
        return f'<h{level} class="md-h">{inline_html(b.text)}</h{level}>'
    if b.kind == "para":
        return inline_html(b.text) if tight else f"<p>{inline_html(b.text)}</p>"
    if b.kind == "code":
        lang = f' data-lang="{escape(b.lang)}"' if b.lang else ""
        return f"<pre class=\"md-code\"{lang}><code>{escape(b.text)}</code></pre>"
    if b.kind == "hr":
        return "<hr>"
    if b.kind == "quote":
        return "<blockquote>" + "\n".join(_block_html(x) for x in b.items[0]) + "</blockquote>"
    if b.kind == "table":
        head, *body = b.rows
        html = ["<table class=\"md-table\"><thead><tr>"]
        html += [f"<th>{inline_html(c)}</th>" for c in head]
        html.append("</tr></thead><tbody>")
        for row in body:
            html.append("<tr>" + "".join(f"<td>{inline_html(c)}</td>" for c in row) + "</tr>")
        html.append("</tbody></table>")
        return "".join(html)
    if b.kind == "list":
        tag = "ol" if b.ordered else "ul"
        start = f' start="{b.start}"' if b.ordered and b.start != 1 else ""
        items = []
        for item in b.items:
            single = len(item) == 1 and item[0].kind == "para"
            lead_para = len(item) > 1 and item[0].kind == "para" and item[1].kind == "list"
            parts = [_block_html(x, tight=single or (lead_para and k == 0)) for k, x in enumerate(item)]
            items.append("<li>" + "\n".join(parts) + "</li>")
        return f"<{tag}{start}>" + "\n".join(items) + f"</{tag}>"
    return ""
