"""Licences and filings: versioned, never overwritten, answerable "as of" any date.

A licence (许可证) or filing (备案凭证) is a chain of versions. A change (new warehouse
address, wider scope, renewal) adds a version that *supersedes* the previous one from its
``effective_from`` date; the previous version stays stored and is still the one in effect on
earlier dates, so a statutory record prints the number and scope valid on the event date.

Two dates are kept apart on purpose:

* ``valid_from``/``valid_to``: the validity printed on the licence (有效期), inclusive both ends;
* ``effective_from``: the date this version of the record took effect (defaults to
  ``valid_from``); the next version's ``effective_from`` ends it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol, TypeVar

from warehouse.domain import check_period, period_contains
from warehouse.errors import InvalidCodeError, InvalidRecordError, VersionChainError


class DeviceClass(StrEnum):
    """Risk class of a medical device (条例 Art.6): I low, II moderate, III high."""

    CLASS_I = "class_i"
    CLASS_II = "class_ii"
    CLASS_III = "class_iii"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {"class_i": "第一类", "class_ii": "第二类", "class_iii": "第三类"}[self.value]

    @property
    def roman(self) -> str:
        """I, II or III, as printed on certificates."""
        return {"class_i": "I", "class_ii": "II", "class_iii": "III"}[self.value]

    @property
    def needs_operation_licence(self) -> bool:
        """Whether trading and storing it needs a licence or filing.

        Class I operation needs neither (条例 2021 Art.41); Class II needs a filing and Class III
        a licence (SAMR Order 54 Art.4).
        """
        return self is not DeviceClass.CLASS_I

    @classmethod
    def parse(cls, text: str) -> DeviceClass:
        """Parse ``I``/``II``/``III``, ``1``/``2``/``3``, ``Ⅲ`` or the enum value.

        Raises:
            InvalidCodeError: For anything else.
        """
        value = text.strip()
        for candidate in cls:
            if value in _CLASS_SPELLINGS[candidate] or value.lower() == candidate.value:
                return candidate
        raise InvalidCodeError("device class", text, f"Expected I, II or III, got {value!r}.")


_CLASS_SPELLINGS = {
    DeviceClass.CLASS_I: {"I", "1", "Ⅰ", "一"},
    DeviceClass.CLASS_II: {"II", "2", "Ⅱ", "二"},
    DeviceClass.CLASS_III: {"III", "3", "Ⅲ", "三"},
}


class LicenceKind(StrEnum):
    """The kind of licence, filing or capability record."""

    PRODUCTION_LICENCE = "production_licence"
    CLASS_III_OPERATION_LICENCE = "class_iii_operation_licence"
    CLASS_II_OPERATION_FILING = "class_ii_operation_filing"
    THIRD_PARTY_LOGISTICS = "third_party_logistics"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return _KIND_LABELS[self]


_KIND_LABELS = {
    LicenceKind.PRODUCTION_LICENCE: "医疗器械生产许可证",
    LicenceKind.CLASS_III_OPERATION_LICENCE: "第三类医疗器械经营许可证",
    LicenceKind.CLASS_II_OPERATION_FILING: "第二类医疗器械经营备案凭证",
    LicenceKind.THIRD_PARTY_LOGISTICS: "医疗器械贮存、配送服务（第三方物流）",
}


@dataclass(frozen=True, slots=True)
class ScopeEntry:
    """One line of a licence's scope: a device class, optionally narrowed to one category."""

    device_class: DeviceClass
    category: str | None = None
    """Classification catalogue code (e.g. ``13`` 无源植入器械); None covers the whole class."""

    def covers(self, device_class: DeviceClass, category: str | None = None) -> bool:
        """Return whether a device of this class and category falls in this entry.

        A device whose category is unknown is covered only by a whole-class entry: we do not
        guess that it falls in a narrower category.
        """
        if device_class is not self.device_class:
            return False
        return self.category is None or self.category == category

    def __str__(self) -> str:
        return self.device_class.roman + (f"/{self.category}" if self.category else "")


