"""Organisations: legal entities identified by their unified social credit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from warehouse.domain.codes import DivisionCode, UnifiedSocialCreditCode
from warehouse.errors import InvalidRecordError


class OrgRole(StrEnum):
    """What an organisation does in the device supply chain; one entity may hold several."""

    REGISTRANT = "registrant"
    MANUFACTURER = "manufacturer"
    DISTRIBUTOR = "distributor"
    THIRD_PARTY_LOGISTICS = "third_party_logistics"
    MEDICAL_INSTITUTION = "medical_institution"
    REGULATOR = "regulator"

    @property
    def label_zh(self) -> str:
        """Chinese label, as users say it."""
        return _ROLE_LABELS[self]


_ROLE_LABELS = {
    OrgRole.REGISTRANT: "注册人/备案人",
    OrgRole.MANUFACTURER: "生产企业",
    OrgRole.DISTRIBUTOR: "经营企业",
    OrgRole.THIRD_PARTY_LOGISTICS: "第三方物流企业",
    OrgRole.MEDICAL_INSTITUTION: "医疗机构",
    OrgRole.REGULATOR: "药品监督管理部门",
}


@dataclass(frozen=True, slots=True)
class Organisation:
    """A legal entity (or other organisation) taking part in the supply chain."""

    id: str
    """Opaque identifier (UUID); the credit code is a business identifier, not the key."""

    credit_code: UnifiedSocialCreditCode
    """统一社会信用代码."""

    name: str
    """Registered Chinese name."""

    jurisdiction: DivisionCode
    """Division code of the registered address; regulators filter by its prefix."""

    roles: frozenset[OrgRole] = field(default_factory=frozenset)
    """Roles held: what the organisation is. Its licences decide what it may do."""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise InvalidRecordError("Organisation", "name", "Expected a name, got ''.")

    def has_role(self, role: OrgRole) -> bool:
        """Return whether the organisation holds ``role``."""
        return role in self.roles

    def within(self, prefix: str | DivisionCode) -> bool:
        """Return whether the organisation lies in the jurisdiction ``prefix``."""
        return self.jurisdiction.within(prefix)
