"""Kind `snapshot`: `dataset@name`, a ZFS snapshot or a read-only btrfs snapshot."""

from __future__ import annotations

from ...errors import PlanError
from ...model import FieldDiff, Observed, Ref, Step
from ..base import Context, Kind, KindAction, record_managed
from . import btrfs_driver, zfs_driver
from .common import pool_driver, pool_lane, read_drivers
from .dataset import destroy_steps
from .specs import SNAPSHOT_NAME, SnapshotSpec


class SnapshotKind(Kind[SnapshotSpec]):
    kind = "snapshot"
    section = ("snapshots",)
    spec = SnapshotSpec
    actions = {"rollback": KindAction("rollback_to + rollback_requested on the dataset (admin: newer data is lost)",
                                     handler="rollback", admin_only=True)}
    name_pattern = SNAPSHOT_NAME
    name_allowed = "pool/dataset@name (letters, digits, '_', '.', ':', '-')"
    holds_data = True
    tools = ()  # zfs or btrfs: read() asks the host for each driver's tool itself

    def lane(self, name: str) -> str | None:
        return pool_lane(name)

    def read(self, ctx: Context) -> dict[str, Observed]:
        return read_drivers(ctx, lambda c: btrfs_driver.read_subvolumes(c, "snapshot"), zfs_driver.read_snapshots)

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
        return destroy_steps(self.kind, name, observed, ctx)

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        if observed.info.get("driver") == "btrfs":
            return []
        return zfs_driver.dependents(name, ctx)

    def depends(self, name: str, spec: SnapshotSpec) -> list[Ref]:
        dataset = name.split("@", 1)[0]
        return [Ref(kind="dataset" if "/" in dataset else "pool", name=dataset)]
