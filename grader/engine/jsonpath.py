"""Evaluate kubectl ``-o jsonpath=TEMPLATE`` templates in pure Python.

``compile(template).render(obj)`` returns exactly the text that
``kubectl get ... -o jsonpath=TEMPLATE`` prints for the object whose
``kubectl get ... -o json`` output parses (``json.loads``) to ``obj``, so many
jsonpath checks can be answered from one ``-o json`` call.  It models the
template engine of ``k8s.io/client-go/util/jsonpath`` as kubectl v1.36 runs it
(missing keys allowed, plain-text output), including its quirks:

* fields ``.a.b`` (backslash escapes, ``\\.``), ``['key']`` (single quotes only;
  the key is re-parsed as ``.key``, so ``['a.b']`` means ``.a.b``), ``.*``,
  ``[n]``, ``[a:b:c]``, ``[*]``, unions ``[a,b]``, ``..`` recursive descent,
  filters ``[?(@.x)]`` / ``[?(@.x OP y)]``, ``{range ...}...{end}``, quoted
  literals (``{"\\n"}``), numbers and ``true``/``false``;
* several results of one action are joined by single spaces; strings print raw,
  ints in decimal, floats like Go's ``%v``, null as ``null``, maps/lists as
  Go's compact ``json.Marshal`` (sorted keys, HTML-safe escaping);
* a slice selecting zero elements (e.g. ``[*]`` of an empty list) ends the
  whole step early, exactly like kubectl (``{.a[*].b[*]}`` stops at the first
  empty ``b``).

Whenever kubectl would fail (syntax error, index out of range, bad comparison,
...) or its output is not certain (Go's random map order: ``.*`` over a map
with several keys or ``..`` giving several results; floats whose Go type is
ambiguous), ``Unsupported`` is raised and the caller should run kubectl itself.

Over 400 lines: byte-exact output needs kubectl's parser quirks token by token, Go's
range/end state machine, Go's comparison rules and Go's float and JSON printing; they
are one grammar and one evaluator, and split up they would only be harder to check.
"""
from __future__ import annotations

import re

__all__ = ["Unsupported", "Template", "compile"]


class Unsupported(Exception):
    """Not evaluated here: kubectl would fail, or its output is uncertain."""


_INVALID = object()  # Go's zero reflect.Value (a range item that is null)
_TERMINATORS = frozenset(" \t\r\n.,[]$@{}")
_DIGITS = frozenset("0123456789")
_SLICE_RE = re.compile(r"(-?[0-9]*)(:-?[0-9]*)?(:-?[0-9]*)?\Z")
_DICT_KEY_RE = re.compile(r"'([^']*)'\Z")
_FILTER_RE = re.compile(r"([^!<>=]+)([!<>=]+)(.+?)\Z")
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_FLOAT_RE = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)\Z")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_INT64 = 1 << 63


class _GoFloat(float):
    """A value that is certainly a Go float64 (float literal, huge JSON int)."""


def _fail(why: str) -> Unsupported:
    return Unsupported(why)


# --------------------------------------------------------------------- parser
# Nodes are tuples: ("list", [nodes]), ("text", s), ("field", name), ("wild",),
# ("rec",), ("array", params), ("filter", left, right, op), ("union", [lists]),
# ("lit", value), ("ident", name).

def _alnum_ascii(ch: str) -> bool:
    return ch == "_" or (ch.isascii() and ch.isalnum())


