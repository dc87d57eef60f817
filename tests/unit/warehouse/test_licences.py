"""Licences: scope, validity, and versions that supersede without overwriting."""

from __future__ import annotations

import re
from datetime import date

import pytest

from warehouse.domain.licences import (
    DeviceClass,
    Licence,
    LicenceKind,
    LicenceRegister,
    ScopeEntry,
)
from warehouse.errors import InvalidCodeError, InvalidRecordError, VersionChainError

II, III = DeviceClass.CLASS_II, DeviceClass.CLASS_III


def licence(
    version_id: str = "L1v1",
    *,
    holder: str = "org-a",
    kind: LicenceKind = LicenceKind.CLASS_III_OPERATION_LICENCE,
    scope: frozenset[ScopeEntry] = frozenset({ScopeEntry(III)}),
    warehouses: frozenset[str] = frozenset({"W1"}),
    valid_from: date = date(2021, 1, 1),
    valid_to: date | None = date(2025, 12, 31),
) -> Licence:
    return Licence(
        id=version_id,
        holder_id=holder,
        kind=kind,
        number="粤食药监械经营许20210001号",
        valid_from=valid_from,
        valid_to=valid_to,
        scope=scope,
        warehouse_ids=warehouses,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("III", III),
        ("3", III),
        ("Ⅲ", III),
        ("class_iii", III),
        (" II ", II),
        ("I", DeviceClass.CLASS_I),
    ],
)
def test_device_class_is_parsed_from_the_usual_spellings(text: str, expected: DeviceClass) -> None:
    assert DeviceClass.parse(text) is expected


def test_unknown_device_class_is_refused() -> None:
    with pytest.raises(InvalidCodeError, match=re.escape("Expected I, II or III, got 'IV'.")):
        DeviceClass.parse("IV")


def test_device_classes_carry_chinese_labels_and_lower_case_values() -> None:
    assert [(c.value, c.label_zh) for c in DeviceClass] == [
        ("class_i", "第一类"),
        ("class_ii", "第二类"),
        ("class_iii", "第三类"),
    ]
    assert LicenceKind.PRODUCTION_LICENCE.label_zh == "医疗器械生产许可证"


@pytest.mark.parametrize(
    ("scope", "device_class", "category", "covered"),
    [
        ({ScopeEntry(III)}, III, None, True),
        ({ScopeEntry(III)}, III, "13", True),
        ({ScopeEntry(II)}, III, "13", False),  # licence scope lacks Class III
        ({ScopeEntry(III, "13")}, III, "13", True),
        ({ScopeEntry(III, "13")}, III, "07", False),
        ({ScopeEntry(III, "13")}, III, None, False),  # unknown category: not guessed
        ({ScopeEntry(II), ScopeEntry(III, "07")}, III, "07", True),
        (set(), II, None, False),
    ],
)
def test_scope_covers_a_class_and_optionally_a_category(
    scope: set[ScopeEntry], device_class: DeviceClass, category: str | None, covered: bool
) -> None:
    assert licence(scope=frozenset(scope)).covers(device_class, category) is covered


@pytest.mark.parametrize(
    ("on", "valid"),
    [
        (date(2020, 12, 31), False),
        (date(2021, 1, 1), True),  # first day, inclusive
        (date(2025, 12, 31), True),  # last day, inclusive
        (date(2026, 1, 1), False),  # licence expired yesterday
    ],
)
def test_licence_validity_includes_both_ends(on: date, valid: bool) -> None:
    assert licence().is_valid_on(on) is valid


def test_open_ended_filing_never_expires() -> None:
    assert licence(valid_to=None).is_valid_on(date(2099, 1, 1))


def test_validity_may_not_end_before_it_starts() -> None:
    with pytest.raises(InvalidRecordError, match="Expected a date on or after valid_from"):
        licence(valid_from=date(2022, 1, 1), valid_to=date(2021, 12, 31))


def test_a_new_warehouse_address_supersedes_the_old_version_without_overwriting_it() -> None:
    v1 = licence()
    v2 = v1.supersede(
        version_id="L1v2", effective_from=date(2024, 3, 1), warehouse_ids=frozenset({"W2"})
    )

    register = LicenceRegister.of([v1, v2])

    assert register.as_of(date(2024, 2, 29)) == (v1,)
    assert register.as_of(date(2024, 3, 1)) == (v2,)
    assert register.registering("W1", date(2024, 2, 29)) == (v1,)
    assert register.registering("W1", date(2024, 3, 1)) == ()
    assert register.registering("W2", date(2024, 3, 1)) == (v2,)
    assert register.history("L1v1") == register.history("L1v2") == (v1, v2)
    assert (v2.supersedes, v2.number, v2.valid_to) == ("L1v1", v1.number, v1.valid_to)


