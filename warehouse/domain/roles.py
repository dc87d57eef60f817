"""Roles an API token can carry, and what a caller is.

Roles are refined into a full permission matrix later (docs/security.md); the mechanism —
every token bound to one organisation and a set of roles — exists from the first request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    """What a token may do. Values are the strings stored with the token."""

    ADMIN = "admin"
    ORG_MANAGER = "org_manager"
    WAREHOUSE_OPERATOR = "warehouse_operator"
    SCANNER = "scanner"
    DISTRIBUTOR_SYNC = "distributor_sync"
    HOSPITAL_USER = "hospital_user"
    REGULATOR = "regulator"
    AUDITOR = "auditor"

    @classmethod
    def parse(cls, value: str) -> Role:
        """Return the role named ``value`` or raise ``ValueError`` listing the valid names."""
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise ValueError(f"Expected one of {names}; got {value!r}.") from None


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller of one request."""

    token_id: uuid.UUID
    organisation_id: uuid.UUID
    roles: frozenset[Role]
    jurisdiction: str | None
    """Division-code prefix a regulator token may read within; None for other tokens."""

    expires_at: datetime | None = None

    def has_any(self, *roles: Role) -> bool:
        """True when the caller holds at least one of ``roles``."""
        return not self.roles.isdisjoint(roles)
