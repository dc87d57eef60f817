"""``parse(scan)``: detect what a scan is, interpret it, and never raise on bad data.

Detection, in order (udi-formats.md §8):

1. Strip and record an AIM symbology identifier (``]d2``, ``]C1``, ``]Q1``…) and a trailing
   CR/LF left by keyboard-wedge scanners.
2. Decide the candidate formats from the symbology and the content: a GS1-mode symbology means
   GS1 element strings; otherwise ``http(s)://`` is a Digital Link (or an MA code inside a URL),
   ``[)>`` an ISO/IEC 15434 envelope, ``+`` HIBC, ``=``/``&`` ISBT 128, ``MA.``/``<UDI`` an MA
   code, ``MF`` an AHM code, ``(`` GS1 HRI, and digits GS1 element strings (or a bare GTIN).
3. Try each candidate; the first that succeeds wins. When none does, the result carries the
   errors of every candidate, each with the format it belongs to.

Positions in the result (elements, errors, warnings) are 0-based offsets into the scan exactly
as received, even when a scanner's ``<GS>`` stood for one group separator.

>>> result = parse("]d201040123456789011728123110LOT-A1\\x1d21SN0001")
>>> (result.ok, result.udi.gtin, result.udi.lot, result.udi.serial)
(True, '04012345678901', 'LOT-A1', 'SN0001')
>>> result.udi.expiry_date.value.isoformat()
'2028-12-31'
>>> bad = parse("]d201040123456789021728123110LOT-A1")
>>> [(e.code, e.position, e.length) for e in bad.errors]
[('gs1.check_digit', 18, 1)]
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

from udi import china, digital_link, gs1, hibc, isbt128, iso15434
from udi.config import DEFAULT_CONFIG, ParseConfig
from udi.errors import Issue, ParseError
from udi.result import Element, ParseResult, Udi, assemble
from udi.symbology import SymbologyId

Parser = Callable[[str, ParseConfig], Udi]
PlacingParser = Callable[[str, ParseConfig, int], Udi]

# Format name -> parser. Each parser reads the content after the symbology identifier and
# reports positions relative to the text it was given.
_PARSERS: dict[str, Parser] = {
    "gs1": gs1.parse_element_string,
    "gs1_hri": gs1.parse_hri,
    "gs1_digital_link": digital_link.parse_digital_link,
    "gtin": gs1.parse_bare_gtin,
    "hibc": hibc.parse_hibc,
    "isbt128": isbt128.parse_isbt128,
    "iso15434": iso15434.parse_iso15434,
    "ma": china.parse_ma,
    "ahm": china.parse_ahm,
}

# The GS1 parsers also take the scan offset of their text and report scan positions
# themselves. When the text is a plain slice of the scan (no remapped separators) that saves
# rebuilding every element afterwards, on every scan with a symbology identifier.
_PLACING_PARSERS: dict[str, PlacingParser] = {
    "gs1": gs1.parse_element_string,
    "gs1_hri": gs1.parse_hri,
    "gs1_digital_link": digital_link.parse_digital_link,
    "gtin": gs1.parse_bare_gtin,
}

_LINEAR_GTIN_SYMBOLOGIES = {"]E0", "]E4", "]I1"}

# Keyboard-wedge spellings of the ISO/IEC 15434 envelope's record separator and trailer.
_ENVELOPE_REMAPS = {"<RS>": "\x1e", "{RS}": "\x1e", "<EOT>": "\x04", "{EOT}": "\x04"}


class _Text(NamedTuple):
    """Content handed to a parser, with the map from its offsets back to the scan's.

    A named tuple rather than a frozen dataclass: one is made per candidate format of every
    scan, and a tuple is several times quicker to build.
    """

    text: str
    offset: int
    """Scan offset of ``text[0]`` (the length of the symbology identifier)."""

    origin: tuple[int, ...] | None = None
    """When separators were remapped: ``origin[i]`` is the scan offset of ``text[i]``, plus
    one entry for the end. None when ``text`` is a plain slice of the scan (the common case,
    kept cheap because every scan goes through here)."""

    placed: bool = False
    """True when the parser is given ``offset`` and so reports scan positions already."""

    def parse(self, name: str, config: ParseConfig) -> Udi:
        """Run the parser of format ``name`` on ``text``."""
        if self.placed:
            return _PLACING_PARSERS[name](self.text, config, self.offset)
        return _PARSERS[name](self.text, config)

    def span(self, position: int, length: int) -> tuple[int, int]:
        """Map a (position, length) reported by the parser to the scan."""
        if self.origin is None:
            return (position if self.placed else position + self.offset), length
        last = len(self.origin) - 1
        start = self.origin[min(max(position, 0), last)]
        end = self.origin[min(max(position + length, 0), last)]
        return start, (max(end - start, 0) if length else 0)


def parse(scan: str, *, config: ParseConfig | None = None) -> ParseResult:
    """Interpret one scan. Never raises on bad data: problems come back in ``errors``.

    Args:
        scan: The characters the scanner sent, symbology identifier included if configured.
        config: Separator remapping, century reference date and format switches.

    Returns:
        A :class:`ParseResult` with the interpreted :class:`Udi`, or the errors found for each
        format the scan might be.
    """
    config = config or DEFAULT_CONFIG
    if not isinstance(scan, str):
        return ParseResult(
            scan=repr(scan),
            errors=(Issue("scan.not_text", f"Expected text, got {type(scan).__name__}."),),
        )
    symbology = SymbologyId.parse(scan)
    start = len(symbology.value) if symbology else 0
    end, warnings = _strip_line_ending(scan, start)
    content = scan[start:end]
    candidates = _candidates(content, symbology, config)
    envelope = {
        "scan": scan,
        "symbology": symbology.value if symbology else None,
        "symbology_name": symbology.name if symbology else None,
    }
    if not content:
        issue = Issue("scan.empty", "Expected data after the symbology identifier, got nothing.")
        return ParseResult(**envelope, errors=(dataclasses.replace(issue, position=start),))
    errors: list[Issue] = []
    for name in candidates:
        text = _prepare(content, start, name, config)
        try:
            udi = text.parse(name, config)
        except ParseError as error:
            errors.extend(_map_issue(issue, text, name) for issue in error.issues)
            continue
        except Exception as bug:  # a parser bug must not crash the caller
            errors.append(_internal_error(bug, name, start))
            continue
        udi = _map_udi(udi, text, name)
        warnings.extend(_symbology_warnings(symbology, name, start))
        # assemble(): the quick way to build the result of every successful scan.
        return assemble(
            ParseResult,
            {
                **envelope,
                "detected": name,
                "udi": udi,
                "errors": (),
                "warnings": tuple(warnings) + udi.warnings,
            },
        )
    return ParseResult(**envelope, errors=tuple(errors), warnings=tuple(warnings))


def _internal_error(bug: Exception, name: str, start: int) -> Issue:
    # Fuzzing keeps these out; should one slip through, the scan is reported, not lost.
    message = (
        f"Expected the {name} parser to finish, got an internal {type(bug).__name__};"
        " please report this scan."
    )
    return Issue("scan.internal_error", message, start, 0, name)


def _strip_line_ending(scan: str, start: int) -> tuple[int, list[Issue]]:
    end = len(scan)
    if not scan.endswith(("\r", "\n")):
        return end, []
    while end > start and scan[end - 1] in "\r\n":
        end -= 1
    if end == len(scan):
        return end, []
    issue = Issue(
        "scan.trailing_line_end",
        "Expected the scan to end with its data, got a trailing CR/LF (ignored).",
        end,
        len(scan) - end,
    )
    return end, [issue]


def _candidates(content: str, symbology: SymbologyId | None, config: ParseConfig) -> list[str]:
    """Formats to try, most likely first."""
    if symbology is not None and symbology.gs1:
        return ["gs1"]
    if symbology is not None and symbology.value in _LINEAR_GTIN_SYMBOLOGIES:
        return ["gtin"]
    if content[:1] not in _HRI_OR_DIGIT:
        recognised = _recognised_start(content, config)
        if recognised is not None:
            return recognised
    formats = _gs1_candidates(content)
    # An MA XML attribute in what looks like GS1 is tried last: GS1 data may carry the same
    # text (e.g. AI 240 'IAC="MA"'), and a GS1 reading that works must win.
    return [*formats, "ma"] if 'IAC="MA"' in content[:64] else formats


def _gs1_candidates(content: str) -> list[str]:
    if content.startswith("("):
        return ["gs1_hri"]
    if content.isascii() and content.isdigit() and len(content) in (8, 12, 13, 14):
        return ["gtin", "gs1"] if len(content) != 14 else ["gs1", "gtin"]
    return ["gs1"]


_HRI_OR_DIGIT = frozenset("(0123456789")


def _recognised_start(content: str, config: ParseConfig) -> list[str] | None:
    """The formats told by how the content starts (or by an MA XML attribute), if any."""
    head = content[:8].lower()
    if head.startswith(("http://", "https://")):
        return ["ma", "gs1_digital_link"] if _looks_like_ma_url(content) else ["gs1_digital_link"]
    if content.startswith("[)>"):
        return ["iso15434"]
    if content.startswith("+"):
        return ["hibc"]
    if content.startswith(("=", "&")):
        return ["isbt128"]
    if content.startswith(("MA.", "<UDI", "<?xml")) or 'IAC="MA"' in content[:64]:
        return ["ma"]
    if content.startswith("MF") and config.enable_ahm:
        return ["ahm"]
    return None


def _looks_like_ma_url(content: str) -> bool:
    return "MA.156." in content or "=MA." in content


def _prepare(content: str, offset: int, name: str, config: ParseConfig) -> _Text:
    """Replace remapped group separators by GS for GS1 element strings; keep the offset map."""
    plain = _Text(content, offset, None, name in _PLACING_PARSERS)
    if name not in ("gs1", "iso15434"):
        return plain
    if name == "gs1" and not _has_remapped_separator(content, config):
        return plain  # the common case, decided without building the remapping table
    remaps = {s: "\x1d" for s in config.separators if s != "\x1d" and s in content}
    if name == "iso15434":
        remaps |= {s: c for s, c in _ENVELOPE_REMAPS.items() if s in content}
    if not remaps:
        return plain
    ordered = sorted(remaps, key=len, reverse=True)
    chars: list[str] = []
    origin: list[int] = []
    index = 0
    while index < len(content):
        matched = next((s for s in ordered if content.startswith(s, index)), None)
        chars.append(remaps[matched] if matched else content[index])
        origin.append(offset + index)
        index += len(matched) if matched else 1
    origin.append(offset + len(content))
    return _Text("".join(chars), offset, tuple(origin))


def _has_remapped_separator(content: str, config: ParseConfig) -> bool:
    for separator in config.separators:  # noqa: SIM110 - a loop: no generator per scan
        if separator != "\x1d" and separator in content:
            return True
    return False


def _map_issue(issue: Issue, text: _Text, name: str) -> Issue:
    position, length = text.span(issue.position, issue.length)
    return dataclasses.replace(issue, position=position, length=length).with_format(name)


def _map_element(element: Element, text: _Text) -> Element:
    position, length = text.span(element.position, element.length)
    return Element(element.key, element.title, element.value, position, length)


def _map_udi(udi: Udi, text: _Text, name: str) -> Udi:
    if text.origin is None and (text.placed or text.offset == 0):
        if not udi.warnings:
            return udi  # positions are already offsets into the scan
        elements = udi.elements
    else:
        elements = tuple(_map_element(element, text) for element in udi.elements)
    return udi.with_positions(
        elements, tuple(_map_issue(issue, text, name) for issue in udi.warnings)
    )


def _symbology_warnings(symbology: SymbologyId | None, name: str, start: int) -> Sequence[Issue]:
    if symbology is None or name != "gs1" or symbology.gs1:
        return ()
    message = (
        f"Expected a GS1 symbology identifier (]C1, ]d2, ]Q3, ]e0, ]J1) for GS1 element strings,"
        f" got {symbology.value!r} ({symbology.name})."
    )
    return (Issue("scan.symbology_not_gs1", message, 0, start, "gs1"),)
