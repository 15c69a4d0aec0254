"""The ZFS side of pool, dataset and snapshot: facts from the bulk reads of zfs_read, and the
argv that realise a change. Ownership and protection are user properties on the host
(`converge:managed`, `converge:protect`), so they survive losing converge's state file."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ...errors import PlanError
from ...model import Observed, Ref, Step
from ..base import Context, record_stamp
from ..holders import shared_read
from .common import desired_specs, normal, onoff, valid_properties
from .specs import CREATE_ONLY_PROPERTIES, DatasetProperties, DatasetSpec, PoolSpec, SnapshotSpec, Vdev
from .zfs_read import declared_values, match_disk, zfs_get_all, zpool_get, zpool_list, zpool_status

MANAGED = "converge:managed"
PROTECT = "converge:protect"
NATIVE = frozenset(DatasetProperties.model_fields)
CREATE_ONLY = frozenset(CREATE_ONLY_PROPERTIES)
POOL_NATIVE_SKIP = {"size", "capacity", "altroot", "health", "guid", "version", "bootfs", "dedupratio", "free",
                    "allocated", "readonly", "load_guid", "fragmentation", "expandsize", "freeing", "leaked",
                    "checkpoint", "bcloneused", "bclonesaved", "bcloneratio", "dedupditto", "cachefile"}


def _is_on(props: dict[str, tuple[str, str]], name: str) -> bool:
    """Set on this dataset itself: ZFS user properties inherit, so a hand-made snapshot or child of
    a managed dataset reads `converge:managed on` with source `inherited from ...`; that is not ours."""
    value, source = props.get(name, ("off", ""))
    return value == "on" and source == "local"


def _protected(props: dict[str, tuple[str, str]]) -> bool:
    """Protection may be inherited (it only ever refuses destroys: the safe reading)."""
    return props.get(PROTECT, ("off", ""))[0] == "on"


def all_props(ctx: Context) -> dict[str, dict[str, tuple[str, str]]]:
    return shared_read(ctx, "zfs get", lambda: zfs_get_all(ctx.host))


# -- read ------------------------------------------------------------------------------------
def read_pools(ctx: Context) -> dict[str, Observed]:
    host = ctx.host
    listed, legacy = zpool_list(host)
    if not listed:
        return {}
    topology = zpool_status(host, legacy)
    pool_props = zpool_get(host, sorted(listed), legacy)
    roots = all_props(ctx)
    wanted = desired_specs(ctx, "pool")
    out: dict[str, Observed] = {}
    for name, row in listed.items():
        spec_disks = [d for v in getattr(wanted.get(name), "vdevs", []) for d in v.disks]
        vdevs = [dict(v, disks=[match_disk(d, spec_disks) for d in v["disks"]]) for v in topology.get(name, [])]
        local_pool = {k: v for k, (v, src) in pool_props.get(name, {}).items()
                      if src == "local" and k not in POOL_NATIVE_SKIP and v != "-"}
        root = roots.get(name, {})
        fs_props, odd = valid_properties(DatasetProperties, declared_values(root, NATIVE - {"mountpoint"}))
        data: dict[str, Any] = {"driver": "zfs", "vdevs": vdevs, "properties": local_pool,
                                "filesystem_properties": fs_props,
                                "mountpoint": root.get("mountpoint", ("", ""))[0] or None,
                                "scrub_requested": ctx.stamp(Ref(kind="pool", name=name), "scrub_requested")}
        if "autotrim" in pool_props.get(name, {}):
            data["autotrim"] = pool_props[name]["autotrim"][0]
        if data["mountpoint"] in ("none", "legacy", "-"):
            data["mountpoint"] = None
        info = dict(row, zfs_legacy=legacy, mountpoint=data["mountpoint"])
        if odd:
            info["unparsed"] = odd
        out[name] = Observed(spec=normal(PoolSpec, data), managed=_is_on(root, MANAGED),
                             protected=_protected(root), info=info)
    return out


def read_datasets(ctx: Context) -> dict[str, Observed]:
    out: dict[str, Observed] = {}
    for name, props in all_props(ctx).items():
        if "/" not in name or "@" in name or props.get("type", ("",))[0] != "filesystem":
            continue
        raw = declared_values(props, NATIVE, CREATE_ONLY)
        ref = Ref(kind="dataset", name=name)
        data: dict[str, Any] = {"properties": raw, "protect": _is_on(props, PROTECT),
                                "rollback_to": ctx.stamp(ref, "rollback_to"),
                                "rollback_requested": ctx.stamp(ref, "rollback_requested")}
        origin = props.get("origin", ("-",))[0]
        if origin not in ("-", ""):
            data["origin"] = origin
        info: dict[str, Any] = {"mountpoint": props.get("mountpoint", ("",))[0],
                                "used": props.get("used", ("",))[0], "driver": "zfs"}
        try:  # validated once, properties with the rest; apart only when a value does not validate
            spec = normal(DatasetSpec, data)
        except ValidationError:
            data["properties"], info["unparsed"] = valid_properties(DatasetProperties, raw)
            spec = normal(DatasetSpec, data)
            if not info["unparsed"]:
                del info["unparsed"]
        out[name] = Observed(spec=spec, managed=_is_on(props, MANAGED),
                             protected=_protected(props), info=info)
    return out


def read_snapshots(ctx: Context) -> dict[str, Observed]:
    everything = all_props(ctx)
    out: dict[str, Observed] = {}
    for name, props in everything.items():
        if "@" not in name:
            continue
        user = {k: v for k, (v, src) in props.items() if ":" in k and not k.startswith("converge:")
                and src in ("local", "received")}
        out[name] = Observed(spec=normal(SnapshotSpec, {"properties": user}), managed=_is_on(props, MANAGED),
                             protected=_protected(props),
                             info={"order": _order(props), "driver": "zfs",
                                   "clones": clones_of(name, everything), **made_by(props)})
    return out


def made_by(props: dict[str, tuple[str, str]]) -> dict[str, str]:
    """{"made_by": REF} for a snapshot a policy or replication run took (never imported as declared)."""
    for prop, kind in (("converge:policy", "snapshot_policy"), ("converge:replication", "replication")):
        value, source = props.get(prop, ("-", ""))
        if source == "local" and value != "-":
            return {"made_by": f"{kind}/{value}"}
    return {}


def _order(props: dict[str, tuple[str, str]]) -> int:
    """Snapshots in the order they were taken: createtxg (OpenZFS), else creation time (zfs-fuse)."""
    for key in ("createtxg", "creation"):
        value = props.get(key, ("",))[0]
        if value.isdigit():
            return int(value)
    return 0


def clones_of(snapshot: str, everything: dict[str, dict[str, tuple[str, str]]]) -> list[str]:
    """Clones listed directly from every dataset's origin (`zfs destroy -Rn` misses some)."""
    return sorted(n for n, p in everything.items() if p.get("origin", ("-",))[0] == snapshot)


