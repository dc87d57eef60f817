"""``decode_image`` with real decoders: exact transmitted data, identifiers, limits, retries."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from PIL import Image

import udi
from scanning.decoding import (
    ImageTooLarge,
    TooManyPixels,
    UnsupportedImage,
    decode_image,
)
from scanning.labels import Symbology, render_label
from tests.scanning_images import GS1_LABEL, HIBC_LABEL, gs1_datamatrix_photo, label_image, photo

GS1_DATA = "01069012345678921727123110LOT123\x1d21SN0001"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("symbology", "identifier", "format_name"),
    [
        (Symbology.DATAMATRIX, "]d2", "DataMatrix"),
        (Symbology.GS1_128, "]C1", "Code128"),
        (Symbology.GS1_QR, "]Q3", "QRCode"),
    ],
)
def test_gs1_symbols_decode_with_gs_separators_and_no_leading_fnc1(
    symbology: Symbology, identifier: str, format_name: str
) -> None:
    (symbol,) = decode_image(render_label(GS1_LABEL, symbology).content)
    assert (symbol.symbology, symbol.text, symbol.format) == (identifier, GS1_DATA, format_name)
    assert symbol.decoder == "zxing-cpp"
    assert symbol.attempt == "original"


def test_hibc_symbols_decode_as_plain_symbols() -> None:
    data = "+A99912345/$$3271231LOT123/SSN77D"
    (code128,) = decode_image(render_label(HIBC_LABEL, Symbology.HIBC_128).content)
    (datamatrix,) = decode_image(render_label(HIBC_LABEL, Symbology.HIBC_DATAMATRIX).content)
    assert (code128.scan, datamatrix.scan) == ("]C0" + data, "]d1" + data)


def test_position_is_the_symbol_in_pixels_of_the_upload() -> None:
    symbol = label_image(render_label(GS1_LABEL, Symbology.DATAMATRIX, scale=5))
    canvas = Image.new("L", (600, 400), 255)
    canvas.paste(symbol, (300, 100))
    (found,) = decode_image(_png(canvas))
    left, top, width, height = found.position.bounding_box
    # The quiet zone (5 px per module) is part of the pasted image, not of the symbol.
    assert abs(left - (300 + 5)) <= 3
    assert abs(top - (100 + 5)) <= 3
    assert abs(width - (symbol.width - 10)) <= 6
    assert abs(height - (symbol.height - 10)) <= 6


def test_a_label_photo_decodes_and_parses_back() -> None:
    (symbol,) = decode_image(gs1_datamatrix_photo())
    result = udi.parse(symbol.scan)
    assert result.ok
    assert result.udi is not None
    assert (result.udi.gtin, result.udi.lot, result.udi.serial) == (
        "06901234567892",
        "LOT123",
        "SN0001",
    )
    assert result.udi.expiry_date is not None
    assert result.udi.expiry_date.value.isoformat() == "2027-12-31"


def test_a_turned_gs1_128_is_rescued_by_the_rotation_retry() -> None:
    image = photo(render_label(GS1_LABEL, Symbology.GS1_128, scale=2), angle=12)
    # The bare decoder misses it: that is why the retry exists.
    assert zxingcpp.read_barcodes(Image.open(io.BytesIO(image))) == []
    (symbol,) = decode_image(image)
    assert symbol.scan == "]C1" + GS1_DATA
    assert symbol.attempt.startswith("rotate")
    # Position is mapped back to the upload: the bars sit around the middle of the photo.
    assert symbol.position.contains(symbol.position.centre)
    assert 400 < symbol.position.centre.x < 800
    assert 300 < symbol.position.centre.y < 600


def test_pyzbar_reads_1d_symbols_with_a_derived_identifier() -> None:
    from scanning import decoding

    attempt = decoding._Attempt(
        "original",
        label_image(render_label(GS1_LABEL, Symbology.GS1_128)),
        lambda x, y: decoding.Point(round(x), round(y)),
    )
    (symbol,) = decoding._pyzbar(attempt)
    assert (symbol.decoder, symbol.scan) == ("pyzbar", "]C1" + GS1_DATA)


def test_the_same_symbol_found_twice_is_reported_once() -> None:
    from scanning import decoding

    zxing_read, pyzbar_read = (
        decoding.DecodedSymbol(
            GS1_DATA,
            "]C1",
            "Code128",
            decoding.Position(tuple(decoding.Point(x + dx, y) for x, y in corners)),
            decoder,
        )
        for decoder, dx, corners in (
            ("zxing-cpp", 0, ((10, 10), (300, 10), (300, 60), (10, 60))),
            ("pyzbar", 2, ((10, 12), (300, 12), (300, 58), (10, 58))),
        )
    )
    elsewhere = decoding.DecodedSymbol(
        GS1_DATA,
        "]C1",
        "Code128",
        decoding.Position(tuple(decoding.Point(x, y + 500) for x, y in ((10, 10), (300, 60)))),
        "zxing-cpp",
    )
    kept = decoding._without_duplicates([zxing_read, pyzbar_read, elsewhere])
    assert kept == [zxing_read, elsewhere]


def test_an_image_without_a_symbol_gives_an_empty_list() -> None:
    assert decode_image(_png(Image.new("L", (200, 150), 255))) == []


def test_transparent_background_is_read_as_white() -> None:
    symbol = label_image(render_label(GS1_LABEL, Symbology.DATAMATRIX))
    rgba = Image.new("RGBA", symbol.size, (0, 0, 0, 0))
    rgba.paste(
        Image.new("RGBA", symbol.size, (0, 0, 0, 255)), mask=Image.eval(symbol, lambda v: 255 - v)
    )
    (found,) = decode_image(_png(rgba))
    assert found.text == GS1_DATA


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a....", "Expected a PNG or JPEG image, got data starting with 47 49 46"),
        (b"", "Expected a PNG or JPEG image, got data starting with no bytes."),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "Expected a readable PNG image, got a damaged"),
    ],
)
def test_non_images_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(UnsupportedImage, match="^" + message.replace("(", r"\(")):
        decode_image(data)


def test_a_truncated_image_is_refused() -> None:
    data = render_label(GS1_LABEL, Symbology.DATAMATRIX).content
    with pytest.raises(UnsupportedImage, match=r"^Expected a complete PNG image"):
        decode_image(data[: len(data) // 2])


def test_too_many_bytes_are_refused_before_reading() -> None:
    with pytest.raises(ImageTooLarge, match=r"^Expected an image of at most 100 bytes, got "):
        decode_image(render_label(GS1_LABEL).content, max_bytes=100)


def test_too_many_pixels_are_refused_from_the_header() -> None:
    # 6000x5000 white PNG: a few kB that would take 30 MB once decoded.
    bomb = _png(Image.new("1", (6_000, 5_000), 1))
    assert len(bomb) < 20_000
    with pytest.raises(TooManyPixels, match=r"^Expected an image of at most 24000000 pixels, got "):
        decode_image(bomb)
