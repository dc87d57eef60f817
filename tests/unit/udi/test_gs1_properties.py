"""Properties of the GS1 parsers with Hypothesis: round trips, robustness, check digits."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st

import udi
from udi.config import ParseConfig

# GS is the only separator here: "<GS>" is made of CSET 82 characters and could be data.
CONFIG = ParseConfig(today=date(2026, 11, 27), separators=("\x1d",))
GS = "\x1d"
CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
# Two-digit years resolve into 1977-2076 around the reference date 2026-11-27.
WINDOW_DATES = st.dates(min_value=date(1977, 1, 1), max_value=date(2076, 12, 31))
FAST = settings(max_examples=200, deadline=None)


def check_digit(digits: str) -> str:
    """GS1 mod-10, written independently of the code under test."""
    total = 0
    weight = 3
    for char in reversed(digits):
        total += int(char) * weight
        weight = 4 - weight
    return str(-total % 10)


@st.composite
def gtins(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=13, max_size=13))
    return body + check_digit(body)


@st.composite
def ssccs(draw: st.DrawFn) -> str:
    body = draw(st.text("0123456789", min_size=17, max_size=17))
    return body + check_digit(body)


@st.composite
def label_dates(draw: st.DrawFn) -> tuple[str, date]:
    """A YYMMDD label date (sometimes with DD=00) and the date it stands for."""
    day = draw(WINDOW_DATES)
    if draw(st.booleans()):
        return day.strftime("%y%m%d"), day
    last = calendar.monthrange(day.year, day.month)[1]
    return day.strftime("%y%m") + "00", day.replace(day=last)


cset82 = st.text(CSET82, min_size=1, max_size=20)


@dataclass(frozen=True)
class Label:
    """Device AIs in label order: predefined-length ones first, then variable ones."""

    gtin: str
    production: tuple[str, date] | None
    expiry: tuple[str, date] | None
    variable: tuple[tuple[str, str], ...]

    def pairs(self) -> list[tuple[str, str]]:
        found = [("01", self.gtin)]
        if self.production:
            found.append(("11", self.production[0]))
        if self.expiry:
            found.append(("17", self.expiry[0]))
        return found + list(self.variable)

    def element_string(self) -> str:
        fixed = "".join(ai + value for ai, value in self.pairs() if ai in ("01", "11", "17"))
        return fixed + GS.join(ai + value for ai, value in self.variable)

    def hri(self) -> str:
        return "".join(f"({ai}){value.replace('(', chr(92) + '(')}" for ai, value in self.pairs())


@st.composite
def labels(draw: st.DrawFn) -> Label:
    variable = []
    for ai, values in (
        ("22", cset82),
        ("10", cset82),
        ("21", cset82),
        ("240", st.text(CSET82, min_size=1, max_size=30)),
        ("30", st.text("0123456789", min_size=1, max_size=8)),
    ):
        if draw(st.booleans()):
            variable.append((ai, draw(values)))
    return Label(
        gtin=draw(gtins()),
        production=draw(st.none() | label_dates()),
        expiry=draw(st.none() | label_dates()),
        variable=tuple(draw(st.permutations(variable))),
    )


def pairs_of(result: udi.ParseResult) -> list[tuple[str, str]]:
    assert result.ok, result.errors
    assert result.udi is not None
    return [(element.key, element.value) for element in result.udi.elements]


@FAST
@given(labels())
def test_valid_element_strings_parse_back(label: Label) -> None:
    scan = "]d2" + label.element_string()
    result = udi.parse(scan, config=CONFIG)
    assert pairs_of(result) == label.pairs()
    assert result.udi is not None
    assert result.udi.gtin == label.gtin
    values = dict(label.variable)
    assert result.udi.lot == values.get("10")
    assert result.udi.serial == values.get("21")
    assert result.udi.quantity == (int(values["30"]) if "30" in values else None)
    if label.expiry:
        assert result.udi.expiry_date is not None
        assert result.udi.expiry_date.value == label.expiry[1]
    if label.production:
        assert result.udi.production_date is not None
        assert result.udi.production_date.value == label.production[1]
    for element in result.udi.elements:  # positions point at "AI + value" in the scan
        assert scan[element.position : element.position + element.length] == (
            element.key + element.value
        )


@FAST
@given(labels())
def test_hri_and_element_string_agree(label: Label) -> None:
    from_hri = udi.parse(label.hri(), config=CONFIG)
    from_raw = udi.parse("]d2" + label.element_string(), config=CONFIG)
    assert pairs_of(from_hri) == pairs_of(from_raw) == label.pairs()
    assert from_hri.udi is not None
    assert from_raw.udi is not None
    assert from_hri.udi.hri == from_raw.udi.hri == label.hri()
    assert from_hri.udi.digital_link == from_raw.udi.digital_link


@FAST
@given(labels())
def test_canonical_hri_and_digital_link_reparse(label: Label) -> None:
    result = udi.parse("]d2" + label.element_string(), config=CONFIG)
    assert result.udi is not None
    assert result.udi.hri is not None
    assert result.udi.digital_link is not None
    assert pairs_of(udi.parse(result.udi.hri, config=CONFIG)) == label.pairs()
    # The DL puts qualifiers in the path and attributes in the query: same AIs, new order.
    from_dl = udi.parse(result.udi.digital_link, config=CONFIG)
    assert sorted(pairs_of(from_dl)) == sorted(label.pairs())
    assert from_dl.udi is not None
    assert from_dl.udi.digital_link == result.udi.digital_link


@FAST
@given(gtins(), st.data())
def test_single_digit_changes_to_a_gtin_are_caught(gtin: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, 13))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != gtin[index]]))
    mutated = gtin[:index] + digit + gtin[index + 1 :]
    result = udi.parse("]d201" + mutated, config=CONFIG)
    assert [(e.code, e.position, e.length) for e in result.errors] == [("gs1.check_digit", 18, 1)]


@FAST
@given(ssccs(), st.data())
def test_single_digit_changes_to_an_sscc_are_caught(sscc: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, 17))
    digit = data.draw(st.sampled_from([d for d in "0123456789" if d != sscc[index]]))
    assert udi.parse("]C100" + sscc, config=CONFIG).ok
    result = udi.parse("]C100" + sscc[:index] + digit + sscc[index + 1 :], config=CONFIG)
    assert [(e.code, e.position) for e in result.errors] == [("gs1.check_digit", 22)]


GS1_ALPHABET = "0123456789()\\\x1d%/?&=:#+ ABCabc~<>^]"
PREFIXES = st.sampled_from(
    ["", "]d2", "]C1", "]Q1", "]E0", "(", "(01)", "https://id.gs1.org/01/", "HTTP://a/", "01"]
)


@settings(max_examples=300, deadline=None)
@given(PREFIXES, st.text(GS1_ALPHABET, max_size=60) | st.text(max_size=40))
def test_parse_never_raises(prefix: str, tail: str) -> None:
    result = udi.parse(prefix + tail)
    assert result.ok or result.errors
    for issue in result.errors:
        assert 0 <= issue.position <= len(prefix + tail)
        if (issue.format or "").startswith("gs1"):
            assert issue.message.startswith("Expected"), issue
