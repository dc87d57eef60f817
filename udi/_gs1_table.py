"""The GS1 Application Identifier table, loaded once from ``udi/data/gs1_ai.json``.

The JSON file is generated from the GS1 Barcode Syntax Dictionary by
``scripts/generate_gs1_ai_table.py``. Loading it builds plain lookup structures, with the
linter functions already resolved, so that parsing only does dictionary lookups.

>>> spec = AI_TABLE["17"]
>>> (spec.title, spec.predefined, spec.min_length, spec.max_length)
('USE BY or EXPIRY', True, 6, 6)
>>> AI_LENGTH["80"], AI_LENGTH["01"]
(4, 2)
>>> DL_PRIMARY_KEYS["01"]
(('22', '10', '21'), ('235',))
>>> matches_any(("31nn",), {"3103", "01"})
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from udi._gs1_lint import LINTERS, Linter

_DATA = Path(__file__).resolve().parent / "data" / "gs1_ai.json"

Pattern = str
"""An AI or an AI pattern whose trailing ``n`` characters stand for any digit, e.g. ``394n``."""


@dataclass(frozen=True, slots=True)
class Component:
    """One component of an AI's data field, e.g. ``N14,csum,gcppos2``."""

    kind: str
    """``N`` digits, ``X`` CSET 82, ``Y`` CSET 39, ``Z`` CSET 64 (base64url)."""

    min_length: int
    max_length: int
    optional: bool
    linters: tuple[tuple[str, Linter], ...]
    """Linter names with their implementations, in dictionary order."""


@dataclass(frozen=True, slots=True)
class AiSpec:
    """Everything the Syntax Dictionary says about one Application Identifier."""

    ai: str
    title: str
    """Data title, e.g. ``"BATCH/LOT"``."""

    subject: str
    """What error messages call the value: the identifier name for keys, else the title."""

    predefined: bool
    """Pre-defined length: no FNC1/GS separator is needed after the value (flag ``*``)."""

    dl_attribute: bool
    """May appear as a GS1 Digital Link query attribute (flag ``?``)."""

    components: tuple[Component, ...]
    min_length: int
    max_length: int
    numeric: bool
    """All components are digits (error messages then speak of digits)."""

    simple_kind: str | None
    """The character set when the AI is one component without linters (a fast path), else None."""

    requirements: tuple[tuple[tuple[Pattern, ...], ...], ...]
    """``req=``: each requirement is a set of alternatives; an alternative needs all its AIs."""

    exclusions: tuple[Pattern, ...]
    """``ex=``: AIs or patterns this AI must not be paired with."""

    dlpkey: tuple[tuple[str, ...], ...] | None
    """Digital Link primary key: its alternative qualifier sequences, or None if not a key."""


# Identifier names for check-digit messages where the dictionary title is a label, not a name.
_SUBJECTS = {
    "00": "SSCC",
    "01": "GTIN",
    "02": "GTIN",
    "03": "GTIN",
    "253": "GDTI",
    "255": "GCN",
    "402": "GSIN",
    "8003": "GRAI",
    "8004": "GIAI",
    "8006": "GTIN",
    "8013": "GMN",
    "8017": "GSRN",
    "8018": "GSRN",
    "8026": "GTIN",
    **{f"41{digit}": "GLN" for digit in "01234567"},
}


def _component(raw: dict[str, object]) -> Component:
    names = tuple(str(name) for name in raw["linters"])  # type: ignore[attr-defined]
    return Component(
        kind=str(raw["type"]),
        min_length=int(raw["min"]),  # type: ignore[call-overload]
        max_length=int(raw["max"]),  # type: ignore[call-overload]
        optional=bool(raw["optional"]),
        linters=tuple((name, LINTERS[name]) for name in names),
    )


def _spec(raw: dict[str, object]) -> AiSpec:
    components = tuple(_component(item) for item in raw["components"])  # type: ignore[attr-defined]
    ai = str(raw["ai"])
    simple = components[0].kind if len(components) == 1 and not components[0].linters else None
    dlpkey = raw["dlpkey"]
    return AiSpec(
        ai=ai,
        title=str(raw["title"]),
        subject=_SUBJECTS.get(ai, str(raw["title"])),
        predefined=bool(raw["predefined"]),
        dl_attribute=bool(raw["dl_attribute"]),
        components=components,
        min_length=sum(c.min_length for c in components if not c.optional),
        max_length=sum(c.max_length for c in components),
        numeric=all(c.kind == "N" for c in components),
        simple_kind=simple,
        requirements=tuple(
            tuple(tuple(alternative) for alternative in requirement)
            for requirement in raw["req"]  # type: ignore[attr-defined]
        ),
        exclusions=tuple(raw["ex"]),  # type: ignore[call-overload]
        dlpkey=None if dlpkey is None else tuple(tuple(seq) for seq in dlpkey),  # type: ignore[attr-defined]
    )


def _load() -> tuple[dict[str, AiSpec], dict[str, int]]:
    document = json.loads(_DATA.read_text(encoding="utf-8"))
    table = {raw["ai"]: _spec(raw) for raw in document["ais"]}
    return table, dict(document["ai_length_by_prefix"])


AI_TABLE, AI_LENGTH = _load()
"""``AI_TABLE``: AI → :class:`AiSpec`; ``AI_LENGTH``: first two digits → AI length."""

DL_PRIMARY_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    ai: spec.dlpkey for ai, spec in AI_TABLE.items() if spec.dlpkey is not None
}
"""Digital Link primary keys and their alternative qualifier sequences."""

DL_QUALIFIERS: dict[str, frozenset[str]] = {
    ai: frozenset(q for sequence in sequences for q in sequence)
    for ai, sequences in DL_PRIMARY_KEYS.items()
}
"""Every qualifier any sequence of a key allows."""


def matches(pattern: Pattern, ai: str) -> bool:
    """True when ``ai`` matches ``pattern`` (trailing ``n`` = any digit)."""
    if "n" not in pattern:
        return pattern == ai
    stem = pattern.rstrip("n")
    return len(ai) == len(pattern) and ai.startswith(stem)


def matches_any(patterns: Iterable[Pattern], present: Iterable[str]) -> bool:
    """True when some AI in ``present`` matches some pattern."""
    present = present if isinstance(present, set | frozenset | dict) else set(present)
    for pattern in patterns:
        if "n" not in pattern:
            if pattern in present:
                return True
        elif any(matches(pattern, ai) for ai in present):
            return True
    return False
