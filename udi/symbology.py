"""AIM symbology identifiers (ISO/IEC 15424) that scanners put in front of the data.

A scanner configured to transmit them sends ``]`` + code character + modifier, e.g. ``]d2``
for a GS1 DataMatrix. For GS1 symbols the identifier replaces the FNC1 in first position, so it
is the only proof that the data is GS1 element strings.

>>> sym = SymbologyId.parse("]d2010401234567890117281231")
>>> (sym.value, sym.name, sym.gs1)
(']d2', 'GS1 DataMatrix', True)
>>> SymbologyId.parse("01040123") is None
True
"""

from __future__ import annotations

from dataclasses import dataclass

# (code, modifier) -> (name, carries GS1 element strings)
_KNOWN: dict[str, tuple[str, bool]] = {
    "]C0": ("Code 128", False),
    "]C1": ("GS1-128", True),
    "]C2": ("Code 128 (AIM, FNC1 in second position)", False),
    "]C4": ("Code 128 (ISBT 128 concatenation)", False),
    "]d1": ("Data Matrix", False),
    "]d2": ("GS1 DataMatrix", True),
    "]d3": ("Data Matrix (AIM, FNC1 in second position)", False),
    "]d4": ("Data Matrix (ECI)", False),
    "]d5": ("GS1 DataMatrix (ECI)", True),
    "]d6": ("Data Matrix (AIM, ECI)", False),
    "]Q0": ("QR Code model 1", False),
    "]Q1": ("QR Code", False),
    "]Q2": ("QR Code (ECI)", False),
    "]Q3": ("GS1 QR Code", True),
    "]Q4": ("GS1 QR Code (ECI)", True),
    "]Q5": ("QR Code (AIM)", False),
    "]Q6": ("QR Code (AIM, ECI)", False),
    "]e0": ("GS1 DataBar / Composite", True),
    "]e1": ("GS1 Composite (2D component, escape mode)", True),
    "]e2": ("GS1 Composite (2D component)", True),
    "]e3": ("GS1 Composite (2D component, ECI)", True),
    "]J0": ("DotCode", False),
    "]J1": ("GS1 DotCode", True),
    "]E0": ("EAN-13 / UPC-A", False),
    "]E4": ("EAN-8", False),
    "]I0": ("Interleaved 2 of 5", False),
    "]I1": ("ITF-14 (with check digit)", False),
    "]A0": ("Code 39", False),
    "]A1": ("Code 39 (check character validated, transmitted)", False),
    "]A3": ("Code 39 (check character validated, stripped)", False),
    "]A4": ("Code 39 full ASCII", False),
    "]L2": ("PDF417", False),
    "]z0": ("Aztec Code", False),
    "]z1": ("Aztec Code (FNC1 in first position, GS1)", True),
}


@dataclass(frozen=True, slots=True)
class SymbologyId:
    """An AIM symbology identifier at the start of a scan."""

    value: str
    """The three characters as sent, e.g. ``"]d2"``."""

    name: str
    """What the identifier means, e.g. ``"GS1 DataMatrix"``; ``"unknown"`` for unlisted ones."""

    gs1: bool
    """True when the symbol was encoded in GS1 mode (FNC1 in first position)."""

    @classmethod
    def parse(cls, scan: str) -> SymbologyId | None:
        """Return the identifier at the start of ``scan``, or None when there is none.

        Any ``]`` followed by a letter and a digit or letter is an identifier; unlisted ones are
        returned with the name ``"unknown"`` so the caller can still strip them.
        """
        if scan[:1] != "]":
            return None
        value = scan[:3]
        found = _PARSED.get(value)  # the same few identifiers start nearly every scan
        if found is not None:
            return found
        if len(value) < 3 or not value[1].isascii() or not value[1].isalpha():
            return None
        if not value[2].isascii() or not value[2].isalnum():
            return None
        name, gs1 = _KNOWN.get(value, ("unknown", False))
        found = _PARSED[value] = cls(value=value, name=name, gs1=gs1)
        return found

    @property
    def plain_2d(self) -> bool:
        """True for plain-mode QR/DataMatrix/Aztec, where GS1 Digital Link URIs are carried."""
        return self.value[1] in "dQz" and not self.gs1


_PARSED: dict[str, SymbologyId] = {}
"""Identifiers already seen (they are immutable). At most 52 × 62 entries: ``]``, an ASCII
letter, an ASCII letter or digit."""
