"""Snapshot kind: exact argv on zfs and btrfs; clones block a destroy."""

from __future__ import annotations

import pytest
from storage_loop import converge, plan, read, specs

from converge.errors import PlanError
from converge.hosts import SimHost

POOLS = {"tank": {"vdevs": [{"disks": ["/dev/sdb"]}]},
         "bt": {"driver": "btrfs", "disks": ["/dev/sdc"], "mountpoint": "/mnt/bt"}}


def desired(snapshots, datasets=None):
    return {"pool": specs("pool", POOLS), "dataset": specs("dataset", datasets or {"tank/a": {}, "bt/a": {}}),
            "snapshot": specs("snapshot", snapshots)}


@pytest.fixture
def host(tmp_path):
    return SimHost(str(tmp_path / "h.json"), seed={"disks": ["/dev/sdb", "/dev/sdc"]})


def test_snapshots_on_both_drivers(host):
    state: dict = {}
    converge(host, desired({}), state)
    d = desired({"tank/a@s1": {"properties": {"backup:keep": "7d"}}, "bt/a@s1": {}})
    assert [s.argv for s in converge(host, d, state) if s.op == "run"] == [
        ["mkdir", "-p", "/mnt/bt/a/.snapshots"],
        ["btrfs", "subvolume", "snapshot", "-r", "/mnt/bt/a", "/mnt/bt/a/.snapshots/s1"],
        ["zfs", "snapshot", "-o", "backup:keep=7d", "-o", "converge:managed=on", "tank/a@s1"]]
    assert converge(host, d, state) == []
    assert [s.argv for s in converge(host, desired({}), state) if s.op == "run"] == [
        ["zfs", "destroy", "tank/a@s1"], ["btrfs", "subvolume", "delete", "-c", "/mnt/bt/a/.snapshots/s1"]]


def test_clone_blocks_snapshot_destroy(host):
    converge(host, desired({"tank/a@s1": {}}), {})
    host.run(["zfs", "clone", "tank/a@s1", "tank/c"])
    with pytest.raises(PlanError, match="tank/c"):
        plan(read(host, desired({}), {}))