@dataclass(frozen=True, slots=True)
class Licence:
    """One version of a licence, filing or 3PL capability record."""

    id: str
    """Identifier of this version."""

    holder_id: str
    """Organisation holding the licence."""

    kind: LicenceKind
    number: str
    """Number as printed, e.g. 粤食药监械经营许20190001号."""

    valid_from: date
    valid_to: date | None
    """Last valid day, inclusive; None for filings without an end date."""

    scope: frozenset[ScopeEntry] = field(default_factory=frozenset)
    warehouse_ids: frozenset[str] = field(default_factory=frozenset)
    """Warehouses whose addresses are registered on this version (库房地址)."""

    effective_from: date | None = None
    """Date this version took effect; None means ``valid_from``."""

    supersedes: str | None = None
    """Id of the version this one replaces; None for the first version."""

    def __post_init__(self) -> None:
        check_period("Licence", self.valid_from, self.valid_to)
        if not self.number.strip():
            raise InvalidRecordError("Licence", "number", "Expected a licence number, got ''.")

    @property
    def effective_since(self) -> date:
        """Date this version took effect."""
        return self.valid_from if self.effective_from is None else self.effective_from

    def is_valid_on(self, on: date) -> bool:
        """Return whether ``on`` lies in the printed validity (inclusive)."""
        return period_contains(self.valid_from, self.valid_to, on)

    def covers(self, device_class: DeviceClass, category: str | None = None) -> bool:
        """Return whether the scope covers a device of this class and category."""
        return any(entry.covers(device_class, category) for entry in self.scope)

    def registers(self, warehouse_id: str) -> bool:
        """Return whether the warehouse's address is registered on this version."""
        return warehouse_id in self.warehouse_ids

    def supersede(self, *, version_id: str, effective_from: date, **changes: object) -> Licence:
        """Return the next version, replacing this one from ``effective_from``.

        Args:
            version_id: Identifier of the new version.
            effective_from: First day the new version is in effect.
            **changes: Fields to change (``number``, ``scope``, ``warehouse_ids``,
                ``valid_from``, ``valid_to``); holder and kind never change.

        Raises:
            VersionChainError: If ``effective_from`` is not after this version's, or a change
                touches the holder or kind.
        """
        for frozen_field in ("holder_id", "kind", "supersedes", "effective_from", "id"):
            if frozen_field in changes:
                raise VersionChainError(
                    version_id,
                    f"Expected no change to {frozen_field}, got {changes[frozen_field]!r}.",
                )
        if effective_from <= self.effective_since:
            raise VersionChainError(
                version_id,
                f"Expected effective_from after {self.effective_since.isoformat()}, "
                f"got {effective_from.isoformat()}.",
            )
        return dataclasses.replace(
            self, id=version_id, effective_from=effective_from, supersedes=self.id, **changes
        )


class Versioned(Protocol):
    """Anything stored as a chain of superseding versions."""

    @property
    def id(self) -> str: ...

    @property
    def supersedes(self) -> str | None: ...

    @property
    def effective_since(self) -> date: ...


V = TypeVar("V", bound=Versioned)


def versions_in_effect(versions: Iterable[V], on: date) -> list[V]:
    """Return the versions in effect on ``on``: started, and not yet superseded on that date.

    Works on a flat collection of several chains at once: a version is ended by whichever
    version names it in ``supersedes``.
    """
    versions = list(versions)
    ended_on = {v.supersedes: v.effective_since for v in versions if v.supersedes is not None}
    return [
        v
        for v in versions
        if v.effective_since <= on and (v.id not in ended_on or on < ended_on[v.id])
    ]


