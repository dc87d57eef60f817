"""Undo a scanner's input quirks before :func:`udi.parse` sees the scan, or refuse the scan.

Handheld scanners in hospitals are mostly keyboard wedges: they *type* the barcode into
whatever has focus, so the text that reaches us carries the device's configuration and the
workstation's keyboard state. Each registered device has :class:`ScannerQuirks`;
:func:`normalise` undoes them and returns the text to parse, the extra group-separator
spellings to give the parser, what it did, and warnings. Input that cannot be a scan (empty,
control characters, bytes lost on the way, absurdly long, a required symbology identifier
missing) raises :class:`ScanInputError` with a stable code and a position in the RAW input.

>>> quirks = ScannerQuirks.from_mapping({"prefix": "#", "gs_substitutes": ["|"]})
>>> n = normalise("#]d201069012345678921727123110LOT123|21SN0001\\r\\n", quirks)
>>> n.text
']d201069012345678921727123110LOT123|21SN0001'
>>> n.config_separators
('|',)
>>> import udi
>>> udi.parse(n.text, config=n.parse_config()).udi.serial
'SN0001'
>>> normalise("]d2０１０６９０１２３４５６７８９２", ScannerQuirks()).text
']d20106901234567892'
>>> try:
...     normalise("01\\x0712", ScannerQuirks())
... except ScanInputError as error:
...     (error.code, error.position, str(error))
('scan.control_character', 2,
 'Expected printable scan data, got control character U+0007 at position 2.')
"""

from __future__ import annotations

import dataclasses
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from udi import Issue, ParseConfig, SymbologyId
from udi.config import DEFAULT_SEPARATORS

MAX_SCAN_LENGTH = 4096
"""Longest raw scan accepted. The largest 2D symbols hold about 3,000 characters; anything
longer is a stuck key or a paste, and refusing it early bounds the work done per request."""

MAX_GS_SUBSTITUTES = 8
"""Most separator spellings one device may declare; more is a configuration mistake."""

MAX_AFFIX_LENGTH = 16
"""Longest prefix, suffix or separator spelling; scanner set-up menus allow a few characters."""

_LINE_ENDINGS = "\r\n"

# C0 and C1 control characters (Unicode category Cc) except the ones a UDI legitimately
# carries: EOT (\x04) and RS (\x1e) of the ISO/IEC 15434 envelope, GS (\x1d), TAB, LF and CR.
_FORBIDDEN_CONTROL = re.compile("[\x00-\x03\x05-\x08\x0b\x0c\x0e-\x1c\x1f\x7f-\x9f]")

# A lone surrogate comes from bytes decoded with "surrogateescape"; U+FFFD from bytes decoded
# with "replace". Either way the wedge or the browser lost part of the scan.
_UNDECODABLE = re.compile("[\ud800-\udfff\ufffd]")

_NON_ASCII_RUN = re.compile("[^\x00-\x7f]+")
_MAX_NON_ASCII_WARNINGS = 16  # a scan of Chinese text must not bury the result in warnings

# Full-width ASCII (U+FF01–U+FF5E) is ASCII shifted by 0xFEE0; U+3000 is the ideographic
# space. This is the part of NFKC a Chinese IME in full-width mode produces, and nothing more:
# blanket NFKC would also rewrite characters that may be real data (², ①, ﬁ…).
_FULLWIDTH_TO_ASCII = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}

_SWAP_ASCII_CASE = str.maketrans(
    string.ascii_lowercase + string.ascii_uppercase,
    string.ascii_uppercase + string.ascii_lowercase,
)


class ScanningError(Exception):
    """Base class of the errors raised by scanner ingestion."""


class ScannerConfigError(ScanningError, ValueError):
    """A device's quirks configuration is invalid; ``field`` names the offending setting."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        """The configuration key at fault, e.g. ``"gs_substitutes[1]"``."""
        super().__init__(f"{field}: {message}")


class ScanInputError(ScanningError, ValueError):
    """A scan refused before parsing; ``position``/``length`` index the RAW input."""

    def __init__(self, code: str, message: str, position: int = 0, length: int = 0) -> None:
        self.code = code
        """Stable dotted code, e.g. ``scan.control_character``."""
        self.message = message
        """English sentence, "Expected X, got Y."."""
        self.position = position
        """0-based offset into the raw input as received from the device."""
        self.length = length
        """Length of the offending part; 0 means "at this position"."""
        super().__init__(message)

    @property
    def issue(self) -> Issue:
        """The same refusal as a :class:`udi.Issue`, for problem+json ``errors``."""
        return Issue(self.code, self.message, self.position, self.length)


def _name(char: str) -> str:
    """``U+0007`` or ``U+FF21 FULLWIDTH LATIN CAPITAL LETTER A`` for messages."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X} {name}" if name else f"U+{ord(char):04X}"


