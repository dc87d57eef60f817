"""The ownership graph between organisations, bounded in time.

Each :class:`OwnershipLink` says that a parent held a share of a child's equity over an
inclusive period. Queries answer "is X wholly owned / controlled by P on date D?" with the
chain of links that proves it:

* **wholly owned** (全资): a chain from P down to X in which *every* link is a 100% share;
* **controlled** (控制): a chain in which every link is more than 50% or a declared control
  (实际控制 by agreement, board majority…).

Holdings are not summed across paths: P holding 60% of X directly and 40% through a
wholly-owned B does not make X wholly owned here. That is a deliberate simplification (see
docs/multi-warehouse-rules.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from warehouse.domain import check_period, period_contains, periods_overlap
from warehouse.errors import InvalidRecordError, OwnershipConflictError, OwnershipCycleError

HUNDRED = Decimal(100)
MAJORITY = Decimal(50)


class ControlKind(StrEnum):
    """How strongly a parent holds a child through one link."""

    WHOLLY_OWNED = "wholly_owned"
    CONTROLLED = "controlled"
    MINORITY = "minority"

    @property
    def label_zh(self) -> str:
        """Chinese label."""
        return {"wholly_owned": "全资", "controlled": "控股", "minority": "参股"}[self.value]


@dataclass(frozen=True, slots=True)
class OwnershipLink:
    """A parent's direct holding in a child over an inclusive period."""

    parent_id: str
    child_id: str
    share: Decimal
    """Percentage of the child's equity held directly, ``0 < share <= 100``."""

    valid_from: date
    valid_to: date | None = None
    """Last day of the holding, inclusive; None while it lasts."""

    declared_control: bool = False
    """Control declared without a majority (agreement, board seats); never makes it 100%."""

    def __post_init__(self) -> None:
        if self.parent_id == self.child_id:
            raise InvalidRecordError(
                "OwnershipLink",
                "child_id",
                f"Expected a child other than the parent, got {self.child_id!r}.",
            )
        if not Decimal(0) < self.share <= HUNDRED:
            raise InvalidRecordError(
                "OwnershipLink", "share", f"Expected a share in (0, 100], got {self.share}."
            )
        check_period("OwnershipLink", self.valid_from, self.valid_to)

    @property
    def control(self) -> ControlKind:
        """Wholly owned at 100%, controlled above 50% or when declared, minority otherwise."""
        if self.share == HUNDRED:
            return ControlKind.WHOLLY_OWNED
        if self.share > MAJORITY or self.declared_control:
            return ControlKind.CONTROLLED
        return ControlKind.MINORITY

    def is_valid_on(self, on: date) -> bool:
        """Return whether the holding exists on ``on`` (inclusive period)."""
        return period_contains(self.valid_from, self.valid_to, on)

    def __str__(self) -> str:
        return f"{self.parent_id} -> {self.child_id} ({self.share.normalize():f}%)"


Chain = tuple[OwnershipLink, ...]
"""Links from the ancestor down to the descendant, each link's child the next one's parent."""


def is_wholly_owned_link(link: OwnershipLink) -> bool:
    """Return whether the link is a 100% holding."""
    return link.control is ControlKind.WHOLLY_OWNED


def is_control_link(link: OwnershipLink) -> bool:
    """Return whether the link gives control (more than 50%, or declared)."""
    return link.control is not ControlKind.MINORITY


