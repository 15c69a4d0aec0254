"""Helpers shared by the storage kinds (pool, dataset, snapshot) and their two drivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ...errors import PlanError
from ...model import Observed
from ..base import Context

T = TypeVar("T")


def desired_specs(ctx: Context, kind: str) -> dict[str, Any]:
    return ctx.specs(kind)


def specs_of(desired: Any, kind: str) -> dict[str, Any]:
    """The desired specs of one kind, whether `desired` is the engine's Desired or a plain dict."""
    return Context(host=None, desired=desired).specs(kind)  # type: ignore[arg-type]


def read_drivers(ctx: Context, btrfs: Callable[[Context], dict[str, Observed]],
                 zfs: Callable[[Context], dict[str, Observed]]) -> dict[str, Observed]:
    """A storage kind's read: each driver whose tool this host has."""
    out: dict[str, Observed] = {}
    for tool, read in (("btrfs", btrfs), ("zfs", zfs)):
        if ctx.host.has(tool):
            out.update(read(ctx))
    return out


def pool_of(name: str) -> str:
    return name.split("@", 1)[0].split("/", 1)[0]


def pool_lane(name: str) -> str:
    """The executor's lane (Kind.lane) of pools, datasets and snapshots: one storage change at a
    time on a host. zfs-fuse loses a FUSE mount made while it makes another (a `zfs create` in one
    pool beside a `zpool create` of another then waits forever for the new mount's INIT, seen in
    CI); and changes of one pool meet in its transaction groups anyway."""
    return "storage"


def pool_driver(ctx: Context, name: str) -> str:
    """zfs or btrfs: what the pool holding `name` is, on the host or else in the manifests."""
    pool = pool_of(name)
    observed = ctx.facts.of("pool").get(pool)
    if observed is not None:
        return str(observed.spec.get("driver", "zfs"))
    spec = desired_specs(ctx, "pool").get(pool)
    if spec is not None:
        return str(spec.driver)
    raise PlanError(f"{name}: pool {pool!r} is neither declared nor present on the host")


def normal(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Host values through the kind's own validators: the normal form the planner compares."""
    return model.model_validate(data).model_dump(mode="json", exclude_none=True)


def valid_properties(model: type[BaseModel], raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Normalise what validates; hand back (as info) what the model cannot express, e.g. a
    compression value newer than our list, instead of failing the whole read."""
    try:
        return normal(model, raw), {}
    except ValidationError:
        good: dict[str, Any] = {}
        bad: dict[str, Any] = {}
        for k, v in raw.items():
            try:
                good.update(normal(model, {k: v}))
            except ValidationError:
                bad[k] = v
        return good, bad


def onoff(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
