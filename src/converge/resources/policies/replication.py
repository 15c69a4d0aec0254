"""Kind `replication` (section `replications:`): send a dataset's snapshots to another dataset of
the same host, or of another host of the inventory (`target.host`), on a schedule
(`converge run replication/NAME`, replicate.py), keeping `keep` of them on the target. The kind
owns only its timer + service (`converge-replicate-NAME`)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ...model import Ref
from ..base import KindAction, Spec
from .kind import TimerKind
from .spec import PoolDataset, Prefix, Schedule

HOST_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$"  # an inventory host's name (fleet/inventory.py)


class ReplicationTarget(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    pool_dataset: PoolDataset = Field(description="zfs: the dataset receive creates; btrfs: where received snapshots go")
    host: str | None = Field(None, pattern=HOST_NAME, description="a host of the inventory (converge.yaml "
                             "`hosts:`) to receive on, through its SSH transport; default: this host")


class ReplicationSpec(Spec):
    source: PoolDataset = Field(description="the dataset to replicate (zfs or btrfs)")
    target: ReplicationTarget
    schedule: Schedule = Field(description="systemd calendar event: hourly, daily, '*-*-* 02:00'")
    keep: int = Field(7, ge=1, description="replicated snapshots kept on the target")
    recursive: bool = Field(False, description="not supported yet: replicate only the dataset itself")
    prefix: Prefix | None = Field(None, description="snapshot name prefix (default repl-NAME)")

    @field_validator("recursive")
    @classmethod
    def _recursive(cls, v: bool) -> bool:
        if v:
            raise ValueError("recursive replication is not supported yet: declare one replication per dataset")
        return v

    def prefix_for(self, name: str) -> str:
        return self.prefix or f"repl-{name}"


class ReplicationKind(TimerKind[ReplicationSpec]):
    kind = "replication"
    section = ("replications",)
    spec = ReplicationSpec
    actions = {"run": KindAction("run the replication now (not an edit); optional body {at: ISO8601}", handler="run")}
    unit_prefix: ClassVar[str] = "converge-replicate-"

    def depends(self, name: str, spec: ReplicationSpec) -> list[Ref]:
        if spec.target.host:  # the target lives on another host: its manifests declare it
            return [Ref(kind="dataset", name=spec.source)]
        parent = spec.target.pool_dataset.rsplit("/", 1)[0]
        return [Ref(kind="dataset", name=spec.source), Ref(kind="dataset" if "/" in parent else "pool", name=parent)]

    def validate_set(self, specs: dict[str, ReplicationSpec], desired: Any) -> list[tuple[str, str, str]]:
        """`target.host` names a host of the inventory of converge.yaml."""
        known = getattr(desired, "inventory", None) or set()
        problems = []
        for name, spec in sorted(specs.items()):
            host = spec.target.host
            if host and host not in known:
                problems.append((name, "target.host", f"{host!r} is not a host of the inventory in converge.yaml "
                                 f"(hosts: {', '.join(sorted(known)) or 'none declared'}); declare it under `hosts:`"))
        return problems
