"""Who may call which operation: the permission matrix, declared once (docs/security.md).

Each operation of the OpenAPI document, named ``(METHOD, path template)`` exactly as the
document spells it, maps to the roles that may call it and to how its objects are scoped.
``tests/security/test_route_role_matrix.py`` enumerates the document at test time and checks
every operation against this table for every role and for an own and a foreign organisation;
an operation missing here fails that test, so a new endpoint cannot skip authorisation.

Roles gate *operations* (403 ``auth.role_required``); the scope says what happens to an
object of another organisation behind an allowed operation:

- ``PUBLIC``: register data (organisations, licences, catalogue, labels): every caller sees it.
- ``PRIVATE``: another organisation's object (named in the path or a required query
  parameter) answers 404, exactly like a missing one; regulators see objects within their
  jurisdiction, admins everything.
- ``ORGANISATION``: like private, but regulators' jurisdiction does not reach it: an
  organisation's own equipment (scanner devices) and work queues (scan exceptions, stock
  counts), not traceability data.
- ``CALLER``: no object in the path; the answer is about, or filtered to, the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from warehouse.domain.roles import Role


class Scope(StrEnum):
    """How an operation treats objects of other organisations."""

    PUBLIC = "public"
    PRIVATE = "private"
    ORGANISATION = "organisation"
    CALLER = "caller"


@dataclass(frozen=True, slots=True)
class Permission:
    """The roles allowed to call one operation, and the scope of its objects."""

    roles: frozenset[Role]
    scope: Scope
    token_condition: str | None = None
    """A further check of the token itself, refused 403 with this code (e.g. the token must be
    bound to a registered scanner device: ``scan.device_required``)."""

    def allows(self, roles: frozenset[Role]) -> bool:
        """True when a token holding ``roles`` may call the operation."""
        return not self.roles.isdisjoint(roles)


EVERYONE = frozenset(Role)
"""Every valid token: reads whose rows are filtered to what the caller may see."""

MASTER_DATA_WRITERS = frozenset({Role.ADMIN, Role.ORG_MANAGER})
"""Write master data: admins anything, organisation managers their own organisation's."""

ADMINS = frozenset({Role.ADMIN})

EVENT_WRITERS = frozenset(
    {
        Role.ADMIN,
        Role.ORG_MANAGER,
        Role.WAREHOUSE_OPERATOR,
        Role.SCANNER,
        Role.DISTRIBUTOR_SYNC,
        Role.HOSPITAL_USER,
    }
)
"""Record movements (own organisation; admins any). Regulators and auditors only read."""

SCANNER_DEVICES = frozenset({Role.SCANNER})
"""Send scans: only a token bound to a registered scanner device."""

SCAN_REVIEWERS = frozenset({Role.ADMIN, Role.ORG_MANAGER, Role.WAREHOUSE_OPERATOR})
"""Resolve or reject scan exceptions, confirm stock counts."""

STOCK_COUNTERS = SCAN_REVIEWERS | SCANNER_DEVICES
"""Start a stock count."""

RECORD_READERS = EVERYONE - {Role.SCANNER, Role.DISTRIBUTOR_SYNC}
"""Read the statutory records (people read them; devices and integrations do not)."""


def _versioned(
    base: str,
    scope: Scope,
    *,
    list_path: bool = True,
    versions: bool = True,
    create: frozenset[Role] | None = None,
) -> dict[tuple[str, str], Permission]:
    """The operations of one versioned master-data resource at ``base`` (``.../{id}``)."""
    collection = base.rsplit("/", 1)[0]
    read = Permission(EVERYONE, scope)
    entries = {
        ("GET", base): read,
        ("GET", f"{base}/history"): read,
        ("POST", f"{base}/supersede"): Permission(MASTER_DATA_WRITERS, scope),
    }
    if versions:
        entries[("GET", f"{base}/versions/{{version_id}}")] = read
    if list_path:
        entries[("GET", collection)] = Permission(EVERYONE, Scope.CALLER)
        entries[("POST", collection)] = Permission(create or MASTER_DATA_WRITERS, Scope.CALLER)
    return entries


_V1 = "/api/v1"
_DEVICE = "scan.device_required"
_WAREHOUSE = f"{_V1}/warehouses/{{warehouse_id}}"

PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("GET", f"{_V1}/tokens/current"): Permission(EVERYONE, Scope.CALLER),
    # Register data: public reads, writes by admins / the owning organisation's manager.
    **_versioned(f"{_V1}/organisations/{{org_id}}", Scope.PUBLIC, create=ADMINS),
    ("GET", f"{_V1}/organisations/{{org_id}}/control"): Permission(EVERYONE, Scope.PRIVATE),
    **_versioned(f"{_V1}/licences/{{licence_id}}", Scope.PUBLIC),
    **_versioned(f"{_V1}/devices/{{device_id}}", Scope.PUBLIC),
    ("POST", f"{_V1}/devices/{{device_id}}/certificates"): Permission(
        MASTER_DATA_WRITERS, Scope.PUBLIC
    ),
    # Private master data: group structures, warehouses, agreements.
    **_versioned(f"{_V1}/ownership-links/{{link_id}}", Scope.PRIVATE, versions=False),
    **_versioned(_WAREHOUSE, Scope.PRIVATE),
    ("GET", f"{_WAREHOUSE}/registrations"): Permission(EVERYONE, Scope.PRIVATE),
    ("GET", f"{_WAREHOUSE}/locations"): Permission(EVERYONE, Scope.PRIVATE),
    ("POST", f"{_WAREHOUSE}/locations"): Permission(MASTER_DATA_WRITERS, Scope.PRIVATE),
    **_versioned(f"{_WAREHOUSE}/locations/{{location_id}}", Scope.PRIVATE, list_path=False),
    **_versioned(f"{_V1}/entrustment-agreements/{{agreement_id}}", Scope.PRIVATE),
    # Names a warehouse in its query: one the caller cannot see is a 404.
    ("GET", f"{_V1}/rules/custody-check"): Permission(EVERYONE, Scope.PRIVATE),
    # Movements and stock: rows filtered to the caller's parties (regulators: jurisdiction).
    ("GET", f"{_V1}/events"): Permission(EVERYONE, Scope.CALLER),
    ("POST", f"{_V1}/events"): Permission(EVENT_WRITERS, Scope.CALLER),
    ("GET", f"{_V1}/events/{{event_id}}"): Permission(EVERYONE, Scope.PRIVATE),
    ("GET", f"{_V1}/stock"): Permission(EVERYONE, Scope.CALLER),
    ("GET", f"{_V1}/stock/fefo"): Permission(EVERYONE, Scope.CALLER),
    ("GET", f"{_V1}/discrepancies"): Permission(EVERYONE, Scope.CALLER),
    # Scanning: stateless parsing and rendering.
    ("POST", f"{_V1}/udi/parse"): Permission(EVERYONE, Scope.CALLER),
    ("POST", f"{_V1}/udi/parse-batch"): Permission(EVERYONE, Scope.CALLER),
    ("POST", f"{_V1}/scans/decode"): Permission(EVERYONE, Scope.CALLER),
    ("GET", f"{_V1}/labels/{{di}}.png"): Permission(EVERYONE, Scope.PUBLIC),
    ("GET", f"{_V1}/labels/{{di}}.svg"): Permission(EVERYONE, Scope.PUBLIC),
    # Scanner devices, scans and their exceptions, stock counts.
    ("GET", f"{_V1}/scanners"): Permission(EVERYONE, Scope.CALLER),
    ("POST", f"{_V1}/scanners"): Permission(MASTER_DATA_WRITERS, Scope.CALLER),
    ("GET", f"{_V1}/scanners/{{device_id}}"): Permission(EVERYONE, Scope.ORGANISATION),
    ("POST", f"{_V1}/scanners/{{device_id}}/revoke"): Permission(
        MASTER_DATA_WRITERS, Scope.ORGANISATION
    ),
    ("GET", f"{_V1}/scans"): Permission(EVERYONE, Scope.CALLER),
    ("POST", f"{_V1}/scans"): Permission(SCANNER_DEVICES, Scope.CALLER, _DEVICE),
    ("POST", f"{_V1}/scans/batch"): Permission(SCANNER_DEVICES, Scope.CALLER, _DEVICE),
    ("GET", f"{_V1}/scans/exceptions"): Permission(EVERYONE, Scope.CALLER),
    ("GET", f"{_V1}/scans/exceptions/{{exception_id}}"): Permission(EVERYONE, Scope.ORGANISATION),
    ("POST", f"{_V1}/scans/exceptions/{{exception_id}}/resolve"): Permission(
        SCAN_REVIEWERS, Scope.ORGANISATION
    ),
    ("POST", f"{_V1}/scans/exceptions/{{exception_id}}/reject"): Permission(
        SCAN_REVIEWERS, Scope.ORGANISATION
    ),
    ("POST", f"{_V1}/stock-counts"): Permission(STOCK_COUNTERS, Scope.CALLER),
    ("GET", f"{_V1}/stock-counts/{{count_id}}"): Permission(EVERYONE, Scope.ORGANISATION),
    ("POST", f"{_V1}/stock-counts/{{count_id}}/confirm"): Permission(
        SCAN_REVIEWERS, Scope.ORGANISATION
    ),
    # EPCIS 2.0 interface over the same events.
    ("GET", f"{_V1}/epcis/events"): Permission(EVERYONE, Scope.CALLER),
    ("POST", f"{_V1}/epcis/capture"): Permission(EVENT_WRITERS, Scope.CALLER),
    # Traces, recalls, regulator views, records.
    # A trace is answered only to those who held the unit or lot, or regulate where it was.
    ("GET", f"{_V1}/trace/unit"): Permission(EVERYONE, Scope.PRIVATE),
    ("GET", f"{_V1}/trace/lot"): Permission(EVERYONE, Scope.PRIVATE),
    ("GET", f"{_V1}/recalls"): Permission(EVERYONE, Scope.CALLER),
    ("POST", f"{_V1}/recalls"): Permission(MASTER_DATA_WRITERS, Scope.CALLER),
    ("GET", f"{_V1}/recalls/{{recall_id}}"): Permission(EVERYONE, Scope.PRIVATE),
    ("POST", f"{_V1}/recalls/{{recall_id}}/sweep"): Permission(MASTER_DATA_WRITERS, Scope.PRIVATE),
    ("GET", f"{_V1}/recalls/{{recall_id}}/export.csv"): Permission(EVERYONE, Scope.PRIVATE),
    ("GET", f"{_V1}/recalls/{{recall_id}}/export.xlsx"): Permission(EVERYONE, Scope.PRIVATE),
    ("GET", f"{_V1}/regulator/queries"): Permission(
        frozenset({Role.ADMIN, Role.AUDITOR}), Scope.CALLER
    ),
    ("GET", f"{_V1}/regulator/units"): Permission(
        frozenset({Role.ADMIN, Role.REGULATOR}), Scope.CALLER
    ),
    ("GET", f"{_V1}/records/{{kind}}"): Permission(RECORD_READERS, Scope.CALLER),
    ("GET", f"{_V1}/records/{{kind}}.csv"): Permission(RECORD_READERS, Scope.CALLER),
    ("GET", f"{_V1}/records/{{kind}}.xlsx"): Permission(RECORD_READERS, Scope.CALLER),
    # Tamper evidence: the chain head is public, proofs only for events the caller sees.
    ("GET", f"{_V1}/audit/head"): Permission(EVERYONE, Scope.CALLER),
    ("GET", f"{_V1}/audit/proof"): Permission(EVERYONE, Scope.PRIVATE),
    ("GET", f"{_V1}/audit/verify"): Permission(
        frozenset({Role.ADMIN, Role.AUDITOR, Role.REGULATOR}), Scope.CALLER
    ),
    ("POST", f"{_V1}/audit/seal-backlog"): Permission(ADMINS, Scope.CALLER),
}
"""The matrix. Keys are ``(METHOD, OpenAPI path)``; anything absent is refused by the test."""


