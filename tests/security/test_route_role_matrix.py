"""Every operation in the OpenAPI document × every role × own / foreign organisation.

The operations are read from the document at test time, and each one's expected answer comes
from the one permission matrix (warehouse/domain/permissions.py):

- a role the matrix does not allow → 403 ``auth.role_required``;
- an allowed role → never 401/403 (nor 5xx);
- an allowed role reading an object of its own organisation (or public register data) → 200;
- an allowed role reading a PRIVATE object of another organisation → 404, like a missing one
  (regulators: "own" is within their jurisdiction, "foreign" is outside it; admins see all).

An operation that is not in the matrix fails the test: a new endpoint cannot skip
authorisation by being forgotten.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.movements_world import STENT, World, build_world, stent, token
from tests.scanning_world import scan, stent_label
from warehouse import tables
from warehouse.db import RLS_ROLE_CONFIG
from warehouse.demo import ensure_organisation
from warehouse.domain.movements import BizStep
from warehouse.domain.permissions import (
    PERMISSIONS,
    Permission,
    Scope,
    markdown_table,
    permission_for,
)
from warehouse.domain.roles import Role

Headers = dict[str, str]
METHODS = ("get", "post", "put", "patch", "delete")
_PARAMETER = re.compile(r"\{([^}]+)\}")
PUBLIC_PATHS = {"/healthz", "/readyz"}
ALIASES = {"/api/v1/scanners/": {"device_id": "scanner_id"}}
"""Path prefix → parameter names that mean another fixture object there (a scanner device's
``device_id`` is not a catalogue device's)."""
PROBES = {
    ("GET", "/api/v1/trace/unit"): (f"di={STENT}&serial=RRM-1", "X"),
    ("GET", "/api/v1/trace/lot"): (f"di={STENT}&lot=L1", "X"),
}
"""Operations whose object is named by optional query parameters: X's stent and its lot."""
ACTIONS = {
    ("POST", "/api/v1/scans/exceptions/{exception_id}/resolve"): {
        "action": "accept",
        "reason": "route × role test",
    },
    ("POST", "/api/v1/scans/exceptions/{exception_id}/reject"): {"reason": "route × role test"},
    ("POST", "/api/v1/stock-counts/{count_id}/confirm"): {},
}
"""Writes on a seeded object, sent with a valid body so that the object itself is looked up:
the owner's first allowed role acts (200), the next ones find it closed (409); another
organisation gets 404, exactly like a missing object."""


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    required_query: tuple[str, ...]
    """Names of required query parameters, filled from :attr:`Fixture.objects`."""
    enums: dict[str, str]
    """Path parameters with a fixed set of values, and the first of them."""


def spec_operations(client: FlaskClient) -> list[Operation]:
    spec = client.get("/api/v1/openapi.json").get_json()
    found = []
    for path, item in spec["paths"].items():
        if path in PUBLIC_PATHS:
            continue
        shared = item.get("parameters", [])
        for method in METHODS:
            if method not in item:
                continue
            params = shared + item[method].get("parameters", [])
            required = tuple(
                p["name"] for p in params if p.get("in") == "query" and p.get("required")
            )
            enums = {
                p["name"]: p["schema"]["enum"][0]
                for p in params
                if p.get("in") == "path" and p.get("schema", {}).get("enum")
            }
            found.append(Operation(method.upper(), path, required, enums))
    return found


@dataclass
class Fixture:
    """Objects of known owners that path parameters resolve to, and tokens per role."""

    objects: dict[str, tuple[str, str]]
    """Path or required query parameter name → (value, key of the owning organisation)."""
    tokens: dict[tuple[Role, str], Headers]
    """(role, "own:<org>" | "foreign") → headers."""


def _build(world: World, session: Session) -> Fixture:
    ids = world.ids
    event = world.ok(BizStep.RECEIVING, "X", [stent("RRM-1")], at="W-X/Q", owner="X")
    agr = tables.entrustment_agreements
    agreement = session.execute(select(agr.c.id).where(agr.c.client_id == ids["X"])).scalar_one()
    link = tables.ownership_links
    link_id = session.execute(
        select(link.c.link_id).where(link.c.parent_id == ids["P"], link.c.child_id == ids["S"])
    ).scalar_one()
    lic = tables.licences
    licence = session.execute(
        select(lic.c.licence_id).where(lic.c.holder_id == ids["X"])
    ).scalar_one()
    device = session.execute(
        select(tables.devices.c.id).where(tables.devices.c.di == STENT)
    ).scalar_one()
    session.rollback()
    objects = {
        "warehouse_id": (str(ids["W-X"]), "X"),
        "location_id": (str(ids["W-X/A"]), "X"),
        "agreement_id": (str(agreement), "X"),
        "event_id": (str(event.id), "X"),
        "link_id": (str(link_id), "P"),
        "org_id": (str(ids["S"]), "P"),  # P's subsidiary: its group structure is private
        "parent": (str(ids["P"]), "P"),
        "actor": (str(ids["P"]), "P"),
        "warehouse": (str(ids["W-P"]), "P"),
        "owner": (str(ids["X"]), "P"),
        "licence_id": (str(licence), "X"),
        "device_id": (str(device), "M"),
        "di": (STENT, "M"),
    }
    ids["R"] = ensure_organisation(
        session, "厦门市市场监督管理局", "11350200MB0000000R", "350200", ["regulator"]
    )
    session.commit()
    tokens: dict[tuple[Role, str], Headers] = {}
    for role in Role:
        if role is Role.REGULATOR:
            # A regulator's "own" objects are those within its jurisdiction.
            inside = token(world, "R", role, jurisdiction="3502")
            for org in ("X", "P", "M"):
                tokens[(role, f"own:{org}")] = inside
            tokens[(role, "foreign")] = token(world, "R", role, jurisdiction="11")
            continue
        for org in ("X", "P", "M"):
            tokens[(role, f"own:{org}")] = token(world, org, role)
        tokens[(role, "foreign")] = token(world, "H", role)
    return Fixture(objects, tokens)


def _seed_through_the_api(client: FlaskClient, world: World, fixture: Fixture) -> None:
    """Objects only the newer endpoints create: a scanner device of X, a recall by M, a scan
    exception of X's handheld and a stock count of X."""
    created = {
        "scanner_id": (
            "X",
            "/api/v1/scanners",
            {"name": "PDA 1", "warehouse_id": str(world["W-X"])},
        ),
        "recall_id": (
            "M",
            "/api/v1/recalls",
            {"di": STENT, "lots": ["L1"], "reason": "route × role test", "recall_class": "III"},
        ),
    }
    handheld: Headers = {}
    for key, (org, path, body) in created.items():
        headers = fixture.tokens[(Role.ORG_MANAGER, f"own:{org}")]
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == 201, (path, response.get_json())
        fixture.objects[key] = (response.get_json()["id"], org)
        if key == "scanner_id":
            handheld = {"Authorization": f"Bearer {response.get_json()['token']}"}
    # Picking a unit X does not hold: the stock rule refuses it into X's exceptions queue.
    picked = scan(world, stent_label("RRM-404"), "pick", "W-X/Q")
    queued = client.post("/api/v1/scans/batch", json={"scans": [picked]}, headers=handheld)
    assert queued.get_json()["exceptions"] == 1, queued.get_json()
    fixture.objects["exception_id"] = (queued.get_json()["results"][0]["exception_id"], "X")
    manager = fixture.tokens[(Role.ORG_MANAGER, "own:X")]
    at = {"location_id": str(world["W-X/A"])}
    opened = client.post("/api/v1/stock-counts", json=at, headers=manager)
    assert opened.status_code == 201, opened.get_json()
    fixture.objects["count_id"] = (opened.get_json()["id"], "X")


@pytest.fixture
def fixture(db_session: Session, client: FlaskClient) -> Fixture:
    world = build_world(db_session)
    built = _build(world, db_session)
    _seed_through_the_api(client, world, built)
    return built


def _url(operation: Operation, fixture: Fixture) -> tuple[str, str | None, bool]:
    """The URL with objects filled in, the owner of its first object, and whether all known."""
    owner: str | None = None
    known = True
    versions = _version_ids(operation.path)
    url = operation.path
    for name in _PARAMETER.findall(operation.path):
        if name == "version_id" and versions is not None:
            continue  # filled in by _with_version once the resource's history is read
        if name in operation.enums:
            value = operation.enums[name]
        elif _object_key(operation.path, name) in fixture.objects:
            value, org = fixture.objects[_object_key(operation.path, name)]
            owner = owner or org
        else:
            value, known = str(uuid.uuid4()), False
        url = url.replace(f"{{{name}}}", value)
    query = []
    if (operation.method, operation.path) in PROBES:
        probe, owner = PROBES[(operation.method, operation.path)]
        query.append(probe)
    for name in operation.required_query:
        if name not in fixture.objects:
            return url, owner, False
        value, org = fixture.objects[name]
        owner = owner or org
        query.append(f"{name}={value}")
    return (f"{url}?{'&'.join(query)}" if query else url), owner, known


def _object_key(path: str, name: str) -> str:
    for prefix, names in ALIASES.items():
        if path.startswith(prefix) and name in names:
            return names[name]
    return name


def _version_ids(path: str) -> str | None:
    if "{version_id}" not in path:
        return None
    return path.split("/versions/{version_id}")[0]


def _with_version(client: FlaskClient, url: str, admin: Headers) -> str:
    if "{version_id}" not in url:
        return url
    base = url.split("/versions/{version_id}")[0]
    history = client.get(f"{base}/history", headers=admin).get_json()["items"]
    return url.replace("{version_id}", history[0]["version_id"])


def expected(
    operation: Operation, permission: Permission | None, role: Role, org: str, known: bool
) -> set[int] | str:
    """The acceptable statuses, or a reason the operation fails the matrix outright."""
    if permission is None:
        return "not in warehouse/domain/permissions.py (every operation must be declared)"
    if not permission.allows(frozenset({role})):
        return {403}
    if (operation.method, operation.path) in ACTIONS and known:
        others = permission.scope in (Scope.PRIVATE, Scope.ORGANISATION) and org == "foreign"
        if others and role is not Role.ADMIN:
            return {404}
        return {200, 409}
    if operation.method != "GET" or not known:
        # Bodies and unknown ids are answered after authorisation; only insist it passed.
        return {200, 201, 404, 409, 413, 415, 422}
    if role is not Role.ADMIN:
        if permission.scope is Scope.PRIVATE and org == "foreign":
            return {404}
        if permission.scope is Scope.ORGANISATION and (org == "foreign" or role is Role.REGULATOR):
            return {404}  # a regulator's token is its bureau's, never the owner's
    return {200}


def _check(client: FlaskClient, fixture: Fixture, operation: Operation) -> tuple[int, list[str]]:
    failures: list[str] = []
    checked = 0
    permission = permission_for(operation.method, operation.path)
    url, owner, known = _url(operation, fixture)
    admin = fixture.tokens[(Role.ADMIN, "own:X")]
    url = _with_version(client, url, admin)
    for role in Role:
        for org in (f"own:{owner or 'X'}", "foreign"):
            want = expected(operation, permission, role, org, known)
            if isinstance(want, str):
                return 0, [f"{operation.method} {operation.path}: {want}"]
            body: Any = {} if operation.method in {"POST", "PUT", "PATCH"} else None
            body = ACTIONS.get((operation.method, operation.path), body)
            response = client.open(
                url, method=operation.method, json=body, headers=fixture.tokens[(role, org)]
            )
            checked += 1
            status = response.status_code
            code = (response.get_json(silent=True) or {}).get("code")
            if status in want:
                if status == 403:
                    assert code == "auth.role_required", (operation, role, code)
                continue
            assert permission is not None
            if status == 403 and code == permission.token_condition:
                continue  # allowed by role, refused by the token's own documented condition
            failures.append(
                f"{operation.method} {operation.path} as {role.value} ({org}): "
                f"expected {sorted(want)}, got {status} {code}"
            )
    return checked, failures


@pytest.fixture(params=["app", "app+rls"])
def row_level_security(
    request: pytest.FixtureRequest, app: Flask, engine_name: str
) -> Iterator[str]:
    """Run once as configured, and on PostgreSQL once more under the restricted RLS role."""
    if request.param == "app+rls":
        if engine_name != "postgresql":
            pytest.skip("row-level security is PostgreSQL's")
        app.config[RLS_ROLE_CONFIG] = "udi_rls"
    yield request.param
    app.config.pop(RLS_ROLE_CONFIG, None)


def test_every_operation_every_role_own_and_foreign_organisation(
    client: FlaskClient, fixture: Fixture, row_level_security: str
) -> None:
    operations = spec_operations(client)
    failures: list[str] = []
    checked = 0
    for operation in operations:
        count, found = _check(client, fixture, operation)
        checked += count
        failures += found
    assert not failures, "\n".join(failures)
    # 8 roles × 2 organisations for every operation of the document.
    assert checked == len(operations) * len(Role) * 2
    assert len(operations) >= 55
    with_objects = [
        op
        for op in operations
        if (_PARAMETER.search(op.path) or op.required_query or (op.method, op.path) in PROBES)
        and _url(op, fixture)[2]
    ]
    unseeded = [f"{op.method} {op.path}" for op in operations if not _url(op, fixture)[2]]
    assert not [op for op in unseeded if "exception_id" in op or "count_id" in op], unseeded
    print(
        f"route × role × org ({row_level_security}): {len(operations)} operations,"
        f" {checked} requests checked; {len(with_objects)} operations on seeded objects"
        " (own answers, foreign 404 for private ones)"
    )


def test_the_matrix_names_only_operations_that_exist(client: FlaskClient) -> None:
    documented = {(op.method, op.path) for op in spec_operations(client)}
    stale = sorted(set(PERMISSIONS) - documented)
    assert not stale, f"matrix entries with no operation in the document: {stale}"


def test_an_undeclared_operation_fails_the_matrix() -> None:
    ghost = Operation("DELETE", "/api/v1/ghosts/{ghost_id}", required_query=(), enums={})
    assert permission_for(ghost.method, ghost.path) is None
    reason = expected(ghost, None, Role.ADMIN, "own:X", known=False)
    assert isinstance(reason, str)
    assert "must be declared" in reason


def test_regulators_and_auditors_cannot_record_events() -> None:
    events = permission_for("POST", "/api/v1/events")
    assert events is not None
    assert not events.allows(frozenset({Role.REGULATOR}))
    assert not events.allows(frozenset({Role.AUDITOR}))
    assert events.allows(frozenset({Role.SCANNER}))


def test_docs_security_md_carries_the_matrix(repo_root: Path) -> None:
    text = (repo_root / "docs/security.md").read_text(encoding="utf-8")
    start, end = "<!-- permission-matrix:start -->\n", "\n<!-- permission-matrix:end -->"
    documented = text.split(start, 1)[1].split(end, 1)[0]
    assert documented == markdown_table(), (
        "docs/security.md is stale: regenerate with python -m warehouse.domain.permissions"
    )
