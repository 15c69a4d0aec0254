"""Which pool or dataset holds a host path, and where a dataset is (or will be) mounted: asked by
every kind that names host paths (Kind.depends_observed/depends_desired in base.py, shares,
container volumes, home directories), so it sits below base.py and the storage kinds and imports
neither (a context is anything with facts, desired, specs() and reads)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..model import Ref

T = TypeVar("T")


def shared_read(ctx: Any, key: str, fn: Callable[[], T]) -> T:
    """Run one bulk read once per facts pass (pool, dataset and snapshot all use `zfs get`):
    each pass has a fresh Context, so a result is never carried over to a later read."""
    if key not in ctx.reads:
        ctx.reads[key] = fn()
    return ctx.reads[key]  # type: ignore[no-any-return]


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


def holder_of_path(path: str, ctx: Any) -> Ref | None:
    """The dataset or pool whose mountpoint holds a host path (the deepest one), from the facts."""
    return _deepest(path, shared_read(ctx, "mountpoints", lambda: _mountpoints(ctx)))


def declared_holder_of_path(path: str, ctx: Any) -> Ref | None:
    """The declared dataset or pool whose mountpoint (as the manifests make it) holds a host path."""
    return _deepest(path, shared_read(ctx, "declared-mountpoints", lambda: _declared_mountpoints(ctx)))


def _deepest(path: str, mounts: list[tuple[str, Ref]]) -> Ref | None:
    """The first (deepest) of `mounts` that holds `path`."""
    path = path.rstrip("/") or "/"
    return next((ref for mount, ref in mounts if path == mount or path.startswith(mount + "/")), None)


def _declared_mountpoints(ctx: Any) -> list[tuple[str, Ref]]:
    out = []
    for kind in ("pool", "dataset"):
        for name in ctx.specs(kind):
            mount = dataset_mountpoint(name, ctx).rstrip("/")
            if mount.startswith("/"):
                out.append((mount, Ref(kind=kind, name=name)))
    return sorted(out, key=lambda m: -len(m[0]))


def _mountpoints(ctx: Any) -> list[tuple[str, Ref]]:
    """(mountpoint, pool or dataset) on the host, deepest first."""
    out = []
    for kind in ("pool", "dataset"):
        for name, observed in ctx.facts.of(kind).items():
            btrfs = observed.info.get("driver") == "btrfs" or observed.spec.get("driver") == "btrfs"
            mount = (str(observed.info.get("path") or "") if btrfs else dataset_mountpoint(name, ctx)).rstrip("/")
            if mount.startswith("/"):
                out.append((mount, Ref(kind=kind, name=name)))
    return sorted(out, key=lambda m: -len(m[0]))


def dataset_mountpoint(name: str, ctx: Any) -> str:
    """Where a dataset is (or will be) mounted: the host's answer when it exists, else what
    the manifests make it (its mountpoint property, its parent's, or the pool's). Kept per facts
    pass (ctx.reads): every share, export and volume asks, each walking up to its pool."""
    reads = getattr(ctx, "reads", None)
    if reads is None:
        return _mountpoint(name, ctx)
    known = reads.setdefault("dataset mountpoints", {})
    if name not in known:
        known[name] = _mountpoint(name, ctx)
    return known[name]  # type: ignore[no-any-return]


def _mountpoint(name: str, ctx: Any) -> str:
    observed = ctx.facts.of("dataset").get(name)
    if observed and observed.info.get("mountpoint"):
        return str(observed.info["mountpoint"])
    desired = ctx.desired.specs("dataset").get(name) if ctx.desired else None
    if desired is not None and desired.properties.mountpoint and desired.properties.mountpoint.startswith("/"):
        return desired.properties.mountpoint
    if "/" in name:
        parent, leaf = name.rsplit("/", 1)
        return dataset_mountpoint(parent, ctx).rstrip("/") + "/" + leaf
    pool = ctx.facts.of("pool").get(name)
    if pool and pool.info.get("mountpoint"):
        return str(pool.info["mountpoint"])
    spec = ctx.desired.specs("pool").get(name) if ctx.desired else None
    if spec is not None and spec.mountpoint:
        return spec.mountpoint
    return "/" + name
