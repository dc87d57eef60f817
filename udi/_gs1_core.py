"""What every GS1 input form shares once its AIs are split: linting, AI pair rules, the Udi.

Element strings (:mod:`udi.gs1`), bracketed HRI and Digital Link URIs (:mod:`udi.digital_link`)
each split their input into :data:`RawElement` tuples and hand them to :func:`finish`, which
lints every value, applies the Syntax Dictionary's ``req``/``ex`` rules and the repeated-AI
rule, and either raises :class:`ParseError` with every issue or returns the :class:`Udi`.

>>> from udi.config import ParseConfig
>>> from datetime import date
>>> config = ParseConfig(today=date(2026, 1, 1))
>>> udi = finish([("01", "04012345678901", 0, 16, 2, None)], [], config)
>>> (udi.gtin, udi.hri, udi.digital_link)
('04012345678901', '(01)04012345678901', 'https://id.gs1.org/01/04012345678901')
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from functools import lru_cache

from udi._gs1_lint import (
    CHARSET_PATTERNS,
    CHARSET_TESTS,
    Failure,
    Linter,
    check_charset,
    resolve_yymmdd,
)
from udi._gs1_render import escape_hri, render_digital_link_map
from udi._gs1_table import AI_TABLE, AiSpec, Component, Pattern
from udi.config import ParseConfig
from udi.errors import Issue, ParseError
from udi.result import Agency, DatePrecision, Udi, UdiDate, assemble, new_element

RawElement = tuple[str, str, int, int, int, "tuple[int, ...] | None"]
"""``(ai, value, position, length, value_position, origin)``.

``position``/``length`` cover the AI and its value in the parsed text; ``value_position`` is
where the value starts. ``origin`` maps value offsets to text offsets when the value was
unescaped or percent-decoded (one extra entry for the end), and is None when the value is a
verbatim slice of the text.
"""

OTHER_NAMES: dict[str, str] = {
    "02": "content_gtin",
    "03": "mto_gtin",
    "12": "due_date",
    "13": "packaging_date",
    "15": "best_before_date",
    "16": "sell_by_date",
    "20": "variant",
    "22": "cpv",
    "235": "tpx",
    "240": "additional_id",
    "241": "customer_part_number",
    "242": "mto_variant",
    "243": "pcn",
    "250": "secondary_serial",
    "251": "reference_to_source",
    "253": "gdti",
    "254": "gln_extension",
    "255": "gcn",
    "400": "order_number",
    "410": "ship_to_gln",
    "411": "bill_to_gln",
    "412": "purchased_from_gln",
    "413": "ship_for_gln",
    "414": "gln",
    "415": "pay_to_gln",
    "416": "production_location_gln",
    "417": "party_gln",
    "422": "country_of_origin",
    "7003": "expiry_date_time",
    "7240": "protocol",
    "710": "nhrn_pzn",
    "711": "nhrn_cip",
    "712": "nhrn_cn",
    "713": "nhrn_drn",
    "714": "nhrn_aim",
    "715": "nhrn_ndc",
    "716": "nhrn_aic",
    "717": "nhrn_srn",
    "8003": "grai",
    "8004": "giai",
    "8006": "itip",
    "8012": "software_version",
    "8013": "gmn",
    "8020": "payment_reference",
    "8026": "itip_content",
    "8030": "digital_signature",
}
"""Names of the production identifiers and attributes kept in :attr:`Udi.other`.

