"""Render GS1 AI data as canonical HRI and as a canonical GS1 Digital Link URI.

>>> pairs = [("01", "04012345678901"), ("17", "281231"), ("10", "LOT-A1"), ("21", "SN 1/2")]
>>> render_hri(pairs)
'(01)04012345678901(17)281231(10)LOT-A1(21)SN 1/2'
>>> render_digital_link(pairs)
'https://id.gs1.org/01/04012345678901/10/LOT-A1/21/SN%201%2F2?17=281231'
>>> render_digital_link([("10", "ABC")]) is None  # no primary key
True

References:
    GS1 General Specifications §4.15 (human readable interpretation); GS1 Digital Link URI
    Syntax 1.4 §4.2 (URI structure), §4.8 (percent-encoding), §4.11 (canonical form).
"""

from __future__ import annotations

import string
from collections.abc import Sequence

from udi._gs1_table import AI_TABLE, DL_PRIMARY_KEYS, DL_QUALIFIERS

CANONICAL_DL_DOMAIN = "https://id.gs1.org"
"""The canonical GS1 resolver; any domain is valid, this one makes the URI canonical."""

# RFC 3986 unreserved characters pass unencoded; everything else in CSET 82 is encoded.
_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")


def percent_encode(value: str) -> str:
    """Percent-encode ``value`` for a DL path segment or query value (UTF-8, upper-case hex)."""
    if _UNRESERVED.issuperset(value):
        return value
    return "".join(
        char if char in _UNRESERVED else "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))
        for char in value
    )


def escape_hri(value: str) -> str:
    """Escape ``(`` as ``\\(`` so that a value can never be read as the start of an AI."""
    return value.replace("(", "\\(") if "(" in value else value


def render_hri(pairs: Sequence[tuple[str, str]]) -> str:
    """Bracketed HRI ``(AI)value…`` in the given order, with ``(`` in values escaped."""
    return "".join(f"({ai}){escape_hri(value)}" for ai, value in pairs)


def _best_sequence(key: str, present: dict[str, str]) -> tuple[str, ...]:
    # The alternative that carries the most of the present qualifiers; first one on a tie.
    best: tuple[str, ...] = ()
    best_count = -1
    for sequence in DL_PRIMARY_KEYS[key]:
        count = sum(1 for qualifier in sequence if qualifier in present)
        if count > best_count:
            best, best_count = sequence, count
    return tuple(qualifier for qualifier in best if qualifier in present)


def render_digital_link(
    pairs: Sequence[tuple[str, str]], domain: str = CANONICAL_DL_DOMAIN
) -> str | None:
    """Canonical DL URI for AI data, or None when it cannot be expressed as one.

    The primary key is the first DL primary-key AI in ``pairs``; qualifiers follow in their
    ``dlpkey`` order; every other AI must be a DL attribute (``?``) and goes in the query
    string, sorted by AI. A repeated AI is rendered once, with its first value.
    """
    present: dict[str, str] = {}
    for ai, value in pairs:
        present.setdefault(ai, value)
    return render_digital_link_map(present, domain)


_Plan = tuple[tuple[str, str], ...]
"""``(text before the value, AI)`` for each AI in URI order, e.g. ``("/01/", "01")`` for the
key, ``("?17=", "17")`` for the first query attribute."""

_PLAN_CACHE: dict[tuple[str, ...], _Plan | None] = {}
_PLAN_CACHE_SIZE = 4096


def _plan(ais: tuple[str, ...], present: dict[str, str]) -> _Plan | None:
    # The layout depends only on which AIs are present (render_digital_link_map caches it).
    plan: _Plan | None = None
    key = next((ai for ai in ais if ai in DL_PRIMARY_KEYS), None)
    if key is not None:
        allowed_elsewhere = DL_QUALIFIERS[key]
        qualifiers = _best_sequence(key, present) if allowed_elsewhere else ()
        query = tuple(sorted(ai for ai in ais if ai != key and ai not in qualifiers))
        representable = all(
            (spec := AI_TABLE.get(ai)) is not None
            and spec.dl_attribute
            and ai not in allowed_elsewhere
            for ai in query
        )
        if representable:
            path = [(f"/{ai}/", ai) for ai in (key, *qualifiers)]
            attributes = [(f"{'&' if index else '?'}{ai}=", ai) for index, ai in enumerate(query)]
            plan = (*path, *attributes)
    if len(_PLAN_CACHE) >= _PLAN_CACHE_SIZE:
        _PLAN_CACHE.clear()
    _PLAN_CACHE[ais] = plan
    return plan


def render_digital_link_map(
    present: dict[str, str], domain: str = CANONICAL_DL_DOMAIN
) -> str | None:
    """:func:`render_digital_link` for a mapping of AI to value in first-seen order."""
    ais = tuple(present)
    try:
        plan = _PLAN_CACHE[ais]
    except KeyError:  # a new set of AIs
        plan = _plan(ais, present)
    if plan is None:
        return None
    parts = [domain]
    for before, ai in plan:
        value = present[ai]
        parts.append(before)
        # Most values need no encoding: test that here rather than in a call per value.
        parts.append(value if _UNRESERVED.issuperset(value) else percent_encode(value))
    return "".join(parts)
