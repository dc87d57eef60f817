"""The time-bounded ownership graph: wholly-owned and control chains, cycles refused."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.domain.ownership import ControlKind, OwnershipGraph, OwnershipLink, describe_chain
from warehouse.errors import InvalidRecordError, OwnershipConflictError, OwnershipCycleError

TODAY = date(2025, 6, 15)
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)
LONG_AGO = date(2020, 1, 1)


def link(
    parent: str,
    child: str,
    share: int | str = 100,
    valid_from: date = LONG_AGO,
    valid_to: date | None = None,
    *,
    declared: bool = False,
) -> OwnershipLink:
    return OwnershipLink(parent, child, Decimal(share), valid_from, valid_to, declared)


@pytest.mark.parametrize(
    ("share", "declared", "kind"),
    [
        ("100", False, ControlKind.WHOLLY_OWNED),
        ("100.00", False, ControlKind.WHOLLY_OWNED),
        ("99.99", False, ControlKind.CONTROLLED),
        ("50.01", False, ControlKind.CONTROLLED),
        ("50", False, ControlKind.MINORITY),
        ("50", True, ControlKind.CONTROLLED),
        ("10", False, ControlKind.MINORITY),
    ],
)
def test_a_link_is_wholly_owned_only_at_100_percent_and_controlling_above_half(
    share: str, declared: bool, kind: ControlKind
) -> None:
    assert link("P", "S", share, declared=declared).control is kind


# Table: links, (child, parent), wholly-owned chain expected, control chain expected.
CHAIN_CASES = [
    pytest.param([link("P", "S")], ["P->S"], ["P->S"], id="direct 100% subsidiary"),
    pytest.param(
        [link("P", "A"), link("A", "S")],
        ["P->A", "A->S"],
        ["P->A", "A->S"],
        id="indirect 100% -> 100% chain is wholly owned",
    ),
    pytest.param(
        [link("P", "A"), link("A", "S", 60)],
        None,
        ["P->A", "A->S"],
        id="100% -> 60% chain is controlled but not wholly owned",
    ),
    pytest.param([link("P", "S", 60)], None, ["P->S"], id="60% subsidiary is controlled"),
    pytest.param([link("P", "S", 40)], None, None, id="40% holding is neither"),
    pytest.param([link("P", "S", 40, declared=True)], None, ["P->S"], id="declared control counts"),
    pytest.param(
        [link("P", "A", 60), link("A", "S")],
        None,
        ["P->A", "A->S"],
        id="60% above 100% breaks wholly owned",
    ),
    pytest.param(
        [link("P", "A", 40), link("A", "S")], None, None, id="minority link breaks control"
    ),
    pytest.param(
        [link("P", "C"), link("C", "D"), link("P", "A"), link("A", "B"), link("B", "S")],
        ["P->A", "A->B", "B->S"],
        ["P->A", "A->B", "B->S"],
        id="a long chain is found past a branch that leads elsewhere",
    ),
    pytest.param([link("S", "P")], None, None, id="ownership points downwards only"),
]


def names(chain: tuple[OwnershipLink, ...] | None) -> list[str] | None:
    return None if chain is None else [f"{x.parent_id}->{x.child_id}" for x in chain]


@pytest.mark.parametrize(("links", "wholly", "control"), CHAIN_CASES)
def test_chains_prove_wholly_owned_and_controlled(
    links: list[OwnershipLink], wholly: list[str] | None, control: list[str] | None
) -> None:
    graph = OwnershipGraph.of(links)

    assert names(graph.wholly_owned_chain("S", "P", TODAY)) == wholly
    assert names(graph.control_chain("S", "P", TODAY)) == control
    assert graph.is_wholly_owned("S", "P", TODAY) is (wholly is not None)
    assert graph.is_controlled("S", "P", TODAY) is (control is not None)


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "owned_today"),
    [
        (LONG_AGO, YESTERDAY, False),  # ownership ended yesterday
        (LONG_AGO, TODAY, True),  # ends today: still valid today (inclusive)
        (TODAY, None, True),  # starts today
        (TOMORROW, None, False),  # starts tomorrow
    ],
)
def test_ownership_is_judged_on_the_date_with_inclusive_ends(
    valid_from: date, valid_to: date | None, owned_today: bool
) -> None:
    graph = OwnershipGraph.of([link("P", "S", 100, valid_from, valid_to)])

    assert graph.is_wholly_owned("S", "P", TODAY) is owned_today


def test_an_indirect_chain_breaks_when_one_of_its_links_ended() -> None:
    graph = OwnershipGraph.of([link("P", "A"), link("A", "S", valid_to=YESTERDAY)])

    assert graph.wholly_owned_chain("S", "P", YESTERDAY) is not None
    assert graph.wholly_owned_chain("S", "P", TODAY) is None


def test_a_sold_subsidiary_is_owned_by_the_buyer_from_the_sale_date() -> None:
    graph = OwnershipGraph.of(
        [link("P", "S", valid_to=YESTERDAY), link("Q", "S", valid_from=TODAY)]
    )

    assert graph.is_wholly_owned("S", "P", YESTERDAY)
    assert not graph.is_wholly_owned("S", "P", TODAY)
    assert graph.is_wholly_owned("S", "Q", TODAY)


def test_an_organisation_is_not_its_own_subsidiary() -> None:
    assert OwnershipGraph.of([link("P", "S")]).wholly_owned_chain("P", "P", TODAY) is None


def test_chain_is_described_parent_first() -> None:
    graph = OwnershipGraph.of([link("P", "A"), link("A", "S", "60.5")])

    assert describe_chain(graph.chain("S", "P", TODAY) or ()) == "P -(100%)-> A -(60.5%)-> S"


@pytest.mark.parametrize(
    ("existing", "new", "path"),
    [
        pytest.param([link("A", "B", 60)], link("B", "A", 10), "B -> A -> B", id="two companies"),
        pytest.param(
            [link("A", "B"), link("B", "C")], link("C", "A", 5), "C -> A -> B -> C", id="three"
        ),
        pytest.param(
            [link("A", "B", valid_to=date(2023, 12, 31))],
            link("B", "A", valid_from=date(2023, 12, 31)),
            "B -> A -> B",
            id="overlapping by one day",
        ),
    ],
)
def test_cycles_are_refused_when_their_links_overlap_in_time(
    existing: list[OwnershipLink], new: OwnershipLink, path: str
) -> None:
    graph = OwnershipGraph.of(existing)

    with pytest.raises(OwnershipCycleError) as raised:
        graph.with_link(new)

    assert raised.value.link == new
    assert (
        " -> ".join([raised.value.cycle[0].parent_id, *(x.child_id for x in raised.value.cycle)])
        == path
    )
    assert f"Expected no ownership cycle, got {path}" in str(raised.value)


def test_a_cycle_is_dated_from_the_first_day_all_its_links_hold() -> None:
    graph = OwnershipGraph.of([link("A", "B", valid_from=date(2022, 1, 1))])

    with pytest.raises(OwnershipCycleError) as raised:
        graph.with_link(link("B", "A", 10, valid_from=date(2021, 1, 1)))

    assert raised.value.since == date(2022, 1, 1)


@pytest.mark.parametrize(
    ("existing", "new"),
    [
        pytest.param(
            [link("A", "B", valid_to=date(2022, 12, 31))],
            link("B", "A", valid_from=date(2023, 1, 1)),
            id="ownership reversed after the first ended",
        ),
        pytest.param(
            [
                link("A", "B", valid_to=date(2021, 12, 31)),
                link("B", "C", valid_from=date(2022, 1, 1)),
            ],
            link("C", "A", 10),
            id="three links that never hold together",
        ),
    ],
)
def test_links_that_never_hold_together_are_history_not_a_cycle(
    existing: list[OwnershipLink], new: OwnershipLink
) -> None:
    assert new in OwnershipGraph.of(existing).with_link(new).links


def test_adding_a_link_leaves_the_original_graph_unchanged() -> None:
    graph = OwnershipGraph.of([link("P", "A")])

    bigger = graph.with_link(link("A", "S"))

    assert len(graph.links) == 1
    assert len(bigger.links) == 2


def test_two_overlapping_links_for_one_pair_are_refused() -> None:
    graph = OwnershipGraph.of([link("P", "S", 60, valid_to=date(2024, 12, 31))])

    with pytest.raises(OwnershipConflictError, match="Expected one link P -> S at a time"):
        graph.with_link(link("P", "S", 100, valid_from=date(2024, 12, 31)))
    assert graph.with_link(link("P", "S", 100, valid_from=date(2025, 1, 1)))


def test_shares_in_one_child_may_not_exceed_100_percent_on_any_date() -> None:
    graph = OwnershipGraph.of([link("P", "S", 60), link("Q", "S", 30, valid_to=date(2024, 12, 31))])

    with pytest.raises(OwnershipConflictError) as raised:
        graph.with_link(link("R", "S", 20, valid_from=date(2024, 6, 1)))

    assert raised.value.on == date(2024, 6, 1)
    assert "Expected shares in S to total at most 100% on 2024-06-01, got 110%." in str(
        raised.value
    )
    assert graph.with_link(link("R", "S", 40, valid_from=date(2025, 1, 1)))


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"child": "P"}, "child_id", "Expected a child other than the parent, got 'P'."),
        ({"share": 0}, "share", "Expected a share in (0, 100], got 0."),
        ({"share": "100.5"}, "share", "Expected a share in (0, 100], got 100.5."),
        (
            {"valid_to": date(2019, 12, 31)},
            "valid_to",
            "Expected a date on or after valid_from 2020-01-01, got 2019-12-31.",
        ),
    ],
)
def test_malformed_links_are_refused(kwargs: dict[str, object], field: str, message: str) -> None:
    arguments: dict[str, object] = {"parent": "P", "child": "S", **kwargs}

    with pytest.raises(InvalidRecordError) as raised:
        link(**arguments)  # type: ignore[arg-type]

    assert (raised.value.field, raised.value.detail) == (field, message)


shares = st.sampled_from(["100", "100", "100", "99", "60", "50.01", "50", "30"])


@given(chain_shares=st.lists(shares, min_size=1, max_size=6))
def test_a_chain_is_wholly_owned_iff_every_link_is_100_percent(chain_shares: list[str]) -> None:
    nodes = [f"N{i}" for i in range(len(chain_shares) + 1)]
    graph = OwnershipGraph.of(
        link(parent, child, share)
        for parent, child, share in zip(nodes[:-1], nodes[1:], chain_shares, strict=True)
    )

    wholly = graph.wholly_owned_chain(nodes[-1], nodes[0], TODAY)
    control = graph.control_chain(nodes[-1], nodes[0], TODAY)

    assert (wholly is not None) is all(Decimal(s) == 100 for s in chain_shares)
    assert (control is not None) is all(Decimal(s) > 50 for s in chain_shares)
    for chain in (wholly, control):
        assert chain is None or len(chain) == len(chain_shares)


@given(days_after_end=st.integers(-3, 3))
def test_a_link_is_valid_exactly_up_to_and_including_its_last_day(days_after_end: int) -> None:
    graph = OwnershipGraph.of([link("P", "S", valid_to=TODAY)])

    owned = graph.is_wholly_owned("S", "P", TODAY + timedelta(days=days_after_end))

    assert owned is (days_after_end <= 0)
