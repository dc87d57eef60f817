"""Date helpers shared by the format parsers.

Two-digit years are resolved with the GS1 century window, which HIBC and the China MA/AHM
readers follow too:

>>> century_year(76, 2026), century_year(77, 2026), century_year(20, 2026)
(2076, 1977, 2020)

References:
    GS1 General Specifications §7.12 (determination of century in dates).
"""

from __future__ import annotations

__all__ = ["century_year"]


def century_year(yy: int, reference_year: int) -> int:
    """Resolve a two-digit year into the window ``reference_year`` −49 … +50.

    Args:
        yy: The two-digit year, 0–99.
        reference_year: The four-digit year the window is centred on (usually today's).

    References:
        GS1 General Specifications §7.12 (determination of century in dates).
    """
    current = reference_year % 100
    base = reference_year - current
    difference = yy - current
    if difference >= 51:
        return base - 100 + yy
    if difference <= -50:
        return base + 100 + yy
    return base + yy
