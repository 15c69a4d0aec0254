"""The btrfs side of pool, dataset and snapshot. Pool = a filesystem over devices (its label is
the pool name) mounted at its mountpoint; dataset = subvolume (compression property, quota =
qgroup limit, readonly = ro property); snapshot = read-only snapshot under `.snapshots` of the
subvolume. btrfs has no user properties, so ownership lives in converge's state file."""

from __future__ import annotations

from typing import Any

from ...errors import PlanError
from ...hosts.base import unroot
from ...model import Change, Observed, Ref, Step
from ..base import Context, Joint, record_managed
from ..holders import shared_read
from .btrfs_read import Filesystem, read_filesystems, subvolume_name
from .common import desired_specs, normal, pool_of
from .specs import BTRFS_COMPRESSION, DATASET_NAME, SNAPSHOT_NAME, DatasetSpec, PoolSpec, SnapshotSpec

SUPPORTED = ("compression", "quota", "readonly")


def filesystems(ctx: Context) -> list[Filesystem]:
    return shared_read(ctx, "btrfs", lambda: read_filesystems(ctx.host))


def _pools(ctx: Context) -> dict[str, Filesystem]:
    return {fs.label: fs for fs in filesystems(ctx) if fs.label}


# -- read ------------------------------------------------------------------------------------
def read_pools(ctx: Context) -> dict[str, Observed]:
    out: dict[str, Observed] = {}
    for name, fs in _pools(ctx).items():
        ref = Ref(kind="pool", name=name)
        data: dict[str, Any] = {"driver": "btrfs", "disks": fs.devices,
                                "data_profile": fs.profiles.get("data"),
                                "metadata_profile": fs.profiles.get("metadata"),
                                "mountpoint": unroot(ctx.host, fs.path) if fs.path else None,
                                "scrub_requested": ctx.stamp(ref, "scrub_requested")}
        info = {"uuid": fs.uuid, "path": fs.path, "quota": fs.quota, "sizes": fs.sizes, "driver": "btrfs",
                "mountpoint": data["mountpoint"]}
        out[name] = Observed(spec=normal(PoolSpec, data), managed=ctx.managed_in_state(ref), info=info)
    return out


def read_subvolumes(ctx: Context, kind: str) -> dict[str, Observed]:
    out: dict[str, Observed] = {}
    pattern = {"dataset": DATASET_NAME, "snapshot": SNAPSHOT_NAME}
    for pool, fs in _pools(ctx).items():
        for path, subvol_id in fs.subvolumes.items():
            found, name = subvolume_name(pool, path)
            if found != kind or not pattern[kind].fullmatch(name):
                continue
            ref = Ref(kind=kind, name=name)
            info = {"path": f"{fs.path}/{path}", "id": subvol_id, "driver": "btrfs",
                    "mountpoint": unroot(ctx.host, f"{fs.path}/{path}")}
            if kind == "snapshot":
                for section, by in (("policy_snapshots", "snapshot_policy/"), ("replication_snapshots", "replication/"),
                                    ("replication_received", "a replication into ")):  # (from another host)
                    owner = next((n for n, snaps in ctx.state.get(section, {}).items() if name in snaps), None)
                    if owner:
                        info["made_by"] = f"{by}{owner}"  # taken by a run: never imported as declared
                out[name] = Observed(spec=normal(SnapshotSpec, {"properties": {}}), managed=ctx.managed_in_state(ref),
                                     info=info)
                continue
            props: dict[str, Any] = {"readonly": path in fs.readonly}
            if path in fs.compression:
                props["compression"] = "off" if fs.compression[path] in ("none", "") else fs.compression[path]
            if fs.quota:
                props["quota"] = fs.limits.get(path, 0)
            data = {"properties": props, "rollback_to": ctx.stamp(ref, "rollback_to"),
                    "rollback_requested": ctx.stamp(ref, "rollback_requested")}
            out[name] = Observed(spec=normal(DatasetSpec, data), managed=ctx.managed_in_state(ref), info=info)
    return out


# -- paths -----------------------------------------------------------------------------------
def pool_path(ctx: Context, pool: str) -> str:
    observed = ctx.facts.of("pool").get(pool)
    if observed is not None and observed.info.get("path"):
        return str(observed.info["path"])
    spec = desired_specs(ctx, "pool").get(pool)
    return ctx.host.path((spec.mountpoint if spec is not None and spec.mountpoint else None) or f"/{pool}")


