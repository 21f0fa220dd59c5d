"""A str-valued Enum whose members print as their value, for statuses and phases.

A member is a str: it compares equal to its value, hashes like it and is written by
`json.dumps` as it, so the files and output made from these constants are byte for byte
those of plain strings, and a value read back from a file compares equal to its member.
(enum.StrEnum is Python 3.11+; grader runs on 3.10.)
"""
from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    def __str__(self) -> str:
        return str.__str__(self)

    def __format__(self, spec: str) -> str:
        return str.__format__(str.__str__(self), spec)
