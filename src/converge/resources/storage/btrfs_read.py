"""Reading btrfs in bulk. btrfs-progs 6.2 has no JSON for these commands, so the text is parsed:
`btrfs filesystem show --raw` (filesystems and devices), `findmnt -J` (where each is mounted),
per mounted pool `btrfs filesystem df -b` (profiles), `btrfs subvolume list` (+ `-r` for the
read-only ones), `btrfs qgroup show -r --raw` (quota limits), and ONE `getfattr` over every
subvolume for the `btrfs.compression` property (what `btrfs property get` reads; a host without
the `attr` package is read with `btrfs property get`, one call per subvolume).

A read whose command fails is an error naming the command, never an empty value: a value read
as unset that is set would be set again by every apply."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ...errors import CommandFailed
from ...hosts.base import Host, Result


@dataclass
class Filesystem:
    label: str
    uuid: str
    devices: list[str] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)
    path: str = ""  # host path where its top level (subvolid=5) is mounted, "" when not mounted
    profiles: dict[str, str] = field(default_factory=dict)  # data/metadata -> profile
    quota: bool = False
    limits: dict[str, int] = field(default_factory=dict)  # subvolume path -> max referenced (0 = none)
    subvolumes: dict[str, int] = field(default_factory=dict)  # path below the top level -> id
    readonly: set[str] = field(default_factory=set)
    compression: dict[str, str] = field(default_factory=dict)  # path -> value of btrfs.compression


def parse_show(text: str) -> list[Filesystem]:
    out: list[Filesystem] = []
    for line in text.splitlines():
        m = re.match(r"^Label:\s+(?:'(.*)'|none)\s+uuid:\s+(\S+)", line)
        if m:
            out.append(Filesystem(label=m.group(1) or "", uuid=m.group(2)))
            continue
        m = re.match(r"^\s+devid\s+\d+\s+size\s+(\d+)\s+used\s+\d+\s+path\s+(\S+)", line)
        if m and out:
            out[-1].devices.append(m.group(2))
            out[-1].sizes[m.group(2)] = int(m.group(1))
    return out


def parse_findmnt(text: str) -> list[dict[str, str]]:
    try:
        return list(json.loads(text or "{}").get("filesystems", []))
    except ValueError:
        return []


def parse_df(text: str) -> dict[str, str]:
    """`Data, RAID1: total=..., used=...` -> {data: raid1, metadata: ...}; the largest chunk wins
    while a conversion is half done."""
    best: dict[str, tuple[int, str]] = {}
    for line in text.splitlines():
        m = re.match(r"^(Data|Metadata|System|Mixed),\s*([A-Za-z0-9]+):\s*total=(\d+)", line.strip())
        if m:
            kind, profile, total = m.group(1).lower(), m.group(2).lower(), int(m.group(3))
            if total >= best.get(kind, (-1, ""))[0]:
                best[kind] = (total, profile)
    return {k: v for k, (_, v) in best.items()}


def parse_subvolumes(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"^ID\s+(\d+)\s+gen\s+\d+\s+top level\s+\d+\s+path\s+(.+)$", line.strip())
        if m:
            out[m.group(2).removeprefix("<FS_TREE>/")] = int(m.group(1))
    return out


def parse_qgroups(text: str) -> dict[str, int]:
    """Max referenced by subvolume path; the columns are found by their header names."""
    lines = text.splitlines()
    if not lines:
        return {}
    header = re.split(r"\s{2,}", lines[0].strip())
    try:
        col_max, col_path = header.index("Max referenced"), header.index("Path")
    except ValueError:
        return {}
    out: dict[str, int] = {}
    for line in lines[2:]:
        cols = line.split()
        if len(cols) <= max(col_max, col_path) or not cols[0].startswith("0/"):
            continue
        value = cols[col_max]
        out[cols[col_path]] = 0 if value == "none" else int(value)
    return out


def parse_getfattr(text: str, attr: str = "btrfs.compression") -> dict[str, str]:
    out: dict[str, str] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("# file: "):
            current = line[len("# file: "):]
        elif line.startswith(attr + "=") and current:
            out[current] = line.split("=", 1)[1].strip('"')
    return out


def read_filesystems(host: Host) -> list[Filesystem]:
    fss = parse_show(host.run(["btrfs", "filesystem", "show", "--raw"]).stdout)
    if not fss:
        return []
    argv = ["findmnt", "-J", "-t", "btrfs", "-o", "SOURCE,TARGET,FSROOT,OPTIONS"]
    found = host.run(argv, check=False)
    if found.returncode != 0 and (found.returncode != 1 or found.stdout.strip() or found.stderr.strip()):
        raise CommandFailed(argv, found.returncode, found.stderr, found.stdout)  # 1 alone: nothing mounted
    mounts = parse_findmnt(found.stdout)
    by_device = {d: fs for fs in fss for d in fs.devices}
    for m in mounts:
        fs = by_device.get(re.sub(r"\[.*\]$", "", m.get("source", "")))
        if fs is not None and m.get("fsroot") == "/" and not fs.path:
            fs.path = m.get("target", "")
    paths: list[str] = []
    for fs in fss:
        if not fs.path:
            continue
        texts = _read_mounted(host, [["btrfs", "filesystem", "df", "-b", fs.path], ["btrfs", "subvolume", "list", fs.path],
                                     ["btrfs", "subvolume", "list", "-r", fs.path]])
        if texts is None:
            fs.path = ""  # unmounted since findmnt (someone else's filesystem going away): read as unmounted
            continue
        fs.profiles = parse_df(texts[0])
        fs.subvolumes = parse_subvolumes(texts[1])
        fs.readonly = set(parse_subvolumes(texts[2]))
        q = _qgroups(host, fs.path)
        fs.quota = q.returncode == 0
        fs.limits = parse_qgroups(q.stdout) if fs.quota else {}
        paths += [f"{fs.path}/{p}" for p in fs.subvolumes]
    if paths:
        attrs = _compression(host, paths)
        for fs in fss:
            prefix = fs.path + "/"
            fs.compression = {k[len(prefix):]: v for k, v in attrs.items() if fs.path and k.startswith(prefix)}
    return fss


def _qgroups(host: Host, path: str) -> Result:
    """`qgroup show`; exit 1 with "quotas not enabled" is an answer (no quota), any other failure is not."""
    argv = ["btrfs", "qgroup", "show", "-r", "--raw", path]
    result = host.run(argv, check=False)
    if result.returncode != 0 and "not enabled" not in result.stderr:
        raise CommandFailed(argv, result.returncode, result.stderr, result.stdout)
    return result


def _compression(host: Host, paths: list[str]) -> dict[str, str]:
    """btrfs.compression of every subvolume: one getfattr, or `btrfs property get` without it."""
    if host.has("getfattr"):
        argv = ["getfattr", "--absolute-names", "-d", "-m", r"^btrfs\.compression$", *paths]
        return parse_getfattr(_tolerating_vanished(host, argv).stdout)
    out: dict[str, str] = {}
    for path in paths:  # no `attr` package: slower, but never a guess
        text = _tolerating_vanished(host, ["btrfs", "property", "get", path, "compression"]).stdout.strip()
        if text.startswith("compression="):
            out[path] = text.split("=", 1)[1]
    return out


def _tolerating_vanished(host: Host, argv: list[str]) -> Result:
    """A read over paths `subvolume list` just gave: a subvolume deleted in between (a snapshot
    pruned by a run, another filesystem being torn down) is gone, not a failed read. Any other
    failure is an error, as always."""
    result = host.run(argv, check=False)
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    if result.returncode != 0 and not (errors and all(e.endswith("No such file or directory") for e in errors)):
        raise CommandFailed(argv, result.returncode, result.stderr, result.stdout)
    return result


def _read_mounted(host: Host, commands: list[list[str]]) -> list[str] | None:
    """The outputs of commands on a mounted filesystem; None if it was unmounted meanwhile."""
    texts = []
    for argv in commands:
        result = host.run(argv, check=False)
        if result.returncode != 0 and "not a btrfs filesystem" in result.stderr:
            return None
        if result.returncode != 0:
            host.run(argv)  # raises with the tool's message
        texts.append(result.stdout)
    return texts


def subvolume_name(pool: str, path: str) -> tuple[str, Any]:
    """`media/sub` -> ("dataset", "tank/media/sub"); `media/.snapshots/s1` -> ("snapshot", "tank/media@s1")."""
    parts = path.split("/")
    if len(parts) >= 2 and parts[-2] == ".snapshots":
        base = "/".join([pool, *parts[:-2]])
        return "snapshot", f"{base}@{parts[-1]}"
    if ".snapshots" in parts:
        return "", None
    return "dataset", f"{pool}/{path}"
