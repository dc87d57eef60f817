"""Label rendering: round trips render → decode → ``udi.parse``, and refused input."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from datetime import date

import pytest
from PIL import Image

import udi
from scanning.decoding import decode_image
from scanning.labels import (
    ImageFormat,
    LabelData,
    LabelError,
    Symbology,
    default_symbology,
    gs1_encoding,
    render_label,
)

FULL_GS1 = LabelData(
    "06901234567892",
    lot="LOT(1)/23",
    serial="SN0001",
    expiry=date(2027, 12, 31),
    production_date=date(2025, 1, 2),
)
FULL_HIBC = LabelData(
    "A99912345",
    lot="LOT-1.2",
    serial="SN77",
    expiry=date(2027, 12, 31),
    production_date=date(2025, 1, 2),
)


def _round_trip(label: LabelData, symbology: Symbology) -> udi.Udi:
    rendered = render_label(label, symbology)
    (symbol,) = decode_image(rendered.content)
    assert symbol.scan == rendered.scan
    result = udi.parse(symbol.scan)
    assert result.ok, result.errors
    assert result.udi is not None
    return result.udi


@pytest.mark.parametrize(
    ("label", "symbology"),
    [
        (FULL_GS1, Symbology.DATAMATRIX),
        (FULL_GS1, Symbology.GS1_128),
        (FULL_GS1, Symbology.GS1_QR),
        (FULL_HIBC, Symbology.HIBC_128),
        (FULL_HIBC, Symbology.HIBC_DATAMATRIX),
        (LabelData("6901234567892", serial="S1"), Symbology.DATAMATRIX),
        (LabelData("A99912345", serial="S1", expiry=date(2030, 1, 31)), Symbology.HIBC_128),
        (LabelData("A99912345", production_date=date(2024, 2, 29)), Symbology.HIBC_128),
        (LabelData("A99912345"), Symbology.HIBC_DATAMATRIX),
    ],
)
def test_round_trip_gives_back_the_same_fields(label: LabelData, symbology: Symbology) -> None:
    parsed = _round_trip(label, symbology)
    expected_di = label.di.zfill(14) if label.di.isdigit() else label.di
    assert parsed.di == expected_di
    assert (parsed.lot, parsed.serial) == (label.lot, label.serial)
    assert (parsed.expiry_date.value if parsed.expiry_date else None) == label.expiry
    assert (parsed.production_date.value if parsed.production_date else None) == (
        label.production_date
    )


def test_gs1_fields_are_ordered_fixed_length_first_with_one_separator() -> None:
    encoding = gs1_encoding(FULL_GS1)
    assert encoding.data == "0106901234567892112501021727123110LOT(1)/23\x1d21SN0001"
    assert encoding.fnc1 == "0106901234567892112501021727123110LOT(1)/23\xf121SN0001"
    assert encoding.hri == "(01)06901234567892(11)250102(17)271231(10)LOT(1)/23(21)SN0001"


def test_gs1_128_prints_the_hri_and_reads_back_as_gs1() -> None:
    label = render_label(FULL_GS1, Symbology.GS1_128)
    assert label.hri.startswith("(01)06901234567892(11)")
    assert label.scan.startswith("]C1")
    assert Image.open(io.BytesIO(label.content)).format == "PNG"


@pytest.mark.parametrize("symbology", list(Symbology))
def test_svg_is_well_formed(symbology: Symbology) -> None:
    label = FULL_HIBC if symbology.value.startswith("hibc") else FULL_GS1
    rendered = render_label(label, symbology, ImageFormat.SVG)
    assert rendered.media_type == "image/svg+xml"
    assert ET.fromstring(rendered.content).tag.endswith("svg")


def test_default_symbology_follows_the_di() -> None:
    assert default_symbology("06901234567892") is Symbology.DATAMATRIX
    assert default_symbology("A99912345") is Symbology.HIBC_DATAMATRIX


@pytest.mark.parametrize(
    ("label", "symbology", "code", "field", "message"),
    [
        (
            LabelData("06901234567893"),
            Symbology.DATAMATRIX,
            "label.gtin_check_digit",
            "di",
            "Expected check digit 2 for GTIN 06901234567893, got 3.",
        ),
        (
            LabelData("0690123456"),
            Symbology.GS1_128,
            "label.gtin",
            "di",
            "Expected a GTIN of 8, 12, 13 or 14 digits, got '0690123456'.",
        ),
        (
            LabelData("06901234567892", lot="LOT 1"),
            Symbology.DATAMATRIX,
            "label.lot",
            "lot",
            "Expected a lot of 1 to 20 GS1 CSET 82 characters",
        ),
        (
            LabelData("06901234567892", serial="S" * 21),
            Symbology.DATAMATRIX,
            "label.serial",
            "serial",
            "Expected a serial of 1 to 20",
        ),
        (
            LabelData("06901234567892", expiry=date(2099, 1, 1)),
            Symbology.DATAMATRIX,
            "label.expiry",
            "expiry",
            "Expected the label to read back expiry 2099-01-01, got 1999-01-01.",
        ),
        (
            LabelData("a99912345"),
            Symbology.HIBC_128,
            "label.hibc_di",
            "di",
            "Expected an HIBC DI",
        ),
        (
            LabelData("A99912345", lot="lot$1"),
            Symbology.HIBC_DATAMATRIX,
            "label.lot",
            "lot",
            "Expected an HIBC lot of 1 to 18 upper-case letters",
        ),
    ],
)
def test_invalid_input_is_refused_with_the_field(
    label: LabelData, symbology: Symbology, code: str, field: str, message: str
) -> None:
    with pytest.raises(LabelError) as caught:
        render_label(label, symbology)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert caught.value.message.startswith(message)


def test_scale_out_of_range_is_refused() -> None:
    with pytest.raises(LabelError, match=r"^Expected a scale from 1 to 20, got 0\."):
        render_label(FULL_GS1, scale=0)