AIs not listed here appear as ``ai_<AI>``; AIs with a field of their own (00, 01, 10, 11, 17,
21, 30, 37) do not appear in ``other``.
"""

_OWN_FIELDS = frozenset({"00", "01", "10", "11", "17", "21", "30", "37"})
_OTHER_DATES = frozenset({"12", "13", "15", "16"})


# --- pair rules, compiled once ------------------------------------------------------------------


def _split_patterns(patterns: Sequence[Pattern]) -> tuple[frozenset[str], tuple[Pattern, ...]]:
    exact = frozenset(p for p in patterns if "n" not in p)
    return exact, tuple(p for p in patterns if "n" in p)


def _wild_match(pattern: Pattern, present: dict[str, str], skip: str = "") -> str | None:
    stem = pattern.rstrip("n")
    for ai in present:
        if ai != skip and len(ai) == len(pattern) and ai.startswith(stem):
            return ai
    return None


_Requirement = tuple[frozenset[str], tuple[tuple[Pattern, ...], ...]]


def _compile_requirement(alternatives: tuple[tuple[Pattern, ...], ...]) -> _Requirement:
    # Single exact AIs become one set-disjointness test; the rest ("01+21", "31nn") stay general.
    singles = frozenset(alt[0] for alt in alternatives if len(alt) == 1 and "n" not in alt[0])
    rest = tuple(alt for alt in alternatives if len(alt) > 1 or "n" in alt[0])
    return singles, rest


_REQUIREMENTS: dict[str, tuple[_Requirement, ...]] = {
    ai: tuple(_compile_requirement(requirement) for requirement in spec.requirements)
    for ai, spec in AI_TABLE.items()
}
_EXCLUSIONS = {ai: _split_patterns(spec.exclusions) for ai, spec in AI_TABLE.items()}


def _satisfied(alternative: tuple[Pattern, ...], present: dict[str, str]) -> bool:
    return all(
        (p in present) if "n" not in p else _wild_match(p, present) is not None for p in alternative
    )


def _describe(alternatives: tuple[tuple[Pattern, ...], ...]) -> str:
    names = ["+".join(f"({p})" for p in alt) for alt in alternatives]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


Finding = tuple[str, str, int]
"""``(code, message, index)``: a pair-rule problem at the ``index``-th distinct AI."""

_PAIR_CACHE: dict[tuple[str, ...], tuple[Finding, ...]] = {}
_PAIR_CACHE_SIZE = 4096


def _pair_findings(ais: tuple[str, ...], present: dict[str, str]) -> tuple[Finding, ...]:
    """The ``req``/``ex`` problems of a set of AIs; they depend on nothing else, so are cached."""
    findings = _PAIR_CACHE.get(ais)
    if findings is not None:
        return findings
    found: list[Finding] = []
    index_of = {ai: index for index, ai in enumerate(ais)}
    reported: set[frozenset[str]] = set()
    for index, ai in enumerate(ais):
        for number, (singles, rest) in enumerate(_REQUIREMENTS[ai]):
            if not present.keys().isdisjoint(singles):
                continue
            if any(_satisfied(alt, present) for alt in rest):
                continue
            alternatives = AI_TABLE[ai].requirements[number]
            message = f"Expected {_describe(alternatives)} with AI ({ai}), got none."
            found.append(("gs1.missing_required_ai", message, index))
        exact, wild = _EXCLUSIONS[ai]
        clashes = [other for other in exact if other != ai and other in present]
        clashes += [m for p in wild if (m := _wild_match(p, present, skip=ai)) is not None]
        for other in clashes:
            pair = frozenset((ai, other))
            if pair not in reported:
                reported.add(pair)
                message = f"Expected AI ({ai}) without AI ({other}), got both."
                found.append(("gs1.invalid_ai_pair", message, max(index, index_of[other])))
    if len(_PAIR_CACHE) >= _PAIR_CACHE_SIZE:
        _PAIR_CACHE.clear()
    findings = _PAIR_CACHE[ais] = tuple(found)
    return findings


def check_pairs(elements: Sequence[RawElement], issues: list[Issue]) -> dict[str, str]:
    """Apply the repeated-AI rule and the dictionary's ``req`` and ``ex`` rules.

    A missing requisite is reported on the AI that needs it; an invalid pair on the later of
    the two AIs. Returns each AI's first value, in first-seen order.

    References:
        GS1 General Specifications §4.14 (invalid and mandatory pairs of element strings);
        §4.13.1 (an AI may repeat only with the same value).
    """
    present: dict[str, str] = {}
    firsts: list[RawElement] = []
    for element in elements:
        ai, value = element[0], element[1]
        previous = present.get(ai)
        if previous is None:
            present[ai] = value
            firsts.append(element)
        elif previous != value:
            message = f"Expected AI ({ai}) to repeat with value {previous!r}, got {value!r}."
            issues.append(Issue("gs1.repeated_ai", message, element[2], element[3]))
    for code, message, index in _pair_findings(tuple(present), present):
        element = firsts[index]
        issues.append(Issue(code, message, element[2], element[3]))
    return present


def pairs_hold(elements: Sequence[RawElement]) -> bool:
    """True when :func:`check_pairs` would find nothing; cheaper, as no issue is worded.

    For trying alternative readings of a scan (missing group separators), where only the
    verdict matters.
    """
    present: dict[str, str] = {}
    for element in elements:
        if present.setdefault(element[0], element[1]) != element[1]:
            return False  # a repeated AI with another value
    return not _pair_findings(tuple(present), present)


# --- linting ------------------------------------------------------------------------------------


def lint_value(spec: AiSpec, value: str, year: int) -> list[tuple[int, Failure]]:
    """Check ``value`` (already within the AI's overall length limits) component by component.

    Returns ``(component_offset, failure)`` pairs, at most one per component: once a
    component's characters are wrong, its linters would only repeat the problem.
    """
    kind = spec.simple_kind
    if kind is not None:
        if kind != "Z" and CHARSET_PATTERNS[kind].fullmatch(value) is not None:
            return []
        failure = check_charset(kind, value)
        return [] if failure is None else [(0, failure)]
    components = spec.components
    if len(components) == 1:  # most AIs: no slicing, no offsets
        component = components[0]
        failure = check_charset(component.kind, value)
        if failure is None:
            for _name, linter in component.linters:
                failure = linter(value, year)
                if failure is not None:
                    break
        return [] if failure is None else [(0, failure)]
    failures: list[tuple[int, Failure]] = []
    offset = 0
    size = len(value)
    for component in components:
        if offset >= size and component.optional:
            break
        chunk = value[offset : offset + component.max_length]
        if len(chunk) < component.min_length:
            unit = "digits" if component.kind == "N" else "characters"
            expected = f"{component.min_length} more {unit}"
            failures.append(
                (offset, ("gs1.value_too_short", 0, len(chunk), expected, str(len(chunk))))
            )
            break
        failure = check_charset(component.kind, chunk)
        if failure is None:
            for _name, linter in component.linters:
                failure = linter(chunk, year)
                if failure is not None:
                    break
        if failure is not None:
            failures.append((offset, failure))
        offset += len(chunk)
    return failures


def _length_issue(spec: AiSpec, value: str, position: int, length: int, hint: str = "") -> Issue:
    unit = "digits" if spec.numeric else "characters"
    low, high = spec.min_length, spec.max_length
    if len(value) < low:
        code = "gs1.value_too_short"
        expected = f"{low} {unit}" if low == high else f"at least {low} {unit}"
    else:
        code = "gs1.value_too_long"
        expected = f"{high} {unit}" if low == high else f"at most {high} {unit}"
    got = str(len(value)) if value else "none"
    message = f"Expected {expected} for {spec.subject} in AI ({spec.ai}), got {got}{hint}."
    return Issue(code, message, position, length)


def failure_issue(spec: AiSpec, failure: Failure, start: int, element: RawElement) -> Issue:
    """Turn a linter failure at value offset ``start`` into an Issue positioned in the text."""
    code, offset, length, expected, got = failure
    begin = start + offset
    origin = element[5]
    if origin is None:
        position = element[4] + begin
    else:
        position = origin[begin]
        length = origin[min(begin + length, len(origin) - 1)] - position
    message = f"Expected {expected} for {spec.subject} in AI ({spec.ai}), got {got}."
    return Issue(code, message, position, length)


def lint_element(element: RawElement, year: int, issues: list[Issue], hint: str = "") -> None:
    """Check one element's length and content, appending every issue found."""
    ai, value = element[0], element[1]
    spec = AI_TABLE[ai]
    if not spec.min_length <= len(value) <= spec.max_length:
        issues.append(_length_issue(spec, value, element[2], element[3], hint))
        return
    for start, failure in lint_value(spec, value, year):
        issues.append(failure_issue(spec, failure, start, element))


# --- the fast path for clean values ---------------------------------------------------------
#
# Nearly every value on a real label is clean, and for a one-component AI "clean" is just:
# length within limits, characters in the set, every linter passes. Precomputed per AI, that
# is a few C calls. A value failing it goes through lint_element, which finds and words the
# issues as before; the fast path only decides that there is nothing to find.

CleanTest = tuple[int, int, Callable[[str], bool] | None, tuple[Linter, ...]]
"""``(min_length, max_length, charset_test, linters)`` of a one-component AI; the charset
test is None for digits, which :func:`is_clean` tests inline (a call costs more)."""

# A GS1 Company Prefix check only asks for four leading digits (from the 1st or 2nd position):
# a required numeric component at least that long has them once its characters are digits.
_GCP_IMPLIED_BY_DIGITS = {"gcppos1": 4, "gcppos2": 5}


def _needed(component: Component, name: str) -> bool:
    """False for a linter that cannot fail once the component's charset and length hold."""
    shortest = _GCP_IMPLIED_BY_DIGITS.get(name)
    if shortest is None or component.kind != "N" or component.optional:
        return True
    return component.min_length < shortest


def _clean_test(spec: AiSpec) -> CleanTest | None:
    component = spec.components[0]
    if len(spec.components) != 1 or component.kind not in ("N", *CHARSET_TESTS):
        return None  # several components, or CSET 64 with its padding rule: the full check
    linters = tuple(linter for name, linter in component.linters if _needed(component, name))
    charset = None if component.kind == "N" else CHARSET_TESTS[component.kind]
    return spec.min_length, spec.max_length, charset, linters


_CLEAN_TESTS: dict[str, CleanTest | None] = {ai: _clean_test(spec) for ai, spec in AI_TABLE.items()}


def is_clean(ai: str, value: str, year: int) -> bool:
    """True when :func:`lint_element` would find nothing; False means "look closer"."""
    test = _CLEAN_TESTS[ai]
    if test is None:
        return False
    low, high, charset, linters = test
    if not low <= len(value) <= high:
        return False
    if charset is None:
        if not (value.isdigit() and value.isascii()):  # isdigit() alone takes "²" or "٣"
            return False
    elif not charset(value):
        return False
    for linter in linters:  # noqa: SIM110 - a plain loop: all() would add a generator per value
        if linter(value, year) is not None:
            return False
    return True


def lints_clean(spec: AiSpec, value: str, year: int) -> bool:
    """True when :func:`lint_value` finds nothing in ``value`` (within the length limits)."""
    return is_clean(spec.ai, value, year) or not lint_value(spec, value, year)


# --- the Udi ---------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _udi_date(value: str, year: int) -> UdiDate:
    # UdiDate is immutable, so one instance per label date can be shared.
    resolved = resolve_yymmdd(value, year, True)
    precision = DatePrecision.MONTH if resolved[1] else DatePrecision.DAY
    return UdiDate(resolved[0], value, "YYMMDD", precision)  # type: ignore[arg-type]


def _other_value(ai: str, value: str, year: int) -> str:
    if ai in _OTHER_DATES:
        return resolve_yymmdd(value, year, True)[0].isoformat()  # type: ignore[union-attr]
    if ai == "7003":
        day = resolve_yymmdd(value[:6], year, False)[0]
        return f"{day.isoformat()}T{value[6:8]}:{value[8:10]}"  # type: ignore[union-attr]
    return value


_year_cache: list[float] = [0.0, 0.0]


def reference_year(config: ParseConfig) -> int:
    """Year the century window is centred on: ``config.today`` or the system date.

    The system year is re-read once a minute rather than per scan (``date.today()`` is a
    system call; a year changes rarely).
    """
    if config.today is not None:
        return config.today.year
    now = time.monotonic()
    if now >= _year_cache[0]:
        _year_cache[0], _year_cache[1] = now + 60.0, date.today().year  # noqa: DTZ011
    return int(_year_cache[1])


_TITLES = {ai: spec.title for ai, spec in AI_TABLE.items()}
_HRI_PREFIXES = {ai: f"({ai})" for ai in AI_TABLE}


def build_udi(
    elements: Sequence[RawElement],
    year: int,
    warnings: Sequence[Issue] = (),
    first: dict[str, str] | None = None,
    offset: int = 0,
) -> Udi:
    """Build the :class:`Udi` from elements that passed every check.

    The DI is the GTIN of AI (01); without it, AI (03) (made-to-order GTIN) and then the GTIN
    part of AI (8006) (ITIP: one piece of a multi-piece trade item, whose UDI-DI is the trade
    item's GTIN) are used. An SSCC-only scan has no DI. ``first`` (each AI's first value, as
    :func:`check_pairs` returns it) saves recomputing it. ``offset`` is added to the positions
    of the elements and warnings.
    """
    if first is None:
        first = {}
        for element in elements:
            first.setdefault(element[0], element[1])
    records = []
    hri = []
    for ai, value, position, length, _value_position, _origin in elements:
        records.append(new_element(ai, _TITLES[ai], value, position + offset, length))
        hri.append(_HRI_PREFIXES[ai])
        hri.append(escape_hri(value) if "(" in value else value)
    gtin = first.get("01") or first.get("03")
    itip = first.get("8006")
    if gtin is None and itip is not None:
        gtin = itip[:14]
    other: dict[str, str] = {}
    if not _OWN_FIELDS.issuperset(first):
        for ai, value in first.items():
            if ai not in _OWN_FIELDS:
                other[OTHER_NAMES.get(ai, f"ai_{ai}")] = _other_value(ai, value, year)
        if itip is not None:
            other["itip_piece"], other["itip_total"] = itip[14:16], itip[16:18]
    quantity = first.get("30") or first.get("37")
    production = first.get("11")
    expiry = first.get("17")
    return assemble(
        Udi,
        {
            "agency": Agency.GS1,
            "di": gtin,
            "gtin": gtin,
            "sscc": first.get("00"),
            "lot": first.get("10"),
            "serial": first.get("21"),
            "production_date": _udi_date(production, year) if production else None,
            "expiry_date": _udi_date(expiry, year) if expiry else None,
            "quantity": int(quantity) if quantity else None,
            "elements": tuple(records),
            "other": other,
            "hri": "".join(hri),
            "digital_link": render_digital_link_map(first),
            "warnings": tuple(w.shifted(offset) for w in warnings) if offset else tuple(warnings),
        },
    )


def finish(
    elements: Sequence[RawElement],
    issues: list[Issue],
    config: ParseConfig,
    *,
    complete: bool = True,
    warnings: Sequence[Issue] = (),
    hints: dict[int, str] | None = None,
    year: int | None = None,
    offset: int = 0,
) -> Udi:
    """Lint every element, apply the pair rules, then raise every issue or return the Udi.

    Args:
        elements: The AIs read, in input order.
        issues: Structural issues already found while splitting (extended in place).
        config: Supplies the reference date of the century window.
        complete: False when splitting stopped early; pair rules are then skipped because the
            unread part may hold the AIs they ask for.
        warnings: Warnings to attach to the Udi.
        hints: Extra text for a value-length message, by element index (missing separators).
        year: The reference year when the caller already knows it.
        offset: Where the parsed text starts in the scan. Elements and issues carry positions
            in the text; every position reported (Udi and ParseError) has ``offset`` added.
    """
    if year is None:
        year = reference_year(config)
    if not elements and not issues:
        issues.append(Issue("gs1.empty", "Expected GS1 AI data, got none.", 0, 0))
    for index, element in enumerate(elements):
        if not is_clean(element[0], element[1], year):
            lint_element(element, year, issues, hints.get(index, "") if hints else "")
    first = check_pairs(elements, issues) if complete and elements else None
    if issues:
        issues.sort(key=lambda issue: issue.position)
        error = ParseError(_without_repeats(issues))
        raise error.shifted(offset) if offset else error
    return build_udi(elements, year, warnings, first, offset)


def _without_repeats(issues: list[Issue]) -> list[Issue]:
    # A character outside the URI syntax (gs1_dl.illegal_character) is usually outside CSET 82
    # too: one character, one issue.
    seen: set[tuple[int, int]] = set()
    kept = []
    for issue in issues:
        if issue.code.endswith("_character"):
            key = (issue.position, issue.length)
            if key in seen:
                continue
            seen.add(key)
        kept.append(issue)
    return kept
