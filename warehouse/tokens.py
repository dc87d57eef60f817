"""API tokens: issued once, stored only as SHA-256 hashes, revocable at once.

A token is ``udi_`` + 43 URL-safe characters (32 random bytes). Only its hash is stored, so a
database leak reveals no usable token; the ``prefix`` (first 12 characters) lets an operator
recognise a token in listings and logs without exposing it.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from warehouse import tables
from warehouse.db import begin_write
from warehouse.domain.roles import Principal, Role
from warehouse.ids import new_id
from warehouse.recent import Recent

TOKEN_PREFIX = "udi_"
_PREFIX_SHOWN = 12


_LAST_USED_GRANULARITY = timedelta(seconds=60)


class InvalidToken(Exception):
    """The presented bearer token is unknown, revoked or expired."""


class UnknownOrganisation(LookupError):
    """A token was requested for an organisation that does not exist."""


class UnknownToken(LookupError):
    """A token id that does not exist was named."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A freshly created token; ``secret`` is shown once and never stored."""

    id: uuid.UUID
    secret: str
    prefix: str
    organisation_id: uuid.UUID
    roles: tuple[Role, ...]


def hash_token(secret: str) -> str:
    """Return the hex SHA-256 under which a token is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    *,
    organisation_id: uuid.UUID,
    roles: tuple[Role, ...],
    name: str,
    jurisdiction: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    """Issue a token for ``organisation_id`` with ``roles`` and commit it."""
    if not roles:
        raise ValueError("Expected at least one role, got none.")
    if Role.REGULATOR in roles and not jurisdiction:
        raise ValueError("Expected a jurisdiction for a regulator token, got none.")
    _require_organisation(session, organisation_id)
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token_id = new_id()
    session.execute(
        tables.api_tokens.insert().values(
            id=token_id,
            organisation_id=organisation_id,
            name=name,
            prefix=secret[:_PREFIX_SHOWN],
            token_sha256=hash_token(secret),
            roles=sorted(role.value for role in roles),
            jurisdiction=jurisdiction,
            created_at=datetime.now(UTC),
            expires_at=expires_at,
        )
    )
    session.commit()
    return IssuedToken(token_id, secret, secret[:_PREFIX_SHOWN], organisation_id, tuple(roles))


def revoke_token(session: Session, token_id: uuid.UUID) -> None:
    """Revoke a token now; revoking twice keeps the first revocation time."""
    result = session.execute(
        update(tables.api_tokens)
        .where(tables.api_tokens.c.id == token_id)
        .values(revoked_at=datetime.now(UTC))
        .where(tables.api_tokens.c.revoked_at.is_(None))
    )
    if result.rowcount == 0 and not _token_exists(session, token_id):
        session.rollback()
        raise UnknownToken(f"Expected an existing token id, got {token_id}.")
    session.commit()


def authenticate(
    session: Session,
    secret: str,
    *,
    now: datetime | None = None,
    recent: Recent[str, Principal] | None = None,
) -> Principal:
    """Return the caller a bearer token stands for, or raise :class:`InvalidToken`.

    Records ``last_used_at`` (at most once a minute, so that authentication is not a write on
    every request) and ends its transaction, so the request starts its own work afresh.
    ``recent`` remembers the answer for a few seconds (warehouse/recent.py); its expiry is
    checked on every use all the same.
    """
    now = now or datetime.now(UTC)
    digest = hash_token(secret)
    read_at = Recent.now()
    remembered = recent.get(digest) if recent is not None else None
    if remembered is not None:
        _check_expiry(remembered.expires_at, now)
        return remembered
    row = (
        session.execute(select(tables.api_tokens).where(tables.api_tokens.c.token_sha256 == digest))
        .mappings()
        .first()
    )
    if row is None:
        session.rollback()
        raise InvalidToken("Expected a valid API token, got an unknown one.")
    if row["revoked_at"] is not None:
        session.rollback()
        raise InvalidToken("Expected an active API token, got a revoked one.")
    expires_at = _aware(row["expires_at"])
    last_used = _aware(row["last_used_at"])
    session.rollback()
    _check_expiry(expires_at, now)
    if last_used is None or now - last_used >= _LAST_USED_GRANULARITY:
        _record_use(session, row["id"], now)
    principal = Principal(
        token_id=row["id"],
        organisation_id=row["organisation_id"],
        roles=frozenset(Role(value) for value in row["roles"]),
        jurisdiction=row["jurisdiction"],
        expires_at=expires_at,
    )
    if recent is not None:
        recent.put(digest, principal, read_at)
    return principal


def _check_expiry(expires_at: datetime | None, now: datetime) -> None:
    if expires_at is not None and expires_at <= now:
        raise InvalidToken("Expected an unexpired API token, got one that has expired.")


def _record_use(session: Session, token_id: uuid.UUID, now: datetime) -> None:
    """Set ``last_used_at`` in a write transaction of its own: on SQLite, upgrading the read
    above to a write fails at once ("database is locked") when requests of one token arrive
    together, where a write transaction started as one waits its turn."""
    begin_write(session)
    stale = now - _LAST_USED_GRANULARITY
    api_tokens = tables.api_tokens
    session.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id)
        .where(or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= stale))
        .values(last_used_at=now)
    )
    session.commit()


def _aware(value: datetime | None) -> datetime | None:
    # SQLite returns naive datetimes; everything is stored in UTC.
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _require_organisation(session: Session, organisation_id: uuid.UUID) -> None:
    found = session.execute(
        select(tables.organisations.c.id).where(tables.organisations.c.id == organisation_id)
    ).first()
    if found is None:
        raise UnknownOrganisation(f"Expected an existing organisation id, got {organisation_id}.")


def _token_exists(session: Session, token_id: uuid.UUID) -> bool:
    query = select(tables.api_tokens.c.id).where(tables.api_tokens.c.id == token_id)
    return session.execute(query).first() is not None
