"""Small formatters shared by the HTML, JUnit and terminal renderers."""
from __future__ import annotations

from datetime import datetime, timezone

from grader.clock import parse_iso


def num(value: float | int | None) -> str:
    """2.0 -> '2', 1.5 -> '1.5', 0.3333 -> '0.33'."""
    if value is None:
        return ""
    value = round(float(value), 2)
    return str(int(value)) if value == int(value) else f"{value:g}"


def clock(seconds: float | None) -> str:
    """Seconds -> '7:05', '1:02:09'."""
    if seconds is None:
        return "-"
    total = int(round(max(0.0, float(seconds))))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def short_duration(seconds: float | None) -> str:
    """A check's duration: '0.42 s', '12 s', '2:05'."""
    if seconds is None:
        return ""
    seconds = float(seconds)
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return clock(seconds)


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        return None


def when(text: str | None) -> str:
    """ISO 8601 -> '2024-05-01 10:00 UTC' (or the text as it was when it does not parse)."""
    value = parse_time(text)
    if value is None:
        return text or ""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def limit_seconds(run) -> float | None:
    """The drill's time limit, from its start and deadline, when both are known."""
    start, end = parse_time(run.started), parse_time(run.deadline)
    if start and end and end > start:
        return (end - start).total_seconds()
    return None
