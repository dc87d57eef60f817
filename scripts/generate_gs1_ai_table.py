"""Generate ``udi/data/gs1_ai.json`` from the GS1 Barcode Syntax Dictionary.

The Syntax Dictionary (Apache-2.0, github.com/gs1/gs1-syntax-dictionary) describes every GS1
Application Identifier: its title, whether it has a predefined length (``*``), whether it may be
a Digital Link attribute (``?``), its components with their linters, and the ``req``/``ex``/
``dlpkey`` rules. This script expands AI ranges (``3100-3105``, ``91-99``) into one entry per AI
and writes a deterministic, sorted JSON file that :mod:`udi._gs1_table` loads once at import.

Usage (from the repository root)::

    python scripts/generate_gs1_ai_table.py [DICTIONARY_TXT] [--output udi/data/gs1_ai.json]

The default dictionary path is ``../shared/data/gs1-syntax-dictionary/gs1-syntax-dictionary.txt``.

>>> parse_component("[N..12],csum")
{'type': 'N', 'min': 1, 'max': 12, 'optional': True, 'linters': ['csum']}
>>> [entry["ai"] for entry in parse_entry_line("3100-3102 *? N6 req=01,02 # NET WEIGHT (kg)")]
['3100', '3101', '3102']
>>> parse_requirement("01+21,02,35nn")
[['01', '21'], ['02'], ['35nn']]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DICTIONARY = (
    REPO_ROOT.parent / "shared" / "data" / "gs1-syntax-dictionary" / "gs1-syntax-dictionary.txt"
)
DEFAULT_OUTPUT = REPO_ROOT / "udi" / "data" / "gs1_ai.json"
DEFAULT_NOTICE = REPO_ROOT / "udi" / "data" / "NOTICE"
SOURCE_REPOSITORY = "https://github.com/gs1/gs1-syntax-dictionary"
SOURCE_COMMIT = "ff2eb4bfc8f647aa3244626bdb875165d067a3e6"

# Flags are drawn from a reserved punctuation set; "[" is excluded because it opens an
# optional component, which always contains a type letter anyway.
_FLAGS = re.compile(r"^[*!?\"$%&'()+,\-./:;<=>@\\\]^_`{|}~]+$")
_COMPONENT = re.compile(r"^(\[?)([NXYZ])(\.\.)?(\d+)(\]?)((?:,[a-z0-9]+)*)$")
_AI_RANGE = re.compile(r"^(\d{2,4})(?:-(\d{2,4}))?$")
_PATTERN = re.compile(r"^\d+n*$")


def parse_component(token: str) -> dict[str, Any]:
    """Parse one specification component such as ``N13,csum`` or ``[X..17]``."""
    match = _COMPONENT.match(token)
    if match is None:
        raise ValueError(f"Expected a component like N6 or [X..20],linter, got {token!r}.")
    opening, kind, variable, length, closing, linters = match.groups()
    if bool(opening) != bool(closing):
        raise ValueError(f"Expected balanced brackets in component, got {token!r}.")
    maximum = int(length)
    return {
        "type": kind,
        "min": 1 if variable else maximum,
        "max": maximum,
        "optional": bool(opening),
        "linters": [name for name in linters.split(",") if name],
    }


def parse_requirement(value: str) -> list[list[str]]:
    """Parse ``req=`` alternatives: ``01+21,02`` means (01 and 21) or 02."""
    alternatives = [alternative.split("+") for alternative in value.split(",")]
    for alternative in alternatives:
        for pattern in alternative:
            _check_pattern(pattern)
    return alternatives


def _check_pattern(pattern: str) -> None:
    # The runtime matcher relies on wildcards ("n" = any digit) being trailing only.
    if not _PATTERN.match(pattern):
        raise ValueError(f"Expected an AI or an AI pattern like 394n, got {pattern!r}.")


def _expand_ais(token: str) -> list[str]:
    match = _AI_RANGE.match(token)
    if match is None:
        raise ValueError(f"Expected an AI or an AI range, got {token!r}.")
    first, last = match.groups()
    if last is None:
        return [first]
    if len(first) != len(last):
        raise ValueError(f"Expected a range of equal-length AIs, got {token!r}.")
    return [str(number).zfill(len(first)) for number in range(int(first), int(last) + 1)]


def parse_entry_line(line: str) -> list[dict[str, Any]]:
    """Parse one dictionary entry into one dict per AI (ranges expanded)."""
    body, _, title = line.partition("#")
    tokens = body.split()
    ais = _expand_ais(tokens[0])
    index = 1
    flags = ""
    if index < len(tokens) and _FLAGS.match(tokens[index]):
        flags = tokens[index]
        index += 1
    components: list[dict[str, Any]] = []
    while index < len(tokens) and _COMPONENT.match(tokens[index]):
        components.append(parse_component(tokens[index]))
        index += 1
    if not components:
        raise ValueError(f"Expected at least one component, got {line!r}.")
    requirements: list[list[list[str]]] = []
    exclusions: list[str] = []
    dlpkey: list[list[str]] | None = None
    for attribute in tokens[index:]:
        key, has_value, value = attribute.partition("=")
        if key == "req":
            requirements.append(parse_requirement(value))
        elif key == "ex":
            for pattern in value.split(","):
                _check_pattern(pattern)
                exclusions.append(pattern)
        elif key == "dlpkey":
            # A bare "dlpkey" is a key with one, empty, qualifier sequence.
            sequences = (
                [sequence.split(",") for sequence in value.split("|")] if has_value else [[]]
            )
            dlpkey = (dlpkey or []) + sequences
        else:
            raise ValueError(f"Expected req=, ex= or dlpkey attributes, got {attribute!r}.")
    return [
        {
            "ai": ai,
            "title": title.strip(),
            "flags": flags,
            "predefined": "*" in flags,
            "dl_attribute": "?" in flags,
            "components": components,
            "req": requirements,
            "ex": sorted(set(exclusions)),
            "dlpkey": dlpkey,
        }
        for ai in ais
    ]


def parse_dictionary(text: str) -> list[dict[str, Any]]:
    """Parse the whole dictionary text into AI entries sorted by AI."""
    entries: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        entries.extend(parse_entry_line(line))
    entries.sort(key=lambda entry: entry["ai"])
    seen: set[str] = set()
    for entry in entries:
        if entry["ai"] in seen:
            raise ValueError(f"Expected each AI once, got {entry['ai']} twice.")
        seen.add(entry["ai"])
    return entries


def ai_length_by_prefix(entries: list[dict[str, Any]]) -> dict[str, int]:
    """AI length from its first two digits (GenSpecs Figure 7.8.2-1), checked for consistency."""
    lengths: dict[str, int] = {}
    for entry in entries:
        prefix, length = entry["ai"][:2], len(entry["ai"])
        if lengths.setdefault(prefix, length) != length:
            raise ValueError(f"Expected one AI length for prefix {prefix}, got two.")
    return dict(sorted(lengths.items()))


def render(entries: list[dict[str, Any]]) -> str:
    """Render the JSON document: one AI per line so that diffs stay readable."""

    def dump(value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    header = {
        "source": SOURCE_REPOSITORY,
        "commit": SOURCE_COMMIT,
        "license": "Apache-2.0",
        "generator": "scripts/generate_gs1_ai_table.py",
    }
    lines = ["{", f'"meta":{dump(header)},']
    lines.append(f'"ai_length_by_prefix":{dump(ai_length_by_prefix(entries))},')
    lines.append('"ais":[')
    lines.append(",\n".join(dump(entry) for entry in entries))
    lines.append("]")
    lines.append("}")
    return "\n".join(lines) + "\n"


NOTICE_TEXT = f"""\
udi/data/gs1_ai.json is generated by scripts/generate_gs1_ai_table.py from the
GS1 Barcode Syntax Dictionary:

    {SOURCE_REPOSITORY}
    commit {SOURCE_COMMIT}

Copyright (c) 2020-2021 BWIPP project. https://bwipp.terryburton.co.uk/
Copyright (c) 2020-2021 Zint Project. https://zint.org.uk/
Copyright (c) 2021-2025 GS1 AISBL

Licensed under the Apache License, Version 2.0 (the "License"); you may not use
this file except in compliance with the License. You may obtain a copy of the
License at http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software distributed
under the License is distributed on an "AS IS" BASIS, WITHOUT WARRANTIES OR
CONDITIONS OF ANY KIND, either express or implied. See the License for the
specific language governing permissions and limitations under the License.

The data was reformatted (AI ranges expanded, components and attributes parsed
into JSON); its content is unchanged.
"""


def main(argv: list[str] | None = None) -> int:
    """Read the dictionary, write the JSON table and the NOTICE."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dictionary", nargs="?", type=Path, default=DEFAULT_DICTIONARY)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--notice", type=Path, default=DEFAULT_NOTICE)
    args = parser.parse_args(argv)
    entries = parse_dictionary(args.dictionary.read_text(encoding="utf-8"))
    args.output.write_text(render(entries), encoding="utf-8")
    args.notice.write_text(NOTICE_TEXT, encoding="utf-8")
    print(f"Wrote {len(entries)} AIs to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
