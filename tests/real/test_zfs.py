"""Real smoke test of the ZFS driver on zfs-fuse 0.7 (Debian main; a userspace ZFS, pool version 23).

zfs-fuse lacks `zpool list -p`, `zpool get -H` and `zpool status -P` (the reader detects the
"invalid option" answer and falls back to the old spellings) and takes one property per `zfs set`
(pools read as `zfs_legacy`, so updates emit one `zfs set` per property there, and a destroy is
preceded by `zfs unmount`, since zfs-fuse answers "dataset is busy" otherwise). `zfs create -p`
works on zfs-fuse, so no fallback is needed for it. OpenZFS 2.x output is covered by the
recorded fixtures in tests/resources/test_zfs_read.py."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from isolation import NamespaceHost, private_mount_namespace, stop_group, unique_name, wait_for
from storage_loop import converge, read, specs

pytestmark = pytest.mark.real

# zfs-fuse's fixed paths: its socket, its single-instance lock and the pool cache it imports at start
PRIVATE = ("/run/zfs", "/run/lock/zfs", "/var/lib/zfs")
LAUNCH = ('for d in "$@"; do mount -t tmpfs -o mode=0700 converge-test "$d" || exit 1; done; '
          "exec /sbin/zfs-fuse --no-daemon --no-kstat-mount")


@pytest.fixture
def zfs_fuse(tmp_path) -> Iterator[dict[str, Any]]:
    """A zfs-fuse daemon of this test alone, with a pool name and four image files.

    zfs-fuse serves every pool of a machine through one fixed socket (and a lock file and a pool
    cache at fixed paths). So the daemon runs in a private mount namespace (`unshare -m`) with a
    tmpfs over each of those directories: two runs each have their own daemon, neither sees the
    other's pools, and `zpool list` of the machine (every converge read) never meets a daemon
    that a test is starting or stopping. Its FUSE mounts live in that namespace too: commands and
    file checks go through `nsenter`. Stopped by its process group; the namespace and every mount
    in it vanish with it."""
    log = tmp_path / "zfs-fuse.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", LAUNCH, "sh", *PRIVATE],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        if not private_mount_namespace(proc):
            pytest.fail(f"zfs-fuse did not start in a private mount namespace: {log.read_text()[-2000:]}")
        host = NamespaceHost(None, proc.pid)

        def inside(*argv: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*host.prefix, *argv], capture_output=True, text=True, timeout=120)

        if not wait_for(lambda: proc.poll() is not None or inside("zpool", "list").returncode == 0, 30):
            pytest.fail(f"zfs-fuse did not answer `zpool list` within 30 s: {inside('zpool', 'list').stderr}")
        if proc.returncode is not None:
            pytest.fail(f"zfs-fuse exited: {log.read_text()[-2000:]}")
        images = []
        for n in ("a", "b", "c", "d"):
            path = tmp_path / f"{n}.img"
            with open(path, "wb") as f:
                f.truncate(128 << 20)
            images.append(str(path))
        yield {"pool": unique_name(), "images": images, "host": host, "inside": inside}
    finally:
        stop_group(proc)


def zfs_value(zfs_fuse: dict[str, Any], prop: str, name: str) -> str:
    out = zfs_fuse["inside"]("zfs", "get", "-H", "-o", "value", prop, name)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_zfs_fuse_smoke(zfs_fuse, tmp_path):
    name, (a, b, c, d), host, inside = zfs_fuse["pool"], zfs_fuse["images"], zfs_fuse["host"], zfs_fuse["inside"]
    mnt = str(tmp_path / "mnt")
    state: dict = {}
    pool = {name: {"vdevs": [{"type": "mirror", "disks": [a, b]}], "mountpoint": mnt}}
    desired = {"pool": specs("pool", pool),
               "dataset": specs("dataset", {f"{name}/data": {"properties": {"compression": "gzip", "quota": "50M",
                                                                           "backup:tier": "gold"}}}),
               "snapshot": specs("snapshot", {f"{name}/data@s1": {}})}
    steps = converge(host, desired, state, {name})
    assert [s.argv[:2] for s in steps] == [["zpool", "create"], ["zfs", "create"], ["zfs", "snapshot"]]
    # checked with zfs's own tools, not converge's reader
    assert inside("zpool", "list", "-H", "-o", "name", name).stdout.strip() == name
    assert zfs_value(zfs_fuse, "compression", f"{name}/data") == "gzip"
    assert zfs_value(zfs_fuse, "quota", f"{name}/data") == "50M"
    assert zfs_value(zfs_fuse, "converge:managed", f"{name}/data") == "on"
    assert f"{name}/data@s1" in inside("zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-r", name).stdout.split()

    # a second read shows the declared values; a second apply changes nothing
    ctx = read(host, desired, state, {name})
    assert ctx.facts.of("pool")[name].info["zfs_legacy"] is True
    assert ctx.facts.of("pool")[name].spec["vdevs"] == [{"type": "mirror", "role": "data", "disks": [a, b]}]
    assert ctx.facts.of("dataset")[f"{name}/data"].spec["properties"]["quota"] == 50 << 20
    assert converge(host, desired, state, {name}) == []

    # update: zfs-fuse takes one property per `zfs set`
    desired["dataset"] = specs("dataset", {f"{name}/data": {"properties": {"compression": "off", "quota": "60M",
                                                                          "backup:tier": "gold"}}})
    steps = converge(host, desired, state, {name})
    assert [s.argv for s in steps] == [["zfs", "set", "compression=off", f"{name}/data"],
                                       ["zfs", "set", "quota=62914560", f"{name}/data"]]
    assert zfs_value(zfs_fuse, "quota", f"{name}/data") == "60M"

    # rollback request: a file written after the snapshot is gone afterwards
    after = f"{mnt}/data/after.txt"  # mounted in the daemon's namespace only
    assert inside("sh", "-c", 'echo later > "$1"', "sh", after).returncode == 0
    desired["dataset"][f"{name}/data"] = desired["dataset"][f"{name}/data"].model_copy(
        update={"rollback_to": "s1", "rollback_requested": "2026-11-22T10:00:00Z"})
    desired["dataset"][f"{name}/data"].model_fields_set.update({"rollback_to", "rollback_requested"})
    steps = converge(host, desired, state, {name})
    assert [s.argv for s in steps if s.op == "run"] == [["zfs", "rollback", f"{name}/data@s1"]]
    assert inside("test", "-e", after).returncode == 1
    assert converge(host, desired, state, {name}) == []

    # add a vdev (an update; a plain disk next to a mirror is refused by ZFS itself without -f), then destroy: snapshot first, then the dataset, never -r
    desired["pool"] = specs("pool", {name: {**pool[name], "vdevs": [{"type": "mirror", "disks": [a, b]},
                                                                             {"type": "mirror", "disks": [c, d]}]}})
    desired["dataset"], desired["snapshot"] = {}, {}
    steps = converge(host, desired, state, {name})
    assert [s.argv for s in steps] == [["zfs", "destroy", f"{name}/data@s1"], ["zfs", "unmount", f"{name}/data"],
                                       ["zfs", "destroy", f"{name}/data"],
                                       ["zpool", "add", name, "mirror", c, d]]
    listed = inside("zfs", "list", "-H", "-o", "name", "-r", name).stdout.split()
    assert listed == [name]
    assert c in inside("zpool", "status", name).stdout
    assert converge(host, desired, state, {name}) == []
