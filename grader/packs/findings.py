"""What `grader lint` finds: a small typed value, not a line of text.

A finding is an ERROR (a problem: the pack is wrong; `lint` exits 2 and `pack build`
refuses it) or a WARNING (lint could not do all it wanted, e.g. a validator is not
installed; reported, never refused).  `place` says where (a file, file:line, a
manifest's document), empty when the finding is about the pack as a whole; `str()` is
the one-line form the CLI prints: ``place: message``.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def to_json(self) -> dict:
        return {"severity": self.severity.value, "place": self.place, "message": self.message}


def error(place: str, message: str) -> Finding:
    return Finding(Severity.ERROR, place, message)


def warning(place: str, message: str) -> Finding:
    return Finding(Severity.WARNING, place, message)


def from_error(exc) -> Finding:
    """A GraderError (the loader's PackError names file, line and key) as an ERROR finding."""
    text = str(exc)
    file, line = getattr(exc, "file", None), getattr(exc, "line", None)
    if file:
        place = f"{file}:{line}" if line else str(file)
        if text.startswith(place + ": "):
            return error(place, text[len(place) + 2:])
    return error("", text)


def errors(findings) -> list[Finding]:
    return [f for f in findings if f.is_error]


def warnings(findings) -> list[Finding]:
    return [f for f in findings if not f.is_error]
