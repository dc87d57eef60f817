"""The custody rule engine: may this organisation store or move these goods in this warehouse?

:func:`check_custody` takes a :class:`CustodyRequest` and a read-only :class:`CustodyFacts`
bundle (loaded by the service layer) and returns a :class:`CustodyDecision`. It never raises
for a rule that fails; it raises :class:`~warehouse.errors.UnknownFactError` only when the
bundle lacks a record the request names.

Two *general* conditions apply whatever the rule:

* the registration certificate of the device is valid on the date;
* the receiving (acting) organisation holds a valid licence covering the device class.

Then the rules are tried in order and the first that passes allows the request:

* **R1** own warehouse: the acting organisation operates the warehouse, owns the goods, and
  holds a valid licence covering the class on which the warehouse is registered;
* **R2** 3PL group: a licensed 3PL acts in a warehouse operated by its wholly-owned
  subsidiary (through any chain of 100% links) on the date, for itself or for an owner that
  entrusted the goods to it; the subsidiary's warehouse is registered on its own licence;
* **R3** manufacturer off-site warehouse: a manufacturer acts in its own 异地库 for goods whose
  registrant is itself or a company it controls on the date, owned by either;
* **R4** entrusted storage/transport: the owner has a valid agreement with the acting licensed
  3PL covering the service, the class and the warehouse; for storage the warehouse is
  registered on the 3PL's licence.

Class I devices need no operation licence (条例 2021 Art.41), so every licence and
registration condition is skipped for them. Reason codes are listed in :data:`REASON_CODES`.
See docs/multi-warehouse-rules.md for sources and interpretations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

from warehouse.domain.catalogue import Catalogue, DeviceRecord, PackageEntry
from warehouse.domain.entrustment import EntrustmentAgreement, LogisticsService
from warehouse.domain.licences import Licence, LicenceKind, LicenceRegister
from warehouse.domain.organisations import Organisation, OrgRole
from warehouse.domain.ownership import Chain, OwnershipGraph, OwnershipLink
from warehouse.domain.warehouses import Warehouse, WarehouseKind
from warehouse.errors import UnknownFactError

RULE_TITLES: Mapping[str, str] = MappingProxyType(
    {
        "R1": "Own warehouse (自有库房)",
        "R2": "3PL parent in a wholly-owned subsidiary's warehouse (全资子公司库房)",
        "R3": "Manufacturer's off-site warehouse (生产企业异地库)",
        "R4": "Entrusted storage or transport (委托运输贮存)",
    }
)
"""Rule id -> title, in the order the rules are tried."""

REASON_CODES: Mapping[str, str] = MappingProxyType(
    {
        "custody.no_certificate": "The device has no registration certificate or filing.",
        "custody.certificate_not_yet_valid": "The certificate's validity starts after the date.",
        "custody.certificate_expired": "The certificate's validity ended before the date.",
        "custody.receiver_no_licence": "The acting organisation holds no licence at all.",
        "custody.receiver_licence_expired": "The acting organisation's licences are not valid.",
        "custody.receiver_licence_scope": "No valid licence of the acting organisation covers "
        "the device class.",
        "custody.not_operator": "The acting organisation does not operate the warehouse.",
        "custody.not_owner": "The owner is not one the rule allows.",
        "custody.no_licence": "The organisation the rule relies on holds no licence of the "
        "needed kind.",
        "custody.licence_expired": "That organisation's licences of the needed kind are not "
        "valid on the date.",
        "custody.licence_scope": "No valid licence of the needed kind covers the device class.",
        "custody.warehouse_not_registered": "No valid licence of the needed holder registers "
        "the warehouse.",
        "custody.not_3pl": "The acting organisation is not a third-party logistics company.",
        "custody.not_wholly_owned": "The operator is not wholly owned by the acting "
        "organisation on the date.",
        "custody.not_off_site": "The warehouse is not an off-site warehouse (异地库).",
        "custody.not_manufacturer": "The warehouse operator is not a manufacturer.",
        "custody.not_controlled": "The device's registrant is neither the manufacturer nor "
        "controlled by it on the date.",
        "custody.no_agreement": "There is no quality agreement between the owner and the "
        "acting organisation.",
        "custody.agreement_expired": "No such agreement is valid on the date.",
        "custody.agreement_scope": "The valid agreement does not cover the service, class or "
        "warehouse.",
    }
)
"""Every reason code :func:`check_custody` may return, with what it means."""

HOLDING_KINDS = frozenset(LicenceKind)
"""Kinds that let an organisation hold goods of the classes in their scope."""

LOGISTICS_KINDS = frozenset({LicenceKind.THIRD_PARTY_LOGISTICS})


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a condition failed: a stable dotted code and an "Expected X, got Y." message."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class RuleAttempt:
    """The outcome of trying one rule."""

    rule: str
    """``R1`` to ``R4``."""

    allowed: bool
    reasons: tuple[Reason, ...] = ()
    """Every failed condition of the rule; empty when allowed."""

    chain: Chain | None = None
    """Ownership chain the rule relied on (R2: wholly owned, R3: control), if any."""


@dataclass(frozen=True, slots=True)
class CustodyRequest:
    """Who wants to do what, where, with which goods, on which day."""

    actor_id: str
    """The acting (receiving) organisation."""

    warehouse_id: str
    di: str
    """UDI-DI as scanned; a package DI is resolved to the device it contains."""

    owner_id: str
    """The goods' owner (货主)."""

    on: date
    service: LogisticsService = LogisticsService.STORAGE


