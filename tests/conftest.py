"""Shared fixtures. Real-component fixtures live next to the tests that use them."""

from __future__ import annotations

import pytest

from converge.hosts import SimHost


@pytest.fixture
def sim(tmp_path) -> SimHost:
    """An empty simulated host with a state file in a temp dir."""
    return SimHost(str(tmp_path / "sim-host.json"))


def pytest_terminal_summary(terminalreporter) -> None:
    """Resources of ended test runs that real tests came across (never touched by this run)."""
    from isolation import LEFTOVERS

    if LEFTOVERS:
        terminalreporter.section("leftovers of earlier test runs")
        for line in sorted(set(LEFTOVERS)):
            terminalreporter.write_line(line)
