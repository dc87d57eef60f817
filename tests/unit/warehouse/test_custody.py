"""The custody rule engine: R1-R4 and the general conditions, with their date boundaries.

One small world is built once; each table row changes what it needs and states the rule that
must allow the request, or the exact set of reason codes that refuse it.

The world (all licences valid 2021-01-01 to 2026-12-31 unless a row changes them)::

    P  粤海物流 (3PL)      --100%--> S   粤海仓储 (3PL, warehouse W-S)
                           --100%--> A   粤海投资 --100%--> S2 粤海冷链 (3PL, W-S2)
                           --60%---> S60 粤海合营 (3PL, W-S60)
    M  迈康医疗 (manufacturer, W-M registered, W-M-OFF off-site)
                           --100%--> MH  迈康控股 --60%--> MS 迈康科技 (registrant)
                           --30%---> MM  迈康参股 (registrant)
    X  华南器械 (distributor, W-X), client of P under agreement AG-X-P
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warehouse.domain.catalogue import DeviceRecord, PackageEntry, RegistrationCertificate
from warehouse.domain.codes import (
    DivisionCode,
    UnifiedSocialCreditCode,
    credit_code_check_character,
)
from warehouse.domain.custody import (
    REASON_CODES,
    RULE_TITLES,
    CustodyDecision,
    CustodyFacts,
    CustodyRequest,
    check_custody,
)
from warehouse.domain.entrustment import EntrustmentAgreement, LogisticsService
from warehouse.domain.licences import DeviceClass, Licence, LicenceKind, ScopeEntry
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.domain.ownership import OwnershipLink
from warehouse.domain.warehouses import Warehouse, WarehouseKind
from warehouse.errors import UnknownFactError

D = date(2025, 6, 15)
YESTERDAY, TOMORROW = D - timedelta(days=1), D + timedelta(days=1)
START, END = date(2021, 1, 1), date(2026, 12, 31)
II, III = DeviceClass.CLASS_II, DeviceClass.CLASS_III
STORAGE, TRANSPORT = LogisticsService.STORAGE, LogisticsService.TRANSPORT
TPL, MAKER, REG = OrgRole.THIRD_PARTY_LOGISTICS, OrgRole.MANUFACTURER, OrgRole.REGISTRANT

STENT, STENT_CASE = "06901234567892", "16901234567899"
STENT_MS, STENT_MM, GLOVE = "06901234567007", "06901234567014", "06901234567021"


def org(org_id: str, name: str, *roles: OrgRole) -> Organisation:
    # A valid credit code derived from the id keeps every organisation distinct.
    body = "91440300" + f"{int.from_bytes(org_id.encode()) % 10**9:09d}"
    code = UnifiedSocialCreditCode.parse(body + credit_code_check_character(body))
    return Organisation(org_id, code, name, DivisionCode.parse("440305"), frozenset(roles))


def warehouse(warehouse_id: str, operator: str, kind: WarehouseKind) -> Warehouse:
    return Warehouse(
        warehouse_id, operator, warehouse_id, "深圳市南山区", DivisionCode.parse("440305"), kind
    )


def licence(
    licence_id: str,
    holder: str,
    kind: LicenceKind,
    classes: set[DeviceClass],
    warehouses: set[str],
    valid_from: date = START,
    valid_to: date | None = END,
) -> Licence:
    return Licence(
        id=licence_id,
        holder_id=holder,
        kind=kind,
        number=f"{licence_id}号",
        valid_from=valid_from,
        valid_to=valid_to,
        scope=frozenset(ScopeEntry(c) for c in classes),
        warehouse_ids=frozenset(warehouses),
    )


def link(parent: str, child: str, share: int, valid_to: date | None = None) -> OwnershipLink:
    return OwnershipLink(parent, child, Decimal(share), date(2020, 1, 1), valid_to)


def certificate(
    valid_from: date = date(2020, 1, 1), valid_to: date | None = date(2029, 12, 31)
) -> RegistrationCertificate:
    return RegistrationCertificate("C1", "国械注准20203130001", valid_from, valid_to)


def device(di: str, device_class: DeviceClass, registrant: str, **changes: object) -> DeviceRecord:
    fields: dict[str, object] = {
        "di": di,
        "name": "冠状动脉支架",
        "model_spec": "3.0x18mm",
        "device_class": device_class,
        "registrant_id": registrant,
        "certificates": (certificate(),),
    }
    return DeviceRecord(**{**fields, **changes})  # type: ignore[arg-type]


ORGANISATIONS = [
    org("P", "粤海物流", TPL),
    org("S", "粤海仓储", TPL),
    org("A", "粤海投资"),
    org("S2", "粤海冷链", TPL),
    org("S60", "粤海合营", TPL),
    org("M", "迈康医疗", MAKER, REG),
    org("MH", "迈康控股"),
    org("MS", "迈康科技", REG),
    org("MM", "迈康参股", REG),
    org("X", "华南器械", OrgRole.DISTRIBUTOR),
    org("Y", "岭南器械", OrgRole.DISTRIBUTOR),
    org("Z", "小诊所耗材店", OrgRole.DISTRIBUTOR),
]
K3PL = WarehouseKind.THIRD_PARTY_LOGISTICS
WAREHOUSES = [
    warehouse("W-P", "P", K3PL),
    warehouse("W-S", "S", K3PL),
    warehouse("W-S2", "S2", K3PL),
    warehouse("W-S60", "S60", K3PL),
    warehouse("W-X", "X", WarehouseKind.REGISTERED),
    warehouse("W-X2", "X", WarehouseKind.REGISTERED),
    warehouse("W-Z", "Z", WarehouseKind.REGISTERED),
    warehouse("W-M", "M", WarehouseKind.REGISTERED),
    warehouse("W-M-OFF", "M", WarehouseKind.OFF_SITE),
]
LOGISTICS, OPERATION = LicenceKind.THIRD_PARTY_LOGISTICS, LicenceKind.CLASS_III_OPERATION_LICENCE
LICENCES = {
    # P also registered the bay it rents in S60's warehouse on its own licence.
    "L-P": licence("L-P", "P", LOGISTICS, {II, III}, {"W-P", "W-S60"}),
    "L-S": licence("L-S", "S", LOGISTICS, {II, III}, {"W-S"}),
    "L-S2": licence("L-S2", "S2", LOGISTICS, {II, III}, {"W-S2"}),
    "L-S60": licence("L-S60", "S60", LOGISTICS, {II, III}, {"W-S60"}),
    "L-X": licence("L-X", "X", OPERATION, {II, III}, {"W-X"}),
    "L-Y": licence("L-Y", "Y", OPERATION, {II, III}, set()),
    "L-M": licence("L-M", "M", LicenceKind.PRODUCTION_LICENCE, {III}, {"W-M", "W-M-OFF"}),
}
LINKS = {
    "P-S": link("P", "S", 100),
    "P-A": link("P", "A", 100),
    "A-S2": link("A", "S2", 100),
    "P-S60": link("P", "S60", 60),
    "M-MH": link("M", "MH", 100),
    "MH-MS": link("MH", "MS", 60),
    "M-MM": link("M", "MM", 30),
}
AGREEMENTS = {
    "AG-X-P": EntrustmentAgreement(
        "AG-X-P",
        client_id="X",
        provider_id="P",
        valid_from=date(2024, 1, 1),
        valid_to=END,
        classes=frozenset({II, III}),
        warehouse_ids=frozenset({"W-P", "W-S", "W-S2", "W-S60", "W-X"}),
        services=frozenset({STORAGE, TRANSPORT}),
    )
}
DEVICES = {
    STENT: device(STENT, III, "M"),
    STENT_MS: device(STENT_MS, III, "MS"),
    STENT_MM: device(STENT_MM, III, "MM"),
    GLOVE: device(
        GLOVE,
        DeviceClass.CLASS_I,
        "M",
        name="医用检查手套",
        certificates=(certificate(valid_to=None),),
    ),
}

World = dict[str, dict[str, object]]
Change = Callable[[World], None]


def build(*changes: Change) -> CustodyFacts:
    world: World = {
        "licences": dict(LICENCES),
        "links": dict(LINKS),
        "agreements": dict(AGREEMENTS),
        "devices": dict(DEVICES),
    }
    for change in changes:
        change(world)
    return CustodyFacts.of(
        organisations=ORGANISATIONS,
        warehouses=WAREHOUSES,
        licences=world["licences"].values(),  # type: ignore[arg-type]
        links=world["links"].values(),  # type: ignore[arg-type]
        agreements=world["agreements"].values(),  # type: ignore[arg-type]
        devices=world["devices"].values(),  # type: ignore[arg-type]
        packages=[PackageEntry(STENT_CASE, STENT, 10)],
    )


def changed(kind: str, key: str, **fields: object) -> Change:
    """Replace fields of one record of the world."""

    def apply(world: World) -> None:
        world[kind][key] = dataclasses.replace(world[kind][key], **fields)  # type: ignore[type-var]

    return apply


def removed(kind: str, key: str) -> Change:
    def apply(world: World) -> None:
        del world[kind][key]

    return apply


def ask(
    actor: str,
    warehouse_id: str,
    owner: str,
    di: str = STENT,
    service: LogisticsService = STORAGE,
    on: date = D,
) -> CustodyRequest:
    return CustodyRequest(actor, warehouse_id, di, owner, on, service)


# id, request, world changes, rule that allows (None = refused),
# and for the rules that matter (plus "general"), the exact reason codes expected.
CASES = [
    # R1 own warehouse ---------------------------------------------------------------------
    (
        "distributor stores own goods in its registered warehouse",
        ask("X", "W-X", "X"),
        [],
        "R1",
        {},
    ),
    (
        "licence scope lacks class III",
        ask("X", "W-X", "X"),
        [changed("licences", "L-X", scope=frozenset({ScopeEntry(II)}))],
        None,
        {"general": {"custody.receiver_licence_scope"}, "R1": {"custody.licence_scope"}},
    ),
    (
        "licence ended yesterday",
        ask("X", "W-X", "X"),
        [changed("licences", "L-X", valid_to=YESTERDAY)],
        None,
        {"general": {"custody.receiver_licence_expired"}, "R1": {"custody.licence_expired"}},
    ),
    (
        "licence ends today",
        ask("X", "W-X", "X"),
        [changed("licences", "L-X", valid_to=D)],
        "R1",
        {},
    ),
    (
        "licence starts tomorrow",
        ask("X", "W-X", "X"),
        [changed("licences", "L-X", valid_from=TOMORROW)],
        None,
        {"general": {"custody.receiver_no_licence"}, "R1": {"custody.no_licence"}},
    ),
    (
        "warehouse not registered on the licence",
        ask("X", "W-X2", "X"),
        [],
        None,
        {"general": set(), "R1": {"custody.warehouse_not_registered"}},
    ),
    (
        "owner is someone else",
        ask("X", "W-X", "Y"),
        [],
        None,
        {"general": set(), "R1": {"custody.not_owner"}},
    ),
    (
        "acting organisation does not operate the warehouse",
        ask("Y", "W-X", "Y"),
        [],
        None,
        {"general": set(), "R1": {"custody.not_operator", "custody.warehouse_not_registered"}},
    ),
    (
        "distributor without any licence",
        ask("X", "W-X", "X"),
        [removed("licences", "L-X")],
        None,
        {"general": {"custody.receiver_no_licence"}, "R1": {"custody.no_licence"}},
    ),
    ("class I needs no licence", ask("Z", "W-Z", "Z", GLOVE), [], "R1", {}),
    ("package DI resolves to the device", ask("X", "W-X", "X", STENT_CASE), [], "R1", {}),
    # R2 3PL group ---------------------------------------------------------------------------
    ("3PL parent in wholly-owned subsidiary's warehouse", ask("P", "W-S", "X"), [], "R2", {}),
    ("indirect wholly-owned chain", ask("P", "W-S2", "X"), [], "R2", {}),
    ("3PL parent stores its own goods", ask("P", "W-S", "P"), [], "R2", {}),
    ("3PL parent moves goods out", ask("P", "W-S", "X", service=TRANSPORT), [], "R2", {}),
    (
        "ownership ended yesterday",
        ask("P", "W-S", "X"),
        [changed("links", "P-S", valid_to=YESTERDAY)],
        None,
        {"general": set(), "R2": {"custody.not_wholly_owned"}},
    ),
    ("ownership ends today", ask("P", "W-S", "X"), [changed("links", "P-S", valid_to=D)], "R2", {}),
    (
        "indirect chain broken: lower link ended yesterday",
        ask("P", "W-S2", "X"),
        [changed("links", "A-S2", valid_to=YESTERDAY)],
        None,
        {"R2": {"custody.not_wholly_owned"}},
    ),
    (
        "subsidiary's warehouse no longer registered on its licence",
        ask("P", "W-S", "X"),
        [changed("licences", "L-S", warehouse_ids=frozenset())],
        None,
        {"R2": {"custody.warehouse_not_registered"}},
    ),
    (
        "owner never entrusted the goods to the 3PL",
        ask("P", "W-S", "Y"),
        [],
        None,
        {
            "R2": {"custody.no_agreement"},
            "R4": {"custody.no_agreement", "custody.warehouse_not_registered"},
        },
    ),
    (
        "a distributor is not a 3PL even with a wholly-owned subsidiary",
        ask("A", "W-S2", "A"),
        [],
        None,
        {
            "general": {"custody.receiver_no_licence"},
            "R2": {"custody.not_3pl", "custody.no_licence"},
        },
    ),
    (
        "3PL parent in its own warehouse is not a group case",
        ask("P", "W-P", "X"),
        [changed("agreements", "AG-X-P", classes=frozenset({II}))],
        None,
        {"R2": {"custody.not_wholly_owned", "custody.agreement_scope"}},
    ),
    (
        "60% subsidiary: R2 refused but R4 allowed with an agreement",
        ask("P", "W-S60", "X"),
        [],
        "R4",
        {"R2": {"custody.not_wholly_owned"}},
    ),
    (
        "60% subsidiary without an agreement",
        ask("P", "W-S60", "Y"),
        [],
        None,
        {
            "R2": {"custody.not_wholly_owned", "custody.no_agreement"},
            "R4": {"custody.no_agreement"},
        },
    ),
    # R3 manufacturer off-site warehouse ------------------------------------------------------
    (
        "off-site warehouse holds a controlled subsidiary's product",
        ask("M", "W-M-OFF", "MS", STENT_MS),
        [],
        "R3",
        {"R1": {"custody.not_owner"}},
    ),
    (
        "manufacturer's own goods in its registered off-site warehouse fall under R1",
        ask("M", "W-M-OFF", "M", STENT_MS),
        [],
        "R1",
        {},
    ),
    (
        "registrant held at 30% is not controlled",
        ask("M", "W-M-OFF", "MM", STENT_MM),
        [],
        None,
        {"general": set(), "R3": {"custody.not_controlled"}},
    ),
    (
        "control ended yesterday",
        ask("M", "W-M-OFF", "MS", STENT_MS),
        [changed("links", "MH-MS", valid_to=YESTERDAY)],
        None,
        {"R3": {"custody.not_controlled"}},
    ),
    (
        "registered warehouse is not an off-site warehouse",
        ask("M", "W-M", "MS", STENT_MS),
        [],
        None,
        {"R3": {"custody.not_off_site"}},
    ),
    (
        "off-site warehouse holding a third party's goods",
        ask("M", "W-M-OFF", "X", STENT_MS),
        [],
        None,
        {"R3": {"custody.not_owner"}},
    ),
    (
        "off-site warehouse dropped from the production licence",
        ask("M", "W-M-OFF", "MS", STENT_MS),
        [changed("licences", "L-M", warehouse_ids=frozenset({"W-M"}))],
        None,
        {"R3": {"custody.warehouse_not_registered"}},
    ),
    (
        "a 3PL's warehouse is not a manufacturer's off-site warehouse",
        ask("S", "W-S", "MS", STENT_MS),
        [],
        None,
        {
            "R3": {
                "custody.not_off_site",
                "custody.not_manufacturer",
                "custody.not_controlled",
            }
        },
    ),
    # R4 entrusted storage/transport ---------------------------------------------------------
    ("3PL stores a client's goods in its own warehouse", ask("P", "W-P", "X"), [], "R4", {}),
    (
        "3PL collects from the client's warehouse",
        ask("P", "W-X", "X", service=TRANSPORT),
        [],
        "R4",
        {},
    ),
    (
        "3PL may not store in a client's warehouse it is not licensed for",
        ask("P", "W-X", "X"),
        [],
        None,
        {"R4": {"custody.warehouse_not_registered"}},
    ),
    (
        "agreement ended yesterday",
        ask("P", "W-P", "X"),
        [changed("agreements", "AG-X-P", valid_to=YESTERDAY)],
        None,
        {"R4": {"custody.agreement_expired"}},
    ),
    (
        "agreement ends today",
        ask("P", "W-P", "X"),
        [changed("agreements", "AG-X-P", valid_to=D)],
        "R4",
        {},
    ),
    (
        "agreement does not cover class III",
        ask("P", "W-P", "X"),
        [changed("agreements", "AG-X-P", classes=frozenset({II}))],
        None,
        {"R4": {"custody.agreement_scope"}},
    ),
    (
        "agreement covers transport only",
        ask("P", "W-P", "X"),
        [changed("agreements", "AG-X-P", services=frozenset({TRANSPORT}))],
        None,
        {"R4": {"custody.agreement_scope"}},
    ),
    (
        "agreement does not list the warehouse",
        ask("P", "W-P", "X"),
        [changed("agreements", "AG-X-P", warehouse_ids=frozenset({"W-S"}))],
        None,
        {"R4": {"custody.agreement_scope"}},
    ),
    (
        "3PL licence scope lacks class III",
        ask("P", "W-P", "X"),
        [changed("licences", "L-P", scope=frozenset({ScopeEntry(II)}))],
        None,
        {"general": {"custody.receiver_licence_scope"}, "R4": {"custody.licence_scope"}},
    ),
    (
        "3PL licence ended yesterday",
        ask("P", "W-P", "X"),
        [changed("licences", "L-P", valid_to=YESTERDAY)],
        None,
        {"general": {"custody.receiver_licence_expired"}, "R4": {"custody.licence_expired"}},
    ),
    # General conditions --------------------------------------------------------------------
    (
        "certificate expired yesterday",
        ask("X", "W-X", "X"),
        [changed("devices", STENT, certificates=(certificate(valid_to=YESTERDAY),))],
        None,
        {"general": {"custody.certificate_expired"}, "R1": set()},
    ),
    (
        "certificate valid until today",
        ask("X", "W-X", "X"),
        [changed("devices", STENT, certificates=(certificate(valid_to=D),))],
        "R1",
        {},
    ),
    (
        "certificate starts tomorrow",
        ask("X", "W-X", "X"),
        [changed("devices", STENT, certificates=(certificate(valid_from=TOMORROW),))],
        None,
        {"general": {"custody.certificate_not_yet_valid"}},
    ),
    (
        "device without any certificate",
        ask("X", "W-X", "X"),
        [changed("devices", STENT, certificates=())],
        None,
        {"general": {"custody.no_certificate"}},
    ),
]


@pytest.mark.parametrize(
    ("request_", "changes", "rule", "codes"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_custody_rules_table(
    request_: CustodyRequest,
    changes: list[Change],
    rule: str | None,
    codes: dict[str, set[str]],
) -> None:
    decision = check_custody(request_, build(*changes))

    assert (decision.allowed, decision.rule) == (rule is not None, rule), decision.reasons
    found = {a.rule: {r.code for r in a.reasons} for a in decision.attempts}
    found["general"] = {r.code for r in decision.general}
    assert {key: found.get(key) for key in codes} == codes
    if rule is not None:
        assert decision.general == ()
        assert decision.attempts[-1] == dataclasses.replace(decision.attempts[-1], reasons=())
    assert decision.codes <= REASON_CODES.keys()
    assert [a.rule for a in decision.attempts] == list(RULE_TITLES)[: len(decision.attempts)]


def test_3pl_parent_may_store_in_wholly_owned_subsidiary_warehouse() -> None:
    decision = check_custody(ask("P", "W-S", "X"), build())

    assert decision.allowed
    assert decision.rule == "R2"
    assert [(x.parent_id, x.child_id) for x in decision.chain or ()] == [("P", "S")]
    assert [a.rule for a in decision.attempts] == ["R1", "R2"]


def test_indirect_wholly_owned_chain_is_returned_as_proof() -> None:
    decision = check_custody(ask("P", "W-S2", "X"), build())

    assert [(x.parent_id, x.child_id) for x in decision.chain or ()] == [("P", "A"), ("A", "S2")]


def test_60_percent_subsidiary_is_refused_by_r2_but_allowed_by_r4_with_an_agreement() -> None:
    decision = check_custody(ask("P", "W-S60", "X"), build())

    r2 = decision.attempt("R2")
    assert r2 is not None
    assert not r2.allowed
    assert r2.reasons[0].code == "custody.not_wholly_owned"
    assert r2.reasons[0].message == (
        "Expected 粤海合营 to be wholly owned by 粤海物流 on 2025-06-15, "
        "got 粤海物流 -(60%)-> 粤海合营."
    )
    assert [(a.rule, a.allowed) for a in decision.attempts] == [
        ("R1", False),
        ("R2", False),
        ("R3", False),
        ("R4", True),
    ]
    assert decision.rule == "R4"
    assert decision.chain is None


def test_100_then_60_percent_chain_is_controlled_for_r3_but_not_wholly_owned_for_r2() -> None:
    facts = build()

    assert facts.ownership.wholly_owned_chain("MS", "M", D) is None
    decision = check_custody(ask("M", "W-M-OFF", "MS", STENT_MS), facts)

    assert decision.rule == "R3"
    assert [(x.parent_id, x.child_id, x.share) for x in decision.chain or ()] == [
        ("M", "MH", Decimal(100)),
        ("MH", "MS", Decimal(60)),
    ]


def test_ownership_ended_yesterday_is_explained_by_date() -> None:
    decision = check_custody(
        ask("P", "W-S", "X"), build(changed("links", "P-S", valid_to=YESTERDAY))
    )

    r2 = decision.attempt("R2")
    assert r2 is not None
    assert r2.reasons[0].message == (
        "Expected 粤海仓储 to be wholly owned by 粤海物流 on 2025-06-15, "
        "got no ownership chain on that date."
    )
    assert not decision.allowed


def test_refusal_messages_say_what_was_expected_and_what_was_found() -> None:
    facts = build(changed("licences", "L-X", scope=frozenset({ScopeEntry(II)})))

    decision = check_custody(ask("X", "W-X", "X"), facts)

    assert decision.general[0].message == (
        "Expected a licence of 华南器械 covering class III on 2025-06-15, got L-X号 covering II."
    )
    r1 = decision.attempt("R1")
    assert r1 is not None
    assert [r.code for r in r1.reasons] == ["custody.licence_scope"]


def test_superseded_licence_answers_for_dates_before_the_change() -> None:
    moved = LICENCES["L-X"].supersede(
        version_id="L-Xv2", effective_from=D, warehouse_ids=frozenset({"W-X2"})
    )
    facts = build(lambda world: world["licences"].__setitem__("L-Xv2", moved))

    assert check_custody(ask("X", "W-X", "X", on=YESTERDAY), facts).rule == "R1"
    assert not check_custody(ask("X", "W-X", "X", on=D), facts).allowed
    assert check_custody(ask("X", "W-X2", "X", on=D), facts).rule == "R1"


def test_a_general_failure_refuses_even_when_a_rule_passes() -> None:
    facts = build(changed("devices", STENT, certificates=(certificate(valid_to=YESTERDAY),)))

    decision = check_custody(ask("X", "W-X", "X"), facts)

    assert not decision.allowed
    assert decision.rule is None
    assert decision.attempts[0].allowed  # R1 itself passed
    assert decision.general[0].message == (
        "Expected certificate 国械注准20203130001 to be valid on 2025-06-15, "
        "got validity 2020-01-01 to 2025-06-14."
    )


def test_refused_decision_lists_every_rule_tried() -> None:
    decision = check_custody(ask("P", "W-S", "Y"), build())

    assert [a.rule for a in decision.attempts] == ["R1", "R2", "R3", "R4"]
    assert all(a.reasons for a in decision.attempts)
    assert decision.reasons == tuple(r for a in decision.attempts for r in a.reasons)


@pytest.mark.parametrize(
    ("request_", "kind", "key"),
    [
        (ask("P", "W-nowhere", "X"), "warehouse", "W-nowhere"),
        (ask("nobody", "W-P", "X"), "organisation", "nobody"),
        (ask("P", "W-P", "X", di="00000000000000"), "device", "00000000000000"),
    ],
)
def test_missing_facts_raise_instead_of_refusing(
    request_: CustodyRequest, kind: str, key: str
) -> None:
    with pytest.raises(UnknownFactError) as raised:
        check_custody(request_, build())

    assert (raised.value.kind, raised.value.key) == (kind, key)


def test_every_reason_code_is_dotted_under_custody() -> None:
    assert all(code.startswith("custody.") and code.islower() for code in REASON_CODES)


@settings(max_examples=40, deadline=None)
@given(shares=st.lists(st.sampled_from([100, 100, 100, 60, 51]), min_size=1, max_size=4))
def test_r2_allows_exactly_when_every_link_down_to_the_operator_is_100_percent(
    shares: list[int],
) -> None:
    nodes = ["P", *(f"N{i}" for i in range(len(shares)))]
    operator = nodes[-1]
    facts = CustodyFacts.of(
        organisations=[org("P", "集团", TPL), org("X", "客户"), *(org(n, n) for n in nodes[1:])],
        warehouses=[warehouse("W", operator, K3PL)],
        licences=[
            licence("L-P", "P", LOGISTICS, {III}, set()),
            licence("L-W", operator, LOGISTICS, {III}, {"W"}),
        ],
        links=[link(p, c, s) for p, c, s in zip(nodes[:-1], nodes[1:], shares, strict=True)],
        agreements=[dataclasses.replace(AGREEMENTS["AG-X-P"], warehouse_ids=frozenset({"W"}))],
        devices=[DEVICES[STENT]],
    )

    decision = check_custody(ask("P", "W", "X"), facts)

    assert decision.allowed is all(s == 100 for s in shares)
    assert decision.rule == ("R2" if decision.allowed else None)
    assert decision.chain is None or len(decision.chain) == len(shares)


def test_decision_codes_collect_every_failed_condition() -> None:
    decision = CustodyDecision(allowed=False, rule=None, attempts=())

    assert decision.codes == frozenset()


def test_a_licence_not_yet_in_force_is_reported_with_its_start_date() -> None:
    facts = build(changed("licences", "L-X", valid_from=TOMORROW))

    decision = check_custody(ask("X", "W-X", "X"), facts)

    assert decision.general[0].message == (
        "Expected 华南器械 to hold a licence or filing on 2025-06-15, "
        "got none (the first starts 2025-06-16)."
    )


def test_entrusted_storage_needs_another_owner() -> None:
    decision = check_custody(ask("P", "W-P", "P"), build())

    assert decision.rule == "R1"  # the 3PL's own goods in its own warehouse
    r4 = check_custody(ask("P", "W-S60", "P"), build()).attempt("R4")
    assert r4 is not None
    assert r4.reasons[0].message == (
        "Expected goods entrusted by another owner, got 粤海物流's own goods."
    )
