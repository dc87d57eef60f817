"""GS1 Digital Link URIs: parse them into a :class:`udi.result.Udi`, and render canonical ones.

A DL URI carries a primary key and its qualifiers in the path, in the order the Syntax
Dictionary's ``dlpkey`` gives, and data attributes (AIs flagged ``?``) in the query string:

>>> from datetime import date
>>> from udi.config import ParseConfig
>>> config = ParseConfig(today=date(2026, 11, 27))
>>> uri = "https://example.com/x/01/04012345678901/10/LOT%2FA1?17=281231"
>>> udi = parse_digital_link(uri, config)
>>> (udi.gtin, udi.lot, udi.expiry_date.value.isoformat())
('04012345678901', 'LOT/A1', '2028-12-31')
>>> udi.digital_link
'https://id.gs1.org/01/04012345678901/10/LOT%2FA1?17=281231'
>>> parse_digital_link("https://a/01/04012345678901/", config)
Traceback (most recent call last):
...
udi.errors.ParseError: Expected no '/' at the end of the path, got a trailing '/'.

References:
    GS1 Digital Link URI Syntax 1.4: §4.1 (scheme), §4.3 (path: primary key, key qualifiers
    in order), §4.4 (query: data attributes), §4.8 (percent-encoding; ``+`` is literal in the
    path and a space in the query); GS1 Barcode Syntax Dictionary ``dlpkey`` and ``?`` flag.
"""

from __future__ import annotations

import re

from udi._gs1_core import RawElement, finish
from udi._gs1_render import CANONICAL_DL_DOMAIN, percent_encode, render_digital_link, render_hri
from udi._gs1_table import AI_TABLE, DL_PRIMARY_KEYS, DL_QUALIFIERS
from udi.config import ParseConfig
from udi.errors import Issue, ParseError
from udi.result import Udi

__all__ = [
    "CANONICAL_DL_DOMAIN",
    "parse_digital_link",
    "percent_encode",
    "render_digital_link",
    "render_hri",
]

_SCHEMES = ("https://", "http://", "HTTPS://", "HTTP://")
# RFC 3986: unreserved, reserved and "%" are the only characters a URI may contain.
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")
_HEX = frozenset("0123456789ABCDEFabcdef")
_ZERO_SUPPRESSED_GTIN_LENGTHS = (8, 12, 13)

Segment = tuple[int, int]
"""``(start, end)`` offsets of a path segment or query parameter in the URI."""


def _decode(
    text: str, start: int, end: int, plus_is_space: bool, issues: list[Issue]
) -> tuple[str, tuple[int, ...] | None]:
    """Percent-decode ``text[start:end]``; returns the value and its offset map (or None)."""
    raw = text[start:end]
    if "%" not in raw and not (plus_is_space and "+" in raw):
        return raw, None
    data = bytearray()
    sources: list[int] = []
    index = start
    while index < end:
        char = text[index]
        if char == "%" and index + 3 <= end and text[index + 1] in _HEX and text[index + 2] in _HEX:
            data.append(int(text[index + 1 : index + 3], 16))
            sources.append(index)
            index += 3
            continue
        if char == "%":
            message = f"Expected '%' followed by two hex digits, got {text[index : index + 3]!r}."
            issues.append(Issue("gs1_dl.bad_percent_encoding", message, index, min(3, end - index)))
        encoded = (" " if plus_is_space and char == "+" else char).encode("utf-8")
        data.extend(encoded)
        sources.extend([index] * len(encoded))
        index += 1
    # Invalid UTF-8 becomes lone surrogates, which the CSET 82 check then reports in place.
    value = data.decode("utf-8", "surrogateescape")
    origin: list[int] = []
    byte = 0
    for char in value:
        origin.append(sources[byte])
        byte += len(char.encode("utf-8", "surrogateescape"))
    origin.append(end)
    return value, tuple(origin)


def _scheme(text: str) -> str:
    for scheme in _SCHEMES:
        if text.startswith(scheme):
            return scheme
    got = text[: text.find("://") + 3] if "://" in text else text[:8]
    message = f"Expected the scheme http://, HTTP://, https:// or HTTPS://, got {got!r}."
    raise ParseError.single("gs1_dl.scheme", message, 0, len(got))


