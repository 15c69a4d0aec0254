"""Property: on the simulated host, applying any valid storage manifest (zfs or btrfs pools,
nested datasets with properties, snapshots) converges: the engine's own re-plan after apply is
empty (reconcile raises NotConverged otherwise), and so is a plan made afterwards; changing
the properties and applying again converges too."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from converge.engine import open_target, plan, reconcile

DISKS = [f"/dev/sd{c}" for c in "bcdefgh"]
names = st.sampled_from(["media", "backup", "docs", "vm", "home"])
zfs_props = st.fixed_dictionaries({}, optional={
    "compression": st.sampled_from(["lz4", "zstd", "gzip-9", "off"]),
    "quota": st.sampled_from(["1G", "2T", 1073741824, "512M"]),
    "atime": st.sampled_from(["on", "off"]),
    "recordsize": st.sampled_from(["128K", "1M"]),
    "backup:tier": st.sampled_from(["gold", "silver"]),
})
btrfs_props = st.fixed_dictionaries({}, optional={
    "compression": st.sampled_from(["zstd", "lzo", "zlib", "off"]),
    "quota": st.sampled_from(["1G", "64M", 1073741824]),
    "readonly": st.booleans(),
})


@st.composite
def manifests(draw: Any) -> dict[str, Any]:
    driver = draw(st.sampled_from(["zfs", "btrfs"]))
    props = zfs_props if driver == "zfs" else btrfs_props
    if driver == "zfs":
        pool = {"vdevs": [draw(st.sampled_from([{"type": "mirror", "disks": DISKS[:2]}, {"disks": DISKS[:1]},
                                                {"type": "raidz1", "disks": DISKS[:3]}]))],
                "filesystem_properties": draw(zfs_props.filter(lambda p: "quota" not in p))}
    else:
        pool = {"driver": "btrfs", "disks": DISKS[:2], "data_profile": draw(st.sampled_from(["raid1", "single"])),
                "metadata_profile": "raid1", "mountpoint": "/srv/tank"}
    datasets: dict[str, Any] = {}
    for top in draw(st.lists(names, min_size=1, max_size=3, unique=True)):
        datasets[f"tank/{top}"] = {"properties": draw(props)}
        for child in draw(st.lists(names, max_size=2, unique=True)):
            datasets[f"tank/{top}/{child}"] = {"properties": draw(props)}
    if driver == "btrfs":  # a read-only subvolume takes no children and no snapshots of its own
        for name, spec in datasets.items():
            if any(other.startswith(name + "/") for other in datasets):
                spec["properties"].pop("readonly", None)
    snaps = {f"{d}@{s}": {} for d in draw(st.lists(st.sampled_from(sorted(datasets)), max_size=2, unique=True))
             for s in draw(st.lists(st.sampled_from(["s1", "s2"]), min_size=1, max_size=2, unique=True))}
    return {"pools": {"tank": pool}, "datasets": datasets, "snapshots": snaps}


def _apply(directory: str, state: str, manifest: dict[str, Any]) -> None:
    with open(os.path.join(directory, "storage.yaml"), "w") as f:
        yaml.safe_dump(manifest, f)
    target = open_target(directory, host=f"sim:{state}")
    reconcile(target)  # raises NotConverged when the re-plan is not empty
    target = open_target(directory, host=f"sim:{state}")
    assert plan(target)[0].empty


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(manifests(), manifests())
def test_apply_then_plan_is_empty(first: dict[str, Any], second: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        with open(os.path.join(directory, "converge.yaml"), "w") as f:
            yaml.safe_dump({"sim": {"disks": {d: {"size": 1 << 40} for d in DISKS}}}, f)
        state = os.path.join(directory, "host.json")
        _apply(directory, state, first)
        # same pool, other datasets and properties: updates, creates (deletes need an allow: kept)
        if second["pools"]["tank"].get("driver", "zfs") == first["pools"]["tank"].get("driver", "zfs"):
            second["pools"] = first["pools"]
            second["datasets"] = {**first["datasets"], **{k: v for k, v in second["datasets"].items()
                                                           if k not in first["datasets"] or v["properties"]}}
            second["snapshots"] = {**first["snapshots"], **second["snapshots"]}
            _apply(directory, state, second)
