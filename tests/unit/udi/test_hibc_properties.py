"""Properties of the HIBC parser (and robustness of every non-GS1 parser) with Hypothesis."""

from __future__ import annotations

import calendar
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from udi.checksums import HIBC_CHARSET, hibc_mod43
from udi.china import parse_ahm, parse_ma
from udi.config import ParseConfig
from udi.errors import ParseError
from udi.hibc import HibcPrimary, HibcSecondary, hibc_link_matches, parse_hibc
from udi.isbt128 import parse_isbt128
from udi.iso15434 import parse_iso15434

CONFIG = ParseConfig(today=date(2026, 11, 27))
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Two-digit years resolve into 1977-2076 around the reference date 2026-11-27.
WINDOW_DATES = st.dates(min_value=date(1977, 1, 1), max_value=date(2076, 12, 31))

letters = st.sampled_from(ALNUM[10:])
alnum = st.text(ALNUM, min_size=1, max_size=18)


@dataclass(frozen=True)
class Secondary:
    """A generated secondary data string and the values it must parse back to."""

    text: str
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    expiry_time: time | None = None
    production: date | None = None
    quantity: int | None = None


@st.composite
def primaries(draw: st.DrawFn) -> tuple[str, HibcPrimary]:
    lic = draw(letters) + draw(st.text(ALNUM, min_size=3, max_size=3))
    pcn = draw(alnum)
    uom = draw(st.integers(0, 9))
    body = f"{lic}{pcn}{uom}"
    return body, HibcPrimary(lic, pcn, uom, hibc_mod43("+" + body))


@st.composite
def dated(draw: st.DrawFn) -> tuple[str, date | None, time | None]:
    """A ``$$`` date part (format digit + date) and the date it stands for."""
    flag = draw(st.sampled_from("01234567"))
    value = draw(WINDOW_DATES)
    hour = draw(st.integers(0, 23))
    yy, mm, dd = f"{value.year % 100:02d}", f"{value.month:02d}", f"{value.day:02d}"
    jjj = f"{value.timetuple().tm_yday:03d}"
    if flag in "01":
        last = calendar.monthrange(value.year, value.month)[1]
        return f"{mm}{yy}", value.replace(day=last), None
    text, hour_part = {
        "2": (f"{mm}{dd}{yy}", None),
        "3": (f"{yy}{mm}{dd}", None),
        "4": (f"{yy}{mm}{dd}{hour:02d}", hour),
        "5": (f"{yy}{jjj}", None),
        "6": (f"{yy}{jjj}{hour:02d}", hour),
        "7": ("", None),
    }[flag]
    if flag == "7":
        return "7", None, None
    return flag + text, value, None if hour_part is None else time(hour_part)


@st.composite
def secondaries(draw: st.DrawFn) -> Secondary:
    form = draw(st.sampled_from(["lot", "serial", "dated_lot", "dated_serial", "julian"]))
    value = draw(alnum)
    if form == "lot":
        main = Secondary(f"${value}", lot=value)
    elif form == "serial":
        main = Secondary(f"$+{value}", serial=value)
    elif form == "julian":
        value = value[:13]
        expiry = draw(WINDOW_DATES)
        julian = f"{expiry.year % 100:02d}{expiry.timetuple().tm_yday:03d}"
        main = Secondary(julian + value, lot=value, expiry=expiry)
    else:
        main = draw(_dated_secondary(form, value))
    return draw(_with_supplementals(main))


@st.composite
def _dated_secondary(draw: st.DrawFn, form: str, value: str) -> Secondary:
    date_part, expiry, at = draw(dated())
    quantity = draw(st.none() | st.integers(0, 99999))
    prefix = "$$+" if form == "dated_serial" else "$$"
    if quantity is not None:
        width = 2 if quantity < 100 and draw(st.booleans()) else 5
        date_part = f"{8 if width == 2 else 9}{quantity:0{width}d}{date_part}"
    text = f"{prefix}{date_part}{value}"
    if form == "dated_serial":
        return Secondary(text, serial=value, expiry=expiry, expiry_time=at, quantity=quantity)
    return Secondary(text, lot=value, expiry=expiry, expiry_time=at, quantity=quantity)


