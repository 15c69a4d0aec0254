"""Pool kind: exact argv for create/grow/scrub/delete, and the refusals."""

from __future__ import annotations

import pytest
from storage_loop import converge, plan, read, specs

from converge.errors import PlanError
from converge.hosts import SimHost

DISKS = {f"/dev/sd{c}": {"size": 1 << 40} for c in "bcdefg"}


@pytest.fixture
def host(tmp_path):
    return SimHost(str(tmp_path / "h.json"), seed={"disks": dict(DISKS)})


def test_create_with_topology_and_properties(host):
    desired = {"pool": specs("pool", {"tank": {
        "vdevs": [{"type": "raidz", "disks": ["/dev/sdd", "/dev/sdc", "/dev/sdb"]}, {"role": "log", "disks": ["/dev/sde"]},
                  {"role": "cache", "disks": ["/dev/sdf"]}, {"role": "spare", "disks": ["/dev/sdg"]}],
        "properties": {"ashift": 12}, "autotrim": "on", "filesystem_properties": {"compression": "zstd", "quota": "1T"},
        "mountpoint": "/srv/tank"}})}
    steps = converge(host, desired, {})
    assert [s.argv for s in steps] == [[
        "zpool", "create", "-o", "ashift=12", "-o", "autotrim=on", "-O", "compression=zstd", "-O",
        f"quota={1 << 40}", "-O", "converge:managed=on", "-m", "/srv/tank", "tank",
        "raidz1", "/dev/sdb", "/dev/sdc", "/dev/sdd", "log", "/dev/sde", "cache", "/dev/sdf", "spare", "/dev/sdg"]]
    assert converge(host, desired, {}) == []


def test_grow_is_an_update_and_removal_is_refused(host):
    desired = {"pool": specs("pool", {"tank": {"vdevs": [{"type": "mirror", "disks": ["/dev/sdb", "/dev/sdc"]}]}})}
    converge(host, desired, {})
    desired = {"pool": specs("pool", {"tank": {"vdevs": [{"type": "mirror", "disks": ["/dev/sdb", "/dev/sdc"]},
                                                         {"type": "mirror", "disks": ["/dev/sdd", "/dev/sde"]}]}})}
    assert [s.argv for s in converge(host, desired, {})] == [
        ["zpool", "add", "tank", "mirror", "/dev/sdd", "/dev/sde"]]
    desired = {"pool": specs("pool", {"tank": {"vdevs": [{"type": "mirror", "disks": ["/dev/sdb", "/dev/sdc"]}]}})}
    with pytest.raises(PlanError, match="never removes disks or vdevs"):
        plan(read(host, desired, {}))


def test_scrub_request_runs_once(host):
    raw = {"vdevs": [{"disks": ["/dev/sdb"]}]}
    state: dict = {}
    converge(host, {"pool": specs("pool", {"tank": raw})}, state)
    desired = {"pool": specs("pool", {"tank": {**raw, "scrub_requested": "2026-11-22T10:00:00Z"}})}
    steps = converge(host, desired, state)
    assert [s.argv for s in steps if s.op == "run"] == [["zpool", "scrub", "tank"]]
    assert state["stamps"] == {"pool/tank:scrub_requested": "2026-11-22T10:00:00Z"}
    assert converge(host, desired, state) == []


def test_disk_holding_a_filesystem_needs_force(host):
    host.facts.sim["disks"]["/dev/sdb"]["holds"] = "ext4"
    desired = {"pool": specs("pool", {"tank": {"vdevs": [{"disks": ["/dev/sdb"]}]}})}
    with pytest.raises(PlanError, match=r"/dev/sdb holds a ext4 signature.*force: true"):
        plan(read(host, desired, {}))
    desired = {"pool": specs("pool", {"tank": {"vdevs": [{"disks": ["/dev/sdb"]}], "force": True}})}
    assert converge(host, desired, {})[0].argv[:3] == ["zpool", "create", "-f"]


def test_btrfs_raid5_refused_with_reason():
    with pytest.raises(ValueError, match="write hole"):
        specs("pool", {"b": {"driver": "btrfs", "disks": ["/dev/sdb", "/dev/sdc", "/dev/sdd"], "data_profile": "raid5"}})


def test_btrfs_pool_disks_are_paths_like_vdev_disks():
    """A NUL or a control character in a btrfs pool's disks reached `stat` at plan time (a 500 from
    the API, found by schemathesis): they are checked like a zfs vdev's disks."""
    import pytest
    from pydantic import ValidationError

    from converge.resources.storage.pool import PoolSpec

    for bad in ["\x00x", "", "/dev/sdb\n", "relative", "/dev/../etc/passwd"]:
        with pytest.raises(ValidationError, match="is not an absolute device or file path"):
            PoolSpec.model_validate({"driver": "btrfs", "disks": [bad]})
    assert PoolSpec.model_validate({"driver": "btrfs", "disks": ["/dev/disk/by-id/ata-X"]}).disks == ["/dev/disk/by-id/ata-X"]