@dataclass(frozen=True, slots=True)
class ScannerQuirks:
    """How one registered scanner mangles what it reads; the defaults suit a clean device.

    Every configured string is written in the form the device *means* to send: a caps-lock or
    full-width mangled scan is restored first, then prefix, suffix and separators are matched.
    """

    gs_substitutes: tuple[str, ...] = ()
    """Extra strings the device types for the group separator (FNC1), e.g. ``"|"``, ``"@@"``.
    They are handed to the parser (:attr:`Normalised.config_separators`), not replaced, so the
    parser's positions still index the normalised text."""

    prefix: str = ""
    """Characters the device puts before every scan (e.g. STX ``"\\x02"``); stripped if present."""

    suffix: str = ""
    """Characters the device puts after every scan (e.g. ``"#"`` or ETX); stripped if present.
    Trailing CR/LF in it are treated as line endings."""

    sends_symbology_id: bool | None = None
    """True: the AIM identifier (``]d2``…) is required; False: one is unexpected (warning);
    None: either is fine."""

    strip_line_endings: bool = True
    """Remove the CR/LF a keyboard wedge types as Enter after the scan."""

    fullwidth_to_ascii: bool = True
    """Map full-width ASCII (U+FF01–U+FF5E) and the ideographic space U+3000 to ASCII, as a
    Chinese input method left in full-width mode produces. Other characters are kept as they
    are and reported."""

    caps_lock_inverted: bool = False
    """Swap the case of ASCII letters because caps lock is on at the workstation.

    A keyboard-wedge scanner types an upper-case letter as Shift + key. With caps lock on,
    Shift + key gives the lower-case letter and a bare key the upper-case one, so every letter
    of the scan arrives inverted while digits and symbols are unaffected. Turn this on for a
    workstation whose caps lock is stuck or which a kiosk keeps on."""

    def __post_init__(self) -> None:
        self._check_gs_substitutes()
        for field in ("prefix", "suffix"):
            self._check_affix(field, getattr(self, field))
        for field in ("strip_line_endings", "fullwidth_to_ascii", "caps_lock_inverted"):
            value = getattr(self, field)
            if type(value) is not bool:
                raise ScannerConfigError(field, f"Expected true or false, got {value!r}.")
        if self.sends_symbology_id is not None and type(self.sends_symbology_id) is not bool:
            raise ScannerConfigError(
                "sends_symbology_id",
                f"Expected true, false or null, got {self.sends_symbology_id!r}.",
            )

    def _check_gs_substitutes(self) -> None:
        substitutes = self.gs_substitutes
        if not isinstance(substitutes, tuple):
            raise ScannerConfigError(
                "gs_substitutes", f"Expected a list of strings, got {type(substitutes).__name__}."
            )
        if len(substitutes) > MAX_GS_SUBSTITUTES:
            raise ScannerConfigError(
                "gs_substitutes",
                f"Expected at most {MAX_GS_SUBSTITUTES} entries, got {len(substitutes)}.",
            )
        for index, substitute in enumerate(substitutes):
            field = f"gs_substitutes[{index}]"
            self._check_affix(field, substitute)
            if not substitute:
                raise ScannerConfigError(field, "Expected a non-empty string, got ''.")
            if substitute.isalnum():
                # Letters and digits are data: "GS" or "00" would split real lots and serials.
                raise ScannerConfigError(
                    field,
                    "Expected at least one character that is not a letter or digit, "
                    f"got {substitute!r}, which could be data.",
                )
            if any(char in _LINE_ENDINGS for char in substitute):
                raise ScannerConfigError(
                    field, f"Expected no CR/LF (they end a scan), got {substitute!r}."
                )

    def _check_affix(self, field: str, value: object) -> None:
        """Checks shared by prefix, suffix and separator spellings."""
        if not isinstance(value, str):
            raise ScannerConfigError(field, f"Expected a string, got {type(value).__name__}.")
        if len(value) > MAX_AFFIX_LENGTH:
            raise ScannerConfigError(
                field, f"Expected at most {MAX_AFFIX_LENGTH} characters, got {len(value)}."
            )
        if bad := _UNDECODABLE.search(value):
            raise ScannerConfigError(
                field, f"Expected decodable text, got {_name(bad.group())} at {bad.start()}."
            )
        if self.fullwidth_to_ascii and (wide := _first_fullwidth(value)) is not None:
            # The scan is mapped to ASCII before matching, so this spelling could never match.
            raise ScannerConfigError(
                field,
                f"Expected the ASCII form (full-width input is mapped first), got {_name(wide)}.",
            )
        if field.startswith("gs_substitutes") and (bad := _FORBIDDEN_CONTROL.search(value)):
            # A scan containing it would be refused anyway; prefix and suffix may be STX/ETX.
            raise ScannerConfigError(
                field, f"Expected no control character but GS, got {_name(bad.group())}."
            )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> ScannerQuirks:
        """Parse stored or submitted configuration (JSON-shaped); raise :class:`ScannerConfigError`.

        Missing keys take their defaults; unknown keys are refused so that a typo such as
        ``"sufix"`` does not silently leave a quirk unhandled.
        """
        if not isinstance(mapping, Mapping):
            raise ScannerConfigError("quirks", f"Expected an object, got {type(mapping).__name__}.")
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(str(key) for key in mapping if key not in known)
        if unknown:
            raise ScannerConfigError(
                unknown[0], f"Expected one of {', '.join(sorted(known))}, got {unknown[0]!r}."
            )
        values = dict(mapping)
        if "gs_substitutes" in values:
            substitutes = values["gs_substitutes"]
            if not isinstance(substitutes, list | tuple):
                raise ScannerConfigError(
                    "gs_substitutes",
                    f"Expected a list of strings, got {type(substitutes).__name__}.",
                )
            values["gs_substitutes"] = tuple(substitutes)
        return cls(**values)

    def to_mapping(self) -> dict[str, Any]:
        """The JSON-shaped form :meth:`from_mapping` reads back."""
        mapping = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        mapping["gs_substitutes"] = list(self.gs_substitutes)
        return mapping


