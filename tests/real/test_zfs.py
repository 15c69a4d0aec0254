"""Real smoke test of the ZFS driver on zfs-fuse 0.7 (Debian main; a userspace ZFS, pool version 23).

zfs-fuse lacks `zpool list -p`, `zpool get -H` and `zpool status -P` (the reader detects the
"invalid option" answer and falls back to the old spellings) and takes one property per `zfs set`
(pools read as `zfs_legacy`, so updates emit one `zfs set` per property there, and a destroy is
preceded by `zfs unmount`, since zfs-fuse answers "dataset is busy" otherwise). `zfs create -p`
works on zfs-fuse, so no fallback is needed for it. OpenZFS 2.x output is covered by the
recorded fixtures in tests/resources/test_zfs_read.py."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from isolation import machine_lock, note_leftovers, stop_group, unique_name, unmount_under, wait_for
from storage_loop import converge, read, specs

from converge.hosts import LocalHost

pytestmark = pytest.mark.real


def zfs_fuse_pids() -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == "zfs-fuse":
                pids.append(int(entry))
        except OSError:
            pass
    return pids


def zpool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["zpool", *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def zfs_fuse(tmp_path) -> Iterator[tuple[str, list[str]]]:
    """A pool name of this run and four image files, with a zfs-fuse daemon to serve them.

    zfs-fuse is one daemon per machine on a fixed socket, so the test holds a machine-wide lock
    for its whole length (two runs take turns). A daemon that is already running (the machine's,
    or one an ended run left) is used and left running; one this test starts is stopped by PID.
    Only this run's pool is destroyed, and only mounts under tmp_path are unmounted."""
    with machine_lock("zfs-fuse"):
        proc = None
        running = zfs_fuse_pids()
        if running:
            if not wait_for(lambda: zpool("list").returncode == 0, 30, 0.5):
                pytest.fail(f"a zfs-fuse daemon not started by this test (PID {running}) does not answer "
                            f"`zpool list`: {zpool('list').stderr.strip()}; it is left alone (stop it if it is a "
                            "leftover: kill PID)")
        else:
            log = tmp_path / "zfs-fuse.log"
            with open(log, "w") as out:
                proc = subprocess.Popen(["/sbin/zfs-fuse", "--no-daemon", "--no-kstat-mount"], stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True)
            if not wait_for(lambda: proc.poll() is not None or zpool("list").returncode == 0, 30):
                stop_group(proc)
                pytest.fail("zfs-fuse did not answer `zpool list` within 30 s")
            if proc.returncode is not None:
                pytest.fail(f"zfs-fuse exited: {log.read_text()[-2000:]}")
        note_leftovers("zfs pool", zpool("list", "-H", "-o", "name").stdout.split(), "zpool destroy -f NAME")
        pool = unique_name()
        images = []
        for n in ("a", "b", "c", "d"):
            path = tmp_path / f"{n}.img"
            with open(path, "wb") as f:
                f.truncate(128 << 20)
            images.append(str(path))
        try:
            yield pool, images
        finally:
            # zfs-fuse refuses to destroy a pool whose datasets are still mounted ("pool is busy"):
            # unmount this pool's datasets (children first), never `zfs unmount -a`
            listed = subprocess.run(["zfs", "list", "-H", "-o", "name", "-r", pool], capture_output=True, text=True)
            for dataset in sorted(listed.stdout.split(), reverse=True):
                subprocess.run(["zfs", "unmount", "-f", dataset], capture_output=True)
            destroyed = zpool("destroy", "-f", pool) if listed.returncode == 0 else None
            stuck = unmount_under(tmp_path)
            if proc is not None:
                stop_group(proc)
            assert destroyed is None or destroyed.returncode == 0, f"zpool destroy {pool}: {destroyed.stderr}"
            assert not stuck, f"still mounted under {tmp_path}: {stuck}"


def zfs_value(prop: str, name: str) -> str:
    return subprocess.run(["zfs", "get", "-H", "-o", "value", prop, name], capture_output=True, text=True,
                          check=True).stdout.strip()


def test_zfs_fuse_smoke(zfs_fuse, tmp_path):
    name, (a, b, c, d) = zfs_fuse
    mnt = str(tmp_path / "mnt")
    host = LocalHost()
    state: dict = {}
    pool = {name: {"vdevs": [{"type": "mirror", "disks": [a, b]}], "mountpoint": mnt}}
    desired = {"pool": specs("pool", pool),
               "dataset": specs("dataset", {f"{name}/data": {"properties": {"compression": "gzip", "quota": "50M",
                                                                           "backup:tier": "gold"}}}),
               "snapshot": specs("snapshot", {f"{name}/data@s1": {}})}
    steps = converge(host, desired, state, {name})
    assert [s.argv[:2] for s in steps] == [["zpool", "create"], ["zfs", "create"], ["zfs", "snapshot"]]
    # checked with zfs's own tools, not converge's reader
    assert subprocess.run(["zpool", "list", "-H", "-o", "name", name], capture_output=True,
                          text=True).stdout.strip() == name
    assert zfs_value("compression", f"{name}/data") == "gzip"
    assert zfs_value("quota", f"{name}/data") == "50M"
    assert zfs_value("converge:managed", f"{name}/data") == "on"
    assert f"{name}/data@s1" in subprocess.run(["zfs", "list", "-H", "-t", "snapshot", "-o", "name", "-r", name],
                                              capture_output=True, text=True).stdout.split()

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
    assert zfs_value("quota", f"{name}/data") == "60M"

    # rollback request: a file written after the snapshot is gone afterwards
    with open(os.path.join(mnt, "data", "after.txt"), "w") as f:
        f.write("later\n")
    desired["dataset"][f"{name}/data"] = desired["dataset"][f"{name}/data"].model_copy(
        update={"rollback_to": "s1", "rollback_requested": "2026-11-22T10:00:00Z"})
    desired["dataset"][f"{name}/data"].model_fields_set.update({"rollback_to", "rollback_requested"})
    steps = converge(host, desired, state, {name})
    assert [s.argv for s in steps if s.op == "run"] == [["zfs", "rollback", f"{name}/data@s1"]]
    assert not os.path.exists(os.path.join(mnt, "data", "after.txt"))
    assert converge(host, desired, state, {name}) == []

    # add a vdev (an update; a plain disk next to a mirror is refused by ZFS itself without -f), then destroy: snapshot first, then the dataset, never -r
    desired["pool"] = specs("pool", {name: {**pool[name], "vdevs": [{"type": "mirror", "disks": [a, b]},
                                                                             {"type": "mirror", "disks": [c, d]}]}})
    desired["dataset"], desired["snapshot"] = {}, {}
    steps = converge(host, desired, state, {name})
    assert [s.argv for s in steps] == [["zfs", "destroy", f"{name}/data@s1"], ["zfs", "unmount", f"{name}/data"],
                                       ["zfs", "destroy", f"{name}/data"],
                                       ["zpool", "add", name, "mirror", c, d]]
    listed = subprocess.run(["zfs", "list", "-H", "-o", "name", "-r", name], capture_output=True, text=True).stdout.split()
    assert listed == [name]
    assert c in subprocess.run(["zpool", "status", name], capture_output=True, text=True).stdout
    assert converge(host, desired, state, {name}) == []