# -- steps -----------------------------------------------------------------------------------
def _options(values: dict[str, Any]) -> list[str]:
    return [f"{k}={onoff(v)}" for k, v in values.items()]


def _legacy(ctx: Context, name: str) -> bool:
    pool = ctx.facts.of("pool").get(name.split("/", 1)[0].split("@", 1)[0])
    return bool(pool and pool.info.get("zfs_legacy"))


def set_steps(ctx: Context, name: str, values: dict[str, Any], note: str) -> list[Step]:
    """One `zfs set a=b c=d NAME` (zfs-fuse takes one property per call: one each there)."""
    if not values:
        return []
    opts = _options(values)
    if _legacy(ctx, name):
        return [Step(argv=["zfs", "set", o, name], note=note) for o in opts]
    return [Step(argv=["zfs", "set", *opts, name], note=note)]


def vdev_args(vdevs: list[Vdev]) -> list[str]:
    args: list[str] = []
    for role in ("data", "special", "log", "cache", "spare"):
        group = [v for v in vdevs if v.role == role]
        if not group:
            continue
        if role != "data":
            args.append(role)
        for v in group:
            args += ([] if v.type == "stripe" else [v.type]) + list(v.disks)
    return args


def create_pool(name: str, spec: PoolSpec) -> list[Step]:
    argv = ["zpool", "create"] + (["-f"] if spec.force else [])
    props = dict(spec.properties)
    if spec.autotrim is not None:
        props["autotrim"] = spec.autotrim
    for k, v in props.items():
        argv += ["-o", f"{k}={onoff(v)}"]
    for opt in _options({**spec.filesystem_properties, MANAGED: "on"}):
        argv += ["-O", opt]
    if spec.mountpoint:
        argv += ["-m", spec.mountpoint]
    return [Step(argv=argv + [name] + vdev_args(spec.vdevs), note="create the pool with its vdev topology")]