def _check_characters(text: str, end: int, issues: list[Issue]) -> None:
    if _URI_CHARS.fullmatch(text, 0, end) is not None:
        return
    index = next(i for i, char in enumerate(text[:end]) if not _URI_CHARS.fullmatch(char))
    message = f"Expected only URI characters (RFC 3986), got {text[index]!r}."
    issues.append(Issue("gs1_dl.illegal_character", message, index, 1))


def _path_segments(text: str, scheme: str, path_end: int, issues: list[Issue]) -> list[Segment]:
    slash = text.find("/", len(scheme), path_end)
    if slash == len(scheme):
        raise ParseError.single(
            "gs1_dl.no_domain", "Expected a domain after the scheme, got none.", slash, 1
        )
    if slash == -1:
        message = "Expected a path with a GS1 primary key, got none."
        raise ParseError.single("gs1_dl.no_path", message, path_end, 0)
    segments: list[Segment] = []
    start = slash + 1
    while True:
        stop = text.find("/", start, path_end)
        if stop == -1:
            segments.append((start, path_end))
            break
        segments.append((start, stop))
        start = stop + 1
    if segments[-1][0] == segments[-1][1]:
        message = "Expected no '/' at the end of the path, got a trailing '/'."
        issues.append(Issue("gs1_dl.trailing_slash", message, path_end - 1, 1))
        segments.pop()
    return segments


def _find_key(text: str, segments: list[Segment]) -> int:
    # The rightmost primary key followed by whole AI/value pairs wins: anything before it is
    # the path stem, which may be anything (even digits that look like AIs).
    for index in range(len(segments) - 2, -1, -2):
        start, end = segments[index]
        if text[start:end] in DL_PRIMARY_KEYS:
            return index
    message = "Expected a GS1 primary key AI followed by its value in the path, got none."
    first = segments[0][0] if segments else len(text)
    raise ParseError.single("gs1_dl.no_primary_key", message, first, 0)


def _check_qualifiers(key: str, qualifiers: list[tuple[str, Segment]], issues: list[Issue]) -> None:
    names = [name for name, _ in qualifiers]
    for sequence in DL_PRIMARY_KEYS[key]:
        remaining = iter(sequence)
        if all(name in remaining for name in names):  # an ordered subsequence of one sequence
            return
    allowed = DL_QUALIFIERS[key]
    for name, (start, end) in qualifiers:
        if name not in allowed:
            expected = (
                "no qualifier" if not allowed else "one of (" + ", ".join(sorted(allowed)) + ")"
            )
            message = f"Expected {expected} after primary key ({key}), got {name!r}."
            issues.append(Issue("gs1_dl.unexpected_qualifier", message, start, end - start))
            return
    orders = " or ".join("/".join(sequence) for sequence in DL_PRIMARY_KEYS[key])
    start = qualifiers[0][1][0]
    message = f"Expected qualifiers of ({key}) in the order {orders}, got {'/'.join(names)}."
    issues.append(Issue("gs1_dl.qualifier_order", message, start, qualifiers[-1][1][1] - start))


def _path_elements(
    text: str, segments: list[Segment], key_index: int, issues: list[Issue]
) -> list[RawElement]:
    elements: list[RawElement] = []
    qualifiers: list[tuple[str, Segment]] = []
    for index in range(key_index, len(segments), 2):
        (ai_start, ai_end), (value_start, value_end) = segments[index], segments[index + 1]
        ai = text[ai_start:ai_end]
        if index > key_index:
            qualifiers.append((ai, (ai_start, ai_end)))
        if ai not in AI_TABLE:
            message = f"Expected a GS1 Application Identifier as qualifier, got {ai!r}."
            issues.append(Issue("gs1.unknown_ai", message, ai_start, ai_end - ai_start))
            continue
        value, origin = _decode(text, value_start, value_end, False, issues)
        elements.append((ai, value, ai_start, value_end - ai_start, value_start, origin))
    key = text[slice(*segments[key_index])]
    if qualifiers:
        _check_qualifiers(key, qualifiers, issues)
    return elements


def _query_elements(
    text: str, query_start: int, end: int, key: str, elements: list[RawElement], issues: list[Issue]
) -> None:
    seen = {element[0] for element in elements}
    start = query_start
    while start < end:
        stop = text.find("&", start, end)
        stop = end if stop == -1 else stop
        name_end = text.find("=", start, stop)
        name = text[start : stop if name_end == -1 else name_end]
        if name.isascii() and name.isdigit():
            _query_ai(text, (start, stop), name, key, seen, elements, issues)
        start = stop + 1  # other parameters (e.g. linkType) are for the resolver: ignored