@st.composite
def _with_supplementals(draw: st.DrawFn, main: Secondary) -> Secondary:
    text, values = main.text, dict(main.__dict__)
    if draw(st.booleans()):
        made = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
        text += f"/16D{made:%Y%m%d}"
        values["production"] = made
    if main.serial is None and draw(st.booleans()):
        serial = draw(alnum)
        text += f"/S{serial}"
        values["serial"] = serial
    if main.quantity is None and draw(st.booleans()):
        quantity = draw(st.integers(0, 99999))
        text += f"/Q{quantity}"
        values["quantity"] = quantity
    if main.expiry is None and draw(st.booleans()):
        expiry = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
        text += f"/14D{expiry:%Y%m%d}"
        values["expiry"] = expiry
    values["text"] = text
    return Secondary(**values)


def assert_secondary(found: HibcSecondary, expected: Secondary) -> None:
    assert (found.lot, found.serial, found.quantity) == (
        expected.lot,
        expected.serial,
        expected.quantity,
    )
    assert (found.expiry_date.value if found.expiry_date else None) == expected.expiry
    assert (found.expiry_date.time if found.expiry_date else None) == expected.expiry_time
    assert (found.production_date.value if found.production_date else None) == expected.production


@given(primaries())
def test_primary_with_a_correct_check_character_parses_back(
    primary: tuple[str, HibcPrimary],
) -> None:
    body, expected = primary
    assert HibcPrimary.parse(f"+{body}{expected.check_character}") == expected


@given(primaries(), secondaries())
def test_concatenated_scan_parses_back_into_its_parts(
    primary: tuple[str, HibcPrimary], secondary: Secondary
) -> None:
    body, expected = primary
    data = f"+{body}/{secondary.text}"
    result = parse_hibc(data + hibc_mod43(data), CONFIG)
    assert result.di == expected.di
    assert (result.other["lic"], result.other["pcn"]) == (expected.lic, expected.pcn)
    found = HibcSecondary(
        lot=result.lot,
        serial=result.serial,
        expiry_date=result.expiry_date,
        production_date=result.production_date,
        quantity=result.quantity,
    )
    assert_secondary(found, secondary)


@given(primaries(), secondaries())
def test_separate_secondary_parses_back_and_links_to_its_primary(
    primary: tuple[str, HibcPrimary], secondary: Secondary
) -> None:
    _, expected = primary
    data = f"+{secondary.text}{expected.check_character}"
    found = HibcSecondary.parse(data + hibc_mod43(data), CONFIG)
    assert_secondary(found, secondary)
    assert hibc_link_matches(expected, found)


@settings(max_examples=200)
@given(primaries(), secondaries(), st.data())
def test_every_single_character_substitution_is_caught_by_the_check_character(
    primary: tuple[str, HibcPrimary], secondary: Secondary, data: st.DataObject
) -> None:
    body, _ = primary
    scan = f"+{body}/{secondary.text}"
    scan += hibc_mod43(scan)
    index = data.draw(st.integers(1, len(scan) - 1))
    # After the flag, '+' would make a Basic UDI-DI and '/' an HIBC PAS label: other schemes.
    excluded = {scan[index]} | ({"+", "/"} if index == 1 else set())
    replacement = data.draw(st.sampled_from(sorted(set(HIBC_CHARSET) - excluded)))
    corrupted = scan[:index] + replacement + scan[index + 1 :]
    with pytest.raises(ParseError) as error:
        parse_hibc(corrupted, CONFIG)
    assert "hibc.check_character" in [issue.code for issue in error.value.issues]


PARSERS = (parse_hibc, parse_isbt128, parse_ma, parse_ahm, parse_iso15434)
PREFIXES = ("", "+", "++", "+$$", "=", "&,1", "MA.156.M0.", "MF", '<UDI IAC="MA">', "[)>\x1e06\x1d")
SCANNER_TEXT = st.text(
    st.sampled_from(HIBC_CHARSET + '=&<>"_*#.,;|\x1d\x1e\x04abcMAFDNPSTQ٣²\ufeff'), max_size=60
)


@settings(max_examples=300)
@given(st.sampled_from(PARSERS), st.sampled_from(PREFIXES), SCANNER_TEXT | st.text(max_size=40))
def test_arbitrary_text_raises_nothing_but_parse_error(
    parser: Callable[[str, ParseConfig], object], prefix: str, text: str
) -> None:
    # Any other exception escapes and fails the test; a result or a ParseError are both fine.
    with contextlib.suppress(ParseError):
        parser(prefix + text, CONFIG)
