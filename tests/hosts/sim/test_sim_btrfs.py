"""The btrfs emulator refuses what btrfs-progs refuses and prints its text formats."""

from __future__ import annotations

import pytest

from converge.hosts import SimHost


@pytest.fixture
def h(tmp_path):
    host = SimHost(str(tmp_path / "h.json"), seed={"disks": {"/dev/sdb": {}, "/dev/sdc": {"holds": "ext4"}}})
    host.run(["mkfs.btrfs", "-L", "bt", "/dev/sdb"])
    host.run(["mkdir", "-p", "/bt"])
    host.run(["mount", "-t", "btrfs", "/dev/sdb", "/bt"])
    return host


@pytest.mark.parametrize("argv, message", [
    (["mkfs.btrfs", "-L", "x", "/dev/sdc"], "appears to contain an existing filesystem (ext4)"),
    (["mkfs.btrfs", "-L", "x", "-d", "raid1", "/dev/sdc", "-f"], "raid1 needs at least 2 devices"),
    (["btrfs", "subvolume", "create", "/bt/a/b"], "cannot access '/bt/a'"),
    (["btrfs", "qgroup", "show", "-r", "--raw", "/bt"], "quotas not enabled"),
])
def test_refusals(h, argv, message):
    result = h.run(argv, check=False)
    assert result.returncode != 0 and message in result.stderr


def test_delete_with_nested_subvolume_is_refused(h):
    h.run(["btrfs", "subvolume", "create", "/bt/a"])
    h.run(["btrfs", "subvolume", "create", "/bt/a/b"])
    assert "Directory not empty" in h.run(["btrfs", "subvolume", "delete", "-c", "/bt/a"], check=False).stderr
    assert h.run(["btrfs", "subvolume", "list", "/bt"]).stdout == \
        "ID 256 gen 7 top level 5 path a\nID 257 gen 7 top level 5 path a/b\n"