def _query_ai(
    text: str,
    segment: Segment,
    name: str,
    key: str,
    seen: set[str],
    elements: list[RawElement],
    issues: list[Issue],
) -> None:
    start, stop = segment
    spec = AI_TABLE.get(name)
    problem = None
    if spec is None:
        problem = ("gs1_dl.unknown_numeric_parameter", "a GS1 AI or a non-numeric name")
    elif name in seen:
        problem = ("gs1_dl.duplicate_ai", f"AI ({name}) once")
    elif name == key or name in DL_QUALIFIERS[key]:
        problem = ("gs1_dl.ai_belongs_in_path", f"AI ({name}) in the path")
    elif not spec.dl_attribute:
        problem = ("gs1_dl.not_dl_attribute", "an AI that is a Digital Link data attribute")
    if problem is not None:
        code, expected = problem
        message = f"Expected {expected}, got query parameter {text[start:stop]!r}."
        issues.append(Issue(code, message, start, stop - start))
        return
    seen.add(name)
    value_start = start + len(name) + 1
    value, origin = _decode(text, min(value_start, stop), stop, True, issues)
    elements.append((name, value, start, stop - start, value_start, origin))


def _zero_suppressed_gtins(
    elements: list[RawElement], config: ParseConfig, issues: list[Issue]
) -> list[RawElement]:
    result = []
    for element in elements:
        ai, value = element[0], element[1]
        if ai == "01" and len(value) in _ZERO_SUPPRESSED_GTIN_LENGTHS and value.isdigit():
            if not config.permit_zero_suppressed_gtin_in_dl:
                message = f"Expected a 14-digit GTIN in the Digital Link, got {len(value)} digits."
                issues.append(Issue("gs1_dl.zero_suppressed_gtin", message, element[4], len(value)))
                continue  # reported once, not again as a short GTIN
            # Padding shifts offsets: map each padded digit back to the first given one.
            pad = 14 - len(value)
            base = element[5] or tuple(range(element[4], element[4] + len(value) + 1))
            origin = (base[0],) * pad + tuple(base)
            element = (ai, value.zfill(14), element[2], element[3], element[4], origin)
        result.append(element)
    return result


def parse_digital_link(text: str, config: ParseConfig, offset: int = 0) -> Udi:
    """Parse a GS1 Digital Link URI (uncompressed), with any domain and path stem.

    The scheme must be exactly ``http``/``https`` in lower or upper case. Fragments are
    ignored, and so are query parameters whose names are not all digits; a numeric name that
    is not an AI is an error. GTIN-8/12/13 in the path are refused unless
    ``config.permit_zero_suppressed_gtin_in_dl`` (then zero-padded to GTIN-14). ``offset``
    (where ``text`` starts in the scan) is added to every position reported.

    Raises:
        ParseError: ``gs1_dl.*`` for URI structure problems, ``gs1.*`` for AI data problems.
    """
    try:
        elements, issues = _split(text, config)
    except ParseError as error:
        raise (error.shifted(offset) if offset else error) from None
    return finish(elements, issues, config, complete=not issues, offset=offset)


def _split(text: str, config: ParseConfig) -> tuple[list[RawElement], list[Issue]]:
    """The URI's AI elements and the issues found so far; raises when the URI has no shape."""
    scheme = _scheme(text)
    issues: list[Issue] = []
    end = text.find("#")
    end = len(text) if end == -1 else end
    _check_characters(text, end, issues)
    query = text.find("?", 0, end)
    path_end = end if query == -1 else query
    segments = _path_segments(text, scheme, path_end, issues)
    for start, stop in segments:
        if start == stop:
            message = "Expected a non-empty path segment, got '//'."
            issues.append(Issue("gs1_dl.empty_segment", message, start - 1, 1))
    key_index = _find_key(text, segments)
    elements = _path_elements(text, segments, key_index, issues)
    key = text[slice(*segments[key_index])]
    if query != -1:
        _query_elements(text, query + 1, end, key, elements, issues)
    elements = _zero_suppressed_gtins(elements, config, issues)
    return elements, issues
