"""GET /api/v1/audit/verify, /proof, /head and POST /seal-backlog on both engines.

Tampering goes around the append-only triggers the way an intruder with database access
would: the trigger is disabled (PostgreSQL) or dropped (SQLite) inside the test's transaction,
which is rolled back with everything else at the end of the test.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import literal_column, select
from sqlalchemy.orm import Session

from tests.e2e.test_service_basics import assert_problem
from tests.movements_world import World, build_world, event_json, gauze, stent, token
from warehouse import tables
from warehouse.domain import audit
from warehouse.domain.movements import BizStep as B
from warehouse.domain.roles import Role
from warehouse.repository import audit as audit_rows
from warehouse.services import audit as audit_service
from warehouse.services import movements, read_transaction
from warehouse.services.access import SYSTEM

Headers = dict[str, str]
VERIFY = "/api/v1/audit/verify"

_SQLITE_TRIGGERS = {
    "events": ("events_no_update", "events_no_delete"),
    "event_items": ("event_items_no_update", "event_items_no_delete"),
    "audit_batches": ("audit_batches_no_update", "audit_batches_no_delete"),
}


@contextmanager
def tampering(session: Session, table: str) -> Iterator[Any]:
    """A raw connection on which UPDATE and DELETE of ``table`` get through."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield connection
        connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    else:
        saved = {
            name: connection.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (name,)
            ).scalar_one()
            for name in _SQLITE_TRIGGERS[table]
        }
        for name in saved:
            connection.exec_driver_sql(f"DROP TRIGGER {name}")
        yield connection
        for sql in saved.values():
            connection.exec_driver_sql(sql)
    session.commit()


@pytest.fixture
def world(db_session: Session) -> World:
    return build_world(db_session)


@pytest.fixture
def auditor(world: World) -> Headers:
    return token(world, "P", Role.AUDITOR)


def history(world: World) -> list[str]:
    """Three batches: a receipt of two events' worth, an inspection, a put-away."""
    world.receive_stock("P", "W-P", [stent("S1"), stent("S2"), gauze(5)], owner="X")
    both = world.record(
        world.event(B.PICKING, "P", [stent("S1")]),
        world.event(B.PICKING, "P", [gauze(2)], read_point_id=world["W-P/A"]),
    )
    assert [r.status for r in both.results] == ["accepted", "accepted"]
    return [r.id for result in world.results for r in result.results if r.id]


