"""What must hold for ANY input to ``udi.parse``; shared by the hypothesis tests and atheris.

1. ``parse`` never raises, and its JSON form serialises.
2. It is deterministic: the same text parses to the same JSON.
3. Every reported position lies inside the scan.
4. An ``ok`` GS1 result re-serialises (canonical HRI, canonical Digital Link) to text that
   parses again, ok, to an equal UDI (same identifiers, dates, quantity and AI elements).
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import date
from typing import Any

import udi

CONFIG = udi.ParseConfig(today=date(2026, 11, 27))
"""A fixed reference date: two-digit years must resolve identically on every run."""

COUNTS: Counter[str] = Counter()
"""Inputs checked, by outcome, for the run summary."""


def core(result: udi.ParseResult) -> dict[str, Any]:
    """What a re-serialisation must preserve: identifiers, dates, quantity, AI values."""
    assert result.udi is not None
    body = result.udi.to_json()
    return {
        "agency": body["agency"],
        "di": body["di"],
        "gtin": body["gtin"],
        "sscc": body["sscc"],
        "lot": body["lot"],
        "serial": body["serial"],
        "production_date": body["production_date"],
        "expiry_date": body["expiry_date"],
        "quantity": body.get("quantity"),
        # A set: an AI repeated with the same value (allowed) is written once when re-serialised.
        "elements": sorted({(e.key, e.value) for e in result.udi.elements}),
    }


def check(scan: str) -> udi.ParseResult:
    """Parse ``scan`` and assert every invariant; return the result."""
    result = udi.parse(scan, config=CONFIG)
    body = result.to_json()
    json.dumps(body, ensure_ascii=False)
    assert udi.parse(scan, config=CONFIG).to_json() == body, "parse is not deterministic"
    for issue in (*result.errors, *result.warnings):
        if issue.position is not None:
            assert 0 <= issue.position <= len(scan), ("position", issue.code, len(scan))
    if not result.ok:
        COUNTS["error"] += 1
        return result
    COUNTS[f"ok:{result.detected}"] += 1
    assert result.udi is not None
    if result.udi.agency is udi.Agency.GS1:
        expected = core(result)
        for text in (result.udi.hri, result.udi.digital_link):
            if text is None:
                continue
            again = udi.parse(text, config=CONFIG)
            assert again.ok, ("reparse", text, [e.code for e in again.errors])
            assert core(again) == expected, ("roundtrip", text)
    return result


def violation_kind(broken: AssertionError) -> str:
    """A short name for a broken invariant: ``position-hibc.serial``, ``roundtrip``…"""
    args = broken.args[0] if broken.args else None
    if isinstance(args, tuple) and args and args[0] == "position":
        return f"position-{args[1]}"
    if isinstance(args, tuple) and args:
        return str(args[0])
    return "nondeterministic" if "deterministic" in str(broken) else "other"


def summary() -> str:
    """One line: how many inputs, how many parsed ok, by format, and broken invariants."""
    ok = {k.split(":", 1)[1]: v for k, v in sorted(COUNTS.items()) if k.startswith("ok:")}
    broken = {
        k.split(":", 1)[1]: v for k, v in sorted(COUNTS.items()) if k.startswith("violation:")
    }
    total = sum(COUNTS.values())
    line = f"udi.parse fuzz: {total} inputs, {sum(ok.values())} ok {ok}, {COUNTS['error']} errors"
    return f"{line}, broken invariants {broken}" if broken else line
