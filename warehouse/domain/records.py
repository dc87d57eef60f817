"""Statutory records (GSP 记录) built from movement events: kinds, columns and retention.

A record is one line per event item, with the master data in effect on the event's date
(docs/audit-and-records.md, "Statutory records"). Retention follows 《医疗器械经营监督管理办法》
and GSP: until two years after the device's expiry; at least five years from the record when
the device has no expiry; permanently for implantable devices.

>>> retention_until(date(2026, 6, 15), date(2028, 2, 29), implantable=False)
datetime.date(2030, 2, 28)
>>> retention_until(date(2026, 6, 15), None, implantable=False)
datetime.date(2031, 6, 15)
>>> retention_until(date(2026, 6, 15), date(2028, 1, 1), implantable=True) is None
True
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from warehouse.domain.movements import BizStep

PERMANENT = "permanent"
"""What the API shows as the retention date of a record kept forever."""

YEARS_AFTER_EXPIRY = 2
YEARS_WITHOUT_EXPIRY = 5


class RecordKind(StrEnum):
    """The four records a distributor or 3PL must keep; values are the URL names."""

    PURCHASE_INSPECTION = "purchase-inspection"
    ACCEPTANCE = "acceptance"
    OUTBOUND_REVIEW = "outbound-review"
    SALES = "sales"

    @property
    def label_zh(self) -> str:
        """The record's Chinese name, used as the export's title and file name."""
        return _LABELS[self]

    @property
    def steps(self) -> frozenset[BizStep]:
        """The business steps whose events make lines of this record."""
        return _STEPS[self]


_LABELS = {
    RecordKind.PURCHASE_INSPECTION: "进货查验记录",
    RecordKind.ACCEPTANCE: "验收记录",
    RecordKind.OUTBOUND_REVIEW: "出库复核记录",
    RecordKind.SALES: "销售记录",
}

_STEPS = {
    RecordKind.PURCHASE_INSPECTION: frozenset({BizStep.RECEIVING}),
    RecordKind.ACCEPTANCE: frozenset({BizStep.INSPECTING, BizStep.ACCEPTING}),
    RecordKind.OUTBOUND_REVIEW: frozenset({BizStep.STAGING_OUTBOUND, BizStep.SHIPPING}),
    # Only shipments to another party than the goods' owner are sales (see the service).
    RecordKind.SALES: frozenset({BizStep.SHIPPING}),
}


def add_years(day: date, years: int) -> date:
    """``day`` moved by whole years; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def retention_until(record_date: date, expiry: date | None, *, implantable: bool) -> date | None:
    """The last day a record must be kept, or None when it is kept permanently."""
    if implantable:
        return None
    if expiry is not None:
        return add_years(expiry, YEARS_AFTER_EXPIRY)
    return add_years(record_date, YEARS_WITHOUT_EXPIRY)


@dataclass(frozen=True, slots=True)
class RecordLine:
    """One line of a statutory record: an event item with the master data of its date."""

    id: uuid.UUID
    """The event item's id: stable, so a printed record can be traced back."""

    kind: RecordKind
    event_id: uuid.UUID
    """Server id of the event (``GET /api/v1/events/{id}``; ``/audit/proof`` proves it)."""

    record_date: date
    """The business date (China time) of the event."""

    step: BizStep
    result_zh: str
    """The disposition's Chinese label (验收结论 for acceptance)."""

    di: str | None
    name: str | None
    model_spec: str | None
    registration_number: str | None
    registrant: str | None
    registrant_licence: str | None
    lot: str | None
    serial: str | None
    sscc: str | None
    production_date: date | None
    expiry: date | None
    quantity: int
    party: str | None
    """Supplier (purchase inspection), consignee (outbound review) or buyer (sales)."""

    party_licence: str | None
    warehouse: str | None
    staff_id: str | None
    documents: str
    """Business documents as ``type:id`` joined by ``; ``."""

    implantable: bool

    @property
    def retention(self) -> date | None:
        """Keep until this day (None: permanently)."""
        return retention_until(self.record_date, self.expiry, implantable=self.implantable)

    @property
    def retention_text(self) -> str:
        """``YYYY-MM-DD`` or ``permanent``."""
        until = self.retention
        return PERMANENT if until is None else until.isoformat()


Column = tuple[str, str]
"""(field of :class:`RecordLine` or a derived name, Chinese header)."""

_DEVICE: tuple[Column, ...] = (
    ("name", "产品名称"),
    ("model_spec", "型号规格"),
    ("registration_number", "注册证编号/备案编号"),
    ("registrant", "注册人/备案人（生产企业）"),
)

COLUMNS: dict[RecordKind, tuple[Column, ...]] = {
    RecordKind.PURCHASE_INSPECTION: (
        ("id", "记录编号"),
        ("record_date", "购进日期"),
        *_DEVICE,
        ("registrant_licence", "生产许可证号/备案凭证号"),
        ("di", "产品标识(DI)"),
        ("lot", "批号"),
        ("serial", "序列号"),
        ("production_date", "生产日期"),
        ("expiry", "有效期至"),
        ("quantity", "数量"),
        ("party", "供货者"),
        ("party_licence", "供货者许可证号"),
        ("warehouse", "收货仓库"),
        ("staff_id", "经办人"),
        ("documents", "单据"),
        ("retention", "保存期限至"),
    ),
    RecordKind.ACCEPTANCE: (
        ("id", "记录编号"),
        ("record_date", "验收日期"),
        *_DEVICE,
        ("registrant_licence", "生产许可证号/备案凭证号"),
        ("di", "产品标识(DI)"),
        ("lot", "批号"),
        ("serial", "序列号"),
        ("production_date", "生产日期"),
        ("expiry", "有效期至"),
        ("quantity", "数量"),
        ("result_zh", "验收结论"),
        ("warehouse", "验收仓库"),
        ("staff_id", "验收人员"),
        ("retention", "保存期限至"),
    ),
    RecordKind.OUTBOUND_REVIEW: (
        ("id", "记录编号"),
        ("record_date", "出库日期"),
        ("step", "环节"),
        *_DEVICE,
        ("di", "产品标识(DI)"),
        ("lot", "批号"),
        ("serial", "序列号"),
        ("expiry", "有效期至"),
        ("quantity", "数量"),
        ("party", "收货单位"),
        ("warehouse", "出库仓库"),
        ("staff_id", "复核人员"),
        ("documents", "单据"),
        ("retention", "保存期限至"),
    ),
    RecordKind.SALES: (
        ("id", "记录编号"),
        ("record_date", "销售日期"),
        *_DEVICE,
        ("registrant_licence", "生产许可证号/备案凭证号"),
        ("di", "产品标识(DI)"),
        ("lot", "批号"),
        ("serial", "序列号"),
        ("production_date", "生产日期"),
        ("expiry", "有效期至"),
        ("quantity", "数量"),
        ("party", "购货者"),
        ("party_licence", "购货者许可证号"),
        ("warehouse", "发货仓库"),
        ("documents", "单据"),
        ("retention", "保存期限至"),
    ),
}
"""The columns of each record's export, in order, with their Chinese headers."""


def cell(line: RecordLine, name: str) -> str | int:
    """One export cell: text (dates ``YYYY-MM-DD``, the step in Chinese) or the quantity."""
    if name == "retention":
        return line.retention_text
    if name == "step":
        return line.step.label_zh
    value = getattr(line, name)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def cells(line: RecordLine) -> list[str | int]:
    """Every export cell of a line, in :data:`COLUMNS` order."""
    return [cell(line, name) for name, _ in COLUMNS[line.kind]]