def verify(client: FlaskClient, headers: Headers, query: str = "") -> dict[str, Any]:
    response = client.get(f"{VERIFY}{query}", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_an_untouched_history_verifies_and_every_batch_is_chained(
    client: FlaskClient, world: World, auditor: Headers, db_session: Session
) -> None:
    ids = history(world)
    body = verify(client, auditor)
    assert body["ok"] is True, body
    assert body["broken"] is None
    assert (body["checked_batches"], body["checked_events"]) == (4, len(ids))
    assert body["head"]["sequence"] == 4
    rows = db_session.execute(
        select(tables.audit_batches).order_by(tables.audit_batches.c.sequence)
    ).mappings()
    previous = audit.GENESIS
    for row in rows:
        assert row["prev_hash"] == previous
        previous = row["batch_hash"]
    db_session.rollback()
    assert body["head"]["batch_hash"] == previous
    head = client.get("/api/v1/audit/head", headers=auditor).get_json()
    assert head == body["head"]


def test_a_batch_of_duplicates_and_refusals_seals_nothing(
    client: FlaskClient, world: World, auditor: Headers
) -> None:
    first = world.event(B.RECEIVING, "P", [stent("S1")], location_id=world["W-P/Q"])
    world.record(first)
    again = world.record(first, world.event(B.PICKING, "P", [stent("S9")]))
    assert [r.status for r in again.results] == ["duplicate", "rejected"]
    body = verify(client, auditor)
    assert (body["ok"], body["checked_batches"], body["head"]["sequence"]) == (True, 1, 1)


@pytest.mark.parametrize(
    ("table", "column", "value"),
    [
        ("events", "staff_id", "'intruder'"),
        ("events", "disposition", "'damaged'"),
        # Flip the first hex digit (a fixed '0' would change nothing 1 time in 16).
        (
            "events",
            "event_hash",
            "CASE WHEN event_hash LIKE '0%' THEN '1' ELSE '0' END || substr(event_hash, 2)",
        ),
        ("event_items", "lot", "'L2'"),
        ("event_items", "quantity", "quantity + 1"),
    ],
)
def test_changing_one_stored_value_names_the_batch_and_the_event(
    client: FlaskClient,
    world: World,
    auditor: Headers,
    db_session: Session,
    table: str,
    column: str,
    value: str,
) -> None:
    ids = history(world)
    victim = uuid.UUID(ids[1])  # the inspection, second batch
    where = "id" if table == "events" else "event_id"
    target = getattr(tables, table)
    with tampering(db_session, table) as raw:
        changed = raw.execute(
            target.update().where(target.c[where] == victim).values({column: literal_column(value)})
        )
        assert changed.rowcount >= 1
    body = verify(client, auditor)
    assert body["ok"] is False
    broken = body["broken"]
    assert (broken["code"], broken["event_id"], broken["sequence"]) == (
        "audit.event_changed",
        str(victim),
        2,
    )
    assert body["checked_batches"] == 1  # the batch before the break was fine


def test_one_byte_of_one_text_column_is_enough(
    client: FlaskClient, world: World, auditor: Headers, db_session: Session
) -> None:
    world.receive_stock("P", "W-P", [stent("S1")], owner="X")
    row = db_session.execute(select(tables.event_items.c.id, tables.event_items.c.serial)).first()
    db_session.rollback()
    assert row is not None
    items = tables.event_items
    with tampering(db_session, "event_items") as raw:
        raw.execute(items.update().where(items.c.id == row.id).values(serial="S2"))
    body = verify(client, auditor)
    assert body["broken"]["code"] == "audit.event_changed"


def test_a_deleted_item_a_deleted_event_and_a_forged_event_are_found(
    client: FlaskClient, world: World, auditor: Headers, db_session: Session
) -> None:
    ids = history(world)
    last = uuid.UUID(ids[-1])
    with tampering(db_session, "event_items") as raw:
        raw.execute(tables.event_items.delete().where(tables.event_items.c.event_id == last))
    body = verify(client, auditor)
    assert (body["broken"]["code"], body["broken"]["event_id"]) == (
        "audit.event_changed",
        str(last),
    )
    with tampering(db_session, "events") as raw:
        raw.execute(tables.events.delete().where(tables.events.c.id == last))
    body = verify(client, auditor)
    assert (body["broken"]["code"], body["broken"]["event_id"]) == (
        "audit.event_missing",
        str(last),
    )


def test_an_event_inserted_around_the_service_is_unsealed_until_the_backlog_is_sealed(
    client: FlaskClient, world: World, auditor: Headers, db_session: Session
) -> None:
    ids = history(world)
    original = (
        db_session.execute(select(tables.events).where(tables.events.c.id == uuid.UUID(ids[0])))
        .mappings()
        .one()
    )
    forged = {
        **original,
        "id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "batch_id": uuid.uuid4(),
        "recorded_at": datetime.now(UTC),
    }
    db_session.execute(tables.events.insert().values(**forged))
    db_session.commit()
    body = verify(client, auditor)
    assert (body["broken"]["code"], body["broken"]["event_id"]) == (
        "audit.unsealed_event",
        str(forged["id"]),
    )
    assert_problem(
        client.post("/api/v1/audit/seal-backlog", headers=auditor), 403, "auth.role_required"
    )
    admin = token(world, "P", Role.ADMIN)
    unproven = client.get(f"/api/v1/audit/proof?event_id={forged['id']}", headers=admin)
    assert_problem(unproven, 404, "request.not_found")
    sealed = client.post("/api/v1/audit/seal-backlog", headers=admin)
    assert sealed.get_json() == {"sealed_batches": 1}
    assert verify(client, auditor)["ok"] is True
    proven = client.get(f"/api/v1/audit/proof?event_id={forged['id']}", headers=admin)
    assert (proven.get_json()["batch"]["sequence"], proven.get_json()["consistent"]) == (5, True)
    # An event slipped into an already sealed batch is not part of it.
    slipped = {
        **forged,
        "id": uuid.uuid4(),
        "event_id": uuid.uuid4(),
        "batch_id": original["batch_id"],
    }
    db_session.execute(tables.events.insert().values(**slipped))
    db_session.commit()
    body = verify(client, auditor)
    assert (body["broken"]["code"], body["broken"]["event_id"]) == (
        "audit.event_added",
        str(slipped["id"]),
    )


def test_editing_a_sealed_batch_breaks_it_or_the_link_after_it(
    client: FlaskClient, world: World, auditor: Headers, db_session: Session
) -> None:
    history(world)
    with tampering(db_session, "audit_batches") as raw:
        raw.execute(
            tables.audit_batches.update()
            .where(tables.audit_batches.c.sequence == 2)
            .values(merkle_root="f" * 64)
        )
    body = verify(client, auditor)
    assert (body["broken"]["code"], body["broken"]["sequence"]) == ("audit.batch_changed", 2)
    with tampering(db_session, "audit_batches") as raw:
        raw.execute(tables.audit_batches.delete().where(tables.audit_batches.c.sequence == 3))
    body = verify(client, auditor)
    assert body["broken"]["code"] == "audit.batch_changed"  # sequence 2 still comes first


def test_a_dropped_last_batch_shows_as_a_head_mismatch(
    client: FlaskClient, world: World, auditor: Headers, db_session: Session
) -> None:
    history(world)
    with tampering(db_session, "audit_batches") as raw:
        raw.execute(tables.audit_batches.delete().where(tables.audit_batches.c.sequence == 4))
    body = verify(client, auditor)
    assert (body["broken"]["code"], body["broken"]["sequence"]) == ("audit.head_mismatch", 3)


def test_verification_continues_in_ranges(
    client: FlaskClient, world: World, auditor: Headers
) -> None:
    history(world)
    first = verify(client, auditor, "?max_batches=3")
    assert (first["ok"], first["checked_batches"], first["next_sequence"]) == (True, 3, 4)
    rest = verify(client, auditor, f"?from_sequence={first['next_sequence']}")
    assert (rest["ok"], rest["checked_batches"], rest["next_sequence"]) == (True, 1, None)
    beyond = verify(client, auditor, "?from_sequence=9")
    assert (beyond["ok"], beyond["broken"]["code"]) == (False, "audit.chain_broken")
    assert_problem(
        client.get(f"{VERIFY}?max_batches=0", headers=auditor), 422, "request.validation"
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from_sequence=100000000000000000000", "from_sequence"),  # OverflowError on SQLite
        (f"from_sequence={2**31}", "from_sequence"),  # past PostgreSQL's INTEGER
        ("from_sequence=0", "from_sequence"),
        ("from_sequence=-1", "from_sequence"),
        ("max_batches=0", "max_batches"),
        ("max_batches=100001", "max_batches"),
        ("max_batches=100000000000000000000", "max_batches"),
    ],
)
def test_verification_ranges_outside_the_bounds_are_422(
    client: FlaskClient, world: World, auditor: Headers, query: str, field: str
) -> None:
    body = assert_problem(
        client.get(f"{VERIFY}?{query}", headers=auditor), 422, "request.validation"
    )
    assert [e["field"] for e in body["errors"]] == [field]


