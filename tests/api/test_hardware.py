"""GET /api/v1/pools/types (from the pool model) and GET /api/v1/disks (lsblk -J -b -O)."""

from __future__ import annotations


def test_pool_types_come_from_the_model(client):
    r = client.get("/api/v1/pools/types")
    assert r.status_code == 200
    assert r.json() == {"drivers": ["zfs", "btrfs"],
                        "zfs": {"vdev_types": ["stripe", "mirror", "raidz1", "raidz2", "raidz3"],
                                "vdev_roles": ["data", "log", "cache", "spare", "special"]},
                        "btrfs": {"profiles": ["single", "dup", "raid0", "raid1", "raid1c3", "raid1c4", "raid10"]}}


def test_disks_of_the_simulated_host_read_only(client, homelab):
    from converge import engine

    before = client.get("/api/v1/disks")
    assert before.status_code == 200
    disks = {d["path"]: d for d in before.json()["disks"]}
    assert disks["/dev/disk/by-id/ata-WDC_WD40EFRX-1"]["size"] == 4000787030016
    assert disks["/dev/disk/by-id/nvme-Samsung_980-1"]["fstype"] is None
    engine.reconcile(engine.open_target(str(homelab)))  # the pool tank takes the two WD disks
    after = {d["path"]: d for d in client.get("/api/v1/disks").json()["disks"]}
    assert after["/dev/disk/by-id/ata-WDC_WD40EFRX-1"]["fstype"] == "zfs_member"
    assert after["/dev/disk/by-id/ata-WDC_WD40EFRX-1"]["label"] == "tank"
    assert client.post("/api/v1/disks").status_code == 405