class _Parser:
    def __init__(self, text: str):
        self.s, self.pos, self.start = text, 0, 0

    def parse(self) -> list:
        s, root = self.s, []
        while True:
            i = s.find("{", self.pos)
            if i < 0:
                if len(s) > self.start:
                    root.append(("text", s[self.start:]))
                return root
            if i > self.start:
                root.append(("text", s[self.start:i]))
            self.pos = self.start = i + 1
            cur: list = []
            root.append(("list", cur))
            self._action(cur)

    def _action(self, cur: list) -> None:
        s = self.s
        while True:
            if s.startswith("}", self.pos):
                self.pos = self.start = self.pos + 1
                return
            if s.startswith("[?(", self.pos):
                self._filter(cur)
                continue
            if s.startswith("..", self.pos):
                if cur and cur[-1][0] == "rec":
                    raise _fail("invalid multiple recursive descent")
                self.pos = self.start = self.pos + 2
                cur.append(("rec",))
                if self.pos < len(s):
                    ch = s[self.pos]
                    if not ch.isascii():
                        raise _fail("non-ASCII character after '..'")
                    if _alnum_ascii(ch):
                        self._field(cur)
                continue
            if self.pos >= len(s) or s[self.pos] in "\r\n":
                raise _fail("unclosed action")
            ch = s[self.pos]
            self.pos += 1
            if ch in " @$":
                self.start = self.pos
            elif ch == "[":
                self._array(cur)
            elif ch in "\"'":
                self._quote(cur, ch)
            elif ch == ".":
                self._field(cur)
            elif ch in "+-" or ch in _DIGITS:
                self.pos -= 1
                self._number(cur)
            elif _alnum_ascii(ch):
                self.pos -= 1
                self._identifier(cur)
            else:
                raise _fail(f"unrecognized character in action: {ch!r}")

    def _field(self, cur: list) -> None:
        s, j = self.s, self.pos
        while j < len(s):
            if s[j] == "\\":
                j = min(j + 2, len(s))
            elif s[j] in _TERMINATORS:
                break
            else:
                j += 1
        value = s[self.pos:j]
        self.pos = self.start = j
        cur.append(("wild",) if value == "*" else ("field", value.replace("\\", "")))

    def _identifier(self, cur: list) -> None:
        s, j = self.s, self.pos
        while j < len(s) and s[j] not in _TERMINATORS:
            j += 1
        value = s[self.pos:j]
        self.pos = self.start = j
        cur.append(("lit", value == "true") if value in ("true", "false") else ("ident", value))

    def _number(self, cur: list) -> None:
        s, j = self.s, self.pos
        if s[j] in "+-":
            j += 1
        while j < len(s) and (s[j] == "." or s[j] in _DIGITS):
            j += 1
        if j < len(s) and not s[j].isascii():
            raise _fail("non-ASCII character after a number")
        value = s[self.pos:j]
        self.pos = self.start = j
        if _INT_RE.match(value) and -_INT64 <= int(value) < _INT64:
            cur.append(("lit", int(value)))
        elif _FLOAT_RE.match(value) and abs(float(value)) != float("inf"):
            cur.append(("lit", _GoFloat(value)))
        else:
            raise _fail(f"cannot parse number {value}")

    def _scan(self, stop, what: str) -> int:
        """Index after the first character accepted by ``stop``; eof or newline first: error."""
        s, j = self.s, self.pos
        while True:
            if j >= len(s) or s[j] == "\n":
                raise _fail(f"unterminated {what}")
            j += 1
            if stop(j):
                return j

    def _quote(self, cur: list, quote: str) -> None:
        j = self._scan(lambda j: self.s[j - 1] == quote and self.s[j - 2] != "\\", "quoted string")
        value, self.pos, self.start = self.s[self.start:j], j, j
        cur.append(("text", _unquote(value[1:-1], quote)))

    def _array(self, cur: list) -> None:
        j = self._scan(lambda j: self.s[j - 1] == "]", "array")
        text, self.pos, self.start = self.s[self.start + 1:j - 1], j, j
        parts = (":" if text == "*" else text).split(",")
        if len(parts) > 1:
            cur.append(("union", [_parse_action("[" + p.strip(" ") + "]") for p in parts]))
            return
        m = _DICT_KEY_RE.match(parts[0])
        if m:  # ['key'] is re-parsed as .key, so ['a.b'] is .a.b
            cur.extend(_parse_action("." + m.group(1))[1])
            return
        m = _SLICE_RE.match(parts[0])
        if not m:
            raise _fail(f"invalid array index {text}")
        raw, params = [g or "" for g in m.groups()], []
        for i, g in enumerate(raw):
            g = g[1:] if i > 0 else g
            if g in ("-", "") or abs(int(g)) > 1 << 62:
                if g:
                    raise _fail(f"bad array index {g}")
                derived = i == 1 and not raw[1]  # [n] is [n:n+1]
                params.append((True, params[0][1] + 1, True) if derived else (False, 0, False))
            else:
                params.append((True, int(g), False))
        cur.append(("array", tuple(params)))

    def _filter(self, cur: list) -> None:
        s = self.s
        self.pos = self.start = self.pos + 3
        j, begin, end, pair = self.pos, False, False, ""
        while True:
            if j >= len(s) or s[j] == "\n":
                raise _fail("unterminated filter")
            ch = s[j]
            j += 1
            if ch in "\"'":
                if not begin:
                    begin, pair = True, ch
                elif ch == pair and s[j - 2] != "\\":
                    end = True
            elif ch == ")" and begin == end:
                break
        if j >= len(s) or s[j] != "]":
            raise _fail("unclosed array expect ]")
        text = s[self.start:j - 1]
        self.pos = self.start = j + 1
        m = _FILTER_RE.match(text)
        if m is None:
            cur.append(("filter", _parse_action(text), ("list", []), "exists"))
        else:
            left, op, right = m.groups()
            cur.append(("filter", _parse_action(left), _parse_action(right), op))