def test_the_largest_sequence_is_an_answer_and_a_regulator_checks_fewer_batches(
    client: FlaskClient, world: World, auditor: Headers
) -> None:
    history(world)
    last = verify(client, auditor, f"?from_sequence={2**31 - 1}")
    assert (last["ok"], last["broken"]["code"]) == (False, "audit.chain_broken")
    assert verify(client, auditor, "?max_batches=100000")["ok"] is True
    regulator = token(world, "H", Role.REGULATOR, jurisdiction="3502")
    assert verify(client, regulator)["ok"] is True  # the default stays within the ceiling
    assert verify(client, regulator, "?max_batches=1000")["checked_batches"] == 4
    too_many = client.get(f"{VERIFY}?max_batches=1001", headers=regulator)
    body = assert_problem(too_many, 422, "request.validation")
    assert [(e["field"], e["message"]) for e in body["errors"]] == [
        ("max_batches", "Expected 1 to 1,000 batches for your role, got 1001.")
    ]


def test_only_auditors_admins_and_regulators_verify(
    client: FlaskClient, world: World, auditor: Headers
) -> None:
    assert_problem(client.get(VERIFY, headers=token(world, "P")), 403, "auth.role_required")
    regulator = token(world, "H", Role.REGULATOR, jurisdiction="3502")
    assert verify(client, regulator)["ok"] is True
    assert verify(client, token(world, "X", Role.ADMIN))["ok"] is True


