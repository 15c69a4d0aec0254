"""Read-only views of what the host offers for pools: the drivers and vdev layouts converge
supports (from the pool model itself), and the host's block devices (`lsblk -J -b -O`)."""

from __future__ import annotations

import json
import typing
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..resources import BY_KIND
from .errors import ApiError
from .routes import authorize, service

DISK_FIELDS = ("name", "path", "size", "type", "fstype", "label", "model", "serial", "tran", "rota", "ro", "rm",
               "mountpoints")


def _choices(model: Any, field: str) -> list[str]:
    annotation = model.model_fields[field].annotation
    candidates = [annotation] if typing.get_origin(annotation) is typing.Literal else typing.get_args(annotation)
    for arg in candidates:  # Literal[...] or Optional[Literal[...]]
        if typing.get_origin(arg) is typing.Literal:
            return [str(a) for a in typing.get_args(arg)]
    return []


def pool_types() -> dict[str, Any]:
    spec = BY_KIND["pool"].spec
    vdev = typing.get_args(spec.model_fields["vdevs"].annotation)[0]
    return {"drivers": _choices(spec, "driver"),
            "zfs": {"vdev_types": _choices(vdev, "type"), "vdev_roles": _choices(vdev, "role")},
            "btrfs": {"profiles": _choices(spec, "data_profile")}}


async def get_pool_types(request: Request) -> Response:
    authorize(request, write=False)
    return JSONResponse(pool_types())


def _device(raw: dict[str, Any]) -> dict[str, Any]:
    out = {k: raw.get(k) for k in DISK_FIELDS}
    out["children"] = [_device(c) for c in raw.get("children", []) if isinstance(c, dict)]
    return out


def read_disks(svc: Any) -> list[dict[str, Any]]:
    host = svc.target().host
    if not host.has("lsblk"):
        raise ApiError(503, "lsblk is not on the host (util-linux)", code="tool_missing")
    result = host.run(["lsblk", "-J", "-b", "-O"], check=False)
    if result.returncode != 0:
        raise ApiError(503, f"lsblk failed: {result.stderr.strip()[:300]}", code="read_failed")
    try:
        devices = json.loads(result.stdout)["blockdevices"]
    except (ValueError, KeyError, TypeError) as e:
        raise ApiError(503, f"lsblk answered something that is not its JSON: {e}", code="read_failed") from None
    return [_device(d) for d in devices if isinstance(d, dict)]


async def get_disks(request: Request) -> Response:
    authorize(request, write=False)
    return JSONResponse({"disks": await run_in_threadpool(read_disks, service(request))})