@dataclass(frozen=True, slots=True)
class CustodyDecision:
    """The answer: allowed by which rule, or every rule tried and why each failed."""

    allowed: bool
    rule: str | None
    """The rule that allowed the request, or None."""

    attempts: tuple[RuleAttempt, ...]
    """Rules tried, in order, up to and including the one that allowed."""

    general: tuple[Reason, ...] = ()
    """Failed general conditions (certificate, receiver licence); any one refuses."""

    chain: Chain | None = None
    """The ownership chain proving the allowing rule, when it needed one."""

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Every failed condition: general ones first, then each failed rule's."""
        return self.general + tuple(
            reason for attempt in self.attempts if not attempt.allowed for reason in attempt.reasons
        )

    @property
    def codes(self) -> frozenset[str]:
        """The codes of :attr:`reasons`."""
        return frozenset(reason.code for reason in self.reasons)

    def attempt(self, rule: str) -> RuleAttempt | None:
        """Return the attempt of ``rule``, or None if it was not tried."""
        return next((a for a in self.attempts if a.rule == rule), None)


@dataclass(frozen=True, slots=True)
class CustodyFacts:
    """Read-only bundle of the records the rules read; the service layer loads it."""

    organisations: Mapping[str, Organisation] = field(default_factory=lambda: MappingProxyType({}))
    warehouses: Mapping[str, Warehouse] = field(default_factory=lambda: MappingProxyType({}))
    licences: LicenceRegister = field(default_factory=LicenceRegister)
    ownership: OwnershipGraph = field(default_factory=OwnershipGraph)
    agreements: tuple[EntrustmentAgreement, ...] = ()
    catalogue: Catalogue = field(default_factory=Catalogue)

    @classmethod
    def of(
        cls,
        *,
        organisations: Iterable[Organisation] = (),
        warehouses: Iterable[Warehouse] = (),
        licences: Iterable[Licence] = (),
        links: Iterable[OwnershipLink] = (),
        agreements: Iterable[EntrustmentAgreement] = (),
        devices: Iterable[DeviceRecord] = (),
        packages: Iterable[PackageEntry] = (),
    ) -> CustodyFacts:
        """Build the bundle from plain records, validating licence chains and ownership.

        Raises:
            VersionChainError, OwnershipCycleError, OwnershipConflictError,
            InvalidRecordError: If the records are inconsistent.
        """
        return cls(
            organisations=MappingProxyType({o.id: o for o in organisations}),
            warehouses=MappingProxyType({w.id: w for w in warehouses}),
            licences=LicenceRegister.of(licences),
            ownership=OwnershipGraph.of(links),
            agreements=tuple(agreements),
            catalogue=Catalogue.of(devices, packages),
        )

    def organisation(self, org_id: str) -> Organisation:
        """Return the organisation or raise :class:`UnknownFactError`."""
        if org_id not in self.organisations:
            raise UnknownFactError("organisation", org_id)
        return self.organisations[org_id]

    def warehouse(self, warehouse_id: str) -> Warehouse:
        """Return the warehouse or raise :class:`UnknownFactError`."""
        if warehouse_id not in self.warehouses:
            raise UnknownFactError("warehouse", warehouse_id)
        return self.warehouses[warehouse_id]

    def device(self, di: str) -> DeviceRecord:
        """Return the device a DI (or package DI) resolves to, or raise UnknownFactError."""
        device = self.catalogue.resolve(di)
        if device is None:
            raise UnknownFactError("device", di)
        return device

    def warehouse_name(self, warehouse_id: str) -> str:
        """Return a warehouse's name for messages, or its id if unknown."""
        known = self.warehouses.get(warehouse_id)
        return known.name if known is not None else warehouse_id

    def name(self, org_id: str) -> str:
        """Return an organisation's name for messages, or its id if unknown."""
        org = self.organisations.get(org_id)
        return org.name if org is not None else org_id


