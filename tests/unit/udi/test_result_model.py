"""The result model: field order of Udi.with_positions must track the dataclass."""

from __future__ import annotations

import dataclasses
from datetime import date

from udi.errors import Issue
from udi.result import Agency, DatePrecision, Element, Udi, UdiDate


def test_with_positions_keeps_every_other_field() -> None:
    original = Udi(
        agency=Agency.GS1,
        di="04012345678901",
        gtin="04012345678901",
        sscc="376130321109103420",
        lot="L1",
        serial="S1",
        production_date=UdiDate(date(2026, 1, 2), "260102", "YYMMDD"),
        expiry_date=UdiDate(date(2028, 12, 31), "281200", "YYMMDD", DatePrecision.MONTH),
        quantity=5,
        elements=(Element("01", "GTIN", "04012345678901", 0, 16),),
        other={"cpv": "X"},
        hri="(01)04012345678901",
        digital_link="https://id.gs1.org/01/04012345678901",
        warnings=(Issue("w", "m"),),
    )
    moved = original.with_positions((Element("01", "GTIN", "04012345678901", 3, 16),), ())
    for field in dataclasses.fields(Udi):
        if field.name in ("elements", "warnings"):
            continue
        assert getattr(moved, field.name) == getattr(original, field.name), field.name
    assert moved.elements[0].position == 3
    assert moved.warnings == ()
