"""The dispatcher: detection, separator remapping with positions in the original scan, and
the promise that ``udi.parse`` never raises."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import udi
from udi import interpret
from udi.config import ParseConfig

GTIN = "0104012345678901"


@pytest.mark.parametrize(
    ("scan", "detected", "agency"),
    [
        ("]d2" + GTIN + "10LOT-A1", "gs1", "GS1"),
        (GTIN + "10LOT-A1", "gs1", "GS1"),
        ("(01)04012345678901(10)LOT-A1", "gs1_hri", "GS1"),
        ("https://id.gs1.org/01/04012345678901/10/LOT-A1", "gs1_digital_link", "GS1"),
        ("]Q1https://example.com/01/04012345678901?17=281231", "gs1_digital_link", "GS1"),
        ("]E04012345678901", "gtin", "GS1"),
        ("96385074", "gtin", "GS1"),
        ("]C0+A99912345/$$52001510X33", "hibc", "HIBC"),
        ("MA.156.M0.100761.21234561.Sx00008.M220117", "ma", "MA"),
        ("https://x.example/q?code=MA.156.M0.100761.21234561.Sx00008", "ma", "MA"),
        ("=/A9999XYZ100T0944=,000025", "isbt128", "ISBT128"),
    ],
)
def test_the_format_is_detected_from_symbology_and_content(
    scan: str, detected: str, agency: str
) -> None:
    result = udi.parse(scan)
    assert result.ok, result.errors
    assert (result.detected, result.udi.agency) == (detected, agency)


def test_the_symbology_identifier_is_recorded_and_named() -> None:
    result = udi.parse("]d2" + GTIN)
    assert (result.symbology, result.symbology_name) == ("]d2", "GS1 DataMatrix")


@pytest.mark.parametrize("separator", ["<GS>", "{GS}", "^]", "~", "\x1d"])
def test_error_positions_point_into_the_scan_as_sent_whatever_the_separator(
    separator: str,
) -> None:
    scan = "]d2" + GTIN + "10LOT" + separator + "17281331"  # month 13
    result = udi.parse(scan)
    (error,) = result.errors
    assert error.code == "gs1.illegal_month"
    assert scan[error.position : error.position + error.length] == "13"


def test_element_positions_point_into_the_scan_after_a_remapped_separator() -> None:
    scan = "]d2" + GTIN + "10LOT<GS>21SN9"
    result = udi.parse(scan)
    serial = next(e for e in result.udi.elements if e.key == "21")
    assert scan[serial.position : serial.position + serial.length] == "21SN9"


def test_a_configured_separator_is_honoured() -> None:
    config = ParseConfig(separators=("\x1d", "|"))
    result = udi.parse("]d2" + GTIN + "10LOT|21SN9", config=config)
    assert (result.udi.lot, result.udi.serial) == ("LOT", "SN9")


def test_a_trailing_line_end_is_ignored_with_a_warning() -> None:
    result = udi.parse("]d2" + GTIN + "\r\n")
    assert result.ok
    assert [(w.code, w.position, w.length) for w in result.warnings] == [
        ("scan.trailing_line_end", 19, 2)
    ]


def test_nothing_after_the_symbology_identifier_is_an_error() -> None:
    result = udi.parse("]C1")
    assert [(e.code, e.position) for e in result.errors] == [("scan.empty", 3)]


def test_gs1_data_under_a_non_gs1_symbology_parses_with_a_warning() -> None:
    result = udi.parse("]C0" + GTIN + "10LOT")
    assert result.ok
    assert "scan.symbology_not_gs1" in [w.code for w in result.warnings]


def test_text_that_is_no_format_reports_the_gs1_attempt() -> None:
    result = udi.parse("hello world")
    assert not result.ok
    assert {e.format for e in result.errors} == {"gs1"}


def test_a_non_string_scan_is_an_error_not_an_exception() -> None:
    result = udi.parse(b"0104012345678901")  # type: ignore[arg-type]
    assert [e.code for e in result.errors] == ["scan.not_text"]


def test_a_parser_bug_is_reported_as_an_error_not_raised(monkeypatch) -> None:
    def broken(text: str, config: ParseConfig) -> udi.Udi:
        raise IndexError("boom")

    monkeypatch.setitem(interpret._PARSERS, "hibc", broken)
    result = udi.parse("+A99912345/$$52001510X33")
    assert [(e.code, e.format) for e in result.errors] == [("scan.internal_error", "hibc")]
    assert "IndexError" in result.errors[0].message


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=80))
def test_parse_never_raises_on_arbitrary_text(scan: str) -> None:
    result = udi.parse(scan)
    assert result.ok or result.errors
    for issue in result.errors:
        assert 0 <= issue.position <= len(scan)
        assert issue.position + issue.length <= len(scan)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["]d2", "]C1", "]Q3", "]Q1", "]d1", "", "]E0"]),
    st.text(alphabet="0123456789()+$/=.-ABCMAFQ<GS>~\x1d", max_size=60),
)
def test_parse_never_raises_on_barcode_like_text(prefix: str, body: str) -> None:
    result = udi.parse(prefix + body)
    assert result.ok or result.errors