def subvolume_path(ctx: Context, name: str) -> str:
    dataset, _, snap = name.partition("@")
    rest = dataset.split("/", 1)[1] if "/" in dataset else ""
    base = pool_path(ctx, pool_of(name)) + (f"/{rest}" if rest else "")
    return f"{base}/.snapshots/{snap}" if snap else base


# -- pool steps ------------------------------------------------------------------------------
def _mount(ctx: Context, name: str, spec: PoolSpec) -> list[Step]:
    path = ctx.host.path(spec.mountpoint or f"/{name}")
    return [Step(argv=["btrfs", "device", "scan", *spec.disks], note="register the devices (no udev)"),
            Step(argv=["mkdir", "-p", path], note="mountpoint"),
            Step(argv=["mount", "-t", "btrfs", spec.disks[0], path], note="mount the pool's top level")]


def create_pool(name: str, spec: PoolSpec, ctx: Context) -> list[Step]:
    argv = ["mkfs.btrfs"] + (["-f"] if spec.force else []) + ["-L", name]
    if spec.data_profile:
        argv += ["-d", spec.data_profile]
    if spec.metadata_profile:
        argv += ["-m", spec.metadata_profile]
    steps = [Step(argv=argv + list(spec.disks), note="make the filesystem")] + _mount(ctx, name, spec)
    return steps + [record_managed(Ref(kind="pool", name=name), True)]


def update_pool(name: str, spec: PoolSpec, observed: Observed, paths: set[str], ctx: Context) -> list[Step]:
    steps: list[Step] = []
    have = observed.spec
    if "mountpoint" in paths or not observed.info.get("path"):
        if observed.info.get("path"):
            steps.append(Step(argv=["umount", str(observed.info["path"])], note="move the mountpoint"))
        steps += _mount(ctx, name, spec)
    mnt = ctx.host.path(spec.mountpoint or f"/{name}")
    added = sorted(set(spec.disks) - set(have.get("disks", [])))
    removed = sorted(set(have.get("disks", [])) - set(spec.disks))
    steps += [Step(argv=["btrfs", "device", "add"] + (["-f"] if spec.force else []) + [d, mnt], note="add a device")
              for d in added]
    steps += [Step(argv=["btrfs", "device", "remove", d, mnt], note="remove a device (its data moves first)")
              for d in removed]
    convert = [f"-dconvert={spec.data_profile}"] if spec.data_profile and "data_profile" in paths else []
    convert += [f"-mconvert={spec.metadata_profile}"] if spec.metadata_profile and "metadata_profile" in paths else []
    if convert or added:
        steps.append(Step(argv=["btrfs", "balance", "start", *(convert or ["--full-balance"]), mnt],
                          note="spread data over the devices / convert profiles"))
    if "scrub_requested" in paths and spec.scrub_requested:
        steps.append(Step(argv=["btrfs", "scrub", "start", "-B", mnt], note="honour scrub_requested"))
    if not observed.managed:
        steps.append(record_managed(Ref(kind="pool", name=name), True))
    return steps


def delete_pool(name: str, observed: Observed, ctx: Context) -> list[Step]:
    steps = [Step(argv=["umount", str(observed.info["path"])], note="unmount")] if observed.info.get("path") else []
    return steps + [Step(argv=["wipefs", "-a", *observed.spec.get("disks", [])], note="destroy the filesystem"),
                    record_managed(Ref(kind="pool", name=name), False)]


# -- dataset steps ---------------------------------------------------------------------------
def check_properties(name: str, spec: DatasetSpec) -> None:
    values = spec.properties.model_dump(exclude_none=True)
    bad = sorted(k for k in values if k not in SUPPORTED)
    if bad:
        raise PlanError(f"dataset {name} is a btrfs subvolume: properties {', '.join(bad)} do not exist there; "
                        f"btrfs datasets take {', '.join(SUPPORTED)}")
    if values.get("compression") not in (None, *BTRFS_COMPRESSION):
        raise PlanError(f"dataset {name}: btrfs compression is one of {', '.join(BTRFS_COMPRESSION)}, "
                        f"not {values['compression']!r}")
    if spec.origin or spec.protect is not None:
        raise PlanError(f"dataset {name}: origin and protect are ZFS features; a btrfs subvolume has neither")