def test_an_inclusion_proof_checks_out_without_trusting_the_server(
    client: FlaskClient, world: World, db_session: Session
) -> None:
    ids = history(world)
    owner = token(world, "X")
    for event_id in ids:
        response = client.get(f"/api/v1/audit/proof?event_id={event_id}", headers=owner)
        assert response.status_code == 200, response.get_data(as_text=True)
        proof = response.get_json()
        assert proof["consistent"] is True
        leaf = audit.leaf_hash(proof["canonical"].encode("utf-8"))
        assert leaf.hex() == proof["leaf_hash"]
        assert '"id":"' + event_id + '"' in proof["canonical"]
        path = [bytes.fromhex(p) for p in proof["path"]]
        root = audit.root_from_path(leaf, proof["leaf_index"], proof["tree_size"], path)
        assert root is not None
        batch = proof["batch"]
        assert root.hex() == batch["merkle_root"]
        link = audit.Link(
            batch["sequence"],
            uuid.UUID(batch["batch_id"]),
            batch["event_count"],
            batch["merkle_root"],
            batch["prev_hash"],
            datetime.fromisoformat(batch["created_at"]),
        )
        assert link.hash() == batch["batch_hash"]
    by_client_id = db_session.execute(
        select(tables.events.c.event_id).where(tables.events.c.id == uuid.UUID(ids[-1]))
    ).scalar_one()
    db_session.rollback()
    again = client.get(f"/api/v1/audit/proof?event_id={by_client_id}", headers=owner).get_json()
    assert again["id"] == ids[-1]
    assert again["tree_size"] == 2


def test_a_proof_of_an_event_you_may_not_see_is_404(client: FlaskClient, world: World) -> None:
    ids = history(world)
    url = f"/api/v1/audit/proof?event_id={ids[0]}"
    assert_problem(client.get(url, headers=token(world, "S60")), 404, "request.not_found")
    outside = token(world, "H", Role.REGULATOR, jurisdiction="3301")
    assert_problem(client.get(url, headers=outside), 404, "request.not_found")
    inside = token(world, "H", Role.REGULATOR, jurisdiction="3502")
    assert client.get(url, headers=inside).status_code == 200


def test_concurrent_writers_extend_one_unbroken_chain(own_app: Flask) -> None:
    factory = own_app.extensions["udi_db"].session_factory
    setup = factory()
    world = build_world(setup)
    writers = 8 if setup.get_bind().dialect.name == "postgresql" else 4
    batches = [
        [
            world.event(B.RECEIVING, "P", [stent(f"C{w}-{n}", lot=f"T{w}")], at="W-P/Q", owner="X")
            for n in range(3)
        ]
        for w in range(writers)
    ]
    barrier = threading.Barrier(writers)
    outcomes: list[Any] = [None] * writers

    def write(index: int) -> None:
        session = factory()
        try:
            barrier.wait(timeout=30)
            outcomes[index] = movements.record(session, SYSTEM, batches[index])
        except BaseException as error:  # reported below
            outcomes[index] = error
        finally:
            session.close()

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), outcome
        assert outcome.count("accepted") == 3
    result = audit_service.verify(setup)
    assert (result.ok, result.batches, result.events) == (True, writers, 3 * writers)
    sequences = setup.execute(select(tables.audit_batches.c.sequence)).scalars().all()
    setup.rollback()
    assert sorted(sequences) == list(range(1, writers + 1))
    setup.close()


