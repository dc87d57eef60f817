"""Read device catalogue files (CSV, UDID-style XML and JSON) into import records.

All three formats use the UDID field tags (udi-formats.md §4), so one vocabulary serves:

=====================  ================================================================
``zxxsdycpbs``         DI of the smallest sales unit (required)
``cpmctymc``           product name (``spmc``, the trade name, if absent)
``ggxh``               model/specification
``qxlb``               device class: I/II/III, 1/2/3, Ⅰ/Ⅱ/Ⅲ or 第一类/第二类/第三类
``flbm``               classification code, e.g. ``13-07-02``; its first part is the category
``zczbhhzbapzbh``      registration certificate or filing number
``ylqxzcrbarmc``       registrant name; ``tyshxydm`` its unified social credit code
``scbssfbhph`` etc.    whether the label carries lot / serial (``xlh``) / production date
                       (``scrq``) / expiry (``sxrq``): 是/否, 1/0, true/false
``ybbm``               medical-insurance consumable code
``packingList``        ``packing{bzcpbs, cpbzjb, bznhxyjbzcpbs, bznhxyjcpbssl}`` (XML/JSON)
``storageList``        ``storage{cchcztj, zdz, zgz, jldw}``: 温度 in ℃, 湿度 in % (XML/JSON)
=====================  ================================================================

Project extensions, since UDID records carry no certificate validity or implant flag:
``certificate_valid_from`` (required), ``certificate_valid_to``, ``implantable`` and
``regimes`` (comma-separated :class:`~warehouse.domain.catalogue.SpecialRegime` values).
CSV files have one column per tag and no package levels.

Reading never touches the database and never stops at a bad record: each record comes back
with its errors, in "Expected X, got Y." form, for the import report.
"""

from __future__ import annotations

import csv
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from warehouse.domain.catalogue import ProductionIdentifiers, SpecialRegime
from warehouse.domain.licences import DeviceClass
from warehouse.domain.warehouses import StorageConditions
from warehouse.errors import InvalidRecordError
from warehouse.services.catalogue import (
    UNRESOLVED,
    ImportRecord,
    NewCertificate,
    NewDevice,
    NewPackage,
    RegistrantRef,
)
from warehouse.services.errors import FieldError


class FileFormat(StrEnum):
    """Formats ``flask catalogue import`` reads."""

    CSV = "csv"
    UDID_XML = "udid-xml"
    UDID_JSON = "udid-json"

    @classmethod
    def guess(cls, path: Path) -> FileFormat:
        """The format a file's extension suggests (``.xml``, ``.json``, else CSV)."""
        return {".xml": cls.UDID_XML, ".json": cls.UDID_JSON}.get(path.suffix.lower(), cls.CSV)


FILE_FIELDS: Mapping[str, str] = {
    "di": "zxxsdycpbs",
    "name": "cpmctymc",
    "model_spec": "ggxh",
    "device_class": "qxlb",
    "category": "flbm",
    "registrant_credit_code": "tyshxydm",
    "registrant_name": "ylqxzcrbarmc",
    "insurance_code": "ybbm",
    "storage": "storageList",
    "packages": "packingList",
}
"""Service field name -> file tag, to report issues in the file's own words."""

_PACKAGE_FIELDS = {
    "package_di": "bzcpbs",
    "content_di": "bznhxyjbzcpbs",
    "quantity": "bznhxyjcpbssl",
    "level": "cpbzjb",
}
_FLAGS = {"是": True, "否": False, "1": True, "0": False, "true": True, "false": False}
_FLAGS |= {"y": True, "n": False, "yes": True, "no": False}


def file_field(field: str) -> str:
    """Translate a service field name (``packages[1].quantity``) into the file's tag."""
    match = re.fullmatch(r"packages\[(\d+)\]\.(\w+)", field)
    if match:
        index, name = match.groups()
        return f"packingList[{int(index) + 1}].{_PACKAGE_FIELDS.get(name, name)}"
    if field.startswith("certificates["):
        return "certificate_" + field.rsplit(".", 1)[-1]
    return FILE_FIELDS.get(field, field)


