"""Custody checks: load the facts one request needs, then ask the rule engine.

:func:`load_facts` reads only what :func:`~warehouse.domain.custody.check_custody` can look
at for this request: the warehouse and its operator, the device (through its package DI if
one was scanned) and its registrant, every licence version of the actor and the operator, the
ownership links above the operator and above the registrant (the chains R2 and R3 climb), and
the agreements by which the owner entrusted goods to the actor. A dozen queries, whatever the
size of the database.

Organisations, the warehouse, the device record and the agreements are read as the version
in effect on the request's date (:mod:`warehouse.repository.versions`): an agreement ended
early by a later version still allows what happened before the end, and a warehouse's kind
or an organisation's roles are those of the day. A record whose first version starts after
the date is read as that first version.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.domain.custody import CustodyDecision, CustodyFacts, CustodyRequest, check_custody
from warehouse.domain.entrustment import LogisticsService
from warehouse.domain.roles import Principal
from warehouse.domain.warehouses import Warehouse
from warehouse.errors import UnknownFactError
from warehouse.repository import agreements as agreement_rows
from warehouse.repository import devices as device_rows
from warehouse.repository import licences as licence_rows
from warehouse.repository import organisations as org_rows
from warehouse.repository import ownership as link_rows
from warehouse.repository import versions as version_rows
from warehouse.repository import warehouses as warehouse_rows
from warehouse.repository.devices import StoredDevice
from warehouse.services import read_transaction, today
from warehouse.services.access import warehouses_visible
from warehouse.services.errors import NotFound
from warehouse.services.remembered import Remembered


class Missing:
    """Type of :data:`MISSING`: an argument not given (None is a value: no such record)."""


MISSING = Missing()


@dataclass(frozen=True, slots=True)
class CustodyQuestion:
    """The custody-check request as the API receives it."""

    actor_id: uuid.UUID
    warehouse_id: uuid.UUID
    di: str
    owner_id: uuid.UUID
    on: date | None = None
    service: LogisticsService = LogisticsService.STORAGE


@dataclass(frozen=True, slots=True)
class CustodyAnswer:
    """The decision, with the facts bundle it was made on (for names in the response)."""

    request: CustodyRequest
    decision: CustodyDecision
    facts: CustodyFacts


def check(session: Session, principal: Principal, question: CustodyQuestion) -> CustodyAnswer:
    """Decide whether the actor may store or move the goods in the warehouse on the date.

    Raises:
        NotFound: If the warehouse is unknown or invisible to the caller, or the actor, owner
            or DI is unknown.
    """
    request = CustodyRequest(
        actor_id=str(question.actor_id),
        warehouse_id=str(question.warehouse_id),
        di=question.di.strip(),
        owner_id=str(question.owner_id),
        on=question.on or today(),
        service=question.service,
    )
    with read_transaction(session):
        visible = warehouses_visible(session, principal, today())
        if warehouse_rows.get(session, question.warehouse_id, visible) is None:
            raise NotFound("warehouse", question.warehouse_id)
        facts = load_facts(session, request)
    try:
        decision = check_custody(request, facts)
    except UnknownFactError as error:
        raise NotFound(error.kind, error.key) from None
    return CustodyAnswer(request, decision, facts)


def load_facts(
    session: Session, request: CustodyRequest, device: StoredDevice | Missing | None = MISSING
) -> CustodyFacts:
    """Load the records the rules may read for ``request`` with a few targeted queries.

    ``device`` is the catalogue entry of ``request.di`` (or None) when the caller has already
    read it in this transaction; otherwise it is read here.

    Versions come first, in two queries (what the request names, then what the chains and
    agreements name): a record's current row is read only when it has no version at all,
    since a version in effect replaces the row anyway.
    """
    on = request.on
    warehouse_id = uuid.UUID(request.warehouse_id)
    actor, owner = uuid.UUID(request.actor_id), uuid.UUID(request.owner_id)
    if isinstance(device, Missing):
        device = device_rows.find_many_by_di(session, [request.di])[request.di]
    dated = version_rows.as_of_entities(
        session,
        {
            "warehouse": [warehouse_id],
            "device": [device.id] if device else [],
            "organisation": [actor, owner],
        },
        on,
    )
    device = _device_as_of(device, dated)
    version = dated.get(("warehouse", str(warehouse_id)))
    if version is not None:
        warehouse: Warehouse | None = warehouse_rows.from_version(version)
    else:
        warehouse = warehouse_rows.get(session, warehouse_id)
    if warehouse is None:
        return CustodyFacts()
    operator = uuid.UUID(warehouse.operator_id)
    registrant = uuid.UUID(device.record.registrant_id) if device else None
    links = link_rows.upward(session, [operator, *([registrant] if registrant else [])])
    licences = licence_rows.held_by(session, [actor, operator])
    agreements = agreement_rows.between(session, owner, actor)
    org_ids = {request.actor_id, request.owner_id, warehouse.operator_id}
    org_ids |= {s.link.parent_id for s in links} | {s.link.child_id for s in links}
    if device is not None:
        org_ids.add(device.record.registrant_id)
    known = {org_id for entity, org_id in dated if entity == "organisation"}
    more = version_rows.as_of_entities(
        session,
        {"entrustment_agreement": [a.id for a in agreements], "organisation": org_ids - known},
        on,
    )
    dated.update(more)
    agreements = [
        agreement_rows.from_version(dated[("entrustment_agreement", a.id)])
        if ("entrustment_agreement", a.id) in dated
        else a
        for a in agreements
    ]
    organisations = {
        org_id: org_rows.from_version(dated[("organisation", org_id)])
        for org_id in org_ids
        if ("organisation", org_id) in dated
    }
    organisations.update(org_rows.get_many(session, org_ids - set(organisations)))
    # Other warehouses only appear in messages ("registered: …"), by name.
    named = {w for v in licences for w in v.warehouse_ids}
    named |= {w for a in agreements for w in a.warehouse_ids}
    warehouses = warehouse_rows.get_many(session, named - {warehouse.id})
    warehouses[warehouse.id] = warehouse
    return CustodyFacts.of(
        organisations=organisations.values(),
        warehouses=warehouses.values(),
        licences=licences,
        links=[s.link for s in links],
        agreements=agreements,
        devices=[device.record] if device else [],
        packages=[p.entry for p in device.packages] if device else [],
    )


# --- Facts remembered while master data stays the same ----------------------------------------

_REMEMBERED: Remembered[tuple[CustodyRequest, object], CustodyFacts] = Remembered(4096)
"""Custody facts this process loaded, valid while the master-data generation (migration 0016:
replaced by a trigger on every master-data write) reads the same value."""


def master_data_generation(session: Session) -> str:
    """The current master-data generation (one indexed read, in the caller's transaction)."""
    table = tables.master_data_generation
    return str(session.execute(select(table.c.value).where(table.c.id == 1)).scalar_one())


def remembered_facts(
    session: Session,
    request: CustodyRequest,
    device: StoredDevice | Missing | None,
    generation: str,
    scope: object,
) -> CustodyFacts:
    """:func:`load_facts`, or the facts loaded for the same request under the same
    generation. ``scope`` names what the caller's transaction may read (row-level security:
    its organisation, or the bypass), so facts are never shared across what two callers see.
    """
    key = (request, scope)
    facts = _REMEMBERED.get_many(generation, [key]).get(key)
    if facts is None:
        facts = load_facts(session, request, device)
        _REMEMBERED.put_many(generation, {key: facts})
    return facts


def _device_as_of(
    device: StoredDevice | None, dated: Mapping[tuple[str, str], version_rows.Version]
) -> StoredDevice | None:
    """The catalogue record as its version in effect (already in ``dated``) shows it."""
    if device is None:
        return None
    version = dated.get(("device", device.id))
    if version is None:
        return device
    record = device_rows.record_from_version(version, device.record.certificates)
    return StoredDevice(device.id, device.issuer, record, device.packages)