def test_a_renewal_answers_each_date_with_the_version_then_in_effect() -> None:
    v1 = licence(valid_to=date(2025, 12, 31))
    v2 = v1.supersede(
        version_id="L1v2",
        effective_from=date(2026, 1, 1),
        valid_from=date(2026, 1, 1),
        valid_to=date(2030, 12, 31),
    )
    register = LicenceRegister.of([v2, v1])  # order of loading does not matter

    assert register.valid_on(date(2025, 12, 31), holder_id="org-a") == (v1,)
    assert register.valid_on(date(2026, 1, 1), holder_id="org-a") == (v2,)


def test_a_superseded_licence_no_longer_in_effect_cannot_vouch_for_its_old_scope() -> None:
    v1 = licence(scope=frozenset({ScopeEntry(II), ScopeEntry(III)}))
    v2 = v1.supersede(
        version_id="L1v2", effective_from=date(2024, 1, 1), scope=frozenset({ScopeEntry(II)})
    )
    register = LicenceRegister.of([v1, v2])

    assert [v.covers(III) for v in register.valid_on(date(2023, 12, 31), holder_id="org-a")] == [
        True
    ]
    assert [v.covers(III) for v in register.valid_on(date(2024, 1, 1), holder_id="org-a")] == [
        False
    ]


def test_valid_on_filters_by_holder_and_kind() -> None:
    mine = licence()
    filing = licence(
        "F1", kind=LicenceKind.CLASS_II_OPERATION_FILING, scope=frozenset({ScopeEntry(II)})
    )
    theirs = licence("L2", holder="org-b")
    register = LicenceRegister.of([mine, filing, theirs])

    on = date(2024, 1, 1)
    assert register.valid_on(on, holder_id="org-a") == (mine, filing)
    kinds = [LicenceKind.CLASS_II_OPERATION_FILING]
    assert register.valid_on(on, holder_id="org-a", kinds=kinds) == (filing,)


def test_as_of_a_date_before_the_first_version_finds_nothing() -> None:
    assert LicenceRegister.of([licence()]).as_of(date(2020, 12, 31)) == ()


@pytest.mark.parametrize(
    ("versions", "message"),
    [
        pytest.param(
            [licence(), licence()],
            "Cannot add version 'L1v1': Expected a new version id, got 'L1v1' again.",
            id="repeated id",
        ),
        pytest.param(
            [licence("L1v2").supersede(version_id="L1v3", effective_from=date(2024, 1, 1))],
            "Cannot add version 'L1v3': Expected to supersede a known version, got 'L1v2'.",
            id="unknown predecessor",
        ),
        pytest.param(
            [
                licence(),
                licence().supersede(version_id="L1v2", effective_from=date(2023, 1, 1)),
                licence().supersede(version_id="L1v2b", effective_from=date(2024, 1, 1)),
            ],
            "Cannot add version 'L1v2b': Expected to supersede the latest version, "
            "got 'L1v1', already superseded by 'L1v2'.",
            id="fork in the chain",
        ),
    ],
)
def test_broken_version_chains_are_refused(versions: list[Licence], message: str) -> None:
    with pytest.raises(VersionChainError) as raised:
        LicenceRegister.of(versions)

    assert str(raised.value) == message


def test_a_version_must_start_after_the_one_it_supersedes() -> None:
    with pytest.raises(VersionChainError, match="Expected effective_from after 2021-01-01, got"):
        licence().supersede(version_id="L1v2", effective_from=date(2021, 1, 1))


@pytest.mark.parametrize("field", ["holder_id", "kind", "id"])
def test_supersede_never_changes_holder_or_kind(field: str) -> None:
    with pytest.raises(VersionChainError, match=f"Expected no change to {field}"):
        licence().supersede(version_id="L1v2", effective_from=date(2024, 1, 1), **{field: "other"})


def test_register_refuses_a_version_that_changes_holder() -> None:
    v1 = licence()
    stolen = Licence(
        id="L1v2",
        holder_id="org-b",
        kind=v1.kind,
        number=v1.number,
        valid_from=v1.valid_from,
        valid_to=v1.valid_to,
        effective_from=date(2024, 1, 1),
        supersedes="L1v1",
    )

    with pytest.raises(VersionChainError, match=re.escape("Expected holder_id org-a, got org-b.")):
        LicenceRegister.of([v1, stolen])
