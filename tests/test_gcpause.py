"""The bulk phase raises the cyclic collector's threshold and gives the old one back, also on error."""

from __future__ import annotations

import gc

import pytest

from converge.gcpause import BULK_THRESHOLD, bulk


def test_threshold_raised_inside_and_restored_after():
    before = gc.get_threshold()
    with bulk():
        assert gc.get_threshold()[0] >= BULK_THRESHOLD and gc.get_threshold()[1:] == before[1:]
    assert gc.get_threshold() == before
    with pytest.raises(RuntimeError), bulk():
        raise RuntimeError("boom")
    assert gc.get_threshold() == before


def test_overlapping_phases_leave_the_threshold_as_they_found_it():
    """Two threads' phases that end in the order they began (A in, B in, A out, B out)."""
    before = gc.get_threshold()
    a, b = bulk(), bulk()
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert gc.get_threshold()[0] >= BULK_THRESHOLD  # B is still in its phase
    b.__exit__(None, None, None)
    assert gc.get_threshold() == before
