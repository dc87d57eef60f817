"""Hypothesis fuzzing of ``udi.parse``: random text and label-shaped text, bounded for CI.

The budget is ``UDI_FUZZ_EXAMPLES`` examples per strategy (default 400, about 2,800 inputs in
all), derandomised; the on-demand run of at least 100,000 inputs is the atheris harness
``fuzz/udi_parse_atheris.py`` (docs/security.md, "Fuzzing").
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.invariants import check
from tests.unit.udi.test_gs1_properties import gtins, labels

BUDGET = settings(
    max_examples=int(os.environ.get("UDI_FUZZ_EXAMPLES", "400")),
    deadline=None,
    # CI runs the same inputs every time, so a red run is reproducible and never flaky;
    # exploring new inputs is the atheris run's job (UDI_FUZZ_RANDOM=1 explores here too).
    derandomize=os.environ.get("UDI_FUZZ_RANDOM") != "1",
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
GS = "\x1d"

# Pieces real scans are made of, so random sequences reach deep into every parser.
TOKENS = [
    "]d2", "]C1", "]Q3", "]e0", "]d1", "]E0", "(", ")", "\\(", GS, "\x1e", "\x04", "\r\n",
    "(01)", "01", "(17)", "17", "(11)", "10", "(10)", "21", "(21)", "00", "30", "240", "7003",
    "+", "$", "$$", "$$3", "$$52", "/", "/S", "/16D", "+$", "+$$",
    "MA.156.M0.", ".S", ".L", ".E", ".M", ".D", "MF", "|BN", "|SN", "|ED",
    "=<", "=>", "=,", "=/", "=}", "&>", "[)>", "\x1e06", "\x1e05",
    "https://id.gs1.org/01/", "/10/", "/21/", "?17=", "&11=", "%2F", "%",
    "0", "1", "9", "A", "Z", "a", "-", ".", " ", "０", "é", "\x00", "\ud7ff", "💉",
]  # fmt: skip

label_text = st.lists(
    st.one_of(st.sampled_from(TOKENS), gtins(), st.text(max_size=6)), max_size=16
).map("".join)


@BUDGET
@given(st.text(max_size=200))
def test_any_text(scan: str) -> None:
    check(scan)


@BUDGET
@given(st.binary(max_size=200).map(lambda raw: raw.decode("latin-1")))
def test_any_bytes_as_latin1(scan: str) -> None:
    check(scan)


@BUDGET
@given(label_text)
def test_label_shaped_text(scan: str) -> None:
    check(scan)


@BUDGET
@given(labels(), st.sampled_from(["]d2", "]C1", "]Q3", ""]), st.integers(0, 60), st.text())
def test_valid_labels_with_one_mutation(label, prefix: str, at: int, noise: str) -> None:
    text = prefix + label.element_string()
    at = min(at, len(text))
    check(text)  # the label itself
    check(text[:at] + noise + text[at:])  # and a corruption of it


@BUDGET
@given(labels())
def test_valid_labels_round_trip_ok(label) -> None:
    assert check("]d2" + label.element_string()).ok
    assert check(label.hri()).ok


def test_found_by_atheris_hibc_error_position_inside_the_scan() -> None:
    # Was: hibc.serial reported at position 21 of a 19-character scan (a short date moved the
    # reading position past the end).
    check("+AB9992345/$$+30015")


def test_found_by_hypothesis_gs1_hri_with_ma_text_round_trips() -> None:
    # Was: the canonical HRI of ]d2 01…240IAC="MA" was read as an MA XML code (ma.structure).
    check(']d20100000000000000240IAC="MA"')
