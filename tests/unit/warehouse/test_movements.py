"""The movement state machine without a database: every step's before/after and refusals."""

from __future__ import annotations

from datetime import date

import pytest

from warehouse.domain.movements import (
    DEFAULT_DISPOSITION,
    IN_STOCK,
    REFUSAL_CODES,
    TRANSITIONS,
    BizStep,
    Disposition,
    Placement,
    UnitState,
    UnitStatus,
    blocked_reason,
    check_step,
    status_after,
)

S = UnitStatus
ME, OTHER, HERE = "org-me", "org-other", "loc-a"
ON = date(2026, 6, 15)


def state(status: UnitStatus, expiry: date | None = None, **kw: str) -> UnitState:
    return UnitState(
        status, expiry, kw.get("possessor", ME), kw.get("location", HERE), kw.get("to")
    )


def code(step: BizStep, current: UnitState | None, **kw: object) -> str | None:
    refusal = check_step(step, current, actor_id=ME, on=ON, **kw)  # type: ignore[arg-type]
    return refusal.code if refusal else None


def test_every_step_has_a_transition_a_default_disposition_and_a_chinese_label() -> None:
    assert set(TRANSITIONS) == set(BizStep) == set(DEFAULT_DISPOSITION)
    assert BizStep.INSPECTING.label_zh == "验收"
    assert BizStep.STORING.label_zh == "上架"
    assert BizStep.STAGING_OUTBOUND.label_zh == "出库复核"
    assert BizStep.SHIPPING.label_zh == "发货"
    assert BizStep.DISPENSING.label_zh == "使用"
    assert BizStep.DESTROYING.label_zh == "销毁"
    for step in BizStep:
        after = status_after(step, DEFAULT_DISPOSITION[step], S.AVAILABLE)
        assert after is not None, step


@pytest.mark.parametrize(
    ("step", "before", "after"),
    [
        (BizStep.RECEIVING, S.IN_TRANSIT, S.PENDING_ACCEPTANCE),
        (BizStep.INSPECTING, S.PENDING_ACCEPTANCE, S.AVAILABLE),
        (BizStep.STORING, S.AVAILABLE, S.AVAILABLE),
        (BizStep.PICKING, S.AVAILABLE, S.PICKED),
        (BizStep.STAGING_OUTBOUND, S.PICKED, S.PICKED),
        (BizStep.SHIPPING, S.PICKED, S.IN_TRANSIT),
        (BizStep.STOCKING, S.AVAILABLE, S.AVAILABLE),
        (BizStep.DISPENSING, S.AVAILABLE, S.DISPENSED),
        (BizStep.RETURNING, S.RECALLED, S.PENDING_ACCEPTANCE),
        (BizStep.DESTROYING, S.ON_HOLD, S.DESTROYED),
        (BizStep.HOLDING, S.AVAILABLE, S.ON_HOLD),
    ],
)
def test_allowed_transitions(step: BizStep, before: UnitStatus, after: UnitStatus) -> None:
    assert code(step, state(before, to=ME)) is None
    assert status_after(step, DEFAULT_DISPOSITION[step], before) is after


@pytest.mark.parametrize(
    ("step", "before", "expected"),
    [
        (BizStep.PICKING, S.PENDING_ACCEPTANCE, "movement.not_in_stock"),
        (BizStep.PICKING, S.PICKED, "stock.conflict"),
        (BizStep.PICKING, S.ON_HOLD, "movement.on_hold"),
        (BizStep.PICKING, S.RECALLED, "movement.recalled"),
        (BizStep.SHIPPING, S.IN_TRANSIT, "movement.not_in_stock"),
        (BizStep.SHIPPING, S.DESTROYED, "movement.destroyed"),
        (BizStep.DISPENSING, S.DISPENSED, "movement.dispensed"),
        (BizStep.RETURNING, S.DISPENSED, "movement.not_in_stock"),
        (BizStep.INSPECTING, S.AVAILABLE, "movement.not_in_stock"),
        (BizStep.STAGING_OUTBOUND, S.AVAILABLE, "movement.not_in_stock"),
        (BizStep.RECEIVING, S.AVAILABLE, "movement.serial_elsewhere"),
        (BizStep.RECEIVING, S.DESTROYED, "movement.destroyed"),
    ],
)
def test_refused_transitions(step: BizStep, before: UnitStatus, expected: str) -> None:
    assert code(step, state(before)) == expected
    assert expected in REFUSAL_CODES


def test_a_unit_in_transit_to_someone_else_is_elsewhere() -> None:
    assert code(BizStep.RECEIVING, state(S.IN_TRANSIT, to=OTHER)) == "movement.serial_elsewhere"
    assert code(BizStep.RECEIVING, state(S.IN_TRANSIT, to=ME)) is None


def test_a_new_serial_may_only_be_received() -> None:
    assert code(BizStep.RECEIVING, None) is None
    assert code(BizStep.PICKING, None) == "movement.not_in_stock"


def test_expiry_blocks_picking_shipping_and_use_but_not_return_or_destruction() -> None:
    expired = state(S.AVAILABLE, expiry=date(2026, 6, 14))
    last_day = state(S.AVAILABLE, expiry=ON)
    for step in (BizStep.PICKING, BizStep.SHIPPING, BizStep.DISPENSING, BizStep.STOCKING):
        assert code(step, expired) == "movement.expired"
        assert code(step, last_day) is None
    for step in (BizStep.RETURNING, BizStep.DESTROYING, BizStep.HOLDING):
        assert code(step, expired) is None
    assert blocked_reason(last_day, ON) is None


def test_goods_of_another_possessor_or_at_another_place_are_not_in_stock() -> None:
    assert code(BizStep.PICKING, state(S.AVAILABLE, possessor=OTHER)) == "movement.not_in_stock"
    assert code(BizStep.PICKING, state(S.AVAILABLE), read_point_id="loc-b") == (
        "movement.not_in_stock"
    )
    assert code(BizStep.PICKING, state(S.AVAILABLE), read_point_id=HERE) is None


def test_holding_dispositions_hold_recall_and_release_but_never_lift_a_recall() -> None:
    assert status_after(BizStep.HOLDING, Disposition.RECALLED, S.AVAILABLE) is S.RECALLED
    release = Disposition.SELLABLE_ACCESSIBLE
    assert status_after(BizStep.HOLDING, release, S.ON_HOLD) is S.AVAILABLE
    assert code(BizStep.HOLDING, state(S.ON_HOLD), disposition=release) is None
    assert code(BizStep.HOLDING, state(S.RECALLED), disposition=release) == "movement.recalled"
    assert status_after(BizStep.HOLDING, Disposition.DISPENSED, S.AVAILABLE) is None


def test_inspection_failure_puts_goods_on_hold() -> None:
    after = status_after(BizStep.INSPECTING, Disposition.NON_CONFORMANT, S.PENDING_ACCEPTANCE)
    assert after is S.ON_HOLD


def test_placements_and_stock_statuses() -> None:
    assert TRANSITIONS[BizStep.SHIPPING].placement is Placement.LEAVES
    assert TRANSITIONS[BizStep.STORING].placement is Placement.TO_LOCATION
    assert TRANSITIONS[BizStep.PICKING].placement is Placement.STAYS
    assert S.IN_TRANSIT not in IN_STOCK
    assert S.AVAILABLE.in_stock
    assert S.EXPIRED.label_zh == "过期"
