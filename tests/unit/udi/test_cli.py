"""``python -m udi`` run as a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "udi", *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_a_valid_scan_prints_its_json_and_exits_0() -> None:
    result = run_cli(r"]d201069012345678921727123110LOT123\x1d21SN0001")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert (body["ok"], body["gtin"], body["lot"], body["serial"]) == (
        True,
        "06901234567892",
        "LOT123",
        "SN0001",
    )


def test_an_invalid_scan_exits_1_with_positioned_errors() -> None:
    result = run_cli("]d201069012345678931727123110LOT123")
    assert result.returncode == 1
    body = json.loads(result.stdout)
    assert body["ok"] is False
    assert body["errors"][0]["code"] == "gs1.check_digit"
    assert body["errors"][0]["position"] == 18


def test_raw_mode_keeps_backslashes() -> None:
    result = run_cli("--raw", r"(01)06901234567892(10)A\x1d")
    assert result.returncode == 1  # a backslash is not a GS1 CSET 82 character


def test_stdin_mode_writes_one_json_line_per_scan() -> None:
    scans = "(01)06901234567892(17)271231\n+A99912345/$$52001510X33\n(01)06901234567893\n"
    result = run_cli("-", stdin=scans)
    assert result.returncode == 1  # the third scan is invalid
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["ok"] for line in lines] == [True, True, False]
    assert [line["agency"] for line in lines[:2]] == ["GS1", "HIBC"]
    assert result.stderr == ""  # no progress bar when stderr is not a terminal
