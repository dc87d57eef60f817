"""Coverage-guided fuzzing of ``udi.parse`` with atheris (libFuzzer), on demand.

    .venv/bin/python fuzz/udi_parse_atheris.py -runs=100000          # the >= 100,000 run
    .venv/bin/python fuzz/udi_parse_atheris.py -max_total_time=600   # or for ten minutes

Every input is decoded as UTF-8 (lossily, so any bytes reach the parser) and checked against
tests/fuzz/invariants.py: no exception, deterministic JSON, positions inside the scan, and ok
GS1 results re-serialising to an equal parse. An exception escaping ``udi.parse`` stops the
run and libFuzzer writes the input as ``crash-<sha1>`` (replay: pass that file instead of
options). A broken invariant does not stop the run: the first input breaking each one is saved
as ``fuzz-findings/<what>-<sha1>`` and counted, so one known bug does not hide the next.
The seed corpus is the README's examples, written to a temporary directory unless a corpus
directory is given. libFuzzer prints ``Done N runs``; the harness prints the outcome counts
every 25,000 inputs.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports():
    import udi  # noqa: F401  # instrumented for coverage feedback
    from tests.fuzz import invariants

SEEDS = [
    "]d201069012345678921727123110LOT123\x1d21SN0001",
    "(01)06901234567892(17)271231(10)LOT123(21)SN0001",
    "]Q1https://id.gs1.org/01/06901234567892/10/LOT123?17=271231",
    "+A99912345/$$52001510X33",
    "=/A9999XYZ100T0944=,000025=A99971312345600=>014032=}013032",
    "MA.156.M0.100761.21234561.Sx00008.M220117.L20220117.E220130",
    "MF690123|BNAB12|SN77|ED270131",
    "[)>\x1e06\x1d01069012345678921727123110LOT123\x1e\x04",
]


REPORT_EVERY = 25_000
FINDINGS = Path("fuzz-findings")


def test_one_input(data: bytes) -> None:
    scan = data.decode("utf-8", errors="replace")
    try:
        invariants.check(scan)
    except AssertionError as broken:
        _record(scan, broken)
    # libFuzzer leaves with _exit (no atexit), so report the counts as the run goes.
    if sum(invariants.COUNTS.values()) % REPORT_EVERY == 0:
        print(invariants.summary(), flush=True)


def _record(scan: str, broken: AssertionError) -> None:
    what = invariants.violation_kind(broken)
    invariants.COUNTS[f"violation:{what}"] += 1
    if invariants.COUNTS[f"violation:{what}"] == 1:
        FINDINGS.mkdir(exist_ok=True)
        digest = hashlib.sha1(scan.encode("utf-8", "surrogatepass")).hexdigest()
        (FINDINGS / f"{what}-{digest}").write_text(f"{scan!r}\n{broken}\n", encoding="utf-8")
        print(f"invariant broken ({what}): {scan!r}: {broken}", flush=True)


def main() -> None:
    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):
        corpus = Path(tempfile.mkdtemp(prefix="udi-fuzz-"))
        for index, seed in enumerate(SEEDS):
            (corpus / f"seed-{index}").write_bytes(seed.encode("utf-8"))
        args.append(str(corpus))
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