def test_concurrent_backlog_sealers_seal_each_batch_once(
    own_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    factory = own_app.extensions["udi_db"].session_factory
    setup = factory()
    world = build_world(setup)
    ids = history(world)
    original = (
        setup.execute(select(tables.events).where(tables.events.c.id == uuid.UUID(ids[0])))
        .mappings()
        .one()
    )
    backlog = 3
    for _ in range(backlog):  # events recorded before the chain existed
        fields = {"id": uuid.uuid4(), "event_id": uuid.uuid4(), "batch_id": uuid.uuid4()}
        setup.execute(tables.events.insert().values(**{**original, **fields}))
    setup.commit()
    found = audit_rows.unsealed_batches

    def slow_unsealed(session: Session, limit: int) -> list[uuid.UUID]:
        # Widen the window between reading the backlog and sealing it, so that every sealer
        # reads it before any commits unless the read is serialised.
        answer = found(session, limit)
        time.sleep(0.3)
        return answer

    monkeypatch.setattr(audit_rows, "unsealed_batches", slow_unsealed)
    sealers = 4
    barrier = threading.Barrier(sealers)
    outcomes: list[Any] = [None] * sealers

    def seal(index: int) -> None:
        session = factory()
        try:
            barrier.wait(timeout=30)
            outcomes[index] = audit_service.seal_backlog(session)
        except BaseException as error:  # reported below
            outcomes[index] = error
        finally:
            session.close()

    threads = [threading.Thread(target=seal, args=(i,)) for i in range(sealers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outcome in outcomes:
        assert not isinstance(outcome, BaseException), outcome
    assert sorted(outcomes) == [0] * (sealers - 1) + [backlog]
    result = audit_service.verify(setup)
    assert (result.ok, result.batches, result.events) == (True, 4 + backlog, 5 + backlog)
    setup.close()


def test_proofs_of_many_events_come_from_one_read(world: World, db_session: Session) -> None:
    ids = history(world)
    page = movements.list_events(
        db_session, SYSTEM, movements.PageRequest(limit=50), movements.EventFilter()
    )
    with read_transaction(db_session):
        found = audit_service.proofs_of(db_session, page.items)
    assert sorted(str(i) for i in found) == sorted(ids)
    assert all(p.consistent for p in found.values())
    by_batch = {p.batch.link.sequence for p in found.values()}
    assert by_batch == {1, 2, 3, 4}


def test_an_auditor_verifies_every_organisation_under_row_level_security(
    client: FlaskClient,
    world: World,
    auditor: Headers,
    app: Flask,
    engine_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if engine_name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    history(world)
    world.receive_stock("H", "W-H", [stent("H1")], owner="H")  # not the auditor's organisation
    monkeypatch.setitem(app.config, "DATABASE_RLS_ROLE", "udi_rls")
    own = client.get("/api/v1/events?limit=500", headers=auditor).get_json()["items"]
    assert len(own) == 5  # row-level security does hide the hospital's events from P
    body = verify(client, auditor)
    assert (body["ok"], body["checked_events"]) == (True, 8), body


def test_a_batch_posted_under_row_level_security_is_sealed(
    client: FlaskClient,
    world: World,
    auditor: Headers,
    app: Flask,
    engine_name: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if engine_name != "postgresql":
        pytest.skip("row-level security is PostgreSQL's")
    monkeypatch.setitem(app.config, "DATABASE_RLS_ROLE", "udi_rls")
    body = event_json(world, B.RECEIVING, [stent("R1")], at="W-P/Q", owner="X")
    response = client.post("/api/v1/events", json=body, headers=token(world, "P", Role.SCANNER))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert verify(client, auditor)["head"]["sequence"] == 1
