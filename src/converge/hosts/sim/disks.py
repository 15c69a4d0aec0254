"""Disks of the simulated host, shared by the zfs and btrfs emulators (and `blkid`).

`host.facts.sim["disks"]` is a list of device paths or a mapping path -> {"size": bytes,
"holds": "ext4"} (something already on the disk, which pool creation refuses without force)."""

from __future__ import annotations

import json
from typing import Any

from ...model import Observed
from ..base import Result
from . import fail, tool

DEFAULT_SIZE = 1 << 40


def disks(host: Any) -> dict[str, dict[str, Any]]:
    raw = host.facts.sim.get("disks", {})
    if isinstance(raw, list):
        raw = {d: {} for d in raw}
        host.facts.sim["disks"] = raw
    return raw  # type: ignore[no-any-return]


def size_of(host: Any, disk: str) -> int:
    return int(disks(host).get(disk, {}).get("size", DEFAULT_SIZE))


def pool_disks(observed: Observed) -> list[str]:
    spec = observed.spec
    return list(spec.get("disks", [])) + [d for v in spec.get("vdevs", []) for d in v.get("disks", [])]


def user_of(host: Any, disk: str) -> tuple[str, str] | None:
    """(pool, driver) using this disk, if any."""
    for name, pool in host.facts.of("pool").items():
        if disk in pool_disks(pool):
            return name, str(pool.spec.get("driver", "zfs"))
    return None


def check_disks(host: Any, wanted: list[str], force: bool, prog: str) -> Result | None:
    """What the real tools refuse: an unknown device, one in use, one holding data without -f."""
    known = disks(host)
    for d in wanted:
        if d not in known:
            return fail(f"{prog}: cannot open '{d}': No such file or directory", 1)
        used = user_of(host, d)
        if used:
            if used[1] == "zfs":
                return fail(f"{prog}: {d} is part of active pool '{used[0]}'", 1)
            return fail(f"ERROR: {d} is in use by the mounted filesystem {used[0]}", 1)
        holds = known[d].get("holds")
        if holds and not force:
            if prog == "mkfs.btrfs":
                return fail(f"ERROR: {d} appears to contain an existing filesystem ({holds})\n"
                            "ERROR: use the -f option to force overwrite of " + d, 1)
            return fail(f"invalid vdev specification\nuse '-f' to override the following errors:\n"
                        f"{d} contains a filesystem of type '{holds}'", 1)
    if len(set(wanted)) != len(wanted):
        return fail(f"{prog}: a device is listed twice", 1)
    return None


def claim(host: Any, wanted: list[str]) -> None:
    """Creating a pool overwrites what the disks held."""
    for d in wanted:
        disks(host)[d].pop("holds", None)


@tool("blkid")
def blkid(host: Any, argv: list[str], input: str | None) -> Result:
    """`blkid -p -o export DEV...`: what signature each device carries (rc 2 when none)."""
    blocks = []
    for d in [a for a in argv[1:] if a.startswith("/")]:
        used = user_of(host, d)
        fields = {"DEVNAME": d}
        if used:
            fields["TYPE"] = "zfs_member" if used[1] == "zfs" else "btrfs"
            fields["LABEL"] = used[0]
        elif disks(host).get(d, {}).get("holds"):
            fields["TYPE"] = str(disks(host)[d]["holds"])
        else:
            continue
        blocks.append("\n".join(f"{k}={v}" for k, v in fields.items()))
    return Result(0 if blocks else 2, "\n\n".join(blocks) + ("\n" if blocks else ""), "")


@tool("lsblk")
def lsblk(host: Any, argv: list[str], input: str | None) -> Result:
    """`lsblk -dn -o PATH`: the disks of the simulated host, one path a line. `lsblk -J -b -O`:
    the same disks as JSON, with the fields of util-linux's answer that converge reads."""
    if "-J" not in argv:
        return Result(0, "".join(f"{d}\n" for d in sorted(disks(host))))
    devices = []
    for d in sorted(disks(host)):
        used = user_of(host, d)
        fstype = ("zfs_member" if used[1] == "zfs" else "btrfs") if used else disks(host)[d].get("holds")
        devices.append({"name": d.rsplit("/", 1)[-1], "path": d, "size": size_of(host, d) if "-b" in argv else
                        f"{size_of(host, d) >> 30}G", "type": "disk", "fstype": fstype,
                        "label": used[0] if used else None, "model": None, "serial": None, "tran": None,
                        "rota": False, "ro": False, "rm": False, "mountpoints": [None]})
    return Result(0, json.dumps({"blockdevices": devices}, indent=3) + "\n")
