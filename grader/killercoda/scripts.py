"""Killercoda scripts as grader runs them: their bytes kept, their time never cut short.

- `script_text`: the text grader stores for a script.  grader reads scripts as UTF-8 with LF
  line ends, so a script with CRLF line ends or bytes that are not UTF-8 is stored as a small
  wrapper that decodes the original bytes and runs them with bash: a CRLF verify script that
  fails on killercoda fails in grader too, instead of silently passing once "repaired".
- `waits`: the seconds a script waits on purpose (`sleep`, `kubectl wait`, `rollout status`,
  `helm --wait`, `timeout N`, counted loops); `timeout_for` turns them into a generous grader
  timeout.  Killercoda sets no limit on verify or background scripts (it re-runs verify until
  it passes), so an imported script gets at least twice its own waits plus a margin.
- `is_empty`: a verify script with no command at all would pass without any work.
"""
from __future__ import annotations

import base64
import math
import re

WRAPPER = """#!/usr/bin/env bash
# grader: {rel} from the killercoda scenario, kept byte for byte because it has {why}.
# grader keeps scripts as UTF-8 text with LF line ends, so the original bytes are below and
# run by bash exactly as killercoda runs them (edit the original and import again to change it).
f=$(mktemp) || exit 1
base64 -d > "$f" <<'GRADER_ORIGINAL_BYTES'
{data}GRADER_ORIGINAL_BYTES
bash "$f" "$@"
rc=$?
rm -f "$f"
exit "$rc"
"""
WRAPPER_MARK = "# grader: "

VERIFY_BASE, VERIFY_UNBOUNDED = 60, 600          # seconds
SETUP_BASE, SETUP_UNBOUNDED = 300, 1800


def script_text(data: bytes, rel: str) -> tuple[str, str]:
    """(text grader stores, why it is a wrapper or '')."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and "\r" not in text and "\ufeff" not in text:
        return text, ""
    if text is None:
        why = "bytes that are not UTF-8"
    elif "\r\n" in text:
        why = "CRLF line ends (bash reads each \\r as part of a command, on killercoda too)"
    elif "\r" in text:
        why = "carriage returns (bash reads each \\r as part of a command, on killercoda too)"
    else:
        why = "a byte order mark (bash reads it as part of the first command, on killercoda too)"
    return WRAPPER.format(rel=rel, why=why, data=base64.encodebytes(data).decode()), why


def original_bytes(text: str) -> bytes | None:
    """The original bytes of a wrapper written by `script_text`, else None."""
    m = re.search(r"<<'GRADER_ORIGINAL_BYTES'\n(.*?)GRADER_ORIGINAL_BYTES\n", text, re.S)
    if not (text.startswith("#!/usr/bin/env bash\n" + WRAPPER_MARK) and m):
        return None
    try:
        return base64.b64decode(m.group(1))
    except ValueError:
        return None


def _code_lines(text: str) -> list[str]:
    lines = []
    for line in text.replace("\r", "").splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            lines.append(s)
    return lines


def is_empty(data: bytes) -> bool:
    """No command at all: only blank lines, comments and the #! line."""
    return not _code_lines(data.decode("utf-8", "replace"))


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = r"(\d+(?:\.\d+)?)([smhd]?)"


def _duration(text: str) -> float | None:
    """Go-style (`90s`, `5m`, `1m30s`) or sleep-style (`90`, `1.5m`) durations, in seconds."""
    text = text.strip().strip("\"'")
    parts = re.findall(_DURATION, text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNITS[u] for n, u in parts)


_CMD_START = r"(?:^|[;&|({]|\bdo\b|\bthen\b|\belse\b)\s*"


