"""The pure mapping from scanner operations to movement events."""

from __future__ import annotations

import uuid

from scanning.operations import EXCEPTION_CODES, STEPS, Operation, event_id_for, is_exception
from warehouse.domain.movements import CONFLICT_CODES, REFUSAL_CODES, BizStep


def test_every_operation_but_stock_count_maps_to_a_step() -> None:
    assert set(STEPS) == set(Operation) - {Operation.STOCK_COUNT}
    assert STEPS[Operation.ISSUE_TO_DEPARTMENT].step is BizStep.STOCKING
    assert STEPS[Operation.USE_ON_PATIENT].step is BizStep.DISPENSING
    destinations = {op for op, mapping in STEPS.items() if mapping.to_location}
    assert destinations == {
        Operation.RECEIVE,
        Operation.PUT_AWAY,
        Operation.ISSUE_TO_DEPARTMENT,
        Operation.RETURN,
    }


def test_event_ids_are_stable_per_device_and_scan() -> None:
    device, scan = uuid.uuid4(), uuid.uuid4()
    assert event_id_for(device, scan) == event_id_for(device, scan)
    assert event_id_for(device, scan) != event_id_for(uuid.uuid4(), scan)
    assert event_id_for(device, scan).version == 5


def test_only_stock_state_refusals_queue_a_scan_for_review() -> None:
    assert set(REFUSAL_CODES) >= EXCEPTION_CODES
    assert CONFLICT_CODES <= EXCEPTION_CODES
    assert is_exception("movement.not_in_stock")
    for wrong_in_itself in ("movement.unknown_device", "movement.pi_mismatch", "movement.location"):
        assert not is_exception(wrong_in_itself)