def property_steps(ctx: Context, name: str, path: str, values: dict[str, Any], was_ro: bool) -> list[Step]:
    """Property changes in a safe order: a read-only subvolume takes no other change, so ro goes
    off first and back on last. A quota limit waits for its filesystem's quota joint (quota_joints)."""
    steps: list[Step] = []
    want_ro = values.get("readonly", was_ro)
    others = {k: v for k, v in values.items() if k != "readonly"}
    if was_ro and others:
        steps.append(Step(argv=["btrfs", "property", "set", path, "ro", "false"], note="writable for the change"))
    if "compression" in others:
        value = "none" if others["compression"] == "off" else others["compression"]
        steps.append(Step(argv=["btrfs", "property", "set", path, "compression", value], note="compression"))
    if "quota" in others:
        limit = str(others["quota"]) if others["quota"] else "none"  # bytes: exact
        steps.append(Step(argv=["btrfs", "qgroup", "limit", limit, path], note="quota"))
    if want_ro != was_ro or (was_ro and others):
        steps.append(Step(argv=["btrfs", "property", "set", path, "ro", "true" if want_ro else "false"],
                          note="read-only"))
    return steps


def quota_joints(changes: list[Change], ctx: Context) -> list[Joint]:
    """`btrfs quota enable` once per filesystem that has none yet, however many of its subvolumes
    get a limit: one explicit `batch quota/POOL` change that every change setting a limit there waits for."""
    carried: dict[str, list[Ref]] = {}
    for change in changes:
        if any(step.argv[:3] == ["btrfs", "qgroup", "limit"] for step in change.steps):
            carried.setdefault(pool_of(change.ref.name), []).append(change.ref)
    joints = []
    for pool, refs in sorted(carried.items()):
        observed = ctx.facts.of("pool").get(pool)
        if observed and observed.info.get("quota"):
            continue
        step = Step(argv=["btrfs", "quota", "enable", pool_path(ctx, pool)], note="quotas (qgroups) on the pool")
        joints.append(Joint(ref=Ref.of("batch", f"quota/{pool}"), steps=[step], carries=refs, before={}, after={},
                            reason=f"quotas on btrfs pool {pool} for {', '.join(str(r) for r in refs)}"))
    return joints


def create_dataset(name: str, spec: DatasetSpec, ctx: Context) -> list[Step]:
    check_properties(name, spec)
    path = subvolume_path(ctx, name)
    values = spec.properties.model_dump(exclude_none=True)
    return [Step(argv=["btrfs", "subvolume", "create", path], note="create the subvolume")] + \
        property_steps(ctx, name, path, values, False) + [record_managed(Ref(kind="dataset", name=name), True)]


def dependents(name: str, ctx: Context) -> list[str]:
    found = [n for kind in ("dataset", "snapshot") for n in ctx.facts.of(kind)
             if n.startswith(name + "/") or n.startswith(name + "@")]
    return sorted(set(found) - {name})


def destroy_subvolume(name: str, ctx: Context, kind: str) -> list[Step]:
    blocking = [c for c in dependents(name, ctx)
                if not (ctx.facts.of("snapshot" if "@" in c else "dataset")[c].managed
                        and c not in desired_specs(ctx, "snapshot" if "@" in c else "dataset"))]
    if blocking:
        raise PlanError(f"{kind} {name} cannot be deleted while {', '.join(blocking)} exist "
                        "(not managed by converge or still declared); converge never deletes recursively")
    return [Step(argv=["btrfs", "subvolume", "delete", "-c", subvolume_path(ctx, name)], note=f"delete the {kind}"),
            record_managed(Ref(kind=kind, name=name), False)]


def create_snapshot(name: str, properties: dict[str, str], ctx: Context) -> list[Step]:
    if properties:
        raise PlanError(f"snapshot {name}: btrfs snapshots have no user properties")
    dataset = name.split("@", 1)[0]
    source = subvolume_path(ctx, dataset)
    return [Step(argv=["mkdir", "-p", f"{source}/.snapshots"], note="snapshot directory"),
            Step(argv=["btrfs", "subvolume", "snapshot", "-r", source, subvolume_path(ctx, name)],
                 note="take a read-only snapshot"),
            record_managed(Ref(kind="snapshot", name=name), True)]