def _line_waits(line: str) -> tuple[float, bool, list[str]]:
    """(seconds, unbounded, what) one command line waits."""
    total, unbounded, what = 0.0, False, []
    for m in re.finditer(_CMD_START + r"sleep\s+((?:[\d.]+[smhd]?\s*)+)", line):
        secs = sum(_duration(p) or 0 for p in m.group(1).split())
        total += secs
        what.append(f"sleep {m.group(1).strip()}")
    m = re.search(_CMD_START + r"timeout\s+(?:(?:-[ks]|--kill-after|--signal)[= ]?\s*\S+\s+|-\S+\s+)*"
                  r"([\d.]+[smhd]?)\s", line + " ")
    if m:
        return total + (_duration(m.group(1)) or 0), False, what + [f"timeout {m.group(1)}"]  # bounds the rest
    flag = re.search(r"--timeout[= ]\s*([\w.]+)", line)
    given = _duration(flag.group(1)) if flag else None
    if re.search(r"\bkubectl\b.*\bwait\b", line):
        total += given if given is not None else 30       # kubectl wait's default
        what.append(f"kubectl wait ({given if given is not None else 30:g}s)")
    elif re.search(r"\bkubectl\b.*\brollout\s+status\b", line):
        if given:
            total += given
            what.append(f"rollout status ({given:g}s)")
        else:
            unbounded = True
            what.append("rollout status without --timeout")
    elif re.search(r"\bhelm\b.*--wait\b", line):
        total += given if given is not None else 300      # helm's default
        what.append(f"helm --wait ({given if given is not None else 300:g}s)")
    return total, unbounded, what


def _loop_count(header: str) -> int | None:
    m = (re.search(r"\bin\s+\{(-?\d+)\.\.(-?\d+)\}", header)
         or re.search(r"\$\(\s*seq\s+(?:(-?\d+)\s+)?(-?\d+)\s*\)", header))
    if m:
        lo, hi = (int(m.group(1)) if m.group(1) else 1), int(m.group(2))
        return abs(hi - lo) + 1
    m = re.search(r"\(\(\s*\w+\s*=\s*(\d+)\s*;\s*\w+\s*<(=?)\s*(\d+)", header)
    if m:
        return int(m.group(3)) - int(m.group(1)) + (1 if m.group(2) else 0)
    return None


def waits(text: str) -> tuple[float, bool, list[str]]:
    """(seconds, unbounded, what): what the script waits on purpose, loops counted.  A `while`
    or `until` loop that sleeps, with no `timeout` around it, waits without a bound."""
    total, unbounded, what = 0.0, False, []
    stack: list[tuple[int | None, float]] = []      # (count or None for while/until, seconds so far)
    for line in _code_lines(text):
        opens = re.match(r"(for|while|until)\b", line)
        secs, unb, w = _line_waits(line)
        if opens and not re.search(r"\bdone\b", line):
            stack.append((_loop_count(line) if opens.group(1) == "for" else None, 0.0))
            if secs:
                stack[-1] = (stack[-1][0], secs)
            continue
        if opens and re.search(r"\bdone\b", line) and secs and "timeout" not in line:
            count = _loop_count(line) if opens.group(1) == "for" else None
            secs, unb = (secs * count, unb) if count else (secs, True)
            w = w + ([f"a loop of {count}"] if count else ["a while/until loop that sleeps"])
        if stack:
            stack[-1] = (stack[-1][0], stack[-1][1] + secs)
        else:
            total += secs
        unbounded |= unb
        what += w
        if re.match(r"done\b", line) and stack:
            count, inner = stack.pop()
            if inner and count is None:
                unbounded = True
                what.append("a while/until loop that sleeps")
            if inner and count:
                what.append(f"a loop of {count}")
            inner *= count or 1
            if stack:
                stack[-1] = (stack[-1][0], stack[-1][1] + inner)
            else:
                total += inner
    while stack:                                     # an unclosed loop: count what it holds once
        total += stack.pop()[1]
    return total, unbounded, what


def timeout_for(text: str, *, setup: bool) -> tuple[int, str]:
    """(grader timeout in seconds, why) for an imported script: never fewer than twice its waits
    plus a margin; a wait without a bound gets the long default."""
    original = original_bytes(text)            # a wrapper: the script it runs
    secs, unbounded, what = waits(original.decode("utf-8", "replace") if original is not None else text)
    base, long = (SETUP_BASE, SETUP_UNBOUNDED) if setup else (VERIFY_BASE, VERIFY_UNBOUNDED)
    value = max(long if unbounded else base, base + 2 * secs)
    value = int(math.ceil(value / 10.0) * 10)
    why = ", ".join(dict.fromkeys(what))
    return value, why
