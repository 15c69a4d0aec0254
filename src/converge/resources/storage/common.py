"""Helpers shared by the storage kinds (pool, dataset, snapshot) and their two drivers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ...errors import PlanError
from ...model import Ref
from ..base import Context

T = TypeVar("T")


def desired_specs(ctx: Context, kind: str) -> dict[str, Any]:
    return ctx.specs(kind)


def specs_of(desired: Any, kind: str) -> dict[str, Any]:
    """The desired specs of one kind, whether `desired` is the engine's Desired or a plain dict."""
    return Context(host=None, desired=desired).specs(kind)  # type: ignore[arg-type]


def pool_of(name: str) -> str:
    return name.split("@", 1)[0].split("/", 1)[0]


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


def shared_read(ctx: Context, key: str, fn: Callable[[], T]) -> T:
    """Run one bulk read once per facts pass (pool, dataset and snapshot all use `zfs get`):
    each pass has a fresh Context, so a result is never carried over to a later read."""
    if key not in ctx.reads:
        ctx.reads[key] = fn()
    return ctx.reads[key]  # type: ignore[no-any-return]


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


def observed_spec(model: type[BaseModel], data: dict[str, Any]) -> Any:
    """A host's spec as the kind's model, leaving out the top-level fields that do not validate
    (a value newer than our lists), so the rest still says what the resource depends on."""
    for _ in range(len(data) + 1):
        try:
            return model.model_validate(data)
        except ValidationError as e:
            bad = {err["loc"][0] for err in e.errors() if err["loc"]}
            if not bad & set(data):
                return None
            data = {k: v for k, v in data.items() if k not in bad}
    return None


def holder_of_path(path: str, ctx: Context) -> Ref | None:
    """The dataset or pool whose mountpoint holds a host path (the deepest one), from the facts."""
    return _deepest(path, shared_read(ctx, "mountpoints", lambda: _mountpoints(ctx)))


def declared_holder_of_path(path: str, ctx: Context) -> Ref | None:
    """The declared dataset or pool whose mountpoint (as the manifests make it) holds a host path."""
    return _deepest(path, shared_read(ctx, "declared-mountpoints", lambda: _declared_mountpoints(ctx)))


def _deepest(path: str, mounts: list[tuple[str, Ref]]) -> Ref | None:
    """The first (deepest) of `mounts` that holds `path`."""
    path = path.rstrip("/") or "/"
    return next((ref for mount, ref in mounts if path == mount or path.startswith(mount + "/")), None)


def _declared_mountpoints(ctx: Context) -> list[tuple[str, Ref]]:
    from .dataset import dataset_mountpoint

    out = []
    for kind in ("pool", "dataset"):
        for name in ctx.specs(kind):
            mount = dataset_mountpoint(name, ctx).rstrip("/")
            if mount.startswith("/"):
                out.append((mount, Ref(kind=kind, name=name)))
    return sorted(out, key=lambda m: -len(m[0]))


def _mountpoints(ctx: Context) -> list[tuple[str, Ref]]:
    """(mountpoint, pool or dataset) on the host, deepest first."""
    from .dataset import dataset_mountpoint

    out = []
    for kind in ("pool", "dataset"):
        for name, observed in ctx.facts.of(kind).items():
            btrfs = observed.info.get("driver") == "btrfs" or observed.spec.get("driver") == "btrfs"
            mount = (str(observed.info.get("path") or "") if btrfs else dataset_mountpoint(name, ctx)).rstrip("/")
            if mount.startswith("/"):
                out.append((mount, Ref(kind=kind, name=name)))
    return sorted(out, key=lambda m: -len(m[0]))
