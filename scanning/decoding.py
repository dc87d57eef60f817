"""Read UDI barcodes from an uploaded image: the only module that touches the decoders.

``decode_image(data, max_bytes=..., max_pixels=...)`` returns every symbol found, each as a
scanner would transmit it: the data with ``\\x1d`` (GS) for FNC1 separators and no leading
FNC1, plus the AIM symbology identifier (``]d2`` GS1 DataMatrix, ``]C1`` GS1-128, ``]Q3`` GS1
QR, ``]e0`` DataBar, ``]d1``/``]C0``/``]Q1`` plain symbols…). ``symbol.scan`` (identifier +
data) is what :func:`udi.parse` expects.

Decoders (measured in /work/shared/reference/barcode-libraries.md):

- zxing-cpp reads every UDI symbology and reports the symbology identifier and GS separators.
  When its first pass finds nothing, the image is retried 2x upscaled, then rotated ±15/30/45°:
  that lifts long GS1-128 from 72/180 to 155/180 on photo-like images, and costs nothing when
  the first pass succeeds.
- pyzbar (libzbar0) reads 1D symbols only (no DataMatrix) and gives no symbology identifier; it
  runs on an attempt only when zxing-cpp found nothing there (it is better on tiny modules).

Images are loaded by Pillow, PNG and JPEG only, with the byte size checked before reading and
the pixel count checked from the header before any pixel is decoded (decompression bombs).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import zxingcpp
from PIL import Image, ImageFile, ImageOps, JpegImagePlugin, PngImagePlugin

import udi

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 24_000_000
"""A 24-megapixel phone photo; anything larger is refused before its pixels are decoded."""

MAX_UPSCALED_PIXELS = 16_000_000
"""The 2x upscale retry is skipped when it would exceed this: it rescues small modules in
small images, and a large photo already has large enough modules."""

RETRY_ANGLES = (15, -15, 30, -30, 45, -45)

ZXING = "zxing-cpp"
PYZBAR = "pyzbar"

# The UDI symbologies: DataBar and EANUPC are zxing-cpp families (DataBar includes Expanded).
_ZXING_FORMATS = (
    zxingcpp.BarcodeFormat.DataMatrix,
    zxingcpp.BarcodeFormat.Code128,
    zxingcpp.BarcodeFormat.QRCode,
    zxingcpp.BarcodeFormat.DataBar,
    zxingcpp.BarcodeFormat.EANUPC,
    zxingcpp.BarcodeFormat.Code39,
)

# zxing-cpp format names are ours too; pyzbar's types are mapped onto them.
_PYZBAR_FORMATS = {
    "CODE128": "Code128",
    "CODE39": "Code39",
    "EAN13": "EAN13",
    "EAN8": "EAN8",
    "UPCA": "UPCA",
    "UPCE": "UPCE",
    "DATABAR": "DataBar",
    "DATABAR_EXP": "DataBarExp",
}


class DecodingError(Exception):
    """An image that cannot be decoded; ``code`` is the stable problem code."""

    code = "scan.image_invalid"


class UnsupportedImage(DecodingError):
    """Not a PNG or JPEG image, or a damaged one."""

    code = "scan.unsupported_image"


class ImageTooLarge(DecodingError):
    """More bytes than allowed."""

    code = "scan.image_too_large"


class TooManyPixels(DecodingError):
    """More pixels than allowed (checked from the header, before decoding)."""

    code = "scan.image_too_many_pixels"


@dataclass(frozen=True)
class Point:
    x: int
    y: int


@dataclass(frozen=True)
class Position:
    """Where a symbol is, in pixels of the uploaded image (after its EXIF orientation)."""

    polygon: tuple[Point, ...]
    """Corners in the decoder's order (zxing-cpp: top-left, top-right, bottom-right,
    bottom-left of the symbol as read)."""

    @property
    def bounding_box(self) -> tuple[int, int, int, int]:
        """``(left, top, width, height)``."""
        xs = [point.x for point in self.polygon]
        ys = [point.y for point in self.polygon]
        return min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)

    def contains(self, point: Point) -> bool:
        left, top, width, height = self.bounding_box
        return left <= point.x <= left + width and top <= point.y <= top + height

    @property
    def centre(self) -> Point:
        left, top, width, height = self.bounding_box
        return Point(left + width // 2, top + height // 2)

    def to_json(self) -> dict[str, Any]:
        left, top, width, height = self.bounding_box
        return {
            "polygon": [[point.x, point.y] for point in self.polygon],
            "bounding_box": {"left": left, "top": top, "width": width, "height": height},
        }


@dataclass(frozen=True)
class DecodedSymbol:
    """One symbol found in an image."""

    text: str
    """The data as a scanner transmits it: GS (``\\x1d``) between GS1 fields, no leading FNC1."""

    symbology: str | None
    """AIM symbology identifier, e.g. ``]d2``; None when it could not be derived."""

    format: str
    """Symbology name: DataMatrix, Code128, QRCode, DataBar, DataBarExp, EAN13, Code39…"""

    position: Position
    decoder: str
    """``zxing-cpp`` or ``pyzbar``."""

    attempt: str = "original"
    """The image variant it was found in: ``original``, ``upscale-2x`` or ``rotate-15``…"""

    @property
    def scan(self) -> str:
        """Identifier + data: what :func:`udi.parse` takes, as from a handheld scanner."""
        return (self.symbology or "") + self.text

    def to_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "symbology": self.symbology,
            "format": self.format,
            "position": self.position.to_json(),
            "decoder": self.decoder,
            "attempt": self.attempt,
        }


def decode_image(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> list[DecodedSymbol]:
    """Every UDI symbol in a PNG or JPEG image, in the order the decoder reported them.

    An empty list means the image was read but holds no readable symbol.

    Raises:
        ImageTooLarge: ``data`` is longer than ``max_bytes``.
        UnsupportedImage: ``data`` is not a complete PNG or JPEG image.
        TooManyPixels: the image has more than ``max_pixels`` pixels.
    """
    image = load_image(data, max_bytes=max_bytes, max_pixels=max_pixels)
    for attempt in _attempts(image):
        found = _zxing(attempt) or _pyzbar(attempt)
        if found:
            return _without_duplicates(found)
    return []


# --- loading ------------------------------------------------------------------------------

# Chosen by signature rather than through Image.open: Image.open warns (and past 2x raises)
# on Pillow's own global pixel limit, which we replace with the caller's, and it would accept
# a dozen other formats we do not want to expose.
_OPENERS: tuple[tuple[bytes, str, Callable[[io.BytesIO], ImageFile.ImageFile]], ...] = (
    (b"\x89PNG\r\n\x1a\n", "PNG", PngImagePlugin.PngImageFile),
    (b"\xff\xd8\xff", "JPEG", JpegImagePlugin.JpegImageFile),
)


def load_image(data: bytes, *, max_bytes: int, max_pixels: int) -> Image.Image:
    """Check limits, decode and return an 8-bit greyscale image the right way up."""
    if len(data) > max_bytes:
        raise ImageTooLarge(f"Expected an image of at most {max_bytes} bytes, got {len(data)}.")
    opener, kind = _opener_for(data)
    try:
        image = opener(io.BytesIO(data))
    except (OSError, SyntaxError, ValueError) as error:
        raise UnsupportedImage(
            f"Expected a readable {kind} image, got a damaged one ({error})."
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise TooManyPixels(
            f"Expected an image of at most {max_pixels} pixels, got {width}x{height}"
            f" = {width * height}."
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as error:
        raise UnsupportedImage(
            f"Expected a complete {kind} image, got a truncated or damaged one ({error})."
        ) from None
    return _greyscale(ImageOps.exif_transpose(image))


def _opener_for(data: bytes) -> tuple[Callable[[io.BytesIO], ImageFile.ImageFile], str]:
    for signature, kind, opener in _OPENERS:
        if data.startswith(signature):
            return opener, kind
    start = data[:8].hex(" ") if data else "no bytes"
    raise UnsupportedImage(f"Expected a PNG or JPEG image, got data starting with {start}.")


def _greyscale(image: Image.Image) -> Image.Image:
    """Decoders read luminance; transparent areas must become white paper, not black."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, "white")
        image = Image.alpha_composite(paper, rgba)
    return image if image.mode == "L" else image.convert("L")


