"""Kind `snapshot`: `dataset@name`, a ZFS snapshot or a read-only btrfs snapshot."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from ...errors import PlanError
from ...model import FieldDiff, Observed, Ref, Step
from ..base import Context, Kind, KindAction, Spec, allow_destroy_field, record_managed
from .common import pool_driver
from .dataset import USER_PROPERTY


class SnapshotSpec(Spec):
    properties: dict[str, str] = Field(default_factory=dict, description="user properties (module:name)")

    @field_validator("properties")
    @classmethod
    def _user_properties(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not USER_PROPERTY.fullmatch(key) or key.startswith("converge:") or "\n" in value:
                raise ValueError(f"snapshot property {key!r}: snapshots take user properties module:name "
                                 "(lowercase, one-line values; converge:* is reserved)")
        return v
    allow_destroy: bool = allow_destroy_field()


class SnapshotKind(Kind[SnapshotSpec]):
    kind = "snapshot"
    section = ("snapshots",)
    spec = SnapshotSpec
    actions = {"rollback": KindAction("rollback_to + rollback_requested on the dataset (admin: newer data is lost)",
                                     handler="rollback", admin_only=True)}
    name_pattern = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*@[A-Za-z0-9_.:-]+")
    name_allowed = "pool/dataset@name (letters, digits, '_', '.', ':', '-')"
    holds_data = True
    tools = ()  # zfs or btrfs: read() asks the host for each driver's tool itself

    def read(self, ctx: Context) -> dict[str, Observed]:
        out: dict[str, Observed] = {}
        if ctx.host.has("btrfs"):
            out.update(btrfs_driver.read_subvolumes(ctx, "snapshot"))
        if ctx.host.has("zfs"):
            out.update(zfs_driver.read_snapshots(ctx))
        return out

    def create(self, name: str, spec: SnapshotSpec, ctx: Context) -> list[Step]:
        if pool_driver(ctx, name) == "btrfs":
            return btrfs_driver.create_snapshot(name, spec.properties, ctx)
        return zfs_driver.snapshot_create(name, spec)

    def update(self, name: str, spec: SnapshotSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        if observed.info.get("driver") == "btrfs":
            if spec.properties:
                raise PlanError(f"snapshot {name}: btrfs snapshots have no user properties")
            return [] if observed.managed else [record_managed(self.ref(name), True)]
        have = observed.spec.get("properties", {})
        values: dict[str, str] = {k: v for k, v in spec.properties.items() if have.get(k) != v}
        if not observed.managed:
            values[zfs_driver.MANAGED] = "on"
        return zfs_driver.set_steps(ctx, name, values, "snapshot properties")

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        if observed.info.get("driver") == "btrfs":
            return btrfs_driver.destroy_subvolume(name, ctx, "snapshot")
        return zfs_driver.destroy(name, ctx, "snapshot")

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        if observed.info.get("driver") == "btrfs":
            return []
        return zfs_driver.dependents(name, ctx)

    def depends(self, name: str, spec: SnapshotSpec) -> list[Ref]:
        dataset = name.split("@", 1)[0]
        return [Ref(kind="dataset" if "/" in dataset else "pool", name=dataset)]


# The drivers build on the specs above, so they are imported once those exist.
from . import btrfs_driver, zfs_driver  # noqa: E402
