"""Real smoke test of the ZFS driver on zfs-fuse 0.7 (Debian main; a userspace ZFS, pool version 23).

zfs-fuse lacks `zpool list -p`, `zpool get -H` and `zpool status -P` (the reader detects the
"invalid option" answer and falls back to the old spellings) and takes one property per `zfs set`
(pools read as `zfs_legacy`, so updates emit one `zfs set` per property there, and a destroy is
preceded by `zfs unmount`, since zfs-fuse answers "dataset is busy" otherwise). `zfs create -p`
works on zfs-fuse, so no fallback is needed for it. OpenZFS 2.x output is covered by the
recorded fixtures in tests/resources/test_zfs_read.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from converge.hosts import LocalHost

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "resources"))
from storage_loop import converge, read, specs  # noqa: E402

pytestmark = pytest.mark.real


@pytest.fixture
def zfs_fuse(tmp_path):
    """Our own zfs-fuse daemon; stopped by its PID (pools exported/destroyed first)."""
    if subprocess.run(["pgrep", "-x", "zfs-fuse"], capture_output=True).returncode == 0:
        pytest.fail("a zfs-fuse daemon is already running on this machine; the smoke test needs its own")
    proc = subprocess.Popen(["/sbin/zfs-fuse", "--no-daemon", "--no-kstat-mount"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    for _ in range(50):
        if subprocess.run(["zpool", "list"], capture_output=True).returncode == 0:
            break
        if proc.poll() is not None:
            pytest.fail(f"zfs-fuse exited: {proc.stderr.read().decode()}")
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("zfs-fuse did not answer `zpool list` within 5 s")
    images = []
    for n in ("a", "b", "c", "d"):
        path = tmp_path / f"{n}.img"
        with open(path, "wb") as f:
            f.truncate(128 << 20)
        images.append(str(path))
    yield images
    # unmount first: zfs-fuse refuses to destroy a pool whose datasets are still mounted ("pool is busy")
    subprocess.run(["zfs", "unmount", "-a"], capture_output=True)
    subprocess.run(["zpool", "destroy", "cvtank"], capture_output=True)
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def zfs_value(prop: str, name: str) -> str:
    return subprocess.run(["zfs", "get", "-H", "-o", "value", prop, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_zfs_fuse_smoke(zfs_fuse, tmp_path):
    a, b, c, d = zfs_fuse
    mnt = str(tmp_path / "mnt")
    host = LocalHost()
    state: dict = {}
    pool = {"cvtank": {"vdevs": [{"type": "mirror", "disks": [a, b]}], "mountpoint": mnt}}
    desired = {"pool": specs("pool", pool),
               "dataset": specs("dataset", {"cvtank/data": {"properties": {"compression": "gzip", "quota": "50M",
                                                                           "backup:tier": "gold"}}}),
               "snapshot": specs("snapshot", {"cvtank/data@s1": {}})}
    steps = converge(host, desired, state)
    assert [s.argv[:2] for s in steps] == [["zpool", "create"], ["zfs", "create"], ["zfs", "snapshot"]]
    # checked with zfs's own tools, not converge's reader
    assert subprocess.run(["zpool", "list", "-H", "-o", "name", "cvtank"], capture_output=True,
                          text=True).stdout.strip() == "cvtank"
    assert zfs_value("compression", "cvtank/data") == "gzip"
    assert zfs_value("quota", "cvtank/data") == "50M"
    assert zfs_value("converge:managed", "cvtank/data") == "on"
    assert "cvtank/data@s1" in subprocess.run(["zfs", "list", "-H", "-t", "snapshot", "-o", "name"],
                                              capture_output=True, text=True).stdout.split()

    # a second read shows the declared values; a second apply changes nothing
    ctx = read(host, desired, state)
    assert ctx.facts.of("pool")["cvtank"].info["zfs_legacy"] is True
    assert ctx.facts.of("pool")["cvtank"].spec["vdevs"] == [{"type": "mirror", "role": "data", "disks": [a, b]}]
    assert ctx.facts.of("dataset")["cvtank/data"].spec["properties"]["quota"] == 50 << 20
    assert converge(host, desired, state) == []

    # update: zfs-fuse takes one property per `zfs set`
    desired["dataset"] = specs("dataset", {"cvtank/data": {"properties": {"compression": "off", "quota": "60M",
                                                                          "backup:tier": "gold"}}})
    steps = converge(host, desired, state)
    assert [s.argv for s in steps] == [["zfs", "set", "compression=off", "cvtank/data"],
                                       ["zfs", "set", "quota=62914560", "cvtank/data"]]
    assert zfs_value("quota", "cvtank/data") == "60M"

    # rollback request: a file written after the snapshot is gone afterwards
    with open(os.path.join(mnt, "data", "after.txt"), "w") as f:
        f.write("later\n")
    desired["dataset"]["cvtank/data"] = desired["dataset"]["cvtank/data"].model_copy(
        update={"rollback_to": "s1", "rollback_requested": "2026-11-22T10:00:00Z"})
    desired["dataset"]["cvtank/data"].model_fields_set.update({"rollback_to", "rollback_requested"})
    steps = converge(host, desired, state)
    assert [s.argv for s in steps if s.op == "run"] == [["zfs", "rollback", "cvtank/data@s1"]]
    assert not os.path.exists(os.path.join(mnt, "data", "after.txt"))
    assert converge(host, desired, state) == []

    # add a vdev (an update; a plain disk next to a mirror is refused by ZFS itself without -f), then destroy: snapshot first, then the dataset, never -r
    desired["pool"] = specs("pool", {"cvtank": {**pool["cvtank"], "vdevs": [{"type": "mirror", "disks": [a, b]},
                                                                             {"type": "mirror", "disks": [c, d]}]}})
    desired["dataset"], desired["snapshot"] = {}, {}
    steps = converge(host, desired, state)
    assert [s.argv for s in steps] == [["zfs", "destroy", "cvtank/data@s1"], ["zfs", "unmount", "cvtank/data"],
                                       ["zfs", "destroy", "cvtank/data"],
                                       ["zpool", "add", "cvtank", "mirror", c, d]]
    listed = subprocess.run(["zfs", "list", "-H", "-o", "name"], capture_output=True, text=True).stdout.split()
    assert listed == ["cvtank"]
    assert c in subprocess.run(["zpool", "status", "cvtank"], capture_output=True, text=True).stdout
    assert converge(host, desired, state) == []