def _first_fullwidth(text: str) -> str | None:
    return next((char for char in text if ord(char) in _FULLWIDTH_TO_ASCII), None)


@dataclass(frozen=True, slots=True)
class Normalised:
    """A scan with its device's quirks undone, ready for :func:`udi.parse`."""

    text: str
    """The text to hand to :func:`udi.parse`."""

    config_separators: tuple[str, ...]
    """The device's group-separator spellings not already in ``udi``'s defaults."""

    steps: tuple[str, ...]
    """What was done, in order, for the scan log; empty when the scan was already clean."""

    warnings: tuple[Issue, ...]
    """Accepted oddities (positions in the RAW input)."""

    raw_offset: int = 0
    """Raw position of ``text[0]`` (the length of the stripped prefix): add it to a position
    reported by :func:`udi.parse` to point into the raw input."""

    def parse_config(self, base: ParseConfig | None = None) -> ParseConfig:
        """``base`` (default: ``udi``'s defaults) with this device's separators added."""
        base = base or ParseConfig()
        extra = tuple(sep for sep in self.config_separators if sep not in base.separators)
        return dataclasses.replace(base, separators=base.separators + extra)


def normalise(raw: str, quirks: ScannerQuirks) -> Normalised:
    """Undo ``quirks`` on ``raw`` or refuse it with :class:`ScanInputError`.

    Order: length and lost bytes are checked on the raw text; trailing CR/LF go; full-width
    characters and caps lock are undone (both one character for one, so positions hold); the
    prefix and suffix are stripped; what is left is checked for control characters, emptiness
    and the symbology identifier. Only the prefix moves positions, by ``raw_offset``.
    """
    if not isinstance(raw, str):
        raise ScanInputError("scan.not_text", f"Expected text, got {type(raw).__name__}.")
    _check_length(raw)
    _check_decodable(raw)
    steps: list[str] = []
    warnings: list[Issue] = []
    text = _strip_line_endings(raw, steps) if quirks.strip_line_endings else raw
    if quirks.fullwidth_to_ascii:
        text = _map_fullwidth(text, steps)
    if quirks.caps_lock_inverted:
        text = _invert_case(text, steps)
    offset, text = _strip_prefix(text, quirks, steps, warnings)
    text = _strip_suffix(text, offset, quirks, steps, warnings)
    _check_controls(text, offset)
    if not text:
        raise ScanInputError(
            "scan.empty",
            f"Expected scan data, got nothing after normalising {len(raw)} characters.",
            0,
            len(raw),
        )
    _check_symbology(text, offset, quirks, warnings)
    warnings.extend(_non_ascii_warnings(text, offset))
    separators = tuple(sep for sep in quirks.gs_substitutes if sep not in DEFAULT_SEPARATORS)
    if separators:
        steps.append(f"group separator also read as {', '.join(map(repr, separators))}")
    return Normalised(text, separators, tuple(steps), tuple(warnings), offset)


def normalise_unicode_scan(raw: str) -> str:
    """Full-width ASCII to ASCII and trailing CR/LF removed; every other character unchanged.

    For scans from any source (HTTP clients, pasted text), where no device configuration is
    known. Never raises on text.

    >>> normalise_unicode_scan("（０１）０６９０１２３４５６７８９２\\r\\n")
    '(01)06901234567892'
    """
    return raw.rstrip(_LINE_ENDINGS).translate(_FULLWIDTH_TO_ASCII)


