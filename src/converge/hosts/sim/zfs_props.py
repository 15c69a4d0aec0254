"""Output of the emulated zfs/zpool reads, in OpenZFS 2.x formats: `zpool status -P`,
`zpool get -Hp`, and `zfs get -Hp -o name,property,value,source [-s SOURCES] all|PROP,...` with
OpenZFS's inheritance rules (inheritable properties come from the nearest ancestor that sets them).
Only the rows asked for are computed: `-s local,received` never walks the ancestors."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from ...model import Observed

DEFAULTS: dict[str, str] = {
    "compression": "off", "quota": "0", "refquota": "0", "reservation": "0", "refreservation": "0",
    "recordsize": "131072", "atime": "on", "relatime": "on", "readonly": "off", "exec": "on", "canmount": "on",
    "acltype": "off", "xattr": "sa", "sync": "standard", "snapdir": "hidden", "dedup": "off",
}
INHERITABLE = {"compression", "recordsize", "atime", "relatime", "readonly", "exec", "acltype", "xattr", "sync",
               "snapdir", "dedup"}
CREATE_ONLY = {"encryption": "off", "keyformat": "none", "casesensitivity": "sensitive",
               "normalization": "none", "utf8only": "off"}
ROLE_HEADERS = {"log": "logs", "cache": "cache", "spare": "spares", "special": "special"}
FIXED = ("type", "creation", "createtxg", "used", "clones", "userrefs", "origin", *CREATE_ONLY)
SOURCES = frozenset({"local", "default", "inherited", "temporary", "received", "none"})


@dataclass(frozen=True)
class Select:
    """Which rows a `zfs get` prints: its property list (None: all) and `-s` sources (None: all)."""

    props: frozenset[str] | None = None
    sources: frozenset[str] | None = None

    def prop(self, prop: str) -> bool:
        return self.props is None or prop in self.props

    def source(self, source: str) -> bool:
        kind = "inherited" if source.startswith("inherited") else "none" if source == "-" else source
        return self.sources is None or kind in self.sources

    @functools.cached_property
    def fixed(self) -> frozenset[str]:
        """The properties whose source is always '-' that this get prints."""
        return frozenset(p for p in FIXED if self.prop(p)) if self.source("-") else frozenset()

    @functools.cached_property
    def set_only(self) -> bool:
        """Only local/received rows: nothing inherited or default needs computing."""
        return self.sources is not None and self.sources <= {"local", "received"}

    # Worked out once per `zfs get`, not once per dataset (10 000 datasets: two gets of a plan).
    @functools.cached_property
    def defaults(self) -> tuple[tuple[str, str], ...]:
        return tuple((p, d) for p, d in DEFAULTS.items() if self.prop(p))

    @functools.cached_property
    def create_only(self) -> tuple[tuple[str, str], ...]:
        return tuple((p, d) for p, d in CREATE_ONLY.items() if p in self.fixed)

    @functools.cached_property
    def user_props(self) -> tuple[str, ...]:
        """User properties asked for by name (printed as "-" where not set)."""
        return tuple(sorted(p for p in self.props or () if ":" in p))


ALL = Select()


def zfs_value(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def render_status(pools: dict[str, Observed]) -> str:
    out = []
    for name, pool in sorted(pools.items()):
        rows: list[tuple[int, str, bool]] = [(0, name, False)]
        counters: dict[str, int] = {}
        for role in ("data", "special", "log", "cache", "spare"):
            vdevs = [v for v in pool.spec.get("vdevs", []) if v["role"] == role]
            if not vdevs:
                continue
            if role != "data":
                rows.append((0, ROLE_HEADERS[role], True))
            for v in vdevs:
                if v["type"] == "stripe":
                    rows += [(2, d, role == "spare") for d in v["disks"]]
                else:
                    n = counters.get("n", 0)
                    counters["n"] = n + 1
                    rows.append((2, f"{v['type']}-{n}", False))
                    rows += [(4, d, False) for d in v["disks"]]
        width = max(len(n) + ind for ind, n, _ in rows) + 2
        # group headers (logs, cache, spares) carry no state; spare disks show AVAIL
        lines = [(f"\t{' ' * ind}{n}".ljust(width + 1) + ("" if ind == 0 and bare else
                                                            "  AVAIL" if bare else "  ONLINE       0     0     0"))
                 .rstrip() for ind, n, bare in rows]
        scan = "  scan: scrub repaired 0B in 00:00:01 with 0 errors on Sun Nov 22 09:00:00 2026\n" \
            if pool.info.get("scrubs") else ""
        out.append(f"  pool: {name}\n state: ONLINE\n{scan}config:\n\n"
                   f"\t{'NAME'.ljust(width - 1)}  STATE     READ WRITE CKSUM\n" + "\n".join(lines) +
                   "\n\nerrors: No known data errors\n")
    return "\n".join(out)


def pool_lines(name: str, pool: Observed) -> str:
    props = {k: zfs_value(v) for k, v in pool.spec.get("properties", {}).items()}
    rows = [(name, "size", str(pool.info.get("size", 0)), "-"), (name, "health", "ONLINE", "-"),
            (name, "ashift", props.pop("ashift", "0"), "local" if "ashift" in pool.spec.get("properties", {})
             else "default")]
    auto = pool.spec.get("properties", {}).get("autotrim")
    rows.append((name, "autotrim", zfs_value(auto) if auto is not None else "off",
                 "local" if auto is not None else "default"))
    props.pop("autotrim", None)
    rows += [(name, k, v, "local") for k, v in sorted(props.items())]
    return "".join("\t".join(r) + "\n" for r in rows)


def _local(host: Any, pools: dict[str, Observed], name: str) -> tuple[dict[str, Any], Observed | None]:
    if "/" not in name:
        pool = pools.get(name)
        return (pool.spec.get("filesystem_properties", {}) if pool else {}), pool
    obs = host.facts.of("dataset").get(name)
    return (obs.spec.get("properties", {}) if obs else {}), obs  # read-only: callers never change it


def _mountpoint(host: Any, pools: dict[str, Observed], name: str) -> tuple[str, str]:
    if "/" not in name:
        pool = pools[name]
        return str(pool.spec.get("mountpoint") or f"/{name}"), \
            "local" if pool.info.get("mountpoint_local") else "default"
    local, _ = _local(host, pools, name)
    if local.get("mountpoint"):
        return str(local["mountpoint"]), "local"
    parent, leaf = name.rsplit("/", 1)
    value, source = _mountpoint(host, pools, parent)
    if source == "local":
        source = f"inherited from {parent}"
    return (value.rstrip("/") + "/" + leaf if value not in ("none", "legacy") else value), source


def _lines(host: Any, pools: dict[str, Observed], name: str, obs: Observed, snapshot: bool,
           clones_of: dict[str, list[str]] | None = None, select: Select = ALL) -> list[tuple]:
    rows: list[tuple] = []
    wanted = select.prop
    fixed = select.fixed.__contains__  # a row whose source is always '-'

    def add(prop: str, value: str, source: str) -> None:
        if select.source(source):
            rows.append((name, prop, value, source))

    order = int(obs.info.get("order", 0))
    for prop, value in (("type", "snapshot" if snapshot else "filesystem"), ("creation", str(1795338000 + order)),
                        ("createtxg", str(order)), ("used", "0" if snapshot else "98304")):
        if fixed(prop):
            rows.append((name, prop, value, "-"))
    if snapshot:
        users = dict(obs.spec.get("properties", {}))
        if fixed("clones"):
            clones = sorted(clones_of.get(name, []) if clones_of is not None else
                            (n for n, o in host.facts.of("dataset").items() if o.spec.get("origin") == name))
            rows.append((name, "clones", ",".join(clones), "-"))
        if fixed("userrefs"):
            rows.append((name, "userrefs", str(len(obs.info.get("holds", []))), "-"))
    else:
        local, _ = _local(host, pools, name)
        users = {k: v for k, v in local.items() if ":" in k}
        if wanted("mountpoint") and (not select.set_only or local.get("mountpoint") or "/" not in name):
            add("mountpoint", *_mountpoint(host, pools, name))
        if fixed("origin"):
            rows.append((name, "origin", str(obs.spec.get("origin") or "-"), "-"))
        for prop, default in select.defaults:
            if not select.set_only:
                add(prop, *_inherited(host, pools, name, prop, default))
            elif prop in local:  # `-s local`: the ancestors never matter
                add(prop, zfs_value(local[prop]), "local")
        for prop, default in select.create_only:
            rows.append((name, prop, zfs_value(local.get(prop, default)), "-"))
    marks = [k for k, flag in (("converge:managed", obs.managed), ("converge:protect", obs.protected)) if flag]
    for key, value in sorted(users.items()):
        if wanted(key):
            add(key, zfs_value(value), "local")
    for key in marks:
        if wanted(key):
            add(key, "on", "local")
    for key in select.user_props:  # a user property asked for by name and not set: "-"
        if key not in users and key not in marks:
            add(key, "-", "-")
    for key, value in sorted(obs.info.get("converge", {}).items()):  # a run's marks (converge:policy)
        if wanted(key):
            add(key, str(value), "local")
    return rows


def _inherited(host: Any, pools: dict[str, Observed], name: str, prop: str, default: str) -> tuple[str, str]:
    local, _ = _local(host, pools, name)
    if prop in local:
        return zfs_value(local[prop]), "local"
    if prop in INHERITABLE and "/" in name:
        parent = name.rsplit("/", 1)[0]
        while True:
            plocal, _ = _local(host, pools, parent)
            if prop in plocal:
                return zfs_value(plocal[prop]), f"inherited from {parent}"
            if "/" not in parent:
                break
            parent = parent.rsplit("/", 1)[0]
    return default, "default"


def dataset_lines(host: Any, pools: dict[str, Observed], select: Select = ALL) -> str:
    rows: list[tuple] = []
    roots = {n: Observed(spec={}, managed=p.managed, protected=p.protected, info={"order": 1})
             for n, p in pools.items()}
    datasets = {n: o for n, o in host.facts.of("dataset").items() if n.split("/")[0] in pools}
    snaps = {n: o for n, o in host.facts.of("snapshot").items() if n.split("@")[0].split("/")[0] in pools}
    snaps_of: dict[str, list[str]] = {}
    for snap in sorted(snaps):
        snaps_of.setdefault(snap.split("@")[0], []).append(snap)
    clones_of: dict[str, list[str]] = {}
    for name, obs in datasets.items():
        if obs.spec.get("origin"):
            clones_of.setdefault(str(obs.spec["origin"]), []).append(name)
    for name in sorted({**roots, **datasets}):
        rows += _lines(host, pools, name, roots.get(name) or datasets[name], False, select=select)
        rows += [r for s in snaps_of.get(name, []) for r in _lines(host, pools, s, snaps[s], True, clones_of, select)]
    return "".join("\t".join(r) + "\n" for r in rows)
