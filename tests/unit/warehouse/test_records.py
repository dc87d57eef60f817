"""warehouse.domain.records: retention dates and export cells."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from warehouse.domain.movements import BizStep
from warehouse.domain.records import (
    COLUMNS,
    PERMANENT,
    RecordKind,
    RecordLine,
    add_years,
    cells,
    retention_until,
)


def line(**changes: object) -> RecordLine:
    values: dict[str, object] = {
        "id": uuid.UUID(int=1),
        "kind": RecordKind.SALES,
        "event_id": uuid.UUID(int=2),
        "record_date": date(2026, 6, 15),
        "step": BizStep.SHIPPING,
        "result_zh": "运输中",
        "di": "06931234100049",
        "name": "医用纱布",
        "model_spec": "标准型",
        "registration_number": "国械注准20213130456",
        "registrant": "鹭康医疗",
        "registrant_licence": None,
        "lot": "G1",
        "serial": None,
        "sscc": None,
        "production_date": None,
        "expiry": date(2028, 2, 29),
        "quantity": 4,
        "party": "鹭岛第一医院",
        "party_licence": None,
        "warehouse": "W-P 仓",
        "staff_id": None,
        "documents": "inv:F-9",
        "implantable": False,
    }
    values.update(changes)
    return RecordLine(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("record_date", "expiry", "implantable", "expected"),
    [
        (date(2026, 6, 15), date(2029, 12, 31), False, date(2031, 12, 31)),
        (date(2026, 6, 15), date(2028, 2, 29), False, date(2030, 2, 28)),
        (date(2026, 6, 15), None, False, date(2031, 6, 15)),
        (date(2028, 2, 29), None, False, date(2033, 2, 28)),
        (date(2026, 6, 15), date(2029, 12, 31), True, None),
        (date(2026, 6, 15), None, True, None),
    ],
)
def test_retention(
    record_date: date, expiry: date | None, implantable: bool, expected: date | None
) -> None:
    assert retention_until(record_date, expiry, implantable=implantable) == expected


def test_add_years_keeps_the_day_except_29_february() -> None:
    assert add_years(date(2026, 3, 31), 2) == date(2028, 3, 31)
    assert add_years(date(2028, 2, 29), 4) == date(2032, 2, 29)
    assert add_years(date(2028, 2, 29), 1) == date(2029, 2, 28)


def test_every_kind_has_chinese_headers_ending_with_the_retention() -> None:
    for kind in RecordKind:
        headers = [header for _, header in COLUMNS[kind]]
        assert headers[0] == "记录编号"
        assert headers[-1] == "保存期限至"
        assert len(set(headers)) == len(headers)
        assert all(any("\u4e00" <= ch <= "\u9fff" for ch in header) for header in headers)
    assert RecordKind.PURCHASE_INSPECTION.label_zh == "进货查验记录"
    assert RecordKind.SALES.steps == frozenset({BizStep.SHIPPING})


def test_cells_are_text_dates_and_quantities() -> None:
    row = dict(zip((name for name, _ in COLUMNS[RecordKind.SALES]), cells(line()), strict=True))
    assert row["id"] == str(uuid.UUID(int=1))
    assert row["record_date"] == "2026-06-15"
    assert row["quantity"] == 4
    assert row["serial"] == ""
    assert row["retention"] == "2030-02-28"
    implanted = line(kind=RecordKind.OUTBOUND_REVIEW, implantable=True)
    row = dict(
        zip((n for n, _ in COLUMNS[RecordKind.OUTBOUND_REVIEW]), cells(implanted), strict=True)
    )
    assert (row["retention"], row["step"]) == (PERMANENT, "发货")
