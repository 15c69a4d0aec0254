"""Dataset kind: exact argv (zfs and btrfs), batching, protection, rollback, refusals."""

from __future__ import annotations

import pytest
from storage_loop import converge, plan, read, specs

from converge.errors import PlanError
from converge.hosts import SimHost


@pytest.fixture
def host(tmp_path):
    h = SimHost(str(tmp_path / "h.json"), seed={"disks": ["/dev/sdb", "/dev/sdc", "/dev/sdd"]})
    converge(h, {"pool": specs("pool", {"tank": {"vdevs": [{"disks": ["/dev/sdb"]}]},
                                        "bt": {"driver": "btrfs", "disks": ["/dev/sdc"]}})}, {})
    return h


POOLS = {"tank": {"vdevs": [{"disks": ["/dev/sdb"]}]}, "bt": {"driver": "btrfs", "disks": ["/dev/sdc"]}}


def desired(datasets, snapshots=None):
    return {"pool": specs("pool", POOLS), "dataset": specs("dataset", datasets),
            "snapshot": specs("snapshot", snapshots or {})}


def test_zfs_create_then_one_batched_set(host):
    d = desired({"tank/media": {"properties": {"compression": "zstd", "quota": "2T"}, "protect": True}})
    assert [s.argv for s in converge(host, d, {}) if s.op == "run"] == [
        ["zfs", "create", "-p", "-o", "compression=zstd", "-o", f"quota={2 << 40}", "-o", "converge:managed=on",
         "-o", "converge:protect=on", "tank/media"]]
    d = desired({"tank/media": {"properties": {"compression": "lz4", "quota": "3T", "atime": "off"}, "protect": True}})
    assert [s.argv for s in converge(host, d, {}) if s.op == "run"] == [
        ["zfs", "set", "compression=lz4", f"quota={3 << 40}", "atime=off", "tank/media"]]


def test_unmanaged_dataset_is_adopted_not_recreated(host):
    host.run(["zfs", "create", "-o", "compression=lz4", "tank/old"])
    d = desired({"tank/old": {"properties": {"compression": "zstd"}}})
    assert [s.argv for s in converge(host, d, {}) if s.op == "run"] == [
        ["zfs", "set", "compression=zstd", "converge:managed=on", "tank/old"]]


def test_create_only_property_forces_replace(host):
    from converge.resources import BY_KIND
    assert "properties.casesensitivity" in BY_KIND["dataset"].create_only


def test_destroy_with_unmanaged_child_is_refused(host):
    converge(host, desired({"tank/a": {}}), {})
    host.run(["zfs", "create", "tank/a/foreign"])
    with pytest.raises(PlanError, match="tank/a/foreign"):
        plan(read(host, desired({}), {}))


def test_rollback_past_newer_snapshots_needs_allow(host):
    d = desired({"tank/a": {}}, {"tank/a@s1": {}, "tank/a@s2": {}})
    converge(host, d, {})
    d["dataset"] = specs("dataset", {"tank/a": {"rollback_to": "s1", "rollback_requested": "2026-11-22T10:00:00Z"}})
    with pytest.raises(PlanError, match="destroys the newer snapshots tank/a@s2"):
        plan(read(host, d, {}))
    d["dataset"] = specs("dataset", {"tank/a": {"rollback_to": "s2", "rollback_requested": "2026-11-22T10:00:00Z"}})
    state: dict = {}
    assert [s.argv for s in converge(host, d, state) if s.op == "run"] == [["zfs", "rollback", "tank/a@s2"]]
    assert converge(host, d, state) == []


def test_btrfs_subvolume_properties_and_refusals(host):
    d = desired({"bt/media": {"properties": {"compression": "zstd", "readonly": True}}})
    state: dict = {}
    assert [s.argv for s in converge(host, d, state) if s.op == "run"] == [
        ["btrfs", "subvolume", "create", "/bt/media"], ["btrfs", "property", "set", "/bt/media", "compression", "zstd"],
        ["btrfs", "property", "set", "/bt/media", "ro", "true"]]
    d = desired({"bt/media": {"properties": {"compression": "lzo", "readonly": True}}})
    assert [s.argv for s in converge(host, d, state) if s.op == "run"] == [
        ["btrfs", "property", "set", "/bt/media", "ro", "false"],
        ["btrfs", "property", "set", "/bt/media", "compression", "lzo"],
        ["btrfs", "property", "set", "/bt/media", "ro", "true"]]
    with pytest.raises(PlanError, match="recordsize do not exist there"):
        plan(read(host, desired({"bt/x": {"properties": {"recordsize": "1M"}}}), state))
    with pytest.raises(PlanError, match="btrfs compression is one of off, zlib, lzo, zstd"):
        plan(read(host, desired({"bt/x": {"properties": {"compression": "lz4"}}}), state))