@dataclass(frozen=True, slots=True)
class _Case:
    """A request with its records looked up once."""

    request: CustodyRequest
    facts: CustodyFacts
    actor: Organisation
    owner: Organisation
    warehouse: Warehouse
    operator: Organisation
    device: DeviceRecord

    @property
    def on(self) -> date:
        return self.request.on

    @property
    def day(self) -> str:
        return self.request.on.isoformat()

    @property
    def licence_free(self) -> bool:
        return not self.device.device_class.needs_operation_licence


def check_custody(request: CustodyRequest, facts: CustodyFacts) -> CustodyDecision:
    """Decide whether ``request`` is allowed under the multi-warehouse rules.

    Args:
        request: Who acts, where, on which goods and owner, on which date, for which service.
        facts: Every record the rules need, as of any date (versions are selected here).

    Returns:
        The decision: allowed with the rule (and the proving ownership chain for R2/R3), or
        refused with the reasons of every rule tried and of any failed general condition.

    Raises:
        UnknownFactError: If the actor, owner, warehouse, its operator or the device is
            missing from ``facts``.
    """
    warehouse = facts.warehouse(request.warehouse_id)
    case = _Case(
        request=request,
        facts=facts,
        actor=facts.organisation(request.actor_id),
        owner=facts.organisation(request.owner_id),
        warehouse=warehouse,
        operator=facts.organisation(warehouse.operator_id),
        device=facts.device(request.di),
    )
    general = (*_certificate_reasons(case), *_receiver_reasons(case))
    attempts: list[RuleAttempt] = []
    for rule in _RULES:
        attempts.append(rule(case))
        if attempts[-1].allowed:
            break
    winner = attempts[-1] if attempts[-1].allowed and not general else None
    return CustodyDecision(
        allowed=winner is not None,
        rule=winner.rule if winner else None,
        attempts=tuple(attempts),
        general=general,
        chain=winner.chain if winner else None,
    )


# General conditions ---------------------------------------------------------------------------


def _certificate_reasons(case: _Case) -> tuple[Reason, ...]:
    certificate = case.device.certificate_as_of(case.on)
    if certificate is None:
        first = min(case.device.certificates, key=lambda c: c.effective_since, default=None)
        if first is None:
            return (
                Reason(
                    "custody.no_certificate",
                    f"Expected a registration certificate for DI {case.device.di}, got none.",
                ),
            )
        certificate = first
    if certificate.is_valid_on(case.on):
        return ()
    period = _period(certificate.valid_from, certificate.valid_to)
    if case.on < certificate.valid_from:
        return (
            Reason(
                "custody.certificate_not_yet_valid",
                f"Expected certificate {certificate.number} to be valid on {case.day}, "
                f"got validity {period}.",
            ),
        )
    return (
        Reason(
            "custody.certificate_expired",
            f"Expected certificate {certificate.number} to be valid on {case.day}, "
            f"got validity {period}.",
        ),
    )


def _receiver_reasons(case: _Case) -> tuple[Reason, ...]:
    return _licence_reasons(
        case, case.actor.id, HOLDING_KINDS, warehouse_id=None, prefix="custody.receiver_"
    )


# Rules ----------------------------------------------------------------------------------------


def _own_warehouse(case: _Case) -> RuleAttempt:
    reasons = [*_operator_reasons(case)]
    if case.owner.id != case.actor.id:
        reasons.append(
            Reason(
                "custody.not_owner",
                f"Expected goods owned by {case.actor.name}, got owner {case.owner.name}.",
            )
        )
    reasons += _licence_reasons(case, case.actor.id, HOLDING_KINDS, case.warehouse.id)
    return RuleAttempt("R1", not reasons, tuple(reasons))


