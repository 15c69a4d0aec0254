"""Real btrfs on loop devices: a raid1 pool over two loops, subvolumes with compression and quota,
a read-only snapshot; checked with btrfs's own commands (not converge's reader)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from converge.hosts import LocalHost

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "resources"))
from storage_loop import converge, read, specs  # noqa: E402

pytestmark = pytest.mark.real


def sh(*argv: str, check: bool = True) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True)
    if check and result.returncode:
        raise AssertionError(f"{' '.join(argv)}: {result.stderr}")
    return result.stdout


@pytest.fixture
def loops(tmp_path):
    """Three sparse 1 GiB files attached as loop devices; unmounted and detached by device afterwards."""
    devices: list[str] = []
    try:
        for n in range(3):
            img = tmp_path / f"d{n}.img"
            with open(img, "wb") as f:
                f.truncate(1 << 30)
            out = subprocess.run(["losetup", "-f", "--show", str(img)], capture_output=True, text=True)
            if out.returncode:
                pytest.fail(f"cannot attach a loop device: {out.stderr}")
            devices.append(out.stdout.strip())
        yield devices
    finally:
        for line in open("/proc/mounts").read().splitlines():
            dev, target = line.split()[:2]
            if dev in devices or target.startswith(str(tmp_path)):
                subprocess.run(["umount", target], capture_output=True)
        for dev in devices:
            subprocess.run(["losetup", "-d", dev], capture_output=True)


def test_btrfs_pool_datasets_snapshot(loops, tmp_path):
    l1, l2, l3 = loops
    root = tmp_path / "root"
    host = LocalHost(str(root))  # --root: the mountpoint lands under tmp_path
    mnt = str(root / "srv" / "cvpool")
    state: dict = {}
    pool = {"cvpool": {"driver": "btrfs", "disks": [l1, l2], "data_profile": "raid1", "metadata_profile": "raid1",
                       "mountpoint": "/srv/cvpool"}}
    desired = {"pool": specs("pool", pool),
               "dataset": specs("dataset", {"cvpool/media": {"properties": {"compression": "zstd", "quota": "64M"}},
                                            "cvpool/media/music": {}, "cvpool/old": {}}),
               "snapshot": specs("snapshot", {"cvpool/media@s1": {}})}
    steps = converge(host, desired, state)
    uuid = steps[0].argv[2]  # chosen by converge, so the pool's mount unit can name it
    assert [s.argv for s in steps if s.op == "run"] == [
        ["mkfs.btrfs", "-U", uuid, "-L", "cvpool", "-d", "raid1", "-m", "raid1", l1, l2],
        ["btrfs", "device", "scan", l1, l2], ["mkdir", "-p", mnt], ["mount", "-t", "btrfs", l1, mnt],
        ["systemd-analyze", "verify", str(root / "var/lib/converge/unit-candidates/srv-cvpool.mount")],
        ["systemctl", f"--root={root}", "enable", "srv-cvpool.mount"],
        ["btrfs", "subvolume", "create", f"{mnt}/media"],
        ["btrfs", "property", "set", f"{mnt}/media", "compression", "zstd"],
        ["btrfs", "quota", "enable", mnt], ["btrfs", "qgroup", "limit", str(64 << 20), f"{mnt}/media"],
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
    assert read(host, desired, state).facts.of("pool")["cvpool"].spec["mountpoint"] == "/srv/cvpool"
    assert converge(host, desired, state) == []

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
    desired["pool"] = specs("pool", {"cvpool": {**pool["cvpool"], "disks": [l1, l2, l3]}})
    desired["dataset"] = specs("dataset", {"cvpool/media": {"properties": {"compression": "lzo", "quota": "64M"}},
                                           "cvpool/media/music": {}, "cvpool/new": {"properties": {"readonly": True}}})
    steps = converge(host, desired, state)
    assert [s.argv for s in steps if s.op == "run"] == [
        ["btrfs", "subvolume", "delete", "-c", f"{mnt}/old"],
        ["btrfs", "device", "add", l3, mnt], ["btrfs", "balance", "start", "--full-balance", mnt],
        ["btrfs", "property", "set", f"{mnt}/media", "compression", "lzo"],
        ["btrfs", "subvolume", "create", f"{mnt}/new"], ["btrfs", "property", "set", f"{mnt}/new", "ro", "true"]]
    assert " path old\n" not in sh("btrfs", "subvolume", "list", mnt)
    assert sh("btrfs", "property", "get", f"{mnt}/new", "ro").strip() == "ro=true"
    assert l3 in sh("btrfs", "filesystem", "show", mnt)
    assert converge(host, desired, state) == []

    # scrub request
    desired["pool"] = specs("pool", {"cvpool": {**pool["cvpool"], "disks": [l1, l2, l3],
                                                "scrub_requested": "2026-11-22T10:00:00Z"}})
    steps = converge(host, desired, state)
    assert [s.argv for s in steps if s.op == "run"] == [["btrfs", "scrub", "start", "-B", mnt]]
    assert converge(host, desired, state) == []