def read_records(path: Path, file_format: FileFormat) -> list[ImportRecord]:
    """Read every record of ``path``.

    Raises:
        ValueError: If the file as a whole cannot be read (not UTF-8, malformed XML/JSON),
            with what was expected.
    """
    text = path.read_text(encoding="utf-8-sig")
    readers: dict[FileFormat, Callable[[str], list[ImportRecord]]] = {
        FileFormat.CSV: _read_csv,
        FileFormat.UDID_XML: _read_xml,
        FileFormat.UDID_JSON: _read_json,
    }
    return readers[file_format](text)


def _read_csv(text: str) -> list[ImportRecord]:
    rows = csv.DictReader(text.splitlines())
    # Row numbers as a spreadsheet shows them: the header is row 1.
    return [record_from_fields(number, row, []) for number, row in enumerate(rows, start=2)]


def _read_json(text: str) -> list[ImportRecord]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"Expected a JSON document, got an error at line {error.lineno}."
        ) from None
    devices = document.get("devices", []) if isinstance(document, dict) else document
    if not isinstance(devices, list):
        raise ValueError('Expected a list of devices or {"devices": [...]}, got another shape.')
    return [
        record_from_fields(
            number,
            {k: _text(v) for k, v in device.items() if not isinstance(v, list | dict)},
            _json_list(device, "packingList", "packing"),
            _json_list(device, "storageList", "storage"),
        )
        for number, device in enumerate(devices, start=1)
    ]


def _json_list(device: Mapping[str, Any], outer: str, inner: str) -> list[dict[str, str]]:
    value = device.get(outer) or []
    if isinstance(value, dict):
        value = value.get(inner) or []
    return [{k: _text(v) for k, v in item.items()} for item in value if isinstance(item, dict)]


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _read_xml(text: str) -> list[ImportRecord]:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as error:
        raise ValueError(f"Expected well-formed XML, got {error}.") from None
    return [
        record_from_fields(
            number,
            {child.tag: (child.text or "").strip() for child in device if len(child) == 0},
            [_xml_fields(p) for p in device.iterfind("packingList/packing")],
            [_xml_fields(s) for s in device.iterfind("storageList/storage")],
        )
        for number, device in enumerate(root.iter("device"), start=1)
    ]


def _xml_fields(element: ET.Element) -> dict[str, str]:
    return {child.tag: (child.text or "").strip() for child in element}


def record_from_fields(
    number: int,
    fields: Mapping[str, str | None],
    packings: list[dict[str, str]],
    storages: list[dict[str, str]] | None = None,
) -> ImportRecord:
    """Turn one record's tags into an :class:`ImportRecord`, collecting every error."""
    reader = _Reader(fields)
    di = reader.required("zxxsdycpbs")
    name = reader.get("cpmctymc") or reader.required("spmc")
    model_spec = reader.required("ggxh")
    device_class = reader.parse("qxlb", _device_class)
    certificate = _certificate(reader)
    registrant = RegistrantRef(reader.required("tyshxydm"), reader.required("ylqxzcrbarmc"))
    device = NewDevice(
        di=di,
        name=name,
        model_spec=model_spec,
        device_class=device_class or DeviceClass.CLASS_I,
        registrant_id=UNRESOLVED,
        certificates=(certificate,) if certificate else (),
        category=_category(reader.get("flbm")),
        implantable=bool(reader.parse("implantable", _flag)),
        label_pi=ProductionIdentifiers(
            lot=bool(reader.parse("scbssfbhph", _flag)),
            serial=bool(reader.parse("scbssfbhxlh", _flag)),
            production_date=bool(reader.parse("scbssfbhscrq", _flag)),
            expiry_date=bool(reader.parse("scbssfbhsxrq", _flag)),
        ),
        storage=_storage(reader, storages or []),
        insurance_code=reader.get("ybbm") or None,
        regimes=reader.parse("regimes", _regimes) or frozenset(),
        packages=tuple(_package(reader, index, p) for index, p in enumerate(packings, start=1)),
    )
    if reader.errors:
        return ImportRecord(number, None, None, tuple(reader.errors))
    return ImportRecord(number, device, registrant)


