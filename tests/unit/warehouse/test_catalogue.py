"""Device catalogue: production identifier flags, certificates, package hierarchy, storage."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

import udi
from warehouse.domain.catalogue import (
    Catalogue,
    DeviceRecord,
    PackageEntry,
    ProductionIdentifier,
    ProductionIdentifiers,
    RegistrationCertificate,
    compare_production_identifiers,
)
from warehouse.domain.licences import DeviceClass
from warehouse.domain.warehouses import Location, LocationPurpose, StorageConditions
from warehouse.errors import InvalidRecordError, VersionChainError

LOT, SERIAL = ProductionIdentifier.LOT, ProductionIdentifier.SERIAL
MADE, EXPIRY = ProductionIdentifier.PRODUCTION_DATE, ProductionIdentifier.EXPIRY_DATE

CERT_2019 = RegistrationCertificate(
    id="C1v1", number="国械注准20193130001", valid_from=date(2019, 5, 1), valid_to=date(2024, 4, 30)
)


def device(di: str = "06901234567892", **changes: object) -> DeviceRecord:
    fields: dict[str, object] = {
        "di": di,
        "name": "冠状动脉支架",
        "model_spec": "3.0x18mm",
        "device_class": DeviceClass.CLASS_III,
        "registrant_id": "org-m",
        "certificates": (CERT_2019,),
        "implantable": True,
        "label_pi": ProductionIdentifiers.of(LOT, SERIAL, EXPIRY),
    }
    return DeviceRecord(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("required", "carried", "missing", "unexpected"),
    [
        ({LOT, EXPIRY}, {LOT, EXPIRY}, set(), set()),
        ({LOT, EXPIRY}, {LOT}, {EXPIRY}, set()),
        ({LOT, EXPIRY}, {LOT, EXPIRY, SERIAL}, set(), {SERIAL}),
        ({SERIAL, MADE}, {LOT}, {SERIAL, MADE}, {LOT}),
        (set(), set(), set(), set()),
    ],
)
def test_scan_is_compared_with_the_label_flags_declared_in_udid(
    required: set[ProductionIdentifier],
    carried: set[ProductionIdentifier],
    missing: set[ProductionIdentifier],
    unexpected: set[ProductionIdentifier],
) -> None:
    result = compare_production_identifiers(
        ProductionIdentifiers.of(*required), ProductionIdentifiers.of(*carried)
    )

    assert (result.missing, result.unexpected) == (missing, unexpected)
    assert result.complete is (not missing)


def test_production_identifiers_are_read_from_a_parsed_udi() -> None:
    parsed = udi.parse("(01)04012345678901(17)281231(10)LOT-A1(21)SN0001").udi
    assert parsed is not None

    carried = ProductionIdentifiers.from_udi(parsed)

    assert carried.present == {LOT, SERIAL, EXPIRY}
    assert device().check_production_identifiers(carried).complete


def test_production_identifiers_carry_chinese_labels() -> None:
    assert [pi.label_zh for pi in ProductionIdentifier] == [
        "批号",
        "序列号",
        "生产日期",
        "失效日期",
    ]


@pytest.mark.parametrize(
    ("on", "number", "valid"),
    [
        (date(2019, 4, 30), None, False),  # before the first version
        (date(2019, 5, 1), "国械注准20193130001", True),
        (date(2024, 4, 30), "国械注准20193130001", True),  # last valid day
        (date(2024, 5, 1), "国械注准20193130001", False),  # expired, not renewed in time
        (date(2024, 6, 1), "国械注准20193130001", True),  # renewal in effect from here
    ],
)
def test_certificate_validity_is_judged_per_version_on_the_date(
    on: date, number: str | None, valid: bool
) -> None:
    renewal = RegistrationCertificate(
        id="C1v2",
        number="国械注准20193130001",
        valid_from=date(2024, 6, 1),
        valid_to=date(2029, 5, 31),
        supersedes="C1v1",
    )
    record = device(certificates=(CERT_2019, renewal))

    certificate = record.certificate_as_of(on)

    assert (certificate.number if certificate else None) == number
    assert (certificate is not None and certificate.is_valid_on(on)) is valid


def test_certificate_versions_must_form_a_chain() -> None:
    stray = RegistrationCertificate(
        id="C9", number="X", valid_from=date(2024, 1, 1), valid_to=None, supersedes="nope"
    )

    with pytest.raises(VersionChainError, match="Expected to supersede a known version"):
        device(certificates=(CERT_2019, stray))


CASE, BOX, UNIT = "16901234567899", "26901234567896", "06901234567892"


def test_package_dis_resolve_to_the_device_they_contain_with_the_unit_count() -> None:
    catalogue = Catalogue.of(
        [device(UNIT)],
        [PackageEntry(CASE, BOX, 12), PackageEntry(BOX, UNIT, 10)],
    )

    assert catalogue.base_units(CASE) == (UNIT, 120)
    assert catalogue.base_units(BOX) == (UNIT, 10)
    assert catalogue.base_units(UNIT) == (UNIT, 1)
    assert catalogue.resolve(CASE) == catalogue.resolve(UNIT) == device(UNIT)
    assert catalogue.resolve("00000000000000") is None


def test_a_looping_package_hierarchy_is_refused() -> None:
    with pytest.raises(InvalidRecordError, match="Expected a package hierarchy without loops"):
        Catalogue.of([], [PackageEntry(CASE, BOX, 2), PackageEntry(BOX, CASE, 2)])


@pytest.mark.parametrize(
    ("entries", "devices", "message"),
    [
        (
            [PackageEntry(CASE, BOX, 2), PackageEntry(CASE, UNIT, 2)],
            [],
            "got '16901234567899' twice",
        ),
        ([], [device(UNIT), device(UNIT)], "Expected each DI once"),
    ],
)
def test_catalogue_refuses_ambiguous_entries(
    entries: list[PackageEntry], devices: list[DeviceRecord], message: str
) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        Catalogue.of(devices, entries)


@pytest.mark.parametrize(
    ("package", "content", "quantity", "message"),
    [
        (CASE, BOX, 0, "Expected at least 1, got 0."),
        (CASE, CASE, 2, "Expected a DI other than the package's"),
    ],
)
def test_malformed_package_entries_are_refused(
    package: str, content: str, quantity: int, message: str
) -> None:
    with pytest.raises(InvalidRecordError, match=message):
        PackageEntry(package, content, quantity)


def celsius(low: str | None, high: str | None) -> StorageConditions:
    return StorageConditions(
        Decimal(low) if low is not None else None, Decimal(high) if high is not None else None
    )


@pytest.mark.parametrize(
    ("kept", "required", "ok"),
    [
        (celsius("2", "8"), celsius("2", "8"), True),
        (celsius("3", "7"), celsius("2", "8"), True),
        (celsius("2", "25"), celsius("2", "8"), False),  # ambient store for a cold-chain item
        (celsius(None, None), celsius("2", "8"), False),  # uncontrolled
        (celsius(None, None), celsius(None, None), True),
        (celsius("2", "8"), celsius(None, "30"), True),
    ],
)
def test_a_store_accommodates_a_device_when_its_range_lies_inside_the_required_one(
    kept: StorageConditions, required: StorageConditions, ok: bool
) -> None:
    assert kept.accommodates(required) is ok


def test_storage_range_may_not_be_upside_down() -> None:
    with pytest.raises(
        InvalidRecordError, match=re.escape("Expected at least min_celsius 8, got 2.")
    ):
        celsius("8", "2")


def test_locations_print_their_code_and_only_normal_areas_are_pickable() -> None:
    bin_ = Location("L1", "W1", "A", "01", "03")

    assert bin_.code == "A-01-03"
    assert [p for p in LocationPurpose if p.pickable] == [LocationPurpose.NORMAL]
    assert LocationPurpose.QUARANTINE.label_zh == "待验区"


def test_a_bin_needs_an_aisle() -> None:
    with pytest.raises(
        InvalidRecordError, match=re.escape("Expected an aisle for bin '03', got None.")
    ):
        Location("L1", "W1", "A", None, "03")