def check_chain(versions: Iterable[V], new: V) -> None:
    """Raise :class:`VersionChainError` unless ``new`` may join ``versions``.

    ``new`` must have a fresh id and, if it supersedes something, supersede the latest version
    of a known chain, starting strictly later.
    """
    by_id = {v.id: v for v in versions}
    if new.id in by_id:
        raise VersionChainError(new.id, f"Expected a new version id, got {new.id!r} again.")
    if new.supersedes is None:
        return
    previous = by_id.get(new.supersedes)
    if previous is None:
        raise VersionChainError(
            new.id, f"Expected to supersede a known version, got {new.supersedes!r}."
        )
    successor = next((v for v in by_id.values() if v.supersedes == previous.id), None)
    if successor is not None:
        raise VersionChainError(
            new.id,
            f"Expected to supersede the latest version, got {previous.id!r}, "
            f"already superseded by {successor.id!r}.",
        )
    if new.effective_since <= previous.effective_since:
        raise VersionChainError(
            new.id,
            f"Expected effective_from after {previous.effective_since.isoformat()}, "
            f"got {new.effective_since.isoformat()}.",
        )


@dataclass(frozen=True, slots=True)
class LicenceRegister:
    """Every version of every licence of interest, answering questions "as of" a date."""

    versions: tuple[Licence, ...] = ()

    @classmethod
    def of(cls, versions: Iterable[Licence]) -> LicenceRegister:
        """Build a register, checking each chain in order of ``effective_since``.

        Raises:
            VersionChainError: If a version does not continue its chain.
        """
        register = cls()
        for version in sorted(versions, key=lambda v: (v.effective_since, v.supersedes or "")):
            register = register.add(version)
        return register

    def add(self, version: Licence) -> LicenceRegister:
        """Return a new register with ``version`` added (the register itself never changes).

        Raises:
            VersionChainError: If ``version`` does not continue its chain, or changes the
                holder or kind of the version it supersedes.
        """
        check_chain(self.versions, version)
        if version.supersedes is not None:
            previous = next(v for v in self.versions if v.id == version.supersedes)
            for name in ("holder_id", "kind"):
                old, new = getattr(previous, name), getattr(version, name)
                if old != new:
                    raise VersionChainError(version.id, f"Expected {name} {old!s}, got {new!s}.")
        return LicenceRegister((*self.versions, version))

    def as_of(self, on: date, *, holder_id: str | None = None) -> tuple[Licence, ...]:
        """Return the versions in effect on ``on`` (valid or not), optionally for one holder."""
        chosen = versions_in_effect(self.versions, on)
        return tuple(v for v in chosen if holder_id is None or v.holder_id == holder_id)

    def valid_on(
        self, on: date, *, holder_id: str, kinds: Iterable[LicenceKind] | None = None
    ) -> tuple[Licence, ...]:
        """Return the holder's versions in effect *and* valid on ``on``, of the given kinds."""
        allowed = None if kinds is None else frozenset(kinds)
        return tuple(
            v
            for v in self.as_of(on, holder_id=holder_id)
            if v.is_valid_on(on) and (allowed is None or v.kind in allowed)
        )

    def registering(self, warehouse_id: str, on: date) -> tuple[Licence, ...]:
        """Return the versions in effect and valid on ``on`` that register the warehouse."""
        return tuple(v for v in self.as_of(on) if v.is_valid_on(on) and v.registers(warehouse_id))

    def history(self, version_id: str) -> tuple[Licence, ...]:
        """Return the whole chain containing ``version_id``, oldest first (empty if unknown)."""
        by_id = {v.id: v for v in self.versions}
        if version_id not in by_id:
            return ()
        successor_of = {v.supersedes: v for v in self.versions if v.supersedes is not None}
        first = by_id[version_id]
        while first.supersedes is not None and first.supersedes in by_id:
            first = by_id[first.supersedes]
        chain = [first]
        while chain[-1].id in successor_of:
            chain.append(successor_of[chain[-1].id])
        return tuple(chain)
