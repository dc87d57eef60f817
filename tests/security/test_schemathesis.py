"""schemathesis over the OpenAPI document against the app, with a seeded database (bounded).

For every operation, schemathesis generates requests from the document (valid ones, and some
that break the schema), sends them with a token holding every role, and checks that the answer
is never a 5xx, has the documented content type and matches the documented response schema.
Path parameters are often swapped for the ids of the seeded world (movements_world), so reads
reach real rows and not only 404s. The budget is ``UDI_SCHEMATHESIS_EXAMPLES`` examples per
operation and mode (default 6); the counts are printed in the run's summary.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy.orm import Session

from tests.movements_world import STENT, build_world, stent, token
from warehouse.domain.movements import BizStep
from warehouse.domain.roles import Role

KNOWN = {
    "POST /api/v1/epcis/capture": "'pointer' was unexpected",
}
"""Reported, not fixed here: operation → the one failure text tolerated for it. EPCIS schema
errors carry ``pointer`` in ``errors[]``, which the documented ProblemDetail (closed, in
warehouse/web/api.py) does not allow; fix either side, then drop the entry."""

EXAMPLES = int(os.environ.get("UDI_SCHEMATHESIS_EXAMPLES", "6"))
CHECKS = [not_a_server_error, content_type_conformance, response_schema_conformance]
COUNTS: Counter[str] = Counter()


def _budget() -> settings:
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # CI runs the same requests every time
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def seeded(db_session: Session) -> dict[str, Any]:
    """A world with stock and an event, a token with every role, and ids to aim at."""
    world = build_world(db_session)
    event = world.ok(BizStep.RECEIVING, "X", [stent("ST-1")], at="W-X/Q", owner="X")
    headers = token(world, "X", *Role, jurisdiction="35")
    ids = {
        "warehouse_id": str(world["W-X"]),
        "location_id": str(world["W-X/A"]),
        "org_id": str(world["X"]),
        "event_id": str(event.id),
        "di": STENT,
    }
    return {"headers": headers, "ids": ids}


def test_no_5xx_and_every_response_matches_its_schema(
    app: Flask, seeded: dict[str, Any], engine_name: str
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _run(operation, mode, seeded)
    statuses = {
        key.split(":")[1]: count
        for key, count in sorted(COUNTS.items())
        if key.startswith(f"{engine_name}:")
    }
    print(
        f"schemathesis [{engine_name}]: {operations} operations, "
        f"{COUNTS[engine_name]} requests, statuses {statuses}, {len(failures)} failures"
    )
    assert operations >= 55
    assert statuses.get("200", 0) + statuses.get("201", 0) >= operations  # real rows reached
    assert not failures, "\n\n".join(failures[:20])


def _run(operation: Any, mode: GenerationMode, seeded: dict[str, Any]) -> list[str]:
    failures: list[str] = []

    @_budget()
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        case = data.draw(operation.as_strategy(generation_mode=mode))
        for name in list(case.path_parameters or {}):
            if name in seeded["ids"] and data.draw(st.booleans()):
                case.path_parameters[name] = seeded["ids"][name]
        engine = _engine(operation)
        COUNTS[engine] += 1
        try:
            response = case.call_and_validate(headers=seeded["headers"], checks=CHECKS)
        except FailureGroup as group:
            known = KNOWN.get(operation.label)
            unknown = [e for e in group.exceptions if not known or known not in str(e)]
            if unknown:
                failures.append(f"{operation.label} [{mode.value}]: {group}")
            COUNTS[f"{engine}:known"] += 1
            return
        COUNTS[f"{engine}:{response.status_code}"] += 1

    run()
    return failures


def _engine(operation: Any) -> str:
    app = operation.schema.app
    return str(app.extensions["udi_db"].engine.dialect.name)
