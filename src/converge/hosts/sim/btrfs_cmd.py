"""The emulated `btrfs` command (btrfs-progs 6.2 text formats and error messages)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...model import Observed
from ...types import parse_size
from ..base import Result
from . import fail, tool
from .btrfs import MIN_DEVICES, _exists_dir, _mounted, _next_id, _pools, _subvol, _subvolumes
from .disks import check_disks, claim, size_of


@tool("btrfs")
def btrfs(host: Any, argv: list[str], input: str | None) -> Result:
    group, verb = (argv[1:3] + ["", ""])[:2]
    args = argv[3:]
    words = [a for a in args if not a.startswith("-")]
    flags = [a for a in args if a.startswith("-")]
    if group in ("send", "receive"):  # top-level commands: `btrfs send [-p P] SNAP`, `btrfs receive DIR`
        words = [a for a in argv[2:] if not a.startswith("-")]
        return _send(host, words, []) if group == "send" else _receive(host, words, [], input or "")
    handler = HANDLERS.get((group, verb))
    if handler is None:
        return fail(f"btrfs: unknown command '{group} {verb}'", 1)
    return handler(host, words, flags)


def _fs_show(host: Any, words: list[str], flags: list[str]) -> Result:
    out = []
    for name, pool in sorted(_pools(host).items()):
        disks = pool.spec["disks"]
        out.append(f"Label: '{name}'  uuid: {pool.info['uuid']}\n\tTotal devices {len(disks)} FS bytes used 196608\n" +
                   "".join(f"\tdevid {i:4d} size {size_of(host, d)} used 223084544 path {d}\n"
                           for i, d in enumerate(disks, 1)))
    return Result(0, "\n".join(out) + ("\n" if out else ""))


def _fs_df(host: Any, words: list[str], flags: list[str]) -> Result:
    found = _mounted(host, words[0]) if words else None
    if found is None:
        return fail(f"ERROR: can't access '{words[0] if words else ''}': No such file or directory", 1)
    spec = found[1].spec
    d, m = spec["data_profile"].upper(), spec["metadata_profile"].upper()
    d, m = ("single" if d == "SINGLE" else d), ("single" if m == "SINGLE" else m)
    return Result(0, f"Data, {d}: total=107347968, used=0\nSystem, {m}: total=8388608, used=16384\n"
                     f"Metadata, {m}: total=107347968, used=180224\nGlobalReserve, single: total=5767168, used=0\n")


def on_pool(handler: Callable[..., Result]) -> Callable[..., Result]:
    """A command on the filesystem mounted at its last word: the handler gets (host, the pool's
    name, its state, words, flags, ...), or btrfs refuses a path that is not one."""
    def run(host: Any, words: list[str], flags: list[str], *extra: Any) -> Result:
        found = _mounted(host, words[-1]) if words else None
        if found is None:
            return fail(f"ERROR: cannot access '{words[-1] if words else ''}': No such file or directory", 1)
        return handler(host, found[0], found[1], words, flags, *extra)
    return run


@on_pool
def _sv_list(host: Any, pool: str, fs: Observed, words: list[str], flags: list[str]) -> Result:
    rows = [f"ID {o.info['id']} gen 7 top level 5 path {rel}" for rel, o, ro in _subvolumes(host, pool)
            if ro or "-r" not in flags]
    return Result(0, "".join(r + "\n" for r in rows))


def _sv_create(host: Any, words: list[str], flags: list[str]) -> Result:
    path = words[-1]
    parent = path.rsplit("/", 1)[0]
    if not _exists_dir(host, parent):
        return fail(f"ERROR: cannot access '{parent}': No such file or directory", 1)
    kind, name, _ = _subvol(host, path)
    if kind or path in host.facts.sim.get("paths", []):
        return fail(f"ERROR: target path already exists: {path}", 1)
    pool = _mounted(host, path)
    if pool is None or pool[1].info.get("path") == path:
        return fail(f"ERROR: not a btrfs filesystem: {parent}", 1)
    props: dict[str, Any] = {"readonly": False}
    if pool[1].info.get("quota"):
        props["quota"] = 0
    host.facts.of("dataset")[name] = Observed(spec={"properties": props}, info={"driver": "btrfs", "id": _next_id(host)})
    host.changed()
    return Result(0, f"Create subvolume '{path}'\n")


def _sv_snapshot(host: Any, words: list[str], flags: list[str]) -> Result:
    src, dest = words[-2], words[-1]
    kind, _, _ = _subvol(host, src)
    if kind not in ("dataset", "pool"):
        return fail(f"ERROR: Not a Btrfs subvolume: {src}", 1)
    parent = dest.rsplit("/", 1)[0]
    if parent not in host.facts.sim.get("paths", []):
        return fail(f"ERROR: cannot access '{parent}': No such file or directory", 1)
    _, name, _ = _subvol(host, dest)
    if name in host.facts.of("snapshot"):
        return fail(f"ERROR: target path already exists: {dest}", 1)
    if "-r" not in flags:
        return fail("ERROR: the simulated host only takes read-only snapshots (-r)", 1)
    host.facts.of("snapshot")[name] = Observed(spec={"properties": {}}, info={"driver": "btrfs", "id": _next_id(host)})
    host.changed()
    return Result(0, f"Create a readonly snapshot of '{src}' in '{dest}'\n")


def _sv_delete(host: Any, words: list[str], flags: list[str]) -> Result:
    path = words[-1]
    kind, name, rel = _subvol(host, path)
    if kind not in ("dataset", "snapshot"):
        return fail(f"ERROR: Could not statfs: No such file or directory\nERROR: cannot access subvolume {path}", 1)
    nested = [r for r, _, _ in _subvolumes(host, name.split("/")[0].split("@")[0]) if r.startswith(rel + "/")]
    if nested:
        return fail(f"Delete subvolume (commit): '{path}'\nERROR: Could not destroy subvolume/snapshot: "
                    "Directory not empty", 1)
    del host.facts.of(kind)[name]
    host.changed()
    return Result(0, f"Delete subvolume (commit): '{path}'\n")


def _prop_set(host: Any, words: list[str], flags: list[str]) -> Result:
    path, prop, value = (words + ["", "", ""])[:3]
    kind, name, _ = _subvol(host, path)
    if kind not in ("dataset", "snapshot"):
        return fail(f"ERROR: object is not a btrfs object: {path}", 1)
    props = host.facts.of(kind)[name].spec.setdefault("properties", {})
    if prop == "ro":
        if value not in ("true", "false"):
            return fail(f"ERROR: invalid value for property: {value}", 1)
        props["readonly"] = value == "true"
    elif prop == "compression":
        if props.get("readonly") or kind == "snapshot":
            return fail(f"ERROR: failed to set compression for {path}: Read-only file system", 1)
        if value not in ("", "none", "no", "zlib", "lzo", "zstd"):
            return fail(f"ERROR: failed to set compression for {path}: Invalid argument", 1)
        if value:
            props["compression"] = "off" if value in ("none", "no") else value
        else:
            props.pop("compression", None)
    else:
        return fail(f"ERROR: unknown property: {prop}", 1)
    host.changed()
    return Result(0)


@on_pool
def _quota_enable(host: Any, pool: str, fs: Observed, words: list[str], flags: list[str]) -> Result:
    fs.info["quota"] = True
    for n, o in host.facts.of("dataset").items():
        if n.split("/")[0] == pool:
            o.spec.setdefault("properties", {}).setdefault("quota", 0)
    host.changed()
    return Result(0)


@on_pool
def _qgroup_show(host: Any, pool: str, fs: Observed, words: list[str], flags: list[str]) -> Result:
    if not fs.info.get("quota"):
        return fail("ERROR: can't list qgroups: quotas not enabled", 1)
    rows = ["Qgroupid    Referenced    Exclusive  Max referenced   Path ",
            "--------    ----------    ---------  --------------   ---- ",
            "0/5              16384        16384            none   <toplevel>"]
    for rel, o, _ in _subvolumes(host, pool):
        limit = o.spec.get("properties", {}).get("quota") or "none"
        rows.append(f"0/{o.info['id']:<12} 16384        16384 {str(limit):>15}   {rel}")
    return Result(0, "\n".join(rows) + "\n")


def _qgroup_limit(host: Any, words: list[str], flags: list[str]) -> Result:
    size, path = (words + ["", ""])[:2]
    kind, name, _ = _subvol(host, path)
    pool = _mounted(host, path)
    if kind != "dataset" or pool is None:
        return fail(f"ERROR: cannot access '{path}': No such file or directory", 1)
    if not pool[1].info.get("quota"):
        return fail("ERROR: unable to limit requested quota group: Invalid argument", 1)
    try:
        limit = 0 if size == "none" else parse_size(size)
    except ValueError:
        return fail(f"ERROR: invalid size argument: {size}", 1)
    host.facts.of("dataset")[name].spec["properties"]["quota"] = limit
    host.changed()
    return Result(0)


@on_pool
def _device(host: Any, pool: str, fs: Observed, words: list[str], flags: list[str], add: bool) -> Result:
    disks = fs.spec["disks"]
    devices = words[:-1]
    if add:
        err = check_disks(host, devices, "-f" in flags, "btrfs")
        if err:
            return err
        claim(host, devices)
        fs.spec["disks"] = sorted(disks + devices)
    else:
        left = [d for d in disks if d not in devices]
        need = max(MIN_DEVICES[fs.spec["data_profile"]], MIN_DEVICES[fs.spec["metadata_profile"]])
        if len(left) < need:
            return fail(f"ERROR: error removing device '{devices[0]}': unable to go below two devices on raid1", 1)
        fs.spec["disks"] = left
    host.changed()
    return Result(0)


@on_pool
def _balance(host: Any, pool: str, fs: Observed, words: list[str], flags: list[str]) -> Result:
    for f in flags:
        for key, field in (("-dconvert=", "data_profile"), ("-mconvert=", "metadata_profile")):
            if f.startswith(key):
                profile = f[len(key):]
                if len(fs.spec["disks"]) < MIN_DEVICES.get(profile, 99):
                    return fail(f"ERROR: error during balancing '{words[-1]}': Invalid argument", 1)
                fs.spec[field] = profile
    host.changed()
    return Result(0, "Done, had to relocate 3 out of 3 chunks\n")


@on_pool
def _scrub(host: Any, pool: str, fs: Observed, words: list[str], flags: list[str]) -> Result:
    fs.info["scrubs"] = int(fs.info.get("scrubs", 0)) + 1
    host.changed()
    return Result(0, f"scrub done for {fs.info['uuid']}\nError summary:    no errors found\n")


def _send(host: Any, words: list[str], flags: list[str]) -> Result:
    """`btrfs send [-p PARENT] SNAP`: the stream is JSON (the snapshot's name, its parent's)."""
    import json

    snap = words[-1]
    parent = words[0] if len(words) == 2 else ""  # -p takes the word before SNAP
    for path in filter(None, [snap, parent]):
        if _subvol(host, path)[0] != "snapshot":
            return fail(f"ERROR: cannot open {path}: No such file or directory", 1)
    return Result(0, json.dumps({"btrfs_stream": True, "name": snap.rsplit("/", 1)[-1],
                                 "parent": parent.rsplit("/", 1)[-1] if parent else None}))


def _receive(host: Any, words: list[str], flags: list[str], stream: str) -> Result:
    import json

    target = words[-1]
    try:
        data = json.loads(stream)
        assert data.get("btrfs_stream")
    except (ValueError, AssertionError):
        return fail("ERROR: unexpected header", 1)
    if target not in host.facts.sim.get("paths", []):
        return fail(f"ERROR: cannot open {target}: No such file or directory", 1)
    if data["parent"] and _subvol(host, f"{target}/{data['parent']}")[0] != "snapshot":
        return fail(f"ERROR: cannot find parent subvolume {data['parent']}", 1)
    kind, name, _ = _subvol(host, f"{target}/{data['name']}")
    if kind or not name:
        return fail(f"ERROR: creating subvolume {data['name']} failed: File exists", 1)
    host.facts.of("snapshot")[name] = Observed(spec={"properties": {}}, info={"driver": "btrfs", "id": _next_id(host)})
    host.changed()
    return Result(0, f"At subvol {data['name']}\n")


HANDLERS = {
    ("filesystem", "show"): _fs_show, ("filesystem", "df"): _fs_df,
    ("subvolume", "list"): _sv_list, ("subvolume", "create"): _sv_create,
    ("subvolume", "snapshot"): _sv_snapshot, ("subvolume", "delete"): _sv_delete,
    ("property", "set"): _prop_set, ("quota", "enable"): _quota_enable,
    ("qgroup", "show"): _qgroup_show, ("qgroup", "limit"): _qgroup_limit,
    ("device", "add"): lambda h, w, f: _device(h, w, f, True),
    ("device", "remove"): lambda h, w, f: _device(h, w, f, False),
    ("device", "scan"): lambda h, w, f: Result(0, "Scanning for btrfs filesystems\n"),
    ("balance", "start"): _balance, ("scrub", "start"): _scrub,
}
