"""The zfs/zpool emulator refuses what the real tools refuse, with their kind of message."""

from __future__ import annotations

import pytest

from converge.hosts import SimHost


@pytest.fixture
def h(tmp_path):
    host = SimHost(str(tmp_path / "h.json"), seed={"disks": ["/dev/sdb", "/dev/sdc"]})
    host.run(["zpool", "create", "tank", "/dev/sdb"])
    return host


@pytest.mark.parametrize("argv, message", [
    (["zpool", "create", "t2", "/dev/sdx"], "cannot open '/dev/sdx'"),
    (["zpool", "create", "t2", "/dev/sdb"], "/dev/sdb is part of active pool 'tank'"),
    (["zfs", "create", "tank/a/b"], "parent does not exist"),
    (["zfs", "create", "nope/a"], "parent does not exist"),
    (["zfs", "set", "casesensitivity=mixed", "tank"], "'casesensitivity' is readonly"),
    (["zfs", "snapshot", "tank/none@s"], "parent does not exist"),
    # checked by ZFS's own property table (formats/zfs.py), not by converge's dataset spec
    (["zfs", "set", "compression=LZ4", "tank"], "'compression' must be one of 'on | off | lzjb"),
    (["zfs", "set", "recordsize=1000", "tank"], "'recordsize' must be power of 2"),
    (["zfs", "set", "quota=lots", "tank"], "bad numeric value 'lots'"),
    (["zfs", "create", "-o", "colour=blue", "tank/a"], "invalid property 'colour'"),
    (["zpool", "create", "t2", "mirror", "/dev/sdc"], "mirror requires at least 2 devices"),
])
def test_refusals(h, argv, message):
    result = h.run(argv, check=False)
    assert result.returncode != 0 and message in result.stderr


def test_destroy_with_children_needs_r(h):
    h.run(["zfs", "create", "-p", "tank/a/b"])
    h.run(["zfs", "snapshot", "tank/a@s"])
    result = h.run(["zfs", "destroy", "tank/a"], check=False)
    assert result.returncode == 1 and "filesystem has children\nuse '-r'" in result.stderr
    assert "tank/a/b" in result.stderr and "tank/a@s" in result.stderr


def test_get_shows_inheritance_and_local_sources(h):
    h.run(["zfs", "set", "compression=zstd", "tank"])
    h.run(["zfs", "create", "-o", "quota=1G", "tank/a"])
    lines = h.run(["zfs", "get", "-Hp", "-o", "name,property,value,source", "all"]).stdout.splitlines()
    assert "tank/a\tcompression\tzstd\tinherited from tank" in lines
    assert "tank/a\tquota\t1073741824\tlocal" in lines


def test_get_filters_by_source_and_property_list(h):
    h.run(["zfs", "set", "compression=zstd", "tank"])
    h.run(["zfs", "create", "-o", "quota=1G", "-o", "converge:managed=on", "tank/a"])
    get = ["zfs", "get", "-Hp", "-o", "name,property,value,source"]
    local = h.run([*get, "-s", "local,received", "all"]).stdout.splitlines()
    assert "tank/a\tquota\t1073741824\tlocal" in local and "tank/a\tconverge:managed\ton\tlocal" in local
    assert all(line.endswith("\tlocal") for line in local)  # nothing inherited, default or '-'
    named = h.run([*get, "type,mountpoint,converge:protect"]).stdout.splitlines()
    assert "tank/a\ttype\tfilesystem\t-" in named and "tank/a\tmountpoint\t/tank/a\tdefault" in named
    assert "tank/a\tconverge:protect\t-\t-" in named and not [n for n in named if "quota" in n]
    assert h.run([*get, "-s", "bogus", "all"], check=False).returncode == 2


def test_values_are_stored_as_zfs_prints_them(h):
    """A size in bytes and an alias under its canonical name: the dataset kind's reader, not the
    emulator, turns them into the spec's normal form."""
    h.run(["zfs", "create", "-o", "quota=1G", "-o", "acltype=posixacl", "tank/a"])
    assert h.facts.of("dataset")["tank/a"].spec["properties"] == {"quota": "1073741824", "acltype": "posix"}
    rows = h.run(["zfs", "get", "-Hp", "-o", "name,property,value,source", "-s", "local", "quota,acltype"]).stdout
    assert "tank/a\tquota\t1073741824\tlocal\n" in rows and "tank/a\tacltype\tposix\tlocal\n" in rows

