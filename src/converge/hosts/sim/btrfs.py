"""Emulated btrfs-progs 6.2 (text output: it has no JSON for these), plus the few system tools the
btrfs kinds use (mount, umount, mkdir, findmnt, getfattr, wipefs). State: pools (driver btrfs) in
facts.resources["pool"], subvolumes in ["dataset"], read-only snapshots in ["snapshot"];
directories made with mkdir in sim["paths"]."""

from __future__ import annotations

import json
import uuid
from typing import Any

from ...model import Observed
from ..base import Result
from . import fail, tool
from .disks import check_disks, claim, size_of

MIN_DEVICES = {"raid1": 2, "raid1c3": 3, "raid1c4": 4, "raid10": 2, "raid0": 1, "single": 1, "dup": 1}


def _pools(host: Any) -> dict[str, Observed]:
    return {n: o for n, o in host.facts.of("pool").items() if o.spec.get("driver") == "btrfs"}


def _mounted(host: Any, path: str) -> tuple[str, Observed] | None:
    """The pool whose top level is mounted at or above `path`."""
    best = None
    for name, pool in _pools(host).items():
        mnt = pool.info.get("path")
        if mnt and (path == mnt or path.startswith(mnt.rstrip("/") + "/")):
            if best is None or len(mnt) > len(best[1].info["path"]):
                best = (name, pool)
    return best


def _subvol(host: Any, path: str) -> tuple[str, str, str]:
    """path -> (kind, name, relative path) of the subvolume there; kind "" when none."""
    found = _mounted(host, path)
    if found is None:
        return "", "", ""
    pool, obs = found
    rel = path[len(obs.info["path"]):].strip("/")
    if not rel:
        return "pool", pool, ""
    parts = rel.split("/")
    if len(parts) >= 2 and parts[-2] == ".snapshots":
        name = "/".join([pool, *parts[:-2]]) + "@" + parts[-1]
        return ("snapshot" if name in host.facts.of("snapshot") else ""), name, rel
    name = f"{pool}/{rel}"
    return ("dataset" if name in host.facts.of("dataset") else ""), name, rel


def _exists_dir(host: Any, path: str) -> bool:
    kind, _, _ = _subvol(host, path)
    return bool(kind) or path in host.facts.sim.get("paths", [])


def _subvolumes(host: Any, pool: str) -> list[tuple[str, Observed, bool]]:
    """(relative path, observed, readonly) of every subvolume of the pool, in id order."""
    out = []
    for kind in ("dataset", "snapshot"):
        for name, obs in host.facts.of(kind).items():
            if name.split("@")[0].split("/")[0] != pool:
                continue
            if kind == "dataset":
                rel, ro = name.split("/", 1)[1], bool(obs.spec.get("properties", {}).get("readonly"))
            else:
                base, snap = name.split("@")
                rel = "/".join([*base.split("/")[1:], ".snapshots", snap])
                ro = True
            out.append((rel, obs, ro))
    return sorted(out, key=lambda t: int(t[1].info.get("id", 0)))


def _next_id(host: Any) -> int:
    host.facts.sim["btrfs_id"] = int(host.facts.sim.get("btrfs_id", 255)) + 1
    return int(host.facts.sim["btrfs_id"])


@tool("mkfs.btrfs")
def mkfs(host: Any, argv: list[str], input: str | None) -> Result:
    args, devices, label, prof, force, fs_uuid = argv[1:], [], "", {"d": "", "m": ""}, False, ""
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("-L", "-d", "-m", "-U"):
            if a == "-L":
                label = args[i + 1]
            elif a == "-U":
                fs_uuid = args[i + 1]
            else:
                prof[a[1]] = args[i + 1].lower()
            i += 2
            continue
        if a == "-f":
            force = True
        else:
            devices.append(a)
        i += 1
    err = check_disks(host, devices, force, "mkfs.btrfs")
    if err:
        return err
    data = prof["d"] or "single"
    meta = prof["m"] or ("dup" if len(devices) == 1 else "raid1")
    for p in (data, meta):
        if p in ("raid5", "raid6") or p not in MIN_DEVICES:
            return fail(f"ERROR: unknown profile {p}", 1)
        if len(devices) < MIN_DEVICES[p]:
            return fail(f"ERROR: {p} needs at least {MIN_DEVICES[p]} devices", 1)
    if label in host.facts.of("pool"):
        return fail(f"ERROR: label {label} is used by another pool of the simulated host", 1)
    host.facts.of("pool")[label] = Observed(
        spec={"driver": "btrfs", "disks": sorted(devices), "data_profile": data, "metadata_profile": meta},
        info={"uuid": fs_uuid or str(uuid.uuid5(uuid.NAMESPACE_URL, "btrfs:" + label + ":" + ",".join(devices))),
              "path": "", "quota": False})
    claim(host, devices)
    host.changed()
    return Result(0, f"btrfs-progs v6.2\nLabel:              {label}\nNumber of devices:  {len(devices)}\n")