# --- attempts: the image as given, then the measured retries ------------------------------


@dataclass(frozen=True)
class _Attempt:
    name: str
    image: Image.Image
    to_original: Callable[[float, float], Point]
    """Maps a pixel of this variant back to the uploaded image."""


def _attempts(image: Image.Image) -> Iterator[_Attempt]:
    """Yield variants lazily: the retries cost nothing unless the first pass fails."""
    yield _Attempt("original", image, lambda x, y: Point(round(x), round(y)))
    width, height = image.size
    if width * height * 4 <= MAX_UPSCALED_PIXELS:
        upscaled = image.resize((width * 2, height * 2), Image.Resampling.BICUBIC)
        yield _Attempt("upscale-2x", upscaled, lambda x, y: Point(round(x / 2), round(y / 2)))
    for angle in RETRY_ANGLES:
        rotated = image.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        yield _Attempt(f"rotate{angle:+d}", rotated, _unrotate(image.size, rotated.size, angle))


def _unrotate(
    size: tuple[int, int], rotated_size: tuple[int, int], angle: int
) -> Callable[[float, float], Point]:
    """The inverse of ``Image.rotate(angle, expand=True)``: counter-clockwise about the centre."""
    cx, cy = size[0] / 2, size[1] / 2
    rx, ry = rotated_size[0] / 2, rotated_size[1] / 2
    theta = math.radians(angle)
    cos, sin = math.cos(theta), math.sin(theta)

    def to_original(x: float, y: float) -> Point:
        dx, dy = x - rx, y - ry
        # Image y grows downwards, so a counter-clockwise turn on screen is undone by
        # rotating the offset with +theta in these coordinates.
        return Point(round(cx + dx * cos - dy * sin), round(cy + dx * sin + dy * cos))

    return to_original