def _check_length(raw: str) -> None:
    if len(raw) > MAX_SCAN_LENGTH:
        raise ScanInputError(
            "scan.too_long",
            f"Expected at most {MAX_SCAN_LENGTH:,} characters, got {len(raw):,}.",
            MAX_SCAN_LENGTH,
            len(raw) - MAX_SCAN_LENGTH,
        )


def _check_decodable(raw: str) -> None:
    bad = _UNDECODABLE.search(raw)
    if bad is not None:
        raise ScanInputError(
            "scan.undecodable",
            f"Expected the scanned characters, got {_name(bad.group())} at position "
            f"{bad.start()} (bytes were lost between scanner and server).",
            bad.start(),
            1,
        )


def _strip_line_endings(text: str, steps: list[str]) -> str:
    stripped = text.rstrip(_LINE_ENDINGS)
    if len(stripped) != len(text):
        steps.append(f"removed {len(text) - len(stripped)} trailing CR/LF character(s)")
    return stripped


def _map_fullwidth(text: str, steps: list[str]) -> str:
    mapped = text.translate(_FULLWIDTH_TO_ASCII)
    if mapped != text:
        count = sum(1 for before, after in zip(text, mapped, strict=True) if before != after)
        steps.append(f"mapped {count} full-width character(s) to ASCII")
    return mapped


def _invert_case(text: str, steps: list[str]) -> str:
    inverted = text.translate(_SWAP_ASCII_CASE)
    if inverted != text:
        count = sum(1 for char in text if char.isascii() and char.isalpha())
        steps.append(f"inverted the case of {count} letter(s) (caps lock)")
    return inverted


def _strip_prefix(
    text: str, quirks: ScannerQuirks, steps: list[str], warnings: list[Issue]
) -> tuple[int, str]:
    prefix = quirks.prefix
    if not prefix:
        return 0, text
    if text.startswith(prefix):
        steps.append(f"removed prefix {prefix!r}")
        return len(prefix), text[len(prefix) :]
    steps.append(f"prefix {prefix!r} configured but absent")
    warnings.append(
        Issue(
            "scan.prefix_absent",
            f"Expected the device prefix {prefix!r}, got {text[: len(prefix)]!r} (kept).",
        )
    )
    return 0, text


def _strip_suffix(
    text: str, offset: int, quirks: ScannerQuirks, steps: list[str], warnings: list[Issue]
) -> str:
    # CR/LF at the end of the configured suffix were already removed with the line endings.
    suffix = quirks.suffix.rstrip(_LINE_ENDINGS) if quirks.strip_line_endings else quirks.suffix
    if not suffix:
        return text
    if text.endswith(suffix):
        steps.append(f"removed suffix {quirks.suffix!r}")
        return text[: -len(suffix)]
    steps.append(f"suffix {quirks.suffix!r} configured but absent")
    warnings.append(
        Issue(
            "scan.suffix_absent",
            f"Expected the device suffix {suffix!r}, got {text[-len(suffix) :]!r} (kept).",
            offset + len(text),
        )
    )
    return text


def _check_controls(text: str, offset: int) -> None:
    bad = _FORBIDDEN_CONTROL.search(text)
    if bad is not None:
        position = offset + bad.start()
        raise ScanInputError(
            "scan.control_character",
            f"Expected printable scan data, got control character {_name(bad.group())} "
            f"at position {position}.",
            position,
            1,
        )


def _check_symbology(text: str, offset: int, quirks: ScannerQuirks, warnings: list[Issue]) -> None:
    symbology = SymbologyId.parse(text)
    if quirks.sends_symbology_id is True and symbology is None:
        raise ScanInputError(
            "scan.symbology_missing",
            "Expected an AIM symbology identifier such as ]d2 (the device is configured to "
            f"send one), got {text[:3]!r}.",
            offset,
            0,
        )
    if quirks.sends_symbology_id is False and symbology is not None:
        warnings.append(
            Issue(
                "scan.unexpected_symbology",
                "Expected no symbology identifier (the device is configured not to send one), "
                f"got {symbology.value} ({symbology.name}).",
                offset,
                len(symbology.value),
            )
        )


def _non_ascii_warnings(text: str, offset: int) -> list[Issue]:
    # Kept unchanged on purpose: they may be real data (an MA code's Chinese name), and a
    # wrong guess would turn a visible problem into a silently different code.
    warnings = []
    for run in _NON_ASCII_RUN.finditer(text):
        if len(warnings) == _MAX_NON_ASCII_WARNINGS:
            break
        more = "…" if len(run.group()) > 1 else ""
        warnings.append(
            Issue(
                "scan.non_ascii",
                f"Expected ASCII, got {run.group()!r} ({_name(run.group()[0])}{more}; kept).",
                offset + run.start(),
                len(run.group()),
            )
        )
    return warnings