def _parse_action(text: str) -> tuple:
    """Parse ``{text}`` and return its first (list) node, like Go's parseAction."""
    return _Parser("{" + text + "}").parse()[0]


_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
            "v": "\v", "\\": "\\"}


def _unquote(body: str, quote: str) -> str:
    """Go's strconv.UnquoteChar loop (UnquoteExtend); non-UTF-8 bytes -> Unsupported."""
    if "\\" not in body and quote not in body:
        return body
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == quote:
            raise _fail("unquote: bare quote")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        if i + 1 >= len(body):
            raise _fail("unquote: trailing backslash")
        e, i = body[i + 1], i + 2
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
        elif e in "'\"":
            if e != quote:
                raise _fail("unquote: wrong escaped quote")
            out.append(e)
        elif e in "xuU":
            n = {"x": 2, "u": 4, "U": 8}[e]
            digits, i = body[i:i + n], i + n
            if len(digits) != n or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise _fail("unquote: bad hex escape")
            v = int(digits, 16)
            if (e == "x" and v >= 0x80) or v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
                raise _fail("unquote: escape is not a valid UTF-8 character")
            out.append(chr(v))
        elif e in "01234567":
            digits, i = e + body[i:i + 2], i + 2
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) >= 0x80:
                raise _fail("unquote: bad or non-ASCII octal escape")
            out.append(chr(int(digits, 8)))
        else:
            raise _fail("unquote: unknown escape")
    return "".join(out)


# ------------------------------------------------------------------ printing

def _num(v):
    """('int', n) or ('float', f) as Go sees a decoded JSON number or literal."""
    if isinstance(v, _GoFloat):
        return "float", float(v)
    if isinstance(v, int):
        if -_INT64 <= v < _INT64:
            return "int", v
        try:
            return "float", float(v)  # apimachinery decodes int64 overflow as float64
        except OverflowError:
            raise _fail("number out of float64 range") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise _fail("non-finite float")
    if v.is_integer() and abs(v) < 1e21:
        raise _fail("integral float: Go type (int64 or float64) is ambiguous")
    return "float", v


def _digits(f: float):
    """Shortest round-trip digits and decimal point position of abs(f) > 0."""
    mant, _, exp = repr(abs(f)).partition("e")
    ip, _, fp = mant.partition(".")
    d, dp = ip + fp, len(ip) + int(exp or 0)
    stripped = d.lstrip("0")
    return stripped.rstrip("0"), dp - (len(d) - len(stripped))


def _fmt_float(f: float, style: str) -> str:
    """Go strconv.FormatFloat(f, 'g' (as fmt's %v), 'e' or 'f', -1, 64)."""
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    d, dp = _digits(f)
    sign = "-" if f < 0 else ""
    if style == "g":
        style = "e" if not -4 <= dp - 1 < 6 else "f"
    if style == "e":
        x = dp - 1
        return f"{sign}{d[0]}{'.' + d[1:] if len(d) > 1 else ''}e{'-' if x < 0 else '+'}{abs(x):02d}"
    whole = d[:dp].ljust(dp, "0") if dp > 0 else "0"
    frac = ("0" * -dp + d) if dp < 0 else d[dp:]
    return sign + whole + ("." + frac if frac else "")


def _json_float(f: float) -> str:
    if abs(f) < 1e-6 or abs(f) >= 1e21:
        s = _fmt_float(f, "e")
        return re.sub(r"e-0(\d)\Z", r"e-\1", s)
    return _fmt_float(f, "f")


def _check_str(s: str) -> str:
    if _SURROGATE_RE.search(s):
        raise _fail("string with lone surrogates")
    return s


_JSON_ESC = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_JSON_ESC_RE = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def _json_str(s: str) -> str:
    return '"' + _JSON_ESC_RE.sub(
        lambda m: _JSON_ESC.get(m.group(), "\\u%04x" % ord(m.group())), _check_str(s)) + '"'