# --- decoders -----------------------------------------------------------------------------


def _zxing(attempt: _Attempt) -> list[DecodedSymbol]:
    barcodes = zxingcpp.read_barcodes(
        attempt.image, formats=_ZXING_FORMATS, text_mode=zxingcpp.TextMode.Plain
    )
    return [_from_zxing(barcode, attempt) for barcode in barcodes if barcode.valid]


def _from_zxing(barcode: zxingcpp.Barcode, attempt: _Attempt) -> DecodedSymbol:
    position = barcode.position
    corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return DecodedSymbol(
        # Plain text mode: GS1 data keeps its GS separators (HRI mode would add parentheses)
        # and other data is transcoded by its ECI or guessed charset (UTF-8 QR content).
        text=barcode.text,
        symbology=barcode.symbology_identifier or None,
        format=barcode.format.name,
        position=Position(tuple(attempt.to_original(p.x, p.y) for p in corners)),
        decoder=ZXING,
        attempt=attempt.name,
    )


def _pyzbar(attempt: _Attempt) -> list[DecodedSymbol]:
    # Imported here: libzbar0 is a system library, and without it the service still reads
    # every symbology through zxing-cpp.
    try:
        from pyzbar import pyzbar
    except ImportError:
        return []
    found = pyzbar.decode(attempt.image, symbols=_pyzbar_symbols(pyzbar))
    return [symbol for item in found if (symbol := _from_pyzbar(item, attempt)) is not None]


def _pyzbar_symbols(pyzbar: Any) -> list[Any]:
    return [pyzbar.ZBarSymbol[name] for name in _PYZBAR_FORMATS]


def _from_pyzbar(item: Any, attempt: _Attempt) -> DecodedSymbol | None:
    format_name = _PYZBAR_FORMATS.get(item.type)
    if format_name is None or not item.data:
        return None  # an empty read is a misread (seen on noisy images), never a symbol
    text = item.data.decode("latin-1")
    polygon = tuple(attempt.to_original(point.x, point.y) for point in item.polygon)
    return DecodedSymbol(
        text=text,
        symbology=_pyzbar_symbology(format_name, text),
        format=format_name,
        position=Position(polygon),
        decoder=PYZBAR,
        attempt=attempt.name,
    )


def _pyzbar_symbology(format_name: str, text: str) -> str | None:
    """zbar reports no AIM identifier; derive it from the symbology and the content.

    zbar strips the leading FNC1 of GS1-128 and keeps inner ones as GS, so the bytes are the
    same as zxing-cpp's. Whether the symbol started with FNC1 is not exposed by pyzbar: a
    Code 128 whose content reads as valid GS1 element strings is taken as GS1-128.
    """
    if format_name == "Code128":
        return "]C1" if udi.parse("]C1" + text).ok else "]C0"
    if format_name in ("DataBar", "DataBarExp"):
        return "]e0"
    if format_name in ("EAN13", "UPCA"):
        return "]E0"
    if format_name == "EAN8":
        return "]E4"
    if format_name == "Code39":
        return "]A0"  # zbar neither checks nor strips a Code 39 check character
    return None


def _without_duplicates(symbols: list[DecodedSymbol]) -> list[DecodedSymbol]:
    """Drop a symbol when one with the same data already covers the same place.

    Two decoders, or two passes, can read the same symbol; two identical labels side by side
    are two symbols and both stay.
    """
    kept: list[DecodedSymbol] = []
    for symbol in symbols:
        if not any(_same_symbol(symbol, other) for other in kept):
            kept.append(symbol)
    return kept


def _same_symbol(a: DecodedSymbol, b: DecodedSymbol) -> bool:
    return a.text == b.text and (
        a.position.contains(b.position.centre) or b.position.contains(a.position.centre)
    )
