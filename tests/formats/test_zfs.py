"""ZFS's own property rules (formats/zfs.py), which the simulated zfs stores and refuses by."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from converge.formats import zfs


@pytest.mark.parametrize("prop, value, stored", [
    ("quota", "1G", "1073741824"), ("quota", "none", "0"), ("recordsize", "1M", "1048576"),
    ("acltype", "posixacl", "posix"), ("acltype", "noacl", "off"), ("compression", "zstd-3", "zstd-3"),
    ("mountpoint", "legacy", "legacy"), ("backup:tier", "gold", "gold"),
])
def test_values_as_zfs_stores_them(prop: str, value: str, stored: str) -> None:
    assert zfs.dataset_value(prop, value) == stored


@pytest.mark.parametrize("prop, value, message", [
    ("compression", "LZ4", "'compression' must be one of"), ("recordsize", "384K", "power of 2"),
    ("quota", "big", "bad numeric value 'big'"), ("mountpoint", "relative", "absolute path"),
    ("colour", "blue", "invalid property 'colour'"), ("Backup:Tier", "x", "invalid property"),
])
def test_what_zfs_refuses(prop: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        zfs.dataset_value(prop, value)


@given(st.sampled_from(sorted(zfs.CHOICES)), st.data())
def test_every_index_value_is_stored_as_given(prop: str, data: st.DataObject) -> None:
    value = data.draw(st.sampled_from(zfs.CHOICES[prop]))
    assert zfs.dataset_value(prop, value) == value
