"""The ZFS reader on recorded OpenZFS 2.x output (fixtures cite their sources)."""

from __future__ import annotations

from converge.model import Facts
from converge.resources import BY_KIND
from converge.resources.base import Context
from converge.resources.pool import PoolSpec
from converge.resources.zfs_read import parse_status

from .recorded import fixture, openzfs_host


def test_status_topology_with_log_cache_spare():
    vdevs = parse_status(fixture("zfs/zpool-status-P.txt"))["tank"]
    assert vdevs == [
        {"type": "mirror", "role": "data", "disks": ["/dev/disk/by-id/ata-WDC_A-part1", "/dev/disk/by-id/ata-WDC_B-part1"]},
        {"type": "raidz1", "role": "data", "disks": ["/dev/sdc1", "/dev/sdd1", "/dev/sde1"]},
        {"type": "stripe", "role": "log", "disks": ["/dev/nvme0n1p1"]},
        {"type": "stripe", "role": "cache", "disks": ["/dev/nvme0n1p2"]},
        {"type": "stripe", "role": "spare", "disks": ["/dev/sdf1"]},
    ]


def _ctx(desired=None) -> Context:
    ctx = Context(host=openzfs_host(), desired=desired or {}, facts=Facts())
    for kind in ("pool", "dataset", "snapshot"):
        ctx.facts.resources[kind] = BY_KIND[kind].read(ctx)
    return ctx


def test_pool_read_matches_the_manifest_spelling_of_whole_disks():
    spec = PoolSpec.model_validate({"vdevs": [
        {"type": "mirror", "disks": ["/dev/disk/by-id/ata-WDC_B", "/dev/disk/by-id/ata-WDC_A"]},
        {"type": "raidz", "disks": ["/dev/sdc", "/dev/sdd", "/dev/sde"]},
        {"role": "log", "disks": ["/dev/nvme0n1p1"]}, {"role": "cache", "disks": ["/dev/nvme0n1p2"]},
        {"role": "spare", "disks": ["/dev/sdf"]}], "properties": {"ashift": 12, "autotrim": True}})
    ctx = _ctx({"pool": {"tank": spec}})
    pool = ctx.facts.of("pool")["tank"]
    assert pool.spec["vdevs"] == spec.model_dump(mode="json")["vdevs"]
    assert pool.spec["properties"] == {"ashift": 12, "autotrim": "on"} == spec.model_dump()["properties"]
    assert pool.spec["filesystem_properties"] == {"compression": "lz4", "atime": False}
    assert pool.spec["mountpoint"] == "/tank" and pool.managed and not pool.protected
    assert pool.info["size"] == 23991687315456 and pool.info["zfs_legacy"] is False


def test_dataset_read_counts_only_local_sources():
    ctx = _ctx()
    home = ctx.facts.of("dataset")["tank/home"]
    assert home.spec["properties"] == {"mountpoint": "/export/home", "casesensitivity": "sensitive"}  # no inherited
    bob = ctx.facts.of("dataset")["tank/home/bob"]
    assert bob.spec["properties"] == {"quota": 20 << 30, "compression": "on", "backup:tier": "gold",
                                      "casesensitivity": "sensitive", "utf8only": False}
    assert bob.protected and bob.spec["protect"] is True and not bob.managed
    assert ctx.facts.of("dataset")["tank/home/bob-clone"].spec["origin"] == "tank/home/bob@yesterday"
    assert bob.info["mountpoint"] == "/export/home/bob"


def test_one_zfs_get_serves_datasets_and_snapshots():
    ctx = _ctx()
    assert [c for c in ctx.host.commands if c[:2] == ["zfs", "get"]] == [
        ["zfs", "get", "-Hp", "-o", "name,property,value,source", "all"]]
    snap = ctx.facts.of("snapshot")["tank/home/bob@yesterday"]
    assert snap.managed and snap.info["clones"] == ["tank/home/bob-clone"]
    assert ctx.facts.of("snapshot")["tank/home/bob@today"].info["order"] == 1305


def test_destroys_lists_children_snapshots_and_clones():
    ctx = _ctx()
    kind = BY_KIND["dataset"]
    assert kind.destroys("tank/home/bob", ctx.facts.of("dataset")["tank/home/bob"], ctx) == [
        "tank/home/bob-clone", "tank/home/bob@today", "tank/home/bob@yesterday"]