@tool("mount")
def mount(host: Any, argv: list[str], input: str | None) -> Result:
    args = [a for a in argv[1:] if not a.startswith("-") and a != "btrfs"]
    if len(args) != 2:
        return fail("mount: bad usage", 1)
    dev, path = args
    pool = next((o for o in _pools(host).values() if dev in o.spec["disks"]), None)
    if pool is None:
        return fail(f"mount: {path}: wrong fs type, bad option, bad superblock on {dev}, missing codepage or "
                    "helper program, or other error.", 32)
    if path not in host.facts.sim.get("paths", []):
        return fail(f"mount: {path}: mount point does not exist.", 32)
    if pool.info.get("path"):
        return fail(f"mount: {path}: {dev} already mounted or mount point busy.", 32)
    pool.info["path"] = path
    pool.spec["mountpoint"] = path
    host.changed()
    return Result(0)


@tool("umount")
def umount(host: Any, argv: list[str], input: str | None) -> Result:
    path = argv[-1]
    pool = next((o for o in _pools(host).values() if o.info.get("path") == path), None)
    if pool is None:
        return fail(f"umount: {path}: not mounted.", 32)
    pool.info["path"] = ""
    pool.spec.pop("mountpoint", None)
    host.changed()
    return Result(0)


@tool("mkdir")
def mkdir(host: Any, argv: list[str], input: str | None) -> Result:
    paths = host.facts.sim.setdefault("paths", [])
    for p in [a for a in argv[1:] if not a.startswith("-")]:
        if p not in paths:
            paths.append(p)
    host.changed()
    return Result(0)


@tool("wipefs")
def wipefs(host: Any, argv: list[str], input: str | None) -> Result:
    devices = [a for a in argv[1:] if a.startswith("/")]
    for name, pool in list(_pools(host).items()):
        if set(pool.spec["disks"]) & set(devices):
            if pool.info.get("path"):
                return fail(f"wipefs: error: {devices[0]}: probing initialization failed: Device or resource busy", 1)
            for kind in ("dataset", "snapshot"):
                for n in [n for n in host.facts.of(kind) if n.split("@")[0].split("/")[0] == name]:
                    del host.facts.of(kind)[n]
            del host.facts.of("pool")[name]
    host.changed()
    return Result(0)


@tool("findmnt")
def findmnt(host: Any, argv: list[str], input: str | None) -> Result:
    mounts = [{"source": o.spec["disks"][0], "target": o.info["path"], "fsroot": "/",
               "options": "rw,relatime,space_cache=v2,subvolid=5,subvol=/"}
              for o in _pools(host).values() if o.info.get("path")]
    return Result(0 if mounts else 1, json.dumps({"filesystems": mounts}, indent=3) + "\n" if mounts else "")


@tool("getfattr")
def getfattr(host: Any, argv: list[str], input: str | None) -> Result:
    out, rc = [], 0
    for path in [a for a in argv[1:] if a.startswith("/")]:
        kind, name, _ = _subvol(host, path)
        if not kind:
            rc = 1
            continue
        value = host.facts.of(kind)[name].spec.get("properties", {}).get("compression")
        if value is not None:
            out.append(f'# file: {path}\nbtrfs.compression="{"none" if value == "off" else value}"\n')
    return Result(rc, "\n".join(out) + ("\n" if out else ""))


__all__ = ["mkfs", "mount", "umount", "mkdir", "wipefs", "findmnt", "getfattr", "size_of"]
