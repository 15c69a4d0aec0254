"""Plain system tools of the simulated host: `stat` (is this path a directory, a disk, whose is
it), `stat -f -c %T` (a file system's type: sim["statfs"][PATH], `cgroup2fs` for /sys/fs/cgroup
unless seeded), `chown` and `chmod` (ownership kept in `sim["owners"]`: path -> [user, group,
mode]; root:root 0755 until changed; names must be accounts in the simulated /etc/passwd and /etc/group).

What exists: the directories in `sim["paths"]` (and their parents), the mountpoints of the
datasets and pools in the facts, and the parents of written files."""

from __future__ import annotations

from typing import Any

from ..base import Result
from . import fail, tool
from .accounts import Db
from .zfs_props import _mountpoint


def mountpoint_of(host: Any, name: str) -> str | None:
    """Where a pool or dataset of the simulated host is mounted (inherited as ZFS does)."""
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
    links = host.facts.sim.get("symlinks", {})
    out, err = [], []
    for path in args:
        norm = path.rstrip("/") or "/"
        kind = "symbolic link" if norm in links else "directory" if norm in dirs else "regular file" if norm in files else \
            "block special file" if norm in devices else None
        if kind is None:
            err.append(f"stat: cannot statx '{path}': No such file or directory")
            continue
        user, group, mode = host.facts.sim.get("owners", {}).get(norm, ["root", "root", "755"])
        out.append(fmt.replace("%F", kind).replace("%U", user).replace("%G", group).replace("%a", mode)
                   .replace("%n", path))
    return Result(1 if err else 0, "".join(line + "\n" for line in out), "".join(line + "\n" for line in err))


def _statfs(host: Any, args: list[str]) -> Result:
    if args[:1] != ["-c"] or args[1:2] != ["%T"] or len(args) != 3:
        return fail("stat: only `stat -f -c %T PATH` is emulated")
    path = args[2]
    default = "cgroup2fs" if path.rstrip("/") == "/sys/fs/cgroup" else "ext2/ext3"
    return Result(0, host.facts.sim.get("statfs", {}).get(path.rstrip("/"), default) + "\n")


def _paths(host: Any, tool_name: str, args: list[str]) -> tuple[list[str], list[str]]:
    dirs, files = directories(host), set(host.facts.files)
    found = [p.rstrip("/") or "/" for p in args if (p.rstrip("/") or "/") in dirs | files]
    missing = [f"{tool_name}: cannot access '{p}': No such file or directory" for p in args
               if (p.rstrip("/") or "/") not in dirs | files]
    return found, missing


@tool("chown")
def chown(host: Any, argv: list[str], input: str | None) -> Result:
    args = [a for a in argv[1:] if a != "--"]
    if len(args) < 2:
        return fail("chown: missing operand")
    user, _, group = args[0].partition(":")
    db = Db(host)
    if user and user not in db.passwd and not user.isdigit():  # a number is any uid (an idmapped rootfs)
        return fail(f"chown: invalid user: '{args[0]}'")
    if group and group not in db.group and not group.isdigit():
        return fail(f"chown: invalid group: '{args[0]}'")
    found, missing = _paths(host, "chown", args[1:])
    owners = host.facts.sim.setdefault("owners", {})
    for path in found:
        entry = owners.setdefault(path, ["root", "root", "755"])
        entry[0], entry[1] = user or entry[0], group or entry[1]
    host.changed()
    return Result(1 if missing else 0, "", "".join(m + "\n" for m in missing))


@tool("chmod")
def chmod(host: Any, argv: list[str], input: str | None) -> Result:
    args = [a for a in argv[1:] if a != "--"]
    if len(args) < 2:
        return fail("chmod: missing operand")
    mode = args[0]
    if not mode.isdigit() or any(c in "89" for c in mode) or len(mode) > 5:
        return fail(f"chmod: invalid mode: '{mode}'")  # converge writes octal modes only
    found, missing = _paths(host, "chmod", args[1:])
    owners = host.facts.sim.setdefault("owners", {})
    for path in found:
        owners.setdefault(path, ["root", "root", "755"])[2] = str(int(mode, 8) and oct(int(mode, 8))[2:])
    host.changed()
    return Result(1 if missing else 0, "", "".join(m + "\n" for m in missing))


@tool("install")
def install(host: Any, argv: list[str], input: str | None) -> Result:
    """`install -d [-m MODE] [-o USER] [-g GROUP] DIR...`: directories only (what converge uses)."""
    args, opts = argv[1:], {}
    if "-d" not in args:
        return fail("install: the simulated host only makes directories (-d)")
    args = [a for a in args if a != "-d"]
    while args and args[0] in ("-m", "-o", "-g") and len(args) > 1:
        opts[args[0]] = args[1]
        args = args[2:]
    db = Db(host)
    if "-o" in opts and opts["-o"] not in db.passwd and not opts["-o"].isdigit():
        return fail(f"install: invalid user '{opts['-o']}'")
    if "-g" in opts and opts["-g"] not in db.group and not opts["-g"].isdigit():
        return fail(f"install: invalid group '{opts['-g']}'")
    paths = host.facts.sim.setdefault("paths", [])
    owners = host.facts.sim.setdefault("owners", {})
    for path in args:
        if path not in paths:
            paths.append(path)
        owners[path] = [opts.get("-o", "root"), opts.get("-g", "root"), opts.get("-m", "755").lstrip("0") or "0"]
    host.changed()
    return Result(0)


@tool("visudo")
def visudo(host: Any, argv: list[str], input: str | None) -> Result:
    """`visudo -cf FILE`: each rule line is USER HOSTS=(RUNAS) COMMANDS (sudo 1.9's check, simplified)."""
    path = argv[-1]
    text = host.facts.files.get(path)
    if text is None or "-cf" not in argv:
        return fail(f"visudo: unable to open {path}: No such file or directory")
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split(None, 1)
        if line.strip() and not line.lstrip().startswith("#") and (len(parts) < 2 or "=" not in parts[1]):
            return Result(1, "", f"{path}:{n}:{len(parts[0]) + 1}: syntax error\n{line}\n")
    return Result(0, f"{path}: parsed OK\n", "")
