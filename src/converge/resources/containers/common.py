"""What both container drivers need: the desired specs, dataset volumes, the spec normal form."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ...model import Ref
from ..base import Context
from ..shares.common import resolve_share_path
from .spec import ContainerSpec
from .volumes import normalize_volume, parse_volume


def desired_specs(ctx: Context, kind: str) -> dict[str, Any]:
    return ctx.specs(kind)


def resolve_volume(volume: str, ctx: Context) -> str:
    """`tank/media:/media:ro` -> `/tank/media:/media:ro`: a dataset becomes its mountpoint (the host's
    answer when it exists, else what the manifests make it)."""
    source, target, opts = parse_volume(volume)
    # A dataset lives where converge mounted it (under --root when one is given); a path the
    # manifest names is the host's own path: --root only moves what converge writes.
    path = source if source.startswith("/") else ctx.host.path(resolve_share_path(source, ctx))
    return f"{path}:{target}" + (f":{opts}" if opts else "")


def spec_form(raw: dict[str, Any]) -> dict[str, Any]:
    """Observed fields in exactly the normal form of ContainerSpec. A value the manifest could not
    declare (a 1M memory limit set by hand) is dropped rather than failing the whole read."""
    data = {k: v for k, v in raw.items() if v is not None}
    for _ in range(len(data) + 1):
        try:
            return ContainerSpec.model_validate(data).model_dump(mode="json", exclude_none=True,
                                                                  exclude=set(ContainerSpec.meta_fields()))
        except ValidationError as e:
            bad = {str(err["loc"][0]) for err in e.errors() if err["loc"]}
            if not bad & set(data) or bad & {"runtime", "image", "template"}:
                raise
            data = {k: v for k, v in data.items() if k not in bad}
    raise AssertionError("unreachable")


def volume_source_ref(source: str) -> Ref | None:
    """The dataset or pool a volume's source names (`tank/media`, `tank`); None for a host path."""
    if source.startswith("/"):
        return None
    return Ref.of("dataset" if "/" in source else "pool", source)


def map_volumes_to_declared(spec: dict[str, Any], name: str, ctx: Context) -> dict[str, Any]:
    """A bind of a dataset's mountpoint reads back as the dataset's name when the manifest names it
    so: `/tank/media:/media:ro` -> `tank/media:/media:ro`. Any other bind stays a path."""
    declared = desired_specs(ctx, "container").get(name)
    if not spec.get("volumes") or declared is None or not declared.volumes:
        return spec
    resolved = {}
    for volume in declared.volumes:
        try:
            resolved[normalize_volume(resolve_volume(volume, ctx))] = volume
        except (ValueError, ValidationError):
            continue
    out = []
    for volume in spec["volumes"]:
        try:
            volume = normalize_volume(volume)
        except ValueError:
            pass
        out.append(resolved.get(volume, volume))
    return {**spec, "volumes": out}
