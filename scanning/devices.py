"""Scanner devices: registered per organisation and warehouse, each with its own token.

A device is a handheld (or a workstation's keyboard-wedge scanner) with its input quirks
(:class:`~scanning.normalise.ScannerQuirks`). Registering it issues a ``scanner`` token bound to
the organisation; the token is shown once, and a request made with it is identified as the
device by ``token_id``. Revoking the device revokes its token at the same moment.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from scanning import tables as scan_tables
from scanning.normalise import ScannerConfigError, ScannerQuirks
from warehouse import tables
from warehouse.domain.roles import Principal, Role
from warehouse.ids import new_id
from warehouse.repository.pages import Page, PageRequest, paginate
from warehouse.services import read_transaction, today, write_transaction
from warehouse.services.access import is_admin, require_writer, unknown_warehouses
from warehouse.services.errors import (
    Conflict,
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from warehouse.tokens import TOKEN_PREFIX, hash_token

DEV = scan_tables.scanner_devices
TOK = tables.api_tokens

_PREFIX_SHOWN = 12  # as warehouse.tokens: enough to recognise a token in a listing


class NotADevice(PermissionDenied):
    """Scans come from registered devices: the token is not an active device's (403)."""

    code = "scan.device_required"


@dataclass(frozen=True, slots=True)
class NewScanner:
    """A device to register."""

    warehouse_id: uuid.UUID
    name: str
    quirks: Mapping[str, Any]
    """JSON-shaped :class:`ScannerQuirks` settings; unknown keys are refused."""

    organisation_id: uuid.UUID | None = None
    """Admins register for any organisation; others for their own (the default)."""


@dataclass(frozen=True, slots=True)
class Scanner:
    """A registered device."""

    id: uuid.UUID
    organisation_id: uuid.UUID
    warehouse_id: uuid.UUID
    name: str
    quirks: ScannerQuirks
    token_id: uuid.UUID
    token_prefix: str
    created_at: datetime
    revoked_at: datetime | None

    @property
    def principal(self) -> Principal:
        """The caller the device's token stands for (for services called on its behalf)."""
        return Principal(self.token_id, self.organisation_id, frozenset({Role.SCANNER}), None)


@dataclass(frozen=True, slots=True)
class Registered:
    """A new device and its token's secret, which is never shown again."""

    scanner: Scanner
    token: str


def register(session: Session, principal: Principal, new: NewScanner) -> Registered:
    """Register a device for an organisation and one of the warehouses it may see.

    Raises:
        PermissionDenied: Not an admin nor the organisation's org_manager.
        ValidationFailed: Invalid quirks, or a warehouse the organisation cannot see.
        Conflict: ``scanner.duplicate_name`` for a second device of the same name.
    """
    org_id = new.organisation_id or principal.organisation_id
    quirks = _quirks(new.quirks)
    with write_transaction(session):
        require_writer(principal, org_id, "scanner device")
        _check_warehouse(session, org_id, new.warehouse_id)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        token_id, device_id = new_id(), new_id()
        # The token and the device are written in one transaction (tokens.create_token commits
        # on its own), so a device never exists without its token or the reverse.
        session.execute(
            TOK.insert().values(
                id=token_id,
                organisation_id=org_id,
                name=f"scanner {new.name}"[:200],
                prefix=secret[:_PREFIX_SHOWN],
                token_sha256=hash_token(secret),
                roles=[Role.SCANNER.value],
                jurisdiction=None,
                created_at=now,
            )
        )
        try:
            with session.begin_nested():
                session.execute(
                    DEV.insert().values(
                        id=device_id,
                        organisation_id=org_id,
                        warehouse_id=new.warehouse_id,
                        name=new.name,
                        quirks=quirks.to_mapping(),
                        token_id=token_id,
                        created_at=now,
                        created_by=principal.token_id,
                    )
                )
        except IntegrityError:
            raise Conflict(
                "scanner.duplicate_name",
                f"Expected a device name new to organisation {org_id}, got {new.name!r} again.",
            ) from None
        scanner = _load(session, device_id)
    assert scanner is not None
    return Registered(scanner, secret)


def _quirks(mapping: Mapping[str, Any]) -> ScannerQuirks:
    try:
        return ScannerQuirks.from_mapping(mapping)
    except ScannerConfigError as error:
        message = str(error).partition(": ")[2] or str(error)
        raise ValidationFailed(
            "scanner", [FieldError(f"quirks.{error.field}", "scanner.quirks", message)]
        ) from None


