r"""Command line: ``python -m udi SCAN`` or ``python -m udi -`` (one scan per line on stdin).

Prints the JSON form of each result; exit status 0 when every scan is valid, 1 otherwise.
Because a shell cannot easily type the GS character, the escapes ``\x1d`` (or any ``\xNN``)
and ``\u001d`` in a scan are decoded unless ``--raw`` is given; ``<GS>``, ``{GS}``, ``^]`` and
``~`` are understood as GS by the parser itself.

>>> _decode_escapes(r"10LOT\x1d21SN")
'10LOT\x1d21SN'
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from typing import TextIO

from udi.config import DEFAULT_SEPARATORS, ParseConfig
from udi.interpret import parse

_ESCAPE = re.compile(r"\\x([0-9A-Fa-f]{2})|\\u([0-9A-Fa-f]{4})")


def _decode_escapes(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1) or m.group(2), 16)), text)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m udi",
        description="Parse and validate UDI barcodes (GS1, Digital Link, HIBC, ISBT 128, MA, AHM).",
    )
    parser.add_argument("scan", help="the scan, or '-' to read one scan per line from stdin")
    parser.add_argument("--raw", action="store_true", help="do not decode \\xNN / \\uNNNN escapes")
    parser.add_argument(
        "--separator",
        action="append",
        default=[],
        help="an extra string the scanner sends for GS (repeatable)",
    )
    parser.add_argument(
        "--today", type=date.fromisoformat, default=None, help="reference date (YYYY-MM-DD)"
    )
    parser.add_argument("--pretty", action="store_true", help="indent the JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, stdin: TextIO | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _arguments(argv)
    config = ParseConfig(separators=DEFAULT_SEPARATORS + tuple(args.separator), today=args.today)
    scans: Iterable[str]
    if args.scan == "-":
        source = stdin or sys.stdin
        scans = _with_progress(line.rstrip("\r\n") for line in source)
    else:
        scans = [args.scan]
    all_ok = True
    for scan in scans:
        result = parse(scan if args.raw else _decode_escapes(scan), config=config)
        all_ok &= result.ok
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2 if args.pretty else None))
    return 0 if all_ok else 1


def _with_progress(lines: Iterable[str]) -> Iterator[str]:
    """Yield ``lines``, drawing a counter on stderr when it is a terminal."""
    show = sys.stderr.isatty()
    count = 0
    for count, line in enumerate(lines, start=1):
        if show and count % 1000 == 0:
            print(f"\rparsed {count:,} scans", end="", file=sys.stderr, flush=True)
        yield line
    if show:
        print(f"\rparsed {count:,} scans", file=sys.stderr)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # e.g. piped into `head`: the reader has all it wanted
        sys.stderr.close()
        sys.exit(0)
