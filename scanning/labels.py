"""Render UDI labels as PNG or SVG: GS1 DataMatrix, GS1-128, GS1 QR, HIBC 128, HIBC DataMatrix.

The data comes from a device identifier and optional lot, serial, expiry and production date.
Each field is checked here with a message naming it; the assembled data is then read back by
:func:`udi.parse` and must give the same values, so a label this module renders is one the
parser (and a scanner) accepts.

- GS1 (DI of 8, 12, 13 or 14 digits, a GTIN): AIs in the order (01) (11) (17) (10) (21), fixed
  lengths first so that a single GS separator (between lot and serial) is needed.
  DataMatrix and QR are drawn by zxing-cpp in GS1 mode; GS1-128 by python-barcode, whose
  ``gs1_128`` class adds only the leading FNC1: we insert FNC1 (``\\xf1``) after each
  variable-length AI that is followed by another, and print the HRI ``(01)…`` under the bars.
- HIBC (DI = labeler code, product number and unit of measure, e.g. ``A99912345``): the
  concatenated primary/secondary form ``+DI/…`` with its mod-43 check character, drawn as
  Code 128 (python-barcode, HRI between asterisks) or as a plain DataMatrix (zxing-cpp).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

import zxingcpp
from barcode import get_barcode_class
from barcode.writer import BaseWriter, ImageWriter, SVGWriter, mm2px
from PIL import Image

import udi
from udi.checksums import gs1_mod10, hibc_mod43


class Symbology(StrEnum):
    DATAMATRIX = "datamatrix"
    GS1_128 = "gs1-128"
    GS1_QR = "gs1-qr"
    HIBC_128 = "hibc-128"
    HIBC_DATAMATRIX = "hibc-datamatrix"


GS1_SYMBOLOGIES = frozenset({Symbology.DATAMATRIX, Symbology.GS1_128, Symbology.GS1_QR})
HIBC_SYMBOLOGIES = frozenset({Symbology.HIBC_128, Symbology.HIBC_DATAMATRIX})


class ImageFormat(StrEnum):
    PNG = "png"
    SVG = "svg"


MEDIA_TYPES = {ImageFormat.PNG: "image/png", ImageFormat.SVG: "image/svg+xml"}

# What a scanner transmits in front of the data of each symbol we draw.
_SYMBOLOGY_IDS = {
    Symbology.DATAMATRIX: "]d2",
    Symbology.GS1_128: "]C1",
    Symbology.GS1_QR: "]Q3",
    Symbology.HIBC_128: "]C0",
    Symbology.HIBC_DATAMATRIX: "]d1",
}

DEFAULT_SCALE = 4
MAX_SCALE = 20

# GS1 General Specifications figure 7.8.5-2: printable ASCII less space " # $ @ [ \ ] ^ ` { | } ~.
_CSET82 = re.compile(r"[!\"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}")
# HIBC data: the 43 Code 39 characters; these are the ones with no structural meaning.
_HIBC_VALUE = re.compile(r"[A-Z0-9\-. ]{1,18}")
_HIBC_DI = re.compile(r"[A-Z][A-Z0-9]{3}[A-Z0-9]{1,18}[0-9]")
_GTIN_LENGTHS = (8, 12, 13, 14)


ERROR_CODES = {
    "label.gtin": "The DI must be a GTIN of 8, 12, 13 or 14 digits for a GS1 symbology.",
    "label.gtin_check_digit": "The GTIN's last digit is not its GS1 mod-10 check digit.",
    "label.hibc_di": "The DI must be LIC (4, letter first) + product number + unit digit.",
    "label.lot": "The lot has characters or a length the symbology does not allow.",
    "label.serial": "The serial has characters or a length the symbology does not allow.",
    "label.expiry": "The expiry date cannot be written as a two-digit year unambiguously.",
    "label.production_date": "The production date cannot be written unambiguously.",
    "label.di": "The label data would not read back to the requested DI.",
    "label.unreadable": "The assembled label data does not parse as a UDI.",
    "label.scale": "The scale (pixels per module) is out of range.",
}
"""Every ``LabelError.code``, with what it means for the caller."""


class LabelError(ValueError):
    """The label data is invalid; ``field`` names the offending input."""

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LabelData:
    """What goes on a label. ``di`` is a GTIN (GS1) or LIC+product+unit of measure (HIBC)."""

    di: str
    lot: str | None = None
    serial: str | None = None
    expiry: date | None = None
    production_date: date | None = None


@dataclass(frozen=True)
class Label:
    """A rendered label and what a scanner will transmit when it reads it."""

    content: bytes
    media_type: str
    symbology: Symbology
    scan: str
    """Symbology identifier + data, e.g. ``]d20106901234567892…``: input for ``udi.parse``."""
    hri: str
    """The human-readable interpretation printed (GS1) or printable (HIBC) with the symbol."""


@dataclass(frozen=True)
class _Encoding:
    """The data of one symbol in the three spellings the writers and the parser need."""

    data: str
    """As transmitted: GS between fields for GS1, the whole HIBC string for HIBC."""
    bracketed: str
    """zxing-cpp GS1 input ``[01]…[10]…``: brackets cannot occur in GS1 data, parentheses can."""
    fnc1: str
    """python-barcode input: FNC1 as ``\\xf1`` where the transmitted data has GS."""
    hri: str


def default_symbology(di: str) -> Symbology:
    """GS1 DataMatrix for an all-digit DI (a GTIN), HIBC DataMatrix otherwise.

    Both default to DataMatrix: the 2D carrier holds every field in little space and is the
    one UDI rules ask for first.
    """
    return Symbology.DATAMATRIX if di.isdigit() else Symbology.HIBC_DATAMATRIX


def render_label(
    label: LabelData,
    symbology: Symbology | None = None,
    image_format: ImageFormat = ImageFormat.PNG,
    *,
    scale: int = DEFAULT_SCALE,
) -> Label:
    """Render ``label`` as one symbol; ``scale`` is the module size in pixels (PNG).

    Raises:
        LabelError: a field is invalid for the symbology, or the result does not read back.
    """
    chosen = symbology or default_symbology(label.di)
    if not 1 <= scale <= MAX_SCALE:
        raise LabelError(
            "label.scale", "scale", f"Expected a scale from 1 to {MAX_SCALE}, got {scale}."
        )
    encoding = hibc_encoding(label) if chosen in HIBC_SYMBOLOGIES else gs1_encoding(label)
    scan = _SYMBOLOGY_IDS[chosen] + encoding.data
    _verify(scan, label, chosen)
    content = _draw(encoding, chosen, image_format, scale)
    return Label(content, MEDIA_TYPES[image_format], chosen, scan, encoding.hri)


# --- GS1 ----------------------------------------------------------------------------------

_FIXED_LENGTH_AIS = frozenset({"01", "11", "17"})


def gs1_encoding(label: LabelData) -> _Encoding:
    """AI/value pairs of ``label`` in label order; fields checked with GS1 rules."""
    pairs: list[tuple[str, str]] = [("01", _gtin14(label.di))]
    if label.production_date is not None:
        pairs.append(("11", label.production_date.strftime("%y%m%d")))
    if label.expiry is not None:
        pairs.append(("17", label.expiry.strftime("%y%m%d")))
    if label.lot is not None:
        pairs.append(("10", _cset82("lot", label.lot)))
    if label.serial is not None:
        pairs.append(("21", _cset82("serial", label.serial)))
    return _Encoding(
        data=_joined(pairs, "\x1d"),
        bracketed="".join(f"[{ai}]{value}" for ai, value in pairs),
        fnc1=_joined(pairs, "\xf1"),
        hri="".join(f"({ai}){value}" for ai, value in pairs),
    )


def _joined(pairs: Sequence[tuple[str, str]], separator: str) -> str:
    """Element strings with ``separator`` after each variable-length field but the last."""
    parts = []
    for index, (ai, value) in enumerate(pairs):
        last = index == len(pairs) - 1
        parts.append(ai + value + ("" if last or ai in _FIXED_LENGTH_AIS else separator))
    return "".join(parts)


def _gtin14(di: str) -> str:
    if not di.isascii() or not di.isdigit() or len(di) not in _GTIN_LENGTHS:
        raise LabelError(
            "label.gtin",
            "di",
            f"Expected a GTIN of 8, 12, 13 or 14 digits, got {di!r}.",
        )
    expected = gs1_mod10(di[:-1])
    if int(di[-1]) != expected:
        raise LabelError(
            "label.gtin_check_digit",
            "di",
            f"Expected check digit {expected} for GTIN {di}, got {di[-1]}.",
        )
    return di.zfill(14)


def _cset82(field: str, value: str) -> str:
    if not _CSET82.fullmatch(value):
        raise LabelError(
            f"label.{field}",
            field,
            f"Expected a {field} of 1 to 20 GS1 CSET 82 characters (letters, digits,"
            f" !\"%&'()*+,-./:;<=>?_), got {value!r}.",
        )
    return value


# --- HIBC ---------------------------------------------------------------------------------


def hibc_encoding(label: LabelData) -> _Encoding:
    """The concatenated HIBC string ``+DI/secondary…`` with its check character."""
    if not _HIBC_DI.fullmatch(label.di):
        raise LabelError(
            "label.hibc_di",
            "di",
            "Expected an HIBC DI: a 4-character labeler code starting with a letter, a product"
            f" number of 1 to 18 letters or digits and a unit-of-measure digit, got {label.di!r}.",
        )
    secondary = _hibc_secondary(label)
    body = "+" + label.di + (f"/{secondary}" if secondary else "")
    data = body + hibc_mod43(body)
    return _Encoding(data=data, bracketed=data, fnc1=data, hri=f"*{data}*")


def _hibc_secondary(label: LabelData) -> str:
    lot = _hibc_value("lot", label.lot)
    serial = _hibc_value("serial", label.serial)
    expiry = label.expiry.strftime("%y%m%d") if label.expiry else None
    if serial is not None and lot is None:
        # $+ / $$+3 carry a serial in place of the lot.
        secondary = (f"$$+3{expiry}" if expiry else "$+") + serial
    elif expiry is not None:
        secondary = f"$$3{expiry}{lot or ''}" + (f"/S{serial}" if serial else "")
    elif lot is not None:
        secondary = f"${lot}" + (f"/S{serial}" if serial else "")
    elif label.production_date is not None:
        secondary = "$$7"  # "no expiry date" format: a secondary to hang the /16D field on
    else:
        return ""
    if label.production_date is not None:
        secondary += "/16D" + label.production_date.strftime("%Y%m%d")
    return secondary


def _hibc_value(field: str, value: str | None) -> str | None:
    if value is not None and not _HIBC_VALUE.fullmatch(value):
        raise LabelError(
            f"label.{field}",
            field,
            f"Expected an HIBC {field} of 1 to 18 upper-case letters, digits, '-', '.' or"
            f" spaces, got {value!r}.",
        )
    return value


# --- verification: the parser must read back what was asked for ----------------------------


def _verify(scan: str, label: LabelData, symbology: Symbology) -> None:
    result = udi.parse(scan)
    if not result.ok or result.udi is None:
        first = result.errors[0].message if result.errors else "no UDI"
        raise LabelError(
            "label.unreadable",
            "di",
            f"Expected label data that parses as a UDI, got {scan!r}: {first}",
        )
    parsed = result.udi
    expected_di = label.di.zfill(14) if symbology in GS1_SYMBOLOGIES else label.di
    checks = (
        ("di", expected_di, parsed.di),
        ("lot", label.lot, parsed.lot),
        ("serial", label.serial, parsed.serial),
        ("expiry", label.expiry, parsed.expiry_date.value if parsed.expiry_date else None),
        (
            "production_date",
            label.production_date,
            parsed.production_date.value if parsed.production_date else None,
        ),
    )
    for field, wanted, got in checks:
        if wanted != got:
            # A two-digit year outside the GS1 window (reference year -49..+50) reads back as
            # another century: refuse rather than print a label that means something else.
            raise LabelError(
                f"label.{field}",
                field,
                f"Expected the label to read back {field} {wanted}, got {got}.",
            )


# --- drawing ------------------------------------------------------------------------------


def _draw(
    encoding: _Encoding, symbology: Symbology, image_format: ImageFormat, scale: int
) -> bytes:
    if symbology in (Symbology.GS1_128, Symbology.HIBC_128):
        return _draw_code128(encoding, symbology, image_format, scale)
    return _draw_zxing(encoding, symbology, image_format, scale)


def _draw_zxing(
    encoding: _Encoding, symbology: Symbology, image_format: ImageFormat, scale: int
) -> bytes:
    gs1 = symbology in GS1_SYMBOLOGIES
    barcode_format = (
        zxingcpp.BarcodeFormat.QRCode
        if symbology is Symbology.GS1_QR
        else zxingcpp.BarcodeFormat.DataMatrix
    )
    content = encoding.bracketed if gs1 else encoding.data
    # Square only: left alone zxing-cpp (zint) may pick a DMRE rectangle (e.g. 8x64), which
    # reads back as ]d7 and which many installed scanners do not decode.
    options = {"forceSquare": True} if barcode_format is zxingcpp.BarcodeFormat.DataMatrix else {}
    barcode = zxingcpp.create_barcode(content, barcode_format, gs1=gs1, **options)
    if image_format is ImageFormat.SVG:
        return zxingcpp.write_barcode_to_svg(barcode, scale=scale).encode()
    bitmap = memoryview(zxingcpp.write_barcode_to_image(barcode, scale=scale))
    height, width = bitmap.shape
    image = Image.frombytes("L", (width, height), bitmap.tobytes())
    return _png(image)


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


# A module of 0.254 mm at 100 dpi per pixel of scale is exactly ``scale`` pixels wide: whole
# pixels keep bar widths even (python-barcode places bars in millimetres).
_MODULE_MM = 0.254


def _draw_code128(
    encoding: _Encoding, symbology: Symbology, image_format: ImageFormat, scale: int
) -> bytes:
    if symbology is Symbology.GS1_128:
        # gs1_128 prepends the start FNC1 itself; the inner ones are already in ``fnc1``.
        barcode = get_barcode_class("gs1_128")(encoding.fnc1, writer=_writer(image_format))
    else:
        barcode = get_barcode_class("code128")(encoding.data, writer=_writer(image_format))
    options = {
        "module_width": _MODULE_MM,
        "module_height": 15.0,
        "quiet_zone": _QUIET_MODULES * _MODULE_MM,
        "font_size": _fitting_font_size(len(barcode.build()[0]), encoding.hri),
        "text_distance": 4.0,
    }
    if image_format is ImageFormat.PNG:
        options["dpi"] = 100 * scale
    buffer = io.BytesIO()
    barcode.write(buffer, options, text=encoding.hri)
    return buffer.getvalue()


_QUIET_MODULES = 10  # ISO/IEC 15417: at least 10 modules each side
_MAX_FONT_PT = 10.0
_MONOSPACE_ADVANCE = 0.6  # glyph advance / font size of python-barcode's DejaVu Sans Mono
_MM_PER_PT = 25.4 / 72


def _fitting_font_size(modules: int, text: str) -> float:
    """The largest font (up to 10 pt) whose HRI line is no wider than the symbol."""
    width_mm = (modules + 2 * _QUIET_MODULES) * _MODULE_MM
    fitting = width_mm / (len(text) * _MONOSPACE_ADVANCE * _MM_PER_PT)
    return round(min(_MAX_FONT_PT, fitting), 1)


class _WholePixelImageWriter(ImageWriter):
    """python-barcode's PNG writer with bar edges rounded to whole pixels.

    The stock writer adds module widths in millimetres as floats and lets Pillow truncate:
    accumulated error turns 2-pixel modules into runs of 3 and 5 pixels, and zxing-cpp could
    not read our own GS1-128 at scale 2. Rounding each edge keeps every module exact.
    """

    def _paint_module(self, xpos: float, ypos: float, width: float, color: Any) -> None:
        left, right = round(mm2px(xpos, self.dpi)), round(mm2px(xpos + width, self.dpi))
        top, bottom = (
            round(mm2px(ypos, self.dpi)),
            round(mm2px(ypos + self.module_height, self.dpi)),
        )
        self._draw.rectangle([(left, top), (right - 1, bottom)], outline=color, fill=color)


def _writer(image_format: ImageFormat) -> BaseWriter:
    if image_format is ImageFormat.PNG:
        return _WholePixelImageWriter(format="PNG", mode="L")
    return SVGWriter()
