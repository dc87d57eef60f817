"""How :func:`udi.parse` treats scanner quirks and dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_SEPARATORS: tuple[str, ...] = ("\x1d", "<GS>", "{GS}", "^]", "~")
"""What scanners send for FNC1/GS: the real GS, and remappings seen on keyboard-wedge set-ups.

``~`` and ``{``/``^`` are outside GS1 CSET 82, so they can never be data. ``<GS>`` is made of
CSET 82 characters, but a lot that literally contains ``<GS>`` is not a realistic label.
"""


@dataclass(frozen=True, slots=True)
class ParseConfig:
    """Options for :func:`udi.parse`; the defaults suit hospital handheld scanners."""

    separators: tuple[str, ...] = DEFAULT_SEPARATORS
    """Strings treated as the GS1 group separator (FNC1) inside GS1 element strings."""

    today: date | None = None
    """Reference date for the GS1 century window (−49…+50 years); None means the system date."""

    permit_zero_suppressed_gtin_in_dl: bool = False
    """Accept GTIN-8/12/13 in a Digital Link path (the GS1 Syntax Engine refuses them)."""

    enable_ahm: bool = True
    """Recognise Alibaba Health (AHM) codes; their format is not public (low confidence)."""

    def reference_date(self) -> date:
        """The date the century window is computed from."""
        return self.today or date.today()  # noqa: DTZ011 - a calendar date, local by design


DEFAULT_CONFIG = ParseConfig()