class _Reader:
    """Read tags, remembering each missing or unreadable one."""

    def __init__(self, fields: Mapping[str, str | None]) -> None:
        self.fields = fields
        self.errors: list[FieldError] = []

    def get(self, tag: str) -> str:
        return (self.fields.get(tag) or "").strip()

    def required(self, tag: str) -> str:
        value = self.get(tag)
        if not value:
            self.fail(tag, "field.required", f"Expected a value for {tag}, got none.")
        return value

    def parse(self, tag: str, parser: Callable[[str], Any], value: str | None = None) -> Any:
        text = self.get(tag) if value is None else value
        if not text:
            return None
        try:
            return parser(text)
        except ValueError as error:
            detail = getattr(error, "detail", None) or str(error)
            code = getattr(error, "code", "field.invalid")
            self.fail(tag, code if isinstance(code, str) else "field.invalid", detail)
            return None

    def fail(self, tag: str, code: str, message: str) -> None:
        self.errors.append(FieldError(tag, code, message))


def _device_class(text: str) -> DeviceClass:
    return DeviceClass.parse(text.removeprefix("第").removesuffix("类"))


def _flag(text: str) -> bool:
    value = _FLAGS.get(text.strip().lower())
    if value is None:
        raise ValueError(f"Expected 是/否, 1/0 or true/false, got {text!r}.")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"Expected a date YYYY-MM-DD, got {text!r}.") from None


def _regimes(text: str) -> frozenset[SpecialRegime]:
    names = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [n for n in names if n not in {r.value for r in SpecialRegime}]
    if unknown:
        allowed = ", ".join(r.value for r in SpecialRegime)
        raise ValueError(f"Expected regimes among {allowed}, got {', '.join(unknown)}.")
    return frozenset(SpecialRegime(n) for n in names)


def _category(flbm: str) -> str | None:
    # 13-07-02 (catalogue 2017: subcategory codes) -> 13, the category licence scopes name.
    return flbm.split("-", 1)[0].strip() or None


def _certificate(reader: _Reader) -> NewCertificate | None:
    number = reader.required("zczbhhzbapzbh")
    valid_from = reader.parse("certificate_valid_from", _date)
    if valid_from is None and not reader.get("certificate_valid_from"):
        reader.fail(
            "certificate_valid_from",
            "field.required",
            "Expected the certificate's first valid day (YYYY-MM-DD), got none.",
        )
    valid_to = reader.parse("certificate_valid_to", _date)
    if not number or valid_from is None:
        return None
    return NewCertificate(number, valid_from, valid_to)


def _package(reader: _Reader, index: int, packing: dict[str, str]) -> NewPackage:
    prefix = f"packingList[{index}]."
    quantity = reader.parse(prefix + "bznhxyjcpbssl", _quantity, packing.get("bznhxyjcpbssl", ""))
    if not packing.get("bznhxyjcpbssl"):
        reader.fail(prefix + "bznhxyjcpbssl", "field.required", "Expected a quantity, got none.")
    for tag in ("bzcpbs", "bznhxyjbzcpbs"):
        if not packing.get(tag):
            reader.fail(prefix + tag, "field.required", f"Expected a value for {tag}, got none.")
    return NewPackage(
        package_di=packing.get("bzcpbs", ""),
        content_di=packing.get("bznhxyjbzcpbs", ""),
        quantity=quantity or 1,
        level=packing.get("cpbzjb") or None,
    )


def _quantity(text: str) -> int:
    if not text.strip().isdigit():
        raise ValueError(f"Expected a whole number of units, got {text!r}.")
    return int(text)


def _storage(reader: _Reader, storages: list[dict[str, str]]) -> StorageConditions | None:
    low = high = None
    humidity = None
    for storage in storages:
        condition = storage.get("cchcztj", "") + storage.get("jldw", "")
        if "湿度" in condition or "%" in condition:
            humidity = reader.parse("storageList.zgz", _percent, storage.get("zgz", ""))
        elif "温度" in condition or "℃" in condition:
            low = reader.parse("storageList.zdz", _celsius, storage.get("zdz", ""))
            high = reader.parse("storageList.zgz", _celsius, storage.get("zgz", ""))
    if low is None and high is None and humidity is None:
        return None
    try:
        return StorageConditions(low, high, humidity)
    except InvalidRecordError as error:
        reader.fail("storageList", error.code, error.detail)
        return None


def _celsius(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"Expected a temperature in ℃, got {text!r}.") from None


def _percent(text: str) -> int:
    value = _celsius(text)
    if not 0 <= value <= 100:
        raise ValueError(f"Expected a humidity between 0 and 100%, got {text}.")
    return int(value)
