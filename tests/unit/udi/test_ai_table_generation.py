"""The committed GS1 AI table is exactly what the generator makes from the Syntax Dictionary."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DICTIONARY = ROOT.parent / "shared" / "data" / "gs1-syntax-dictionary" / "gs1-syntax-dictionary.txt"


@pytest.mark.skipif(
    not DICTIONARY.exists(), reason="the shared Syntax Dictionary is not beside the repo"
)
def test_the_committed_table_is_regenerated_byte_for_byte(tmp_path: Path) -> None:
    output, notice = tmp_path / "gs1_ai.json", tmp_path / "NOTICE"
    subprocess.run(
        [
            sys.executable,
            str(ROOT / "scripts" / "generate_gs1_ai_table.py"),
            str(DICTIONARY),
            "--output",
            str(output),
            "--notice",
            str(notice),
        ],
        check=True,
        timeout=120,
    )
    assert output.read_bytes() == (ROOT / "udi" / "data" / "gs1_ai.json").read_bytes()
    assert notice.read_bytes() == (ROOT / "udi" / "data" / "NOTICE").read_bytes()