def _group_warehouse(case: _Case) -> RuleAttempt:
    reasons = [*_logistics_role_reasons(case)]
    chain = None
    if case.operator.id == case.actor.id:
        reasons.append(
            Reason(
                "custody.not_wholly_owned",
                f"Expected warehouse {case.warehouse.name} to be operated by a wholly-owned "
                f"subsidiary of {case.actor.name}, got {case.actor.name} itself.",
            )
        )
    else:
        chain = case.facts.ownership.wholly_owned_chain(case.operator.id, case.actor.id, case.on)
        if chain is None:
            reasons.append(_not_wholly_owned(case))
    reasons += _licence_reasons(case, case.actor.id, LOGISTICS_KINDS, warehouse_id=None)
    reasons += _registration_reasons(case, case.operator.id)
    if case.owner.id != case.actor.id:
        reasons += _agreement_reasons(case)
    return RuleAttempt("R2", not reasons, tuple(reasons), chain if not reasons else None)


def _off_site_warehouse(case: _Case) -> RuleAttempt:
    reasons = []
    if case.warehouse.kind is not WarehouseKind.OFF_SITE:
        reasons.append(
            Reason(
                "custody.not_off_site",
                f"Expected an off-site warehouse (异地库), got {case.warehouse.kind} "
                f"warehouse {case.warehouse.name}.",
            )
        )
    reasons += _operator_reasons(case)
    if not case.operator.has_role(OrgRole.MANUFACTURER):
        reasons.append(
            Reason(
                "custody.not_manufacturer",
                f"Expected the operator {case.operator.name} to be a manufacturer, "
                f"got roles {_listed(case.operator.roles)}.",
            )
        )
    registrant = case.device.registrant_id
    chain = None
    if registrant != case.operator.id:
        chain = case.facts.ownership.control_chain(registrant, case.operator.id, case.on)
        if chain is None:
            reasons.append(
                Reason(
                    "custody.not_controlled",
                    f"Expected registrant {case.facts.name(registrant)} to be "
                    f"{case.operator.name} or controlled by it on {case.day}, got "
                    f"{_chain_text(case, registrant, case.operator.id)}.",
                )
            )
    if case.owner.id not in (case.operator.id, registrant):
        reasons.append(
            Reason(
                "custody.not_owner",
                f"Expected goods owned by {case.operator.name} or the registrant "
                f"{case.facts.name(registrant)}, got owner {case.owner.name}.",
            )
        )
    reasons += _registration_reasons(case, case.operator.id)
    return RuleAttempt("R3", not reasons, tuple(reasons), chain if not reasons else None)


def _entrusted(case: _Case) -> RuleAttempt:
    reasons = [*_logistics_role_reasons(case), *_agreement_reasons(case)]
    storing = case.request.service is LogisticsService.STORAGE
    reasons += _licence_reasons(
        case, case.actor.id, LOGISTICS_KINDS, case.warehouse.id if storing else None
    )
    return RuleAttempt("R4", not reasons, tuple(reasons))


_RULES: tuple[Callable[[_Case], RuleAttempt], ...] = (
    _own_warehouse,
    _group_warehouse,
    _off_site_warehouse,
    _entrusted,
)


# Conditions shared by rules -------------------------------------------------------------------


def _operator_reasons(case: _Case) -> tuple[Reason, ...]:
    if case.operator.id == case.actor.id:
        return ()
    return (
        Reason(
            "custody.not_operator",
            f"Expected warehouse {case.warehouse.name} to be operated by {case.actor.name}, "
            f"got {case.operator.name}.",
        ),
    )


def _logistics_role_reasons(case: _Case) -> tuple[Reason, ...]:
    if case.actor.has_role(OrgRole.THIRD_PARTY_LOGISTICS):
        return ()
    return (
        Reason(
            "custody.not_3pl",
            f"Expected {case.actor.name} to be a third-party logistics company, "
            f"got roles {_listed(case.actor.roles)}.",
        ),
    )


def _not_wholly_owned(case: _Case) -> Reason:
    return Reason(
        "custody.not_wholly_owned",
        f"Expected {case.operator.name} to be wholly owned by {case.actor.name} on {case.day}, "
        f"got {_chain_text(case, case.operator.id, case.actor.id)}.",
    )


def _chain_text(case: _Case, child_id: str, parent_id: str) -> str:
    """Describe the best chain there is, to show which link falls short."""
    chain = case.facts.ownership.chain(child_id, parent_id, case.on)
    if chain is None:
        return "no ownership chain on that date"
    parts = [case.facts.name(chain[0].parent_id)]
    parts += [
        f"-({link.share.normalize():f}%)-> {case.facts.name(link.child_id)}" for link in chain
    ]
    return " ".join(parts)


