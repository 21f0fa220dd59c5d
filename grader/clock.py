"""Time as grader's files hold it: UTC, whole seconds, ISO 8601.  Shared by the drill's state
file, results files and reports, so none of them imports another for a time format."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(microsecond=0)


def iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 time as drill and results files hold it ('Z' allowed; no offset means UTC)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