def _scalar(v, in_json: bool) -> str:
    """null, bool or number as Go prints it (json.Marshal inside JSON, else fmt %v)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        kind, n = _num(v)
        return str(n) if kind == "int" else _json_float(n) if in_json else _fmt_float(n, "g")
    raise _fail(f"not a JSON value: {type(v).__name__}")


def _json(v) -> str:
    """Go encoding/json.Marshal of a decoded JSON value (compact, sorted, HTML-safe)."""
    if isinstance(v, dict):
        if not all(isinstance(k, str) for k in v):
            raise _fail("non-string map key")
        return "{" + ",".join(_json_str(k) + ":" + _json(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(map(_json, v)) + "]"
    return _json_str(v) if isinstance(v, str) else _scalar(v, True)


def _text(v) -> str:
    """How kubectl prints one result."""
    if v is _INVALID:
        return "<no value>"
    if isinstance(v, str):
        return _check_str(v)
    return _json(v) if isinstance(v, (dict, list)) else _scalar(v, False)


def _compare(op: str, a, b) -> bool:
    """Go template's eq/ne/lt/... on two values: Unsupported where Go errors."""
    if op not in ("==", "!=", "<", ">", "<=", ">="):
        raise _fail(f"unrecognized filter operator {op}")
    kinds = []
    for v in (a, b):
        if isinstance(v, bool) or isinstance(v, str):
            kinds.append((type(v).__name__, _check_str(v) if isinstance(v, str) else v))
        elif isinstance(v, (int, float)):
            kinds.append(_num(v))
        else:
            raise _fail("invalid type for comparison")
    (ka, va), (kb, vb) = kinds
    if ka != kb:
        raise _fail("incompatible types for comparison")
    if op in ("==", "!="):
        return (va == vb) == (op == "==")
    if ka == "bool":
        raise _fail("invalid type for comparison")
    return {"<": va < vb, ">": va > vb, "<=": va <= vb, ">=": va >= vb}[op]


# ---------------------------------------------------------------- evaluation

def _check_identifiers(nodes, top: bool) -> None:
    for node in nodes:
        kind = node[0]
        if kind == "list":
            items = node[1]
            for i, sub in enumerate(items):
                if sub[0] == "ident" and not (top and (
                        (sub[1] == "range" and i == 0) or (sub[1] == "end" and len(items) == 1))):
                    raise _fail(f"identifier {sub[1]!r} is not evaluated here")
            _check_identifiers(items, False)
        elif kind == "union":
            _check_identifiers(node[1], False)
        elif kind == "filter":
            _check_identifiers(node[1:3], False)


