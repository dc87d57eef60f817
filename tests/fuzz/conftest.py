"""Print how many inputs the fuzz tests fed ``udi.parse`` (CI shows the bounded run's size)."""

from __future__ import annotations

import pytest

from tests.fuzz import invariants


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if invariants.COUNTS:
        terminalreporter.write_line(invariants.summary())
