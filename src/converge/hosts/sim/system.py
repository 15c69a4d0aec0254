"""Plain system tools of the simulated host: `stat` (is this path a directory, a disk?), `stat -f -c %T`
(a file system's type: sim["statfs"][PATH], `cgroup2fs` for /sys/fs/cgroup unless seeded).

What exists: the directories in `sim["paths"]` (and their parents), the mountpoints of the
datasets and pools in the facts, and the parents of written files."""

from __future__ import annotations

from typing import Any

from ..base import Result
from . import fail, tool


def mountpoint_of(host: Any, name: str) -> str | None:
    """Where a pool or dataset of the simulated host is mounted (inherited as ZFS does)."""
    from .zfs_props import _mountpoint

    pools = host.facts.of("pool")
    observed = host.facts.of("dataset" if "/" in name else "pool").get(name)
    if observed is not None and str(observed.info.get("mountpoint", "")).startswith("/"):
        return str(observed.info["mountpoint"])
    if observed is not None and name.split("/", 1)[0] in pools:
        return _mountpoint(host, pools, name)[0]
    return None


def is_directory(host: Any, path: str) -> bool:
    """Does this directory exist? The usual case (a dataset at its default mountpoint, a seeded
    path) is answered without listing every mountpoint of the host."""
    path = path.rstrip("/") or "/"
    name = path.lstrip("/")
    if name and name.split("/", 1)[0] in host.facts.of("pool") and mountpoint_of(host, name) == path:
        return True
    return path in directories(host)


def directories(host: Any) -> set[str]:
    found = {"/"}
    paths = list(host.facts.sim.get("paths", []))
    for kind in ("pool", "dataset"):
        paths += [m for m in (mountpoint_of(host, n) for n in host.facts.of(kind)) if m and m.startswith("/")]
    paths += [f.rsplit("/", 1)[0] for f in host.facts.files]
    for path in paths:
        parts = path.rstrip("/").split("/")
        found.update("/".join(parts[:i]) or "/" for i in range(2, len(parts) + 1))
    return found


@tool("stat")
def stat(host: Any, argv: list[str], input: str | None) -> Result:
    """GNU stat with `-c FORMAT` (%n name, %F type) over several paths; rc 1 if any is missing."""
    args = argv[1:]
    fmt = "%n"
    if "-f" in args:  # file system status: only the type (%T) is emulated, from sim["statfs"]
        args.remove("-f")
        return _statfs(host, args)
    if "-c" in args:
        i = args.index("-c")
        fmt = args[i + 1]
        del args[i:i + 2]
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        return fail("stat: missing operand")
    dirs = directories(host)
    files = set(host.facts.files)
    devices = set(host.facts.sim.get("disks") or [])  # a list or a mapping path -> details
    out, err = [], []
    for path in args:
        norm = path.rstrip("/") or "/"
        kind = "directory" if norm in dirs else "regular file" if norm in files else \
            "block special file" if norm in devices else None
        if kind is None:
            err.append(f"stat: cannot statx '{path}': No such file or directory")
            continue
        out.append(fmt.replace("%F", kind).replace("%n", path))
    return Result(1 if err else 0, "".join(line + "\n" for line in out), "".join(line + "\n" for line in err))


def _statfs(host: Any, args: list[str]) -> Result:
    if args[:1] != ["-c"] or args[1:2] != ["%T"] or len(args) != 3:
        return fail("stat: only `stat -f -c %T PATH` is emulated")
    path = args[2]
    default = "cgroup2fs" if path.rstrip("/") == "/sys/fs/cgroup" else "ext2/ext3"
    return Result(0, host.facts.sim.get("statfs", {}).get(path.rstrip("/"), default) + "\n")