class _Run:
    """One execution: Go's JSONPath.FindResults range/end state machine."""

    def __init__(self, nodes: list):
        self.nodes = nodes
        self.begin = self.inside = self.end = 0
        self.last_end = -1

    def find(self, start: int, data) -> list:
        cur = [_INVALID if data is None else data]
        nodes, full, i = self.nodes, [], start
        while i < len(nodes):
            results, unordered = self.walk(cur, False, nodes[i])
            if 0 < self.end <= self.inside:
                self.end -= 1
                self.last_end = i
                break
            if self.begin > 0:
                self.begin -= 1
                self.inside += 1
                if results:
                    if unordered and len(results) > 1:
                        raise _fail("range over values in Go's random map order")
                    for value in results:
                        if value is _INVALID:
                            raise _fail("range over an invalid value")
                        full.extend(self.find(i + 1, value))
                else:
                    self.find(i + 1, None)
                self.inside -= 1
                if i < self.last_end < len(nodes):
                    i = self.last_end
                i += 1
                continue
            full.append((results, unordered))
            i += 1
        return full

    def walk(self, vals: list, unordered: bool, node: tuple):
        kind = node[0]
        if kind == "list":
            items = node[1]
            for i, sub in enumerate(items):
                rest = items[i + 1:]
                if sub[0] == "rec" and rest and all(n[0] == "field" for n in rest):
                    names = [n[1] for n in rest]  # ``..a.b``: keep what is in a fixed order
                    return [r for v in vals for r in self._rec_fields(v, names)], unordered
                vals, unordered = self.walk(vals, unordered, sub)
            return vals, unordered
        if kind == "text":
            return [node[1]], False
        if kind == "lit":
            return [node[1]] * len(vals), False
        if kind == "field":
            return [v[node[1]] for v in vals if isinstance(v, dict) and node[1] in v], unordered
        if kind == "array":
            return self._array(vals, unordered, node[1])
        if kind == "filter":
            return self._filter(vals, node), unordered
        if kind == "wild":
            out = []
            for v in vals:
                if isinstance(v, dict):
                    unordered = unordered or len(v) > 1
                    out.extend(v.values())
                elif isinstance(v, list):
                    out.extend(v)
                elif isinstance(v, str) and v:
                    raise _fail("wildcard over the bytes of a string")
            return out, unordered
        if kind == "rec":
            out: list = []
            return out, self._recursive(vals, out) or unordered
        if kind == "union":
            out, any_unordered = [], False
            for sub in node[1]:
                part, u = self.walk(vals, unordered, sub)
                out.extend(part)
                any_unordered = any_unordered or u
            return out, any_unordered
        if kind == "ident" and node[1] == "range":
            self.begin += 1
            return vals, unordered
        if kind == "ident" and node[1] == "end" and self.inside > 0:
            self.end += 1
            return [], False
        raise _fail(f"cannot evaluate {node!r}")

    def _array(self, vals: list, unordered: bool, params: tuple):
        (k0, v0, _), (k1, v1, derived), (k2, v2, _) = params
        out: list = []
        for v in vals:
            if v is None:
                continue
            if not isinstance(v, list):
                raise _fail("not array or slice")
            n = len(v)
            a = v0 if k0 else 0
            if a < 0:
                a += n
            b = v1 if k1 else n
            if b < 0 or (b == 0 and derived):
                b += n
            if a == b:  # kubectl returns what it has so far, skipping later values
                if unordered and len(vals) > 1:
                    raise _fail("empty slice over values in Go's random map order")
                return out, unordered
            if not (0 <= a < n and 0 <= b <= n and a <= b):
                raise _fail("array index out of bounds")
            if k2 and v2 <= 0:
                raise _fail("step must be > 0")
            out.extend(v[a:b:v2 if k2 else 1])
        return out, unordered

    def _filter(self, vals: list, node: tuple) -> list:
        _, left, right, op = node
        out = []
        for v in vals:
            if not isinstance(v, list):
                raise _fail("not array or slice and cannot be filtered")
            for item in v:
                lefts, _ = self.walk([item], False, left)
                if op == "exists":
                    if lefts:
                        out.append(item)
                    continue
                if not lefts:
                    continue
                rights, _ = self.walk([item], False, right)
                if len(lefts) > 1 or len(rights) > 1:
                    raise _fail("can only compare one element at a time")
                if rights and _compare(op, lefts[0], rights[0]):
                    out.append(item)
        return out

    def _rec_fields(self, v, names: list) -> list:
        """``..`` then fields from ``v``, in Go's pre-order; Unsupported if two
        different keys of one map (iterated in random order) both give results."""
        children = list(v.values()) if isinstance(v, dict) else v if isinstance(v, list) else []
        if not children:
            return []
        out = [v]
        for name in names:
            out = [x[name] for x in out if isinstance(x, dict) and name in x]
        parts = [self._rec_fields(c, names) for c in children]
        if isinstance(v, dict) and sum(1 for p in parts if p) > 1:
            raise _fail("recursive descent results in Go's random map order")
        return out + [r for p in parts for r in p]

    def _recursive(self, vals: list, out: list) -> bool:
        unordered = False
        for v in vals:
            if isinstance(v, str):
                if v:
                    out.append(v)
                continue
            if isinstance(v, dict):
                children = list(v.values())
                unordered = unordered or len(v) > 1
            elif isinstance(v, list):
                children = v
            else:
                continue
            if children:
                out.append(v)
                unordered = self._recursive(children, out) or unordered
        return unordered


class Template:
    """A compiled jsonpath template; ``render`` may be called many times."""

    def __init__(self, source: str, nodes: list):
        self.source, self._nodes = source, nodes

    def render(self, obj) -> str:
        try:
            results = _Run(self._nodes).find(0, obj)
            parts = []
            for values, unordered in results:
                if unordered and len(values) > 1:
                    raise _fail("several results in Go's random map order")
                parts.append(" ".join(_text(v) for v in values))
            return "".join(parts)
        except RecursionError:
            raise _fail("nesting too deep") from None

    def __repr__(self) -> str:
        return f"Template({self.source!r})"


def compile(template: str) -> Template:  # noqa: A001 - the API asks for this name
    """Parse ``template``; raise ``Unsupported`` if kubectl would reject it or it is not evaluated here."""
    if not isinstance(template, str) or not template:
        raise _fail("empty template (kubectl: no template given)")
    if _SURROGATE_RE.search(template) or "\ufffd" in template:
        raise _fail("template is not valid UTF-8")
    try:
        nodes = _Parser(template).parse()
    except RecursionError:
        raise _fail("template nesting too deep") from None
    _check_identifiers(nodes, True)
    return Template(template, nodes)