def _licence_reasons(
    case: _Case,
    holder_id: str,
    kinds: frozenset[LicenceKind],
    warehouse_id: str | None,
    *,
    prefix: str = "custody.",
) -> tuple[Reason, ...]:
    """Check the holder has a licence of ``kinds`` in effect, valid, covering the class.

    With ``warehouse_id``, one such licence must also register the warehouse. The reason is
    the first step that fails, most basic first.
    """
    if case.licence_free:
        return ()
    holder, device = case.facts.name(holder_id), case.device
    in_effect = [
        v for v in case.facts.licences.as_of(case.on, holder_id=holder_id) if v.kind in kinds
    ]
    if not in_effect:
        later = [
            v.effective_since
            for v in case.facts.licences.versions
            if v.holder_id == holder_id and v.kind in kinds and v.effective_since > case.on
        ]
        hint = f" (the first starts {min(later).isoformat()})" if later else ""
        return (
            Reason(
                f"{prefix}no_licence",
                f"Expected {holder} to hold a {_kinds_text(kinds)} on {case.day}, got none{hint}.",
            ),
        )
    valid = [v for v in in_effect if v.is_valid_on(case.on)]
    if not valid:
        return (
            Reason(
                f"{prefix}licence_expired",
                f"Expected a licence of {holder} valid on {case.day}, got "
                + "; ".join(
                    f"{v.number} valid {_period(v.valid_from, v.valid_to)}" for v in in_effect
                )
                + ".",
            ),
        )
    covering = [v for v in valid if v.covers(device.device_class, device.category)]
    if not covering:
        wanted = device.device_class.roman + (f"/{device.category}" if device.category else "")
        return (
            Reason(
                f"{prefix}licence_scope",
                f"Expected a licence of {holder} covering class {wanted} on {case.day}, got "
                + "; ".join(f"{v.number} covering {_listed(v.scope)}" for v in valid)
                + ".",
            ),
        )
    if warehouse_id is None or any(v.registers(warehouse_id) for v in covering):
        return ()
    return (
        Reason(
            "custody.warehouse_not_registered",
            f"Expected warehouse {case.warehouse.name} to be registered on "
            f"{', '.join(v.number for v in covering)} on {case.day}, got "
            f"{_listed(case.facts.warehouse_name(w) for v in covering for w in v.warehouse_ids)}.",
        ),
    )


def _registration_reasons(case: _Case, holder_id: str) -> tuple[Reason, ...]:
    """Check the warehouse is registered on a valid licence of ``holder_id`` (any kind)."""
    if case.licence_free:
        return ()
    registering = case.facts.licences.registering(case.warehouse.id, case.on)
    if any(v.holder_id == holder_id for v in registering):
        return ()
    return (
        Reason(
            "custody.warehouse_not_registered",
            f"Expected warehouse {case.warehouse.name} to be registered on a valid licence of "
            f"{case.facts.name(holder_id)} on {case.day}, got "
            f"{_listed(v.number for v in registering)}.",
        ),
    )


def _agreement_reasons(case: _Case) -> tuple[Reason, ...]:
    """Check the owner has entrusted the service to the actor for this class and warehouse."""
    if case.owner.id == case.actor.id:
        return (
            Reason(
                "custody.no_agreement",
                f"Expected goods entrusted by another owner, got {case.actor.name}'s own goods.",
            ),
        )
    between = [a for a in case.facts.agreements if a.between(case.owner.id, case.actor.id)]
    if not between:
        return (
            Reason(
                "custody.no_agreement",
                f"Expected a quality agreement between owner {case.owner.name} and "
                f"{case.actor.name}, got none.",
            ),
        )
    valid = sorted((a for a in between if a.is_valid_on(case.on)), key=lambda a: a.id)
    if not valid:
        return (
            Reason(
                "custody.agreement_expired",
                f"Expected an agreement valid on {case.day}, got "
                + "; ".join(f"{a.id} valid {_period(a.valid_from, a.valid_to)}" for a in between)
                + ".",
            ),
        )
    args = (case.request.service, case.device.device_class, case.warehouse.id)
    gaps = [a.gaps(*args) for a in valid]
    if any(not g for g in gaps):
        return ()
    return tuple(Reason("custody.agreement_scope", gap) for gap in min(gaps, key=len))


def _kinds_text(kinds: frozenset[LicenceKind]) -> str:
    if kinds == HOLDING_KINDS:
        return "licence or filing"
    return " or ".join(sorted(k.value for k in kinds)) + " licence"


def _period(valid_from: date, valid_to: date | None) -> str:
    return f"{valid_from.isoformat()} to {valid_to.isoformat() if valid_to else 'open end'}"


def _listed(values: Iterable[object]) -> str:
    items = sorted(str(v) for v in values)
    return ", ".join(items) if items else "none"
