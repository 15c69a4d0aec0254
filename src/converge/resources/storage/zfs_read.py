"""Reading ZFS in bulk: `zpool list -Hp`, `zpool status -P`, `zpool get -Hp`, and for every
dataset and snapshot at once two `zfs get -Hp -o name,property,value,source`: one of what is set
(`-s local,received all`: what converge compares) and one of the few properties read whatever
their source (NAMED). `zfs get all` prints ~46 lines per dataset, nearly all of them defaults.

zfs-fuse 0.7 (pool version 23) lacks `-p` on `zpool list`, `-H`/`-p` on `zpool get` and `-P` on
`zpool status`: each read falls back to the old spelling when the tool says "invalid option",
and the pool's info records `zfs_legacy` so writers avoid what the old tool cannot do either
(several properties in one `zfs set`). The spelling that worked is remembered per host object, so
a watcher or an API server probes once, not on every facts pass."""

from __future__ import annotations

import re
import weakref
from typing import Any

from ...hosts.base import Host
from ...types import parse_size

Props = dict[str, dict[str, tuple[str, str]]]  # name -> property -> (value, source)
LIST_FIELDS = ("name", "size", "allocated", "free", "health", "altroot")
GROUPS = {"logs": "log", "cache": "cache", "spares": "spare", "special": "special", "dedup": "special"}
DECLARED_SOURCES = ("local", "received")
GET = ["zfs", "get", "-Hp", "-o", "name,property,value,source"]
# Read whatever their source: what the readers use besides set values (type, origin, mountpoint,
# used, snapshot order), the create-only properties (source `-`), and the protect mark, which
# protects a parent's children too when inherited. converge:managed is NOT here: only a dataset
# converge created (the mark set on it, not inherited from a parent) is converge's.
NAMED = ("type", "origin", "clones", "userrefs", "mountpoint", "used", "creation", "createtxg", "converge:protect",
         "encryption", "keyformat", "casesensitivity", "normalization", "utf8only")
NO_ENCRYPTION = ("encryption", "keyformat")  # zfs-fuse (pool version 23): "invalid property"
_INVALID = re.compile(r"bad property list: invalid property '([^']+)'")
# host -> what worked on it ("legacy": the old zfs-fuse spellings; "named": the property list)
_FORMS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _forms(host: Host) -> dict[str, Any]:
    try:
        return _FORMS.setdefault(host, {})
    except TypeError:  # a host that cannot be weakly referenced: probe every time
        return {}


def _legacy(result: Any) -> bool:
    return result.returncode != 0 and ("invalid option" in result.stderr or "bad property list" in result.stderr)


def _absent(result: Any) -> bool:
    """The tools are installed but no ZFS runs (no kernel module, no zfs-fuse daemon): no pools."""
    text = result.stderr + result.stdout
    return result.returncode != 0 and ("failed to initialize ZFS library" in text or "modules are not loaded" in text
                                       or "zfs-fuse daemon is running" in text)


def zpool_list(host: Host) -> tuple[dict[str, dict[str, Any]], bool]:
    """Pools with size/health; second value: the tool is the old zfs-fuse one."""
    fields = ",".join(LIST_FIELDS)
    forms = _forms(host)
    if forms.get("legacy"):  # known zfs-fuse: straight to the spelling it takes
        result = host.run(["zpool", "list", "-H", "-o", fields], check=False)
        if _absent(result):
            return {}, True
        if result.returncode != 0:
            host.run(["zpool", "list", "-H", "-o", fields])  # raises with the tool's message
        legacy = True
    else:
        result = host.run(["zpool", "list", "-Hp", "-o", fields], check=False)
        if _absent(result):
            return {}, False
        legacy = _legacy(result)
        if legacy:
            result = host.run(["zpool", "list", "-H", "-o", fields])
            forms["legacy"] = True
        elif result.returncode != 0:
            host.run(["zpool", "list", "-Hp", "-o", fields])  # raises with the tool's message
    pools: dict[str, dict[str, Any]] = {}
    for line in result.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) != len(LIST_FIELDS):
            continue
        row = dict(zip(LIST_FIELDS, cols, strict=False))
        for k in ("size", "allocated", "free"):
            try:
                row[k] = parse_size(row[k])
            except ValueError:
                pass  # a rounded human size (zfs-fuse): keep the text
        pools[row.pop("name")] = row
    return pools, legacy