def _check_warehouse(session: Session, org_id: uuid.UUID, warehouse_id: uuid.UUID) -> None:
    # Judged as the device's organisation sees warehouses, not as the (admin) registrar does:
    # a device may only be placed where its own organisation has a footing.
    member = Principal(uuid.UUID(int=0), org_id, frozenset(), None)
    if unknown_warehouses(session, member, [warehouse_id], today()):
        raise ValidationFailed(
            "scanner",
            [
                FieldError(
                    "warehouse_id",
                    "reference.unknown",
                    f"Expected a warehouse organisation {org_id} operates or is entrusted with,"
                    f" got {warehouse_id}.",
                )
            ],
        )


def get(session: Session, principal: Principal, device_id: uuid.UUID) -> Scanner:
    """One device of the caller's organisation (admins: any).

    Raises:
        NotFound: Unknown, or another organisation's.
    """
    with read_transaction(session):
        found = _load(session, device_id)
    if found is None or not _visible(principal, found.organisation_id):
        raise NotFound("scanner", device_id)
    return found


def list_page(
    session: Session,
    principal: Principal,
    page: PageRequest,
    *,
    warehouse_id: uuid.UUID | None = None,
    revoked: bool | None = None,
) -> Page[Scanner]:
    """Devices of the caller's organisation (admins: all), oldest first."""
    query = _select()
    if not is_admin(principal):
        query = query.where(DEV.c.organisation_id == principal.organisation_id)
    if warehouse_id is not None:
        query = query.where(DEV.c.warehouse_id == warehouse_id)
    if revoked is not None:
        column = DEV.c.revoked_at
        query = query.where(column.is_not(None) if revoked else column.is_(None))
    with read_transaction(session):
        return paginate(session, query, DEV.c.id, page, _build)


def revoke(session: Session, principal: Principal, device_id: uuid.UUID) -> Scanner:
    """Revoke a device and its token now; revoking twice keeps the first time.

    Raises:
        NotFound: Unknown, or another organisation's.
        PermissionDenied: Not an admin nor the organisation's org_manager.
    """
    with write_transaction(session):
        found = _load(session, device_id)
        if found is None or not _visible(principal, found.organisation_id):
            raise NotFound("scanner", device_id)
        require_writer(principal, found.organisation_id, "scanner device")
        if found.revoked_at is None:
            now = datetime.now(UTC)
            session.execute(update(DEV).where(DEV.c.id == device_id).values(revoked_at=now))
            session.execute(
                update(TOK)
                .where(TOK.c.id == found.token_id, TOK.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        scanner = _load(session, device_id)
    assert scanner is not None
    return scanner


def device_of(session: Session, principal: Principal) -> Scanner | None:
    """The active device whose token made the request, or None for any other token.

    Runs in the caller's transaction (no commit, no rollback): ingestion reads it first.
    """
    query = _select().where(DEV.c.token_id == principal.token_id, DEV.c.revoked_at.is_(None))
    row = session.execute(query).mappings().first()
    return _scanner(row) if row is not None else None


def require_device(session: Session, principal: Principal) -> Scanner:
    """The active device whose token made the request.

    Raises:
        NotADevice: For a token that is not a registered, unrevoked device's.
    """
    with read_transaction(session):
        found = device_of(session, principal)
    if found is None:
        raise NotADevice(
            "Expected the token of a registered scanner (POST /api/v1/scanners), got token "
            f"{principal.token_id}, which belongs to no active device."
        )
    return found


def load_many(session: Session, device_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Scanner]:
    """Devices by id, in the caller's transaction."""
    if not device_ids:
        return {}
    rows = session.execute(_select().where(DEV.c.id.in_(list(device_ids)))).mappings()
    return {row["id"]: _scanner(row) for row in rows}


def _visible(principal: Principal, org_id: uuid.UUID) -> bool:
    return is_admin(principal) or principal.organisation_id == org_id


def _select() -> Any:
    return select(DEV, TOK.c.prefix.label("token_prefix")).join(TOK, TOK.c.id == DEV.c.token_id)


def _load(session: Session, device_id: uuid.UUID) -> Scanner | None:
    row = session.execute(_select().where(DEV.c.id == device_id)).mappings().first()
    return _scanner(row) if row is not None else None


def _build(rows: Sequence[Mapping[str, Any]]) -> list[Scanner]:
    return [_scanner(row) for row in rows]


def _scanner(row: Mapping[str, Any]) -> Scanner:
    return Scanner(
        id=row["id"],
        organisation_id=row["organisation_id"],
        warehouse_id=row["warehouse_id"],
        name=row["name"],
        quirks=ScannerQuirks.from_mapping(row["quirks"]),
        token_id=row["token_id"],
        token_prefix=row["token_prefix"],
        created_at=_aware(row["created_at"]),
        revoked_at=_aware(row["revoked_at"]) if row["revoked_at"] else None,
    )


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)