@dataclass(frozen=True, slots=True)
class OwnershipGraph:
    """An immutable set of ownership links with no cycle on any date."""

    links: tuple[OwnershipLink, ...] = ()

    @classmethod
    def of(cls, links: Iterable[OwnershipLink]) -> OwnershipGraph:
        """Build a graph, adding the links one by one.

        Raises:
            OwnershipCycleError: If the links make a company its own owner on some date.
            OwnershipConflictError: If one pair has overlapping links or a child's shares sum
                above 100% on some date.
        """
        graph = cls()
        for link in links:
            graph = graph.with_link(link)
        return graph

    def with_link(self, link: OwnershipLink) -> OwnershipGraph:
        """Return a new graph with ``link`` added, refusing cycles and conflicts.

        A cycle is refused only when all its links are valid together on at least one date:
        A owning B in 2020 and B owning A in 2023 is history, not a cycle.

        Raises:
            OwnershipCycleError: If the link closes a cycle on some date.
            OwnershipConflictError: If the same pair already has a link overlapping in time,
                or the child's shares would sum above 100% on some date.
        """
        self._check_pair(link)
        self._check_total_share(link)
        cycle = self._path_back(link)
        if cycle is not None:
            path, since = cycle
            raise OwnershipCycleError(link, (link, *path), since)
        return OwnershipGraph((*self.links, link))

    def _check_pair(self, link: OwnershipLink) -> None:
        for other in self.links:
            same_pair = (other.parent_id, other.child_id) == (link.parent_id, link.child_id)
            if same_pair and _overlap(other, link):
                raise OwnershipConflictError(
                    link,
                    max(link.valid_from, other.valid_from),
                    f"Expected one link {link.parent_id} -> {link.child_id} at a time, "
                    f"got another from {other.valid_from.isoformat()} to "
                    f"{other.valid_to.isoformat() if other.valid_to else 'open end'}.",
                )

    def _check_total_share(self, link: OwnershipLink) -> None:
        # Shares only rise when a holding starts, so the total peaks on some start date.
        siblings = [o for o in self.links if o.child_id == link.child_id and _overlap(o, link)]
        starts = {link.valid_from} | {o.valid_from for o in siblings}
        for day in sorted(d for d in starts if link.is_valid_on(d)):
            total = link.share + sum(
                (o.share for o in siblings if o.is_valid_on(day)), start=Decimal(0)
            )
            if total > HUNDRED:
                raise OwnershipConflictError(
                    link,
                    day,
                    f"Expected shares in {link.child_id} to total at most 100% on "
                    f"{day.isoformat()}, got {total.normalize():f}%.",
                )

    def _path_back(self, link: OwnershipLink) -> tuple[Chain, date] | None:
        """Find links from ``link.child_id`` down to ``link.parent_id`` valid with ``link``."""

        def walk(
            node: str, start: date, end: date | None, seen: frozenset[str]
        ) -> tuple[Chain, date] | None:
            for step in self.links:
                if step.parent_id != node or step.child_id in seen:
                    continue
                if not periods_overlap(start, end, step.valid_from, step.valid_to):
                    continue
                new_start = max(start, step.valid_from)
                new_end = _min_end(end, step.valid_to)
                if step.child_id == link.parent_id:
                    return (step,), new_start
                found = walk(step.child_id, new_start, new_end, seen | {step.child_id})
                if found is not None:
                    return (step, *found[0]), found[1]
            return None

        return walk(link.child_id, link.valid_from, link.valid_to, frozenset({link.child_id}))

    def links_on(self, on: date) -> tuple[OwnershipLink, ...]:
        """Return the links valid on ``on``."""
        return tuple(link for link in self.links if link.is_valid_on(on))

    def parents_of(self, child_id: str, on: date) -> tuple[OwnershipLink, ...]:
        """Return the links into ``child_id`` valid on ``on``."""
        return tuple(link for link in self.links_on(on) if link.child_id == child_id)

    def children_of(self, parent_id: str, on: date) -> tuple[OwnershipLink, ...]:
        """Return the links out of ``parent_id`` valid on ``on``."""
        return tuple(link for link in self.links_on(on) if link.parent_id == parent_id)

    def chain(
        self,
        child_id: str,
        parent_id: str,
        on: date,
        qualifies: Callable[[OwnershipLink], bool] = lambda _: True,
    ) -> Chain | None:
        """Return the shortest chain from ``parent_id`` down to ``child_id`` on ``on``.

        Args:
            child_id: The descendant.
            parent_id: The ancestor.
            on: Every link must be valid on this date.
            qualifies: Every link must pass this test (any share by default).

        Returns:
            The links, ancestor first, or None if there is none (also when the two ids are
            equal: an organisation is not its own subsidiary).
        """
        if child_id == parent_id:
            return None
        valid = sorted(self.links_on(on), key=lambda link: (link.parent_id, link.child_id))
        # Breadth-first upwards from the child: the first time we meet the parent is shortest.
        queue: deque[tuple[str, Chain]] = deque([(child_id, ())])
        seen = {child_id}
        while queue:
            node, below = queue.popleft()
            for link in valid:
                if link.child_id != node or link.parent_id in seen or not qualifies(link):
                    continue
                path = (link, *below)
                if link.parent_id == parent_id:
                    return path
                seen.add(link.parent_id)
                queue.append((link.parent_id, path))
        return None

    def wholly_owned_chain(self, child_id: str, parent_id: str, on: date) -> Chain | None:
        """Return a chain of 100% links proving ``child_id`` is wholly owned on ``on``, or None."""
        return self.chain(child_id, parent_id, on, is_wholly_owned_link)

    def control_chain(self, child_id: str, parent_id: str, on: date) -> Chain | None:
        """Return a chain of controlling links proving control on ``on``, or None."""
        return self.chain(child_id, parent_id, on, is_control_link)

    def is_wholly_owned(self, child_id: str, parent_id: str, on: date) -> bool:
        """Return whether ``child_id`` is wholly owned by ``parent_id`` on ``on``."""
        return self.wholly_owned_chain(child_id, parent_id, on) is not None

    def is_controlled(self, child_id: str, parent_id: str, on: date) -> bool:
        """Return whether ``child_id`` is controlled by ``parent_id`` on ``on``."""
        return self.control_chain(child_id, parent_id, on) is not None


def _overlap(first: OwnershipLink, second: OwnershipLink) -> bool:
    return periods_overlap(first.valid_from, first.valid_to, second.valid_from, second.valid_to)


def _min_end(first: date | None, second: date | None) -> date | None:
    if first is None:
        return second
    if second is None:
        return first
    return min(first, second)


def describe_chain(chain: Chain) -> str:
    """Render a chain as ``P -(100%)-> A -(60%)-> S`` for messages."""
    parts = [chain[0].parent_id]
    for link in chain:
        parts.append(f"-({link.share.normalize():f}%)-> {link.child_id}")
    return " ".join(parts)
