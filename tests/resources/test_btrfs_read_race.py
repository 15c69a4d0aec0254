"""The btrfs reader when a filesystem it found mounted is unmounted before it is read (another
run's, or someone else's pool going away): read as unmounted, not a failed read."""

from __future__ import annotations

from converge.hosts.base import CommandLog, Result
from converge.resources.storage.btrfs_read import read_filesystems

SHOW = """Label: 'theirs'  uuid: 11111111-2222-3333-4444-555555555555
\tTotal devices 1 FS bytes used 144
\tdevid    1 size 1073741824 used 1 path /dev/loop7

"""
FINDMNT = '{"filesystems": [{"source": "/dev/loop7", "target": "/srv/theirs", "fsroot": "/", "options": "rw"}]}'


class UnmountedMidRead(CommandLog):
    """btrfs-progs' real answers on a mountpoint whose filesystem was just unmounted."""

    def __init__(self, fail_at: str) -> None:
        super().__init__()
        self.fail_at = fail_at

    def run(self, argv, *, input=None, check=True):
        self.record(argv)
        if argv[:3] == ["btrfs", "filesystem", "show"]:
            return Result(0, SHOW)
        if argv[0] == "findmnt":
            return Result(0, FINDMNT)
        if " ".join(argv).startswith(self.fail_at):
            return Result(1, "", "ERROR: not a btrfs filesystem: /srv/theirs\n")
        return Result(0, "")


def test_a_filesystem_unmounted_during_the_read_reads_as_unmounted():
    for step in ("btrfs filesystem df", "btrfs subvolume list /srv", "btrfs subvolume list -r"):
        (fs,) = read_filesystems(UnmountedMidRead(step))
        assert (fs.label, fs.path, fs.devices) == ("theirs", "", ["/dev/loop7"]), step


class SnapshotPrunedMidRead(CommandLog):
    """getfattr's and btrfs-progs' real answers (getfattr 2.5.1, btrfs-progs 6.2) when one of the
    listed subvolumes was deleted after `subvolume list` (a policy run pruning a snapshot)."""

    def __init__(self, getfattr: bool) -> None:
        super().__init__()
        self.getfattr = getfattr

    def has(self, tool: str) -> bool:
        return tool != "getfattr" or self.getfattr

    def run(self, argv, *, input=None, check=True):
        self.record(argv)
        if argv[0] == "getfattr":
            return Result(1, "# file: /srv/a\nbtrfs.compression=\"zstd\"\n\n",
                          "getfattr: /srv/a/.snapshots/gone: No such file or directory\n")
        if argv[:3] == ["btrfs", "property", "get"] and argv[3].endswith("gone"):
            return Result(1, "", f"ERROR: failed to open {argv[3]}: No such file or directory\n"
                                 "ERROR: failed to detect object type: No such file or directory\n")
        if argv[:3] == ["btrfs", "property", "get"]:
            return Result(0, "compression=zstd\n")
        return Result(2, "", "getfattr: Permission denied\n")


def test_a_subvolume_deleted_during_the_read_is_gone_not_a_failed_read():
    from converge.resources.storage.btrfs_read import _compression

    for getfattr in (True, False):
        assert _compression(SnapshotPrunedMidRead(getfattr), ["/srv/a", "/srv/a/.snapshots/gone"]) == {"/srv/a": "zstd"}


def test_any_other_failure_of_the_read_is_still_an_error():
    import pytest

    from converge.errors import CommandFailed
    from converge.resources.storage.btrfs_read import _tolerating_vanished

    with pytest.raises(CommandFailed):
        _tolerating_vanished(SnapshotPrunedMidRead(True), ["btrfs", "qgroup", "show"])
