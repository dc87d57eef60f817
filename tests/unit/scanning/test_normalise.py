"""``scanning.normalise``: each scanner quirk undone, each refusal with its code and RAW position,
the device configuration parsed or refused, and the promises (identity on clean scans, only
``ScanInputError`` on arbitrary text)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import udi
from scanning.normalise import (
    MAX_SCAN_LENGTH,
    Normalised,
    ScanInputError,
    ScannerConfigError,
    ScannerQuirks,
    ScanningError,
    normalise,
    normalise_unicode_scan,
)
from udi.config import DEFAULT_SEPARATORS

GS1_SCAN = "]d201069012345678921727123110LOT123\x1d21SN0001"
HIBC_SCAN = "+A99912345/$$52001510X33"
GS1_HRI = "(01)06901234567892(17)271231(10)LOT123(21)SN0001"
DEFAULT = ScannerQuirks()


def _fullwidth(text: str) -> str:
    """What a Chinese IME in full-width mode types for printable ASCII."""
    return "".join(
        "\u3000" if char == " " else chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char
        for char in text
    )


def _parse(normalised: Normalised) -> udi.ParseResult:
    config = udi.ParseConfig(separators=DEFAULT_SEPARATORS + normalised.config_separators)
    return udi.parse(normalised.text, config=config)


def _assert_elements_index_text(result: udi.ParseResult, text: str) -> None:
    assert result.udi is not None
    for element in result.udi.elements:
        part = text[element.position : element.position + element.length]
        assert part.startswith(element.key)
        assert part.endswith(element.value)


# --- clean scans -------------------------------------------------------------------------


@pytest.mark.parametrize("scan", [GS1_SCAN, HIBC_SCAN, GS1_HRI])
def test_clean_scan_is_returned_unchanged_with_nothing_to_report(scan: str) -> None:
    normalised = normalise(scan, DEFAULT)
    assert normalised == Normalised(scan, (), (), (), 0)
    assert udi.parse(normalised.text).ok


# --- each quirk --------------------------------------------------------------------------


@pytest.mark.parametrize("substitute", ["|", "@@", "<FNC1>"])
def test_gs_substitute_goes_to_the_parser_and_positions_index_the_normalised_text(
    substitute: str,
) -> None:
    quirks = ScannerQuirks(gs_substitutes=(substitute,))
    raw = GS1_SCAN.replace("\x1d", substitute)
    normalised = normalise(raw, quirks)
    assert normalised.text == raw  # passed through, not replaced
    assert normalised.config_separators == (substitute,)
    unaware = udi.parse(raw)  # the parser needs to be told: it fails or reads a wrong lot
    assert unaware.udi is None or unaware.udi.serial is None
    result = _parse(normalised)
    assert result.ok, result.errors
    assert (result.udi.lot, result.udi.serial) == ("LOT123", "SN0001")
    _assert_elements_index_text(result, normalised.text)
    assert udi.parse(normalised.text, config=normalised.parse_config()).ok


def test_gs_substitute_already_a_default_is_not_repeated() -> None:
    normalised = normalise(
        GS1_SCAN.replace("\x1d", "<GS>"), ScannerQuirks(gs_substitutes=("<GS>",))
    )
    assert normalised.config_separators == ()
    assert _parse(normalised).ok


def test_prefix_and_suffix_are_stripped_and_parser_positions_map_back_to_raw() -> None:
    quirks = ScannerQuirks(prefix="\x02", suffix="\x03", gs_substitutes=("|",))
    raw = "\x02" + GS1_SCAN.replace("\x1d", "|") + "\x03\r\n"
    normalised = normalise(raw, quirks)
    assert normalised.text == GS1_SCAN.replace("\x1d", "|")
    assert normalised.raw_offset == 1
    assert normalised.warnings == ()
    assert "removed prefix '\\x02'" in normalised.steps
    assert "removed suffix '\\x03'" in normalised.steps
    result = _parse(normalised)
    assert result.ok
    lot = next(e for e in result.udi.elements if e.key == "10")
    assert raw[lot.position + normalised.raw_offset :].startswith("10LOT123|")


def test_suffix_ending_in_cr_lf_matches_once_line_endings_are_stripped() -> None:
    normalised = normalise(HIBC_SCAN + "#\r\n", ScannerQuirks(suffix="#\r\n"))
    assert normalised.text == HIBC_SCAN
    assert normalised.warnings == ()


def test_configured_prefix_and_suffix_absent_are_accepted_and_recorded() -> None:
    normalised = normalise(HIBC_SCAN, ScannerQuirks(prefix="#", suffix="$END"))
    assert normalised.text == HIBC_SCAN
    assert "prefix '#' configured but absent" in normalised.steps
    assert "suffix '$END' configured but absent" in normalised.steps
    assert [(w.code, w.position) for w in normalised.warnings] == [
        ("scan.prefix_absent", 0),
        ("scan.suffix_absent", len(HIBC_SCAN)),
    ]
    assert udi.parse(normalised.text).ok


@pytest.mark.parametrize(
    "clean",
    [
        GS1_HRI,
        "]d2" + "01069012345678921727123110LOT123",
        "01069012345678921727123110LOT123\x1d21SN0001",
    ],
)
def test_fullwidth_input_becomes_ascii_and_parses(clean: str) -> None:
    raw = _fullwidth(clean)
    assert raw != clean
    assert not udi.parse(raw).ok
    normalised = normalise(raw, DEFAULT)
    assert normalised.text == clean
    assert normalised.warnings == ()
    assert normalised.steps[0].startswith("mapped ")
    result = udi.parse(normalised.text)
    assert result.ok, result.errors
    assert result.udi.gtin == "06901234567892"


def test_fullwidth_mapping_is_one_for_one_so_positions_still_point_into_raw() -> None:
    raw = _fullwidth("(01)") + "\x01"
    with pytest.raises(ScanInputError) as caught:
        normalise(raw, DEFAULT)
    assert (caught.value.code, caught.value.position) == ("scan.control_character", 4)
    assert raw[caught.value.position] == "\x01"


def test_ideographic_space_becomes_a_space() -> None:
    assert normalise("MA\u3000X", DEFAULT).text == "MA X"


def test_characters_outside_the_fullwidth_range_are_kept_and_reported() -> None:
    raw = "#０１\u00a0①ﬁ中"  # NBSP, circled one, ligature: NFKC would rewrite them; we don't
    normalised = normalise(raw, ScannerQuirks(prefix="#"))
    assert normalised.text == "01\u00a0①ﬁ中"
    [warning] = normalised.warnings
    assert (warning.code, warning.position, warning.length) == ("scan.non_ascii", 3, 4)
    assert warning.message.startswith("Expected ASCII, got ")


def test_fullwidth_mapping_can_be_turned_off() -> None:
    raw = _fullwidth("01")
    normalised = normalise(raw, ScannerQuirks(fullwidth_to_ascii=False))
    assert normalised.text == raw
    assert [w.code for w in normalised.warnings] == ["scan.non_ascii"]


def test_caps_lock_inverted_hibc_is_restored_and_valid() -> None:
    raw = "+a99912345/$$52001510x33"
    assert not udi.parse(raw).ok
    normalised = normalise(raw, ScannerQuirks(caps_lock_inverted=True))
    assert normalised.text == HIBC_SCAN
    assert normalised.steps == ("inverted the case of 2 letter(s) (caps lock)",)
    result = udi.parse(normalised.text)
    assert result.ok, result.errors
    assert result.udi.lot == "10X3"


def test_caps_lock_restores_a_remapped_separator_too() -> None:
    raw = "]D2" + "01069012345678921727123110lot123<gs>21sn0001"
    normalised = normalise(raw, ScannerQuirks(caps_lock_inverted=True))
    assert normalised.text == "]d201069012345678921727123110LOT123<GS>21SN0001"
    assert udi.parse(normalised.text).udi.serial == "SN0001"


@pytest.mark.parametrize("ending", ["\r", "\n", "\r\n", "\r\n\r\n"])
def test_trailing_line_endings_are_stripped(ending: str) -> None:
    normalised = normalise(GS1_SCAN + ending, DEFAULT)
    assert normalised.text == GS1_SCAN
    assert normalised.steps == (f"removed {len(ending)} trailing CR/LF character(s)",)
    assert udi.parse(normalised.text).warnings == ()


def test_line_endings_are_kept_when_stripping_is_off() -> None:
    normalised = normalise(GS1_SCAN + "\r\n", ScannerQuirks(strip_line_endings=False))
    assert normalised.text == GS1_SCAN + "\r\n"


def test_envelope_control_characters_and_tab_are_accepted() -> None:
    raw = "[)>\x1e06\x1d1PABC\tX\x1e\x04"
    assert normalise(raw, DEFAULT).text == raw


@pytest.mark.parametrize(
    ("raw", "sends", "codes"),
    [
        (GS1_SCAN, None, []),
        (HIBC_SCAN, None, []),
        (GS1_SCAN, True, []),
        (HIBC_SCAN, False, []),
        (GS1_SCAN, False, ["scan.unexpected_symbology"]),
    ],
)
def test_symbology_identifier_expectation(raw: str, sends: bool | None, codes: list[str]) -> None:
    normalised = normalise(raw, ScannerQuirks(sends_symbology_id=sends))
    assert normalised.text == raw
    assert [w.code for w in normalised.warnings] == codes
    for warning in normalised.warnings:
        assert (warning.position, warning.length) == (0, 3)
        assert "GS1 DataMatrix" in warning.message


# --- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "quirks", "code", "position", "length"),
    [
        ("", DEFAULT, "scan.empty", 0, 0),
        ("\r\n", DEFAULT, "scan.empty", 0, 2),
        ("#\r", ScannerQuirks(prefix="#"), "scan.empty", 0, 2),
        ("0106\x0790", DEFAULT, "scan.control_character", 4, 1),
        ("0106\x7f90", DEFAULT, "scan.control_character", 4, 1),
        ("0106\x8590", DEFAULT, "scan.control_character", 4, 1),
        (
            "\x02#01\x0012\x03",
            ScannerQuirks(prefix="\x02#", suffix="\x03"),
            "scan.control_character",
            4,
            1,
        ),
        ("0106\ud83d90", DEFAULT, "scan.undecodable", 4, 1),
        ("#0106\ufffd", ScannerQuirks(prefix="#"), "scan.undecodable", 5, 1),
        ("9" * (MAX_SCAN_LENGTH + 3), DEFAULT, "scan.too_long", MAX_SCAN_LENGTH, 3),
        (HIBC_SCAN, ScannerQuirks(sends_symbology_id=True), "scan.symbology_missing", 0, 0),
        (
            "##" + HIBC_SCAN,
            ScannerQuirks(prefix="##", sends_symbology_id=True),
            "scan.symbology_missing",
            2,
            0,
        ),
    ],
)
def test_refusals_carry_code_and_raw_position(
    raw: str, quirks: ScannerQuirks, code: str, position: int, length: int
) -> None:
    with pytest.raises(ScanInputError) as caught:
        normalise(raw, quirks)
    error = caught.value
    assert (error.code, error.position, error.length) == (code, position, length)
    assert isinstance(error, ScanningError)
    assert error.message.startswith("Expected ")
    assert ", got " in error.message
    assert error.issue == udi.Issue(code, error.message, position, length)


def test_scan_exactly_at_the_length_limit_is_accepted() -> None:
    assert len(normalise("9" * MAX_SCAN_LENGTH, DEFAULT).text) == MAX_SCAN_LENGTH


def test_non_text_is_refused() -> None:
    with pytest.raises(ScanInputError, match="Expected text, got bytes"):
        normalise(b"0106", DEFAULT)  # type: ignore[arg-type]


# --- configuration -----------------------------------------------------------------------


def test_from_mapping_round_trips_and_defaults_missing_keys() -> None:
    mapping: dict[str, Any] = {
        "gs_substitutes": ["|", "@@"],
        "prefix": "\x02",
        "suffix": "#\r",
        "sends_symbology_id": True,
        "strip_line_endings": False,
        "fullwidth_to_ascii": False,
        "caps_lock_inverted": True,
    }
    quirks = ScannerQuirks.from_mapping(mapping)
    assert quirks.gs_substitutes == ("|", "@@")
    assert quirks.to_mapping() == mapping
    assert ScannerQuirks.from_mapping({}) == DEFAULT
    assert ScannerQuirks.from_mapping(DEFAULT.to_mapping()) == DEFAULT


def test_fullwidth_affix_is_fine_when_mapping_is_off() -> None:
    quirks = ScannerQuirks.from_mapping({"prefix": "＃", "fullwidth_to_ascii": False})
    assert normalise("＃" + HIBC_SCAN, quirks).text == HIBC_SCAN


@pytest.mark.parametrize(
    ("mapping", "field"),
    [
        ({"gs_substitutes": [""]}, "gs_substitutes[0]"),
        ({"gs_substitutes": ["|", "GS"]}, "gs_substitutes[1]"),
        ({"gs_substitutes": ["00"]}, "gs_substitutes[0]"),
        ({"gs_substitutes": "|"}, "gs_substitutes"),
        ({"gs_substitutes": [1]}, "gs_substitutes[0]"),
        ({"gs_substitutes": ["\r"]}, "gs_substitutes[0]"),
        ({"gs_substitutes": ["\x07"]}, "gs_substitutes[0]"),
        ({"gs_substitutes": ["｜"]}, "gs_substitutes[0]"),
        ({"gs_substitutes": ["|"] * 9}, "gs_substitutes"),
        ({"prefix": 5}, "prefix"),
        ({"prefix": "\ufffd"}, "prefix"),
        ({"suffix": "x" * 17}, "suffix"),
        ({"suffix": "＃"}, "suffix"),
        ({"sends_symbology_id": "yes"}, "sends_symbology_id"),
        ({"sends_symbology_id": 1}, "sends_symbology_id"),
        ({"strip_line_endings": None}, "strip_line_endings"),
        ({"caps_lock_inverted": 0}, "caps_lock_inverted"),
        ({"fullwidth_to_ascii": "true"}, "fullwidth_to_ascii"),
        ({"sufix": "#"}, "sufix"),
    ],
)
def test_from_mapping_refuses_bad_config_naming_the_field(
    mapping: dict[str, Any], field: str
) -> None:
    with pytest.raises(ScannerConfigError) as caught:
        ScannerQuirks.from_mapping(mapping)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: Expected ")
    assert isinstance(caught.value, ScanningError)
    assert isinstance(caught.value, ValueError)


def test_from_mapping_refuses_a_non_mapping() -> None:
    with pytest.raises(ScannerConfigError, match="quirks: Expected an object, got list"):
        ScannerQuirks.from_mapping([])  # type: ignore[arg-type]


# --- normalise_unicode_scan --------------------------------------------------------------


def test_normalise_unicode_scan_maps_fullwidth_and_strips_line_endings_only() -> None:
    assert normalise_unicode_scan(_fullwidth(GS1_HRI) + "\r\n") == GS1_HRI
    kept = "Ab\u00a0①ﬁ中\x07\r\nX"
    assert normalise_unicode_scan(kept + "\n") == kept


# --- properties --------------------------------------------------------------------------

_CLEAN_ASCII = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E) | st.just("\x1d"),
    min_size=1,
    max_size=200,
)


@settings(max_examples=300, deadline=None)
@given(_CLEAN_ASCII)
def test_clean_ascii_scans_are_the_identity_with_default_quirks(scan: str) -> None:
    assert normalise(scan, DEFAULT) == Normalised(scan, (), (), (), 0)


_QUIRKS = st.builds(
    ScannerQuirks,
    gs_substitutes=st.sampled_from([(), ("|",), ("@@", "<GS>")]),
    prefix=st.sampled_from(["", "#", "\x02", "]"]),
    suffix=st.sampled_from(["", "\x03", "#\r\n", "\r"]),
    sends_symbology_id=st.sampled_from([None, True, False]),
    strip_line_endings=st.booleans(),
    fullwidth_to_ascii=st.booleans(),
    caps_lock_inverted=st.booleans(),
)


@settings(max_examples=500, deadline=None)
@given(
    st.text(alphabet=st.characters(exclude_categories=()), max_size=80)
    | st.text(alphabet="\x02\x03#]d2０１（）|@\x1d\r\n\x07\ufffd\ud800aA9", max_size=40),
    _QUIRKS,
)
def test_normalise_raises_nothing_but_scan_input_error(raw: str, quirks: ScannerQuirks) -> None:
    try:
        normalised = normalise(raw, quirks)
    except ScanInputError as error:
        refused = error
    else:
        refused = None
    if refused is not None:
        assert 0 <= refused.position <= len(raw)
        assert refused.position + refused.length <= len(raw)
        return
    assert normalised.text
    assert len(normalised.text) <= len(raw)
    for warning in normalised.warnings:
        assert 0 <= warning.position <= len(raw)
    # Only the prefix moves positions: the normalised text sits at raw_offset, 1:1.
    assert normalised.raw_offset + len(normalised.text) <= len(raw)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=()), max_size=80))
def test_default_normalisation_is_idempotent(raw: str) -> None:
    try:
        once = normalise(raw, DEFAULT)
    except ScanInputError:
        return
    assert normalise(once.text, DEFAULT).text == once.text
    assert normalise_unicode_scan(once.text) == once.text
