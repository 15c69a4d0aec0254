"""systemd's path escaping, on what `systemd-escape --path` printed (systemd 252, Debian bookworm)."""

from __future__ import annotations

import pytest

from converge.formats.systemd import escape_path, mount_unit_name


@pytest.mark.parametrize(("path", "escaped"), [
    ("/", "-"), ("//", "-"), ("/-", "\\x2d"), ("/srv/a-b", "srv-a\\x2db"), ("/srv//media/", "srv-media"),
    ("/.hidden/x", "\\x2ehidden-x"), ("/tank/my data", "tank-my\\x20data"),
])
def test_escape_path_matches_systemd_escape(path, escaped):
    assert escape_path(path) == escaped


def test_a_mount_unit_is_named_by_its_escaped_path():
    assert mount_unit_name("/srv/tank") == "srv-tank.mount"