def permission_for(method: str, path: str) -> Permission | None:
    """The declared permission of an operation, or None when it was never declared."""
    return PERMISSIONS.get((method.upper(), path))


_ROLE_COLUMNS = (
    (Role.ADMIN, "admin"),
    (Role.ORG_MANAGER, "mgr"),
    (Role.WAREHOUSE_OPERATOR, "wh op"),
    (Role.SCANNER, "scan"),
    (Role.DISTRIBUTOR_SYNC, "sync"),
    (Role.HOSPITAL_USER, "hosp"),
    (Role.REGULATOR, "reg"),
    (Role.AUDITOR, "audit"),
)


def markdown_table() -> str:
    """The matrix as the Markdown table docs/security.md carries (a test keeps them equal)."""
    names = " | ".join(name for _, name in _ROLE_COLUMNS)
    header = f"| operation | scope | {names} | token must |"
    rule = "|---|---|" + "---|" * len(_ROLE_COLUMNS) + "---|"
    lines = [header, rule]
    for (method, path), permission in sorted(PERMISSIONS.items(), key=lambda kv: kv[0][::-1]):
        marks = " | ".join("✓" if role in permission.roles else "" for role, _ in _ROLE_COLUMNS)
        condition = f"`{permission.token_condition}`" if permission.token_condition else ""
        lines.append(f"| `{method} {path}` | {permission.scope.value} | {marks} | {condition} |")
    return "\n".join(lines)


if __name__ == "__main__":  # python -m warehouse.domain.permissions > the table in the docs
    print(markdown_table())
