"""The ZFS reader on recorded OpenZFS 2.x output (fixtures cite their sources)."""

from __future__ import annotations

from converge.model import Facts
from converge.resources import BY_KIND
from converge.resources.base import Context
from converge.resources.storage.pool import PoolSpec
from converge.resources.storage.zfs_read import NAMED, parse_status

from .recorded import RecordedHost, fixture, openzfs_host


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


def test_two_zfs_gets_serve_datasets_and_snapshots():
    """Not `zfs get all` (~46 lines a dataset): what is set, and the few properties read besides."""
    ctx = _ctx()
    assert [c for c in ctx.host.commands if c[:2] == ["zfs", "get"]] == [
        ["zfs", "get", "-Hp", "-o", "name,property,value,source", "-s", "local,received", "all"],
        ["zfs", "get", "-Hp", "-o", "name,property,value,source", ",".join(NAMED)]]
    snap = ctx.facts.of("snapshot")["tank/home/bob@yesterday"]
    assert snap.managed and snap.info["clones"] == ["tank/home/bob-clone"]
    assert ctx.facts.of("snapshot")["tank/home/bob@today"].info["order"] == 1305


def test_destroys_lists_children_snapshots_and_clones():
    ctx = _ctx()
    kind = BY_KIND["dataset"]
    assert kind.destroys("tank/home/bob", ctx.facts.of("dataset")["tank/home/bob"], ctx) == [
        "tank/home/bob-clone", "tank/home/bob@today", "tank/home/bob@yesterday"]


def test_an_inherited_managed_mark_does_not_make_a_child_converges():
    """Real ZFS inherits user properties: `zfs get all` shows tank/home/bob's converge:managed as
    'inherited from tank/home', though converge never created bob (it would plan bob's destroy)."""
    host = openzfs_host()
    everything = fixture("zfs/zfs-get-Hp.txt") + "tank/home/bob\tconverge:managed\ton\tinherited from tank/home\n"
    host.answers = {("zfs", "get", "-Hp", "-o", "name,property,value,source", "all"): everything, **host.answers}
    ctx = Context(host=host, desired={}, facts=Facts())
    datasets = BY_KIND["dataset"].read(ctx)
    assert datasets["tank/home"].managed and not datasets["tank/home/bob"].managed


class ZfsFuse(RecordedHost):
    """zfs-fuse 0.7's answers (recorded on this machine): no `zpool list -p`, no encryption properties."""

    def run(self, argv, *, input=None, check=True):  # noqa: ANN001
        from converge.hosts.base import Result

        if argv[:3] == ["zpool", "list", "-Hp"]:
            self.commands.append(list(argv))
            return Result(2, "", "invalid option 'p'\nusage:\n\tlist [-H] [-o property[,...]] [pool] ...\n")
        if argv[:2] == ["zfs", "get"] and any(p in argv[-1].split(",") for p in ("encryption", "keyformat")):
            self.commands.append(list(argv))
            bad = "encryption" if "encryption" in argv[-1].split(",") else "keyformat"
            return Result(2, "", f"bad property list: invalid property '{bad}'\nusage:\n\tget [-rHp] ...\n")
        return super().run(argv, input=input, check=check)


def test_zfs_fuse_spellings_are_found_once_per_host():
    host = ZfsFuse({("zpool", "list", "-H"): "tank\t123\t4\t119\tONLINE\t-\n",
                    ("zpool", "status"): fixture("zfs/zpool-status-P.txt"),
                    ("zpool", "get"): "NAME PROPERTY VALUE SOURCE\n",
                    ("zfs", "get", "-Hp", "-o", "name,property,value,source", "-s"): fixture("zfs/zfs-get-Hp-s-local.txt"),
                    ("zfs", "get"): fixture("zfs/zfs-get-Hp-named.txt")})
    failed = lambda: [c for c in host.commands if c[:3] == ["zpool", "list", "-Hp"] or "encryption" in c[-1]]  # noqa: E731
    for _ in range(2):
        ctx = Context(host=host, desired={}, facts=Facts())
        for kind in ("pool", "dataset", "snapshot"):
            ctx.facts.resources[kind] = BY_KIND[kind].read(ctx)
        assert ctx.facts.of("pool")["tank"].info["zfs_legacy"] is True
        assert ctx.facts.of("dataset")["tank/home/bob"].protected
    assert len(failed()) == 1  # the first pass's `zpool list -Hp`; the named list never asked for encryption
    named = [c for c in host.commands if c[:2] == ["zfs", "get"] and c[5] != "-s"]
    assert named and all("encryption" not in c[-1] and "createtxg" in c[-1] for c in named)


def test_an_unknown_property_is_dropped_and_remembered():
    """A zfs that refuses a property of the list (here zfs-fuse, not yet known as such)."""
    host = ZfsFuse({("zfs", "get", "-Hp", "-o", "name,property,value,source", "-s"): fixture("zfs/zfs-get-Hp-s-local.txt"),
                    ("zfs", "get"): fixture("zfs/zfs-get-Hp-named.txt")})
    for _ in range(2):
        ctx = Context(host=host, desired={}, facts=Facts())
        assert BY_KIND["dataset"].read(ctx)["tank/home/bob"].spec["properties"]["casesensitivity"] == "sensitive"
    refused = [c for c in host.commands if "encryption" in c[-1] or "keyformat" in c[-1]]
    assert len(refused) == 2  # encryption, then keyformat: once each, on the first pass only
