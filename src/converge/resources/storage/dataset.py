"""Kind `dataset`: a ZFS filesystem, or a btrfs subvolume (with qgroup and properties)."""

from __future__ import annotations

from typing import Any

from ...errors import PlanError
from ...model import Change, FieldDiff, Observed, Ref, Step
from ..base import Context, Joint, Kind, KindAction, record_managed
from . import btrfs_driver, dataset_owner, zfs_driver
from .common import pool_driver, pool_lane, read_drivers, specs_of
from .specs import CREATE_ONLY_PROPERTIES, DATASET_NAME, DatasetSpec


class DatasetKind(Kind[DatasetSpec]):
    kind = "dataset"
    section = ("datasets",)
    spec = DatasetSpec
    actions = {"snapshots": KindAction("declare a snapshot of the dataset (body: its name and fields)", handler="snapshot")}
    name_pattern = DATASET_NAME
    name_allowed = "pool/path: components of letters, digits, '_', '.', ':', '-' separated by '/'"
    create_only = frozenset({f"properties.{p}" for p in CREATE_ONLY_PROPERTIES} | {"origin"})
    holds_data = True
    tools = ()  # zfs or btrfs: read() asks the host for each driver's tool itself

    def lane(self, name: str) -> str | None:
        return pool_lane(name)

    def read(self, ctx: Context) -> dict[str, Observed]:
        out = read_drivers(ctx, lambda c: btrfs_driver.read_subvolumes(c, "dataset"), zfs_driver.read_datasets)
        dataset_owner.read(out, ctx)
        return out

    def create(self, name: str, spec: DatasetSpec, ctx: Context) -> list[Step]:
        if pool_driver(ctx, name) == "btrfs":
            steps = btrfs_driver.create_dataset(name, spec, ctx)
        else:
            steps = zfs_driver.dataset_create(name, spec)
        steps += dataset_owner.steps(name, spec, set(dataset_owner.FIELDS), ctx)
        return steps + zfs_driver.stamps(self.ref(name), spec, ("rollback_to", "rollback_requested"))

    def update(self, name: str, spec: DatasetSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        paths = {d.path for d in diffs}
        tops = {p.split(".", 1)[0] for p in paths}
        declared = spec.properties.model_dump(mode="json", exclude_none=True)
        have = observed.spec.get("properties", {})
        changed = {k: v for k, v in declared.items() if have.get(k) != v} if "properties" in tops else {}
        steps: list[Step] = []
        if "rollback_requested" in tops and spec.rollback_requested and spec.rollback_to:
            if pool_driver(ctx, name) == "btrfs":
                raise PlanError(f"dataset {name}: btrfs has no in-place rollback; restore from "
                                f"{name}@{spec.rollback_to} by hand (or snapshot it back) and drop rollback_requested")
            steps += zfs_driver.rollback(name, spec.rollback_to, ctx, spec.allow_destroy)
        if pool_driver(ctx, name) == "btrfs":
            btrfs_driver.check_properties(name, spec)
            path = str(observed.info.get("path") or btrfs_driver.subvolume_path(ctx, name))
            steps += btrfs_driver.property_steps(ctx, name, path, changed, bool(have.get("readonly")))
            if not observed.managed:
                steps.append(record_managed(self.ref(name), True))
        else:
            if "protect" in tops and spec.protect is not None:
                changed[zfs_driver.PROTECT] = "on" if spec.protect else "off"
            if not observed.managed:
                changed[zfs_driver.MANAGED] = "on"
            steps += zfs_driver.set_steps(ctx, name, changed, "dataset properties")
        steps += dataset_owner.steps(name, spec, tops, ctx)
        fields = tuple(f for f in ("rollback_to", "rollback_requested") if f in tops)
        return steps + zfs_driver.stamps(self.ref(name), spec, fields)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return destroy_steps(self.kind, name, observed, ctx)

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        if observed.info.get("driver") == "btrfs":
            return btrfs_driver.dependents(name, ctx)
        return zfs_driver.dependents(name, ctx)

    def validate_set(self, specs: dict[str, DatasetSpec], desired: Any) -> list[tuple[str, str, str]]:
        """Properties the pool's driver lacks, when the pool is declared (else at plan time)."""
        pools = specs_of(desired, "pool")
        problems: list[tuple[str, str, str]] = []
        for name, spec in specs.items():
            pool = pools.get(name.split("/", 1)[0])
            if pool is None or pool.driver != "btrfs":
                continue
            try:
                btrfs_driver.check_properties(name, spec)
            except PlanError as e:
                problems.append((name, "properties", str(e)))
        return problems

    def depends(self, name: str, spec: DatasetSpec) -> list[Ref]:
        pool, _, rest = name.partition("/")
        parent = name.rsplit("/", 1)[0]
        refs = [Ref.of("pool", pool)]
        if "/" in rest:
            refs.append(Ref.of("dataset", parent))
        if spec.origin:
            refs.append(Ref(kind="snapshot", name=spec.origin))
        if spec.owner:  # the accounts it is owned by exist first
            refs.append(Ref(kind="user", name=spec.owner))
        if spec.group:
            refs.append(Ref(kind="group", name=spec.group))
        return refs

    def joints(self, changes: list[Change], ctx: Context) -> list[Joint]:
        return btrfs_driver.quota_joints(changes, ctx)


def destroy_steps(kind: str, name: str, observed: Observed, ctx: Context) -> list[Step]:
    """Delete a dataset or a snapshot (`kind`) with the driver it was read with."""
    if observed.info.get("driver") == "btrfs":
        return btrfs_driver.destroy_subvolume(name, ctx, kind)
    return zfs_driver.destroy(name, ctx, kind)
