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
