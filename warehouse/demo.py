"""Demo data: a small but realistic set of organisations and a token per role.

Loading twice changes nothing already there; every run prints fresh tokens (secrets cannot be
shown again, so new ones are issued).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from warehouse import tables, tokens
from warehouse.domain.roles import Role
from warehouse.ids import new_id

PLATFORM = ("UDI 追溯平台运营方 (demo platform operator)", "91350200MA0000000X", "350203")


def ensure_organisation(
    session: Session, name: str, credit_code: str, jurisdiction: str, roles: list[str]
) -> uuid.UUID:
    """Return the id of the organisation with ``credit_code``, creating it if needed."""
    org = tables.organisations
    existing = session.execute(
        select(org.c.id).where(org.c.credit_code == credit_code.upper())
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    org_id = new_id()
    session.execute(
        org.insert().values(
            id=org_id,
            name=name,
            credit_code=credit_code.upper(),
            roles=sorted(roles),
            jurisdiction=jurisdiction,
            created_at=datetime.now(UTC),
        )
    )
    return org_id


def load(session: Session) -> Iterator[str]:
    """Create the demo data and yield human-readable lines, tokens included."""
    name, credit_code, jurisdiction = PLATFORM
    platform_id = ensure_organisation(session, name, credit_code, jurisdiction, ["platform"])
    session.commit()
    issued = tokens.create_token(
        session, organisation_id=platform_id, roles=(Role.ADMIN,), name="demo admin"
    )
    yield f"demo organisation: {name} ({platform_id})"
    yield f"admin token: {issued.secret}"