def grow_pool(name: str, spec: PoolSpec, observed: Observed) -> list[Step]:
    """Adding vdevs (or disks to a mirror) is an update; taking any away is refused: ZFS can only
    remove some vdev kinds, and only after evacuating them, which is not a reconciler's call."""
    have = [Vdev.model_validate(v) for v in observed.spec.get("vdevs", [])]
    want = list(spec.vdevs)
    steps: list[Step] = []
    add: list[Vdev] = []
    for h in have:
        match = next((w for w in want if w.role == h.role and w.type == h.type and set(h.disks) <= set(w.disks)
                      and (h.type == "stripe" or h.role in ("cache", "spare") or set(h.disks) & set(w.disks))), None)
        if match is None:
            raise PlanError(f"pool {name}: the {h.role} {h.type} vdev {', '.join(h.disks)} is not in the manifest; "
                            "converge never removes disks or vdevs from a ZFS pool (data would have to be "
                            "evacuated first). Put it back in the manifest, or run `zpool remove`/`zpool detach` "
                            "yourself and re-plan.")
        want.remove(match)
        extra = sorted(set(match.disks) - set(h.disks))
        if not extra:
            continue
        if h.type == "stripe" or h.role in ("cache", "spare"):
            add.append(Vdev(type="stripe", role=h.role, disks=extra))
        elif h.type == "mirror":
            steps += [Step(argv=["zpool", "attach", name, h.disks[0], d], note="add a disk to the mirror")
                      for d in extra]
        else:
            raise PlanError(f"pool {name}: widening the {h.type} vdev {', '.join(h.disks)} by {', '.join(extra)} "
                            "is not supported; add a new vdev instead")
    add += want
    if add:
        steps.insert(0, Step(argv=["zpool", "add"] + (["-f"] if spec.force else []) + [name] + vdev_args(add),
                             note="grow the pool"))
    return steps


def dataset_create(name: str, spec: DatasetSpec) -> list[Step]:
    values = spec.properties.model_dump(mode="json", exclude_none=True)
    values[MANAGED] = "on"
    if spec.protect:
        values[PROTECT] = "on"
    opts = [a for o in _options(values) for a in ("-o", o)]
    if spec.origin:
        argv = ["zfs", "clone", "-p", *opts, spec.origin, name]
    else:
        argv = ["zfs", "create", "-p", *opts, name]
    return [Step(argv=argv, note="create the dataset with its properties")]


def rollback(name: str, snap: str, ctx: Context, allowed: bool) -> list[Step]:
    """`zfs rollback` to the most recent snapshot; a rollback past newer snapshots destroys them (-r),
    which needs allow_destroy like any other destroy."""
    full = f"{name}@{snap}"
    snaps = ctx.facts.of("snapshot")
    if full not in snaps and full not in desired_specs(ctx, "snapshot"):
        raise PlanError(f"dataset {name}: rollback_to {snap!r}: no snapshot {full} on the host or in the manifests")
    mine = sorted((int(o.info.get("order", 0)), n) for n, o in snaps.items() if n.startswith(name + "@"))
    names = [n for _, n in mine]
    newer = names[names.index(full) + 1:] if full in names else []
    if newer and not allowed:
        raise PlanError(f"dataset {name}: rolling back to {snap} destroys the newer snapshots {', '.join(newer)}; "
                        "set allow_destroy: true on the dataset (or --allow-destroy) to allow it")
    return [Step(argv=["zfs", "rollback"] + (["-r"] if newer else []) + [full], note="honour rollback_requested")]


def destroy(name: str, ctx: Context, kind: str) -> list[Step]:
    """Never -r/-R: children and clones are their own changes (deleted first) or the destroy is refused."""
    blocking = [c for c in dependents(name, ctx) if not _will_be_deleted(c, ctx)]
    if blocking:
        raise PlanError(f"{kind} {name} cannot be destroyed while {', '.join(blocking)} exist "
                        "(not managed by converge or still declared); converge never destroys recursively")
    # zfs-fuse answers "dataset is busy" to a destroy that has to unmount first: unmount explicitly there
    unmount = [Step(argv=["zfs", "unmount", name], note="zfs-fuse: unmount before destroy")] \
        if _legacy(ctx, name) and "@" not in name else []
    return unmount + [Step(argv=["zfs", "destroy", name], note=f"destroy the {kind}")]


def dependents(name: str, ctx: Context) -> list[str]:
    """Children, snapshots and clones (clones from every dataset's origin, read directly)."""
    everything = all_props(ctx)
    out = [n for n in everything if n.startswith(name + "/") or n.startswith(name + "@")]
    snaps = [n for n in out if "@" in n] + ([name] if "@" in name else [])
    out += [c for s in snaps for c in clones_of(s, everything)]
    return sorted(set(out) - {name})


def _will_be_deleted(name: str, ctx: Context) -> bool:
    kind = "snapshot" if "@" in name else "dataset"
    observed = ctx.facts.of(kind).get(name)
    return bool(observed and observed.managed and name not in desired_specs(ctx, kind))


def snapshot_create(name: str, spec: SnapshotSpec) -> list[Step]:
    opts = [a for o in _options({**spec.properties, MANAGED: "on"}) for a in ("-o", o)]
    return [Step(argv=["zfs", "snapshot", *opts, name], note="take the snapshot")]


def stamps(ref: Ref, spec: Any, fields: tuple[str, ...]) -> list[Step]:
    return [record_stamp(ref, f, getattr(spec, f)) for f in fields if getattr(spec, f) is not None]
