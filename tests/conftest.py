"""Shared fixtures. Real-component fixtures live next to the tests that use them."""

from __future__ import annotations

import pytest

from converge.hosts import SimHost


@pytest.fixture
def sim(tmp_path) -> SimHost:
    """An empty simulated host with a state file in a temp dir."""
    return SimHost(str(tmp_path / "sim-host.json"))