def parse_status(text: str) -> dict[str, list[dict[str, Any]]]:
    """`zpool status` -> pool -> vdevs [{type, role, disks}]. Leaf devices are read with `-P` (full
    paths); intermediate nodes (replacing-0, spare-1) are looked through to their disks."""
    pools: dict[str, list[dict[str, Any]]] = {}
    pool = ""
    in_config = False
    role = "data"
    current: dict[str, Any] | None = None
    for raw in text.splitlines():
        stripped = raw.strip()
        m = re.match(r"^\s*pool:\s*(\S+)", raw)
        if m:
            pool, in_config, current = m.group(1), False, None
            pools[pool] = []
            continue
        if stripped == "config:":
            in_config = True
            continue
        if not in_config or not stripped or stripped.startswith("NAME ") or stripped.startswith("errors:"):
            if stripped.startswith("errors:"):
                in_config = False
            continue
        body = raw[1:] if raw.startswith("\t") else raw
        depth = len(body) - len(body.lstrip(" "))
        name = stripped.split()[0]
        if depth == 0:
            role = "data" if name == pool else GROUPS.get(name, "data")
            current = None
            continue
        group = re.fullmatch(r"(mirror|raidz[123]?)-\d+", name) or name in ("mirror", "raidz", "raidz1", "raidz2",
                                                                             "raidz3")
        if depth == 2:
            if group:
                kind = name.rsplit("-", 1)[0] if "-" in name else name
                current = {"type": "raidz1" if kind == "raidz" else kind, "role": role, "disks": []}
            else:
                current = None
                pools[pool].append({"type": "stripe", "role": role, "disks": [name]})
                continue
            pools[pool].append(current)
        elif current is not None and not re.fullmatch(r"(replacing|spare)-\d+", name):
            current["disks"].append(name)
    return pools


def zpool_status(host: Host, legacy: bool) -> dict[str, list[dict[str, Any]]]:
    argv = ["zpool", "status"] if legacy else ["zpool", "status", "-P"]
    result = host.run(argv, check=False)
    if _legacy(result):
        result = host.run(["zpool", "status"])
    elif result.returncode != 0:  # never pools without vdevs: a failed read is an error
        host.run(argv)  # raises with the tool's message
    return parse_status(result.stdout)


def parse_tab_props(text: str) -> Props:
    """`-H -o name,property,value,source` lines (tab separated) -> name -> property -> (value, source)."""
    out: Props = {}
    for line in text.splitlines():
        cols = line.split("\t")
        if len(cols) == 4:
            out.setdefault(cols[0], {})[cols[1]] = (cols[2], cols[3])
    return out


def parse_column_props(text: str) -> Props:
    """Old `zpool get all POOL` (no -H): NAME PROPERTY VALUE SOURCE in padded columns."""
    out: Props = {}
    for line in text.splitlines()[1:]:
        cols = line.split()
        if len(cols) >= 4:
            out.setdefault(cols[0], {})[cols[1]] = (" ".join(cols[2:-1]), cols[-1])
    return out


def zpool_get(host: Host, pools: list[str], legacy: bool) -> Props:
    if not pools:
        return {}
    if legacy:
        return parse_column_props(host.run(["zpool", "get", "all", *pools]).stdout)
    return parse_tab_props(host.run(["zpool", "get", "-Hp", "-o", "name,property,value,source", "all"]).stdout)


def zfs_get_all(host: Host) -> Props:
    """What converge reads of every filesystem and snapshot (no dataset argument: all types but
    bookmarks): the NAMED properties, with the set ones (local, received) over them."""
    argv = [*GET, "-s", "local,received", "all"]
    result = host.run(argv, check=False)
    if _absent(result):
        return {}
    declared = parse_tab_props(host.run(argv).stdout if result.returncode else result.stdout)
    out = parse_tab_props(_get_named(host))
    for name, props in declared.items():
        out.setdefault(name, {}).update(props)
    return out


def _get_named(host: Host) -> str:
    """`zfs get NAMED`, without the properties this zfs does not know: known zfs-fuse skips the
    encryption ones; else each one the tool calls invalid is dropped (and remembered)."""
    forms = _forms(host)
    named = forms.get("named") or [p for p in NAMED if not (forms.get("legacy") and p in NO_ENCRYPTION)]
    while True:
        result = host.run([*GET, ",".join(named)], check=False)
        bad = _INVALID.search(result.stderr) if result.returncode else None
        if bad is None or bad.group(1) not in named:
            break
        named = [p for p in named if p != bad.group(1)]
    if result.returncode:
        host.run([*GET, ",".join(named)])  # raises with the tool's message
    forms["named"] = named
    return result.stdout


def declared_values(props: dict[str, tuple[str, str]], native: frozenset[str],
                    always: frozenset[str] = frozenset()) -> dict[str, str]:
    """What was set on this dataset itself: local/received sources only, so inherited and default
    values never diff. `always`: create-only properties, fixed at creation (source `-`)."""
    out: dict[str, str] = {}
    for prop, (value, source) in props.items():
        if prop.startswith("converge:"):
            continue
        if prop in always and value != "-" and not (prop == "keyformat" and value == "none"):
            out[prop] = value
        elif source in DECLARED_SOURCES and (prop in native or ":" in prop):
            out[prop] = value
    return out


def match_disk(path: str, wanted: list[str]) -> str:
    """Map what zpool status shows back to the manifest's spelling: OpenZFS partitions a whole disk
    and shows `-part1` (by-id) or `1` (sdX) with -P, or only the last path component without it."""
    if path in wanted:
        return path
    for w in wanted:
        base = w.rsplit("/", 1)[-1]
        if path in (base, w + "-part1", w + "1", w + "p1") or path.rsplit("/", 1)[-1] in (base, base + "-part1"):
            return w
    return path
