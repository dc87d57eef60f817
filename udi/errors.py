"""Errors raised by the UDI value parsers, and the issues a parse reports.

Every problem found in a scan is an :class:`Issue`: a stable dotted ``code``, an English
``message`` in the form "Expected X, got Y.", and the 0-based ``position`` and ``length`` of
the offending part of the text the parser was given. The value constructors (``Gtin.parse``,
``HibcPrimary.parse``…) raise :class:`ParseError` carrying one or more issues; the top-level
:func:`udi.parse` never raises and returns them instead.

>>> err = ParseError.single("gs1.check_digit", "Expected check digit 1, got 4.", 15, 1)
>>> err.issues[0].code
'gs1.check_digit'
>>> str(err)
'Expected check digit 1, got 4.'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Issue:
    """One error or warning found in a scan."""

    code: str
    """Stable dotted code, e.g. ``gs1.check_digit``; clients may switch on it."""

    message: str
    """Human-readable English sentence, "Expected X, got Y." where that fits."""

    position: int = 0
    """0-based offset of the offending part (in the original scan once returned by parse)."""

    length: int = 0
    """Length of the offending part; 0 means "at this position" (e.g. missing data)."""

    format: str | None = None
    """The format being tried when this was found: gs1, gs1_digital_link, hibc, isbt128, ma, ahm."""

    def shifted(self, offset: int) -> Issue:
        """Return the same issue with its position moved by ``offset``."""
        return dataclasses.replace(self, position=self.position + offset)

    def with_format(self, format_name: str) -> Issue:
        """Return the same issue attributed to ``format_name`` unless it already has one."""
        if self.format is not None:
            return self
        return dataclasses.replace(self, format=format_name)

    def to_json(self) -> dict[str, Any]:
        """Serialise to the JSON form used by the CLI and the HTTP API."""
        return {
            "code": self.code,
            "message": self.message,
            "position": self.position,
            "length": self.length,
            "format": self.format,
        }


class UdiError(Exception):
    """Base class of every exception raised by the ``udi`` package."""


class ParseError(UdiError, ValueError):
    """A value could not be parsed; ``issues`` says exactly why and where."""

    def __init__(self, issues: Issue | Iterable[Issue]) -> None:
        self.issues: tuple[Issue, ...] = (issues,) if isinstance(issues, Issue) else tuple(issues)
        if not self.issues:
            raise ValueError("ParseError needs at least one issue.")
        super().__init__(self.issues[0].message)

    @classmethod
    def single(
        cls,
        code: str,
        message: str,
        position: int = 0,
        length: int = 0,
        format: str | None = None,
    ) -> ParseError:
        """Build an error with exactly one issue."""
        return cls(Issue(code, message, position, length, format))

    @property
    def code(self) -> str:
        """Code of the first (most important) issue."""
        return self.issues[0].code

    def shifted(self, offset: int) -> ParseError:
        """Return a copy whose issue positions are moved by ``offset``."""
        return ParseError(issue.shifted(offset) for issue in self.issues)


class EncodeError(UdiError, ValueError):
    """A value could not be rendered (HRI, Digital Link, label text)."""
