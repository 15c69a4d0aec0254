"""Real btrfs on loop devices: a raid1 pool over two loops, subvolumes with compression and quota,
a read-only snapshot; checked with btrfs's own commands (not converge's reader)."""

from __future__ import annotations

import os
import subprocess

import pytest
from isolation import unique_name
from storage_loop import converge, read, specs

from converge.hosts import LocalHost

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py


def sh(*argv: str, check: bool = True) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(argv)}: {result.stderr}")
    return result.stdout


def test_btrfs_pool_datasets_snapshot(loops, tmp_path):
    l1, l2, l3 = loops
    name = unique_name()  # the pool is the filesystem label: one per run
    root = tmp_path / "root"
    host = LocalHost(str(root))  # --root: the mountpoint lands under tmp_path
    mnt = str(root / "srv" / name)
    state: dict = {}
    pool = {name: {"driver": "btrfs", "disks": [l1, l2], "data_profile": "raid1", "metadata_profile": "raid1",
                       "mountpoint": f"/srv/{name}"}}
    desired = {"pool": specs("pool", pool),
               "dataset": specs("dataset", {f"{name}/media": {"properties": {"compression": "zstd", "quota": "64M"}},
                                            f"{name}/media/music": {}, f"{name}/old": {}}),
               "snapshot": specs("snapshot", {f"{name}/media@s1": {}})}
    steps = converge(host, desired, state, {name})
    uuid = steps[0].argv[2]  # chosen by converge, so the pool's mount unit can name it
    assert [s.argv for s in steps if s.op == "run"] == [
        ["mkfs.btrfs", "-U", uuid, "-L", name, "-d", "raid1", "-m", "raid1", l1, l2],
        ["btrfs", "device", "scan", l1, l2], ["mkdir", "-p", mnt], ["mount", "-t", "btrfs", l1, mnt],
        ["systemd-analyze", "verify", str(root / f"var/lib/converge/unit-candidates/srv-{name}.mount")],
        ["systemctl", f"--root={root}", "enable", f"srv-{name}.mount"],
        ["btrfs", "quota", "enable", mnt],  # the filesystem's quota joint, before the changes it is for
        ["btrfs", "subvolume", "create", f"{mnt}/media"],
        ["btrfs", "property", "set", f"{mnt}/media", "compression", "zstd"],
        ["btrfs", "qgroup", "limit", str(64 << 20), f"{mnt}/media"],
        ["btrfs", "subvolume", "create", f"{mnt}/media/music"], ["btrfs", "subvolume", "create", f"{mnt}/old"],
        ["mkdir", "-p", f"{mnt}/media/.snapshots"],
        ["btrfs", "subvolume", "snapshot", "-r", f"{mnt}/media", f"{mnt}/media/.snapshots/s1"]]

    # btrfs's own view
    subvols = sh("btrfs", "subvolume", "list", mnt)
    for path in ("media", "media/music", "old", "media/.snapshots/s1"):
        assert f" path {path}\n" in subvols
    assert " path media/.snapshots/s1\n" in sh("btrfs", "subvolume", "list", "-r", mnt)
    assert sh("btrfs", "property", "get", f"{mnt}/media", "compression").strip() == "compression=zstd"
    assert sh("btrfs", "property", "get", f"{mnt}/media/.snapshots/s1", "ro").strip() == "ro=true"
    qgroups = {line.split()[-1]: line.split()[3] for line in sh("btrfs", "qgroup", "show", "-re", "--raw",
                                                                mnt).splitlines()[2:]}
    assert qgroups["media"] == str(64 << 20)
    assert "Data, RAID1" in sh("btrfs", "filesystem", "df", mnt)

    # a second read shows the declared values; a second apply runs nothing
    assert read(host, desired, state, {name}).facts.of("pool")[name].spec["mountpoint"] == f"/srv/{name}"
    assert converge(host, desired, state, {name}) == []

    # writing past the quota fails with the kernel's answer (random data: zeros compress away)
    with pytest.raises(OSError) as exc:
        with open(f"{mnt}/media/big", "wb") as f:
            for _ in range(100):
                f.write(os.urandom(1 << 20))
                f.flush()
                os.fsync(f.fileno())
    assert "Disk quota exceeded" in str(exc.value)
    os.unlink(f"{mnt}/media/big")

    # change a property, add a dataset and a device, delete one
    desired["pool"] = specs("pool", {name: {**pool[name], "disks": [l1, l2, l3]}})
    desired["dataset"] = specs("dataset", {f"{name}/media": {"properties": {"compression": "lzo", "quota": "64M"}},
                                           f"{name}/media/music": {}, f"{name}/new": {"properties": {"readonly": True}}})
    steps = converge(host, desired, state, {name})
    assert [s.argv for s in steps if s.op == "run"] == [
        ["btrfs", "subvolume", "delete", "-c", f"{mnt}/old"],
        ["btrfs", "device", "add", l3, mnt], ["btrfs", "balance", "start", "--full-balance", mnt],
        ["btrfs", "property", "set", f"{mnt}/media", "compression", "lzo"],
        ["btrfs", "subvolume", "create", f"{mnt}/new"], ["btrfs", "property", "set", f"{mnt}/new", "ro", "true"]]
    assert " path old\n" not in sh("btrfs", "subvolume", "list", mnt)
    assert sh("btrfs", "property", "get", f"{mnt}/new", "ro").strip() == "ro=true"
    assert l3 in sh("btrfs", "filesystem", "show", mnt)
    assert converge(host, desired, state, {name}) == []

    # scrub request
    desired["pool"] = specs("pool", {name: {**pool[name], "disks": [l1, l2, l3],
                                                "scrub_requested": "2026-11-22T10:00:00Z"}})
    steps = converge(host, desired, state, {name})
    assert [s.argv for s in steps if s.op == "run"] == [["btrfs", "scrub", "start", "-B", mnt]]
    assert converge(host, desired, state, {name}) == []
