"""GS1 element strings, bracketed HRI and bare GTINs as :class:`udi.result.Udi`.

Element strings are what a GS1 symbol carries after its symbology identifier: AIs and values,
separated by a group separator (GS, ASCII 29) after every value that has no predefined length.
:func:`udi.interpret.parse` has already turned scanner remappings of GS (``<GS>``, ``~``…) into
"\\x1d", so this module only knows GS.

>>> from datetime import date
>>> from udi.config import ParseConfig
>>> config = ParseConfig(today=date(2026, 11, 27))
>>> udi = parse_element_string("010401234567890117281200\x1d10LOT-A1\x1d", config)
>>> (udi.gtin, udi.lot, udi.expiry_date.value.isoformat(), str(udi.expiry_date.precision))
('04012345678901', 'LOT-A1', '2028-12-31', 'month')
>>> parse_hri("(01)04012345678901(10)A\\\\(1)", config).lot
'A(1)'
>>> parse_bare_gtin("4012345678901", config).hri
'(01)04012345678901'

References:
    GS1 General Specifications §7.8 (element strings, FNC1 and predefined lengths), §7.8.2
    (AI length from its first two digits), §4.15 (HRI), §3 (AI definitions); GS1 Barcode
    Syntax Dictionary (AI table, linters, req/ex rules).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from udi._gs1_core import (
    RawElement,
    build_udi,
    finish,
    lints_clean,
    pairs_hold,
    reference_year,
)
from udi._gs1_render import render_hri
from udi._gs1_table import AI_LENGTH, AI_TABLE, AiSpec
from udi.config import ParseConfig
from udi.errors import Issue, ParseError
from udi.identifiers import Gtin
from udi.result import Udi

_MIN_ELEMENT_LENGTH: dict[str, int] = {}
for _spec in AI_TABLE.values():
    _prefix = _spec.ai[:2]
    _length = len(_spec.ai) + max(_spec.min_length, 1)
    _MIN_ELEMENT_LENGTH[_prefix] = min(_MIN_ELEMENT_LENGTH.get(_prefix, _length), _length)
"""Shortest element string (AI + value) that starts with each two-digit prefix."""


def _element_start_pattern() -> re.Pattern[str]:
    # Matches the first digit of a known AI prefix that has enough characters after it for
    # the shortest element string it can begin: "0(?=[123][\s\S]{14}|0[\s\S]{18})|1(?=…)…".
    # Each branch starting with a plain digit lets the regex engine skip ahead to digits, and
    # the length in the lookahead lets one C-level search reject most values outright.
    # Consuming only that first digit keeps overlapping starts ("0101…") all found.
    lengths_by_first: dict[str, dict[int, str]] = {}
    for prefix, length in sorted(_MIN_ELEMENT_LENGTH.items()):
        seconds = lengths_by_first.setdefault(prefix[0], {})
        seconds[length] = seconds.get(length, "") + prefix[1]
    branches = [
        first
        + "(?="
        + "|".join(f"[{seconds}][\\s\\S]{{{length - 2}}}" for length, seconds in sorted(by.items()))
        + ")"
        for first, by in sorted(lengths_by_first.items())
    ]
    return re.compile("|".join(branches))


_ELEMENT_START = _element_start_pattern()
"""Finds (overlapping) offsets where a known AI starts, followed by enough characters for
the shortest element string it can begin (``match.start()``)."""

GS = "\x1d"
"""The group separator: how scanners transmit FNC1 in second and later positions."""

__all__ = ["GS", "parse_bare_gtin", "parse_element_string", "parse_hri"]


def _unknown_ai(text: str, position: int, length: int) -> Issue:
    got = text[position : position + length]
    message = f"Expected a GS1 Application Identifier, got {got!r}."
    return Issue("gs1.unknown_ai", message, position, len(got))


def parse_element_string(text: str, config: ParseConfig, offset: int = 0) -> Udi:
    """Parse GS1 element strings (the data after the symbology identifier).

    A GS right after the symbology identifier, a trailing GS and doubled GSs are tolerated.
    Splitting stops at the first unknown AI, since its length cannot be known; every other
    problem is collected so that one error lists all of them.

    Args:
        text: The element strings.
        config: Supplies the reference date of the century window.
        offset: Where ``text`` starts in the scan; added to every position reported.

    Raises:
        ParseError: With every issue found, positions relative to ``text`` plus ``offset``.
    """
    elements: list[RawElement] = []
    issues: list[Issue] = []
    size = len(text)
    position = 0
    complete = True
    while position < size:
        if text[position] == GS:
            position += 1
            continue
        ai_length = AI_LENGTH.get(text[position : position + 2])
        spec = None if ai_length is None else AI_TABLE.get(text[position : position + ai_length])
        if spec is None:
            issues.append(_unknown_ai(text, position, ai_length or 2))
            complete = False
            break
        start = position + ai_length
        if spec.predefined:
            end = start + spec.max_length
            separator = text.find(GS, start, end)
            if separator != -1:
                end = separator  # a GS inside a predefined length: the value is too short
            elif end > size:
                end = size
        else:
            end = text.find(GS, start)
            if end == -1:
                end = size
        elements.append((spec.ai, text[start:end], position, end - position, start, None))
        position = end
    year = reference_year(config)
    warnings, hints = _separator_ambiguities(elements, year)
    return finish(
        elements,
        issues,
        config,
        complete=complete,
        warnings=warnings,
        hints=hints,
        year=year,
        offset=offset,
    )


# --- missing group separators ---------------------------------------------------------------


def _clean_tail(data: str, year: int) -> list[RawElement] | None:
    """Read ``data`` as complete, clean element strings, or return None."""
    found: list[RawElement] = []
    position = 0
    while position < len(data):
        ai_length = AI_LENGTH.get(data[position : position + 2])
        spec = None if ai_length is None else AI_TABLE.get(data[position : position + ai_length])
        if spec is None:
            return None
        start = position + ai_length
        end = start + spec.max_length if spec.predefined else len(data)
        value = data[start:end]
        if not spec.min_length <= len(value) <= spec.max_length:
            return None
        if not lints_clean(spec, value, year):
            return None
        found.append((spec.ai, value, 0, 0, 0, None))
        position = start + len(value)
    return found or None


def _plausible(
    elements: Sequence[RawElement], index: int, head: str, tail: list[RawElement]
) -> bool:
    # The alternative reading must also satisfy the pair rules (e.g. (12) needs (8020)).
    ai = elements[index][0]
    reading = [*elements[:index], (ai, head, 0, 0, 0, None), *tail, *elements[index + 1 :]]
    return pairs_hold(reading)


def _split_points(
    spec: AiSpec,
    value: str,
    year: int,
    elements: Sequence[RawElement],
    index: int,
    need_evidence: bool,
) -> Iterator[tuple[int, list[RawElement]]]:
    """Offsets where ``value`` could end, the rest being valid AIs that lost their GS.

    In offset order. With ``need_evidence``, only readings whose tail has a fixed-length AI
    (see :func:`_has_evidence`), tested before the costlier head and pair checks.
    """
    for match in _ELEMENT_START.finditer(value, 1):
        offset = match.start()
        if not spec.min_length <= offset <= spec.max_length:
            continue
        tail = _clean_tail(value[offset:], year)
        if tail is None or (need_evidence and not _has_evidence(tail)):
            continue
        if not lints_clean(spec, value[:offset], year):
            continue
        if _plausible(elements, index, value[:offset], tail):
            yield offset, tail


def _has_evidence(tail: list[RawElement]) -> bool:
    # A fixed-length value that lints cleanly (a date, a check digit…) is unlikely by chance;
    # a variable-length CSET 82 value such as (10) or (21) matches almost anything.
    return any(AI_TABLE[item[0]].min_length == AI_TABLE[item[0]].max_length for item in tail)


def _separator_ambiguities(
    elements: list[RawElement], year: int
) -> tuple[list[Issue], dict[int, str]]:
    """Warnings for values that may have swallowed AIs, and hints for over-long values.

    A value longer than its AI allows gets a hint if any other reading exists; one within its
    limits gets a warning for the first reading whose tail has evidence.

    References:
        GS1 General Specifications §7.8.5 (FNC1 after variable-length element strings).
    """
    warnings: list[Issue] = []
    hints: dict[int, str] = {}
    for index, element in enumerate(elements):
        ai, value = element[0], element[1]
        spec = AI_TABLE[ai]
        if spec.predefined or spec.min_length == spec.max_length or len(value) < 3:
            continue
        if _ELEMENT_START.search(value, 1) is None:
            continue  # the common case: nothing in the value can be a whole element string
        too_long = len(value) > spec.max_length
        points = _split_points(spec, value, year, elements, index, need_evidence=not too_long)
        point = next(points, None)
        if point is None:
            continue
        if too_long:
            hints[index] = " (a group separator may be missing inside the value)"
            continue
        offset, tail = point
        reading = render_hri([(ai, value[:offset]), *((t[0], t[1]) for t in tail)])
        message = (
            f"Expected one value for AI ({ai}), got {value!r}, which also reads as "
            f"{reading} if a group separator was lost."
        )
        position = element[4] + offset
        warnings.append(
            Issue("gs1.ambiguous_separator", message, position, len(value) - offset, "gs1")
        )
    return warnings, hints


# --- bracketed HRI ---------------------------------------------------------------------------


def _bracketed_ai(text: str, position: int) -> str | None:
    """The AI of ``(AI)`` at ``position`` if it is a known AI, else None."""
    close = text.find(")", position + 1, position + 6)
    if close == -1:
        return None
    ai = text[position + 1 : close]
    return ai if ai in AI_TABLE else None


def _hri_value(
    text: str, start: int, issues: list[Issue]
) -> tuple[str, int, tuple[int, ...] | None]:
    """Read a value from ``start`` up to the next ``(AI)``; returns (value, end, origin).

    ``\\(`` is a literal parenthesis. An unescaped ``(`` that does not open a known AI is
    kept as data, since CSET 82 allows it.
    """
    end = len(text)
    index = start
    while (paren := text.find("(", index)) != -1:
        # Only "(" can end a value; "\\(" never does, whatever follows it.
        if text[paren - 1] != "\\":
            close = text.find(")", paren + 3, paren + 6)
            if close != -1 and text[paren + 1 : close] in AI_TABLE:
                end = paren
                break
        index = paren + 1
    value = text[start:end]
    if "\\" not in value:
        return value, end, None
    return _unescape(text, start, issues)


def _unescape(text: str, start: int, issues: list[Issue]) -> tuple[str, int, tuple[int, ...]]:
    chars: list[str] = []
    origin: list[int] = []
    index = start
    size = len(text)
    while index < size:
        char = text[index]
        if char == "(" and _bracketed_ai(text, index) is not None:
            break
        if char == "\\":
            if text.startswith("(", index + 1):
                chars.append("(")
                origin.append(index)
                index += 2
                continue
            message = f"Expected '\\(' as the only escape in HRI, got {text[index : index + 2]!r}."
            issues.append(Issue("gs1.illegal_escape", message, index, min(2, size - index)))
        chars.append(char)
        origin.append(index)
        index += 1
    origin.append(index)
    return "".join(chars), index, tuple(origin)


def parse_hri(text: str, config: ParseConfig, offset: int = 0) -> Udi:
    """Parse bracketed HRI such as ``(01)04012345678901(17)281231(10)LOT-A1``.

    Values end where the next ``(AI)`` of a known AI begins; spaces are data (and so an error,
    being outside CSET 82), never stripped. ``offset`` (where ``text`` starts in the scan) is
    added to every position reported.

    Raises:
        ParseError: With every issue found, positions relative to ``text`` plus ``offset``.
    """
    elements: list[RawElement] = []
    issues: list[Issue] = []
    position = 0
    complete = True
    while position < len(text):
        if text[position] != "(":
            message = f"Expected '(' opening an AI, got {text[position]!r}."
            issues.append(Issue("gs1.hri_syntax", message, position, 1))
            complete = False
            break
        close = text.find(")", position + 3, position + 6)
        ai = text[position + 1 : close] if close != -1 else None
        if ai not in AI_TABLE:
            ai = None
        if ai is None:
            close = text.find(")", position)
            length = (close + 1 - position) if close != -1 else len(text) - position
            issues.append(_unknown_ai(text, position, length))
            complete = False
            break
        start = position + len(ai) + 2
        value, end, origin = _hri_value(text, start, issues)
        elements.append((ai, value, position, end - position, start, origin))
        position = end
    return finish(elements, issues, config, complete=complete, offset=offset)


# --- linear symbols ----------------------------------------------------------------------------


def parse_bare_gtin(text: str, config: ParseConfig, offset: int = 0) -> Udi:
    """Parse the GTIN of an EAN-13, EAN-8, UPC-A or ITF-14 symbol, or bare GTIN digits.

    ``offset`` (where ``text`` starts in the scan) is added to every position reported.

    Raises:
        ParseError: ``gs1.non_digit``, ``gs1.gtin_length`` or ``gs1.check_digit``.
    """
    if not text:
        raise ParseError.single("gs1.empty", "Expected a GTIN, got nothing.", offset)
    gtin = Gtin.parse(text, position=offset)
    element = ("01", gtin.value, 0, len(text), 0, None)
    return build_udi([element], reference_year(config), offset=offset)
