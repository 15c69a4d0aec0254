"""A dataset's `owner`, `group` and `mode`: its directory's ownership and permissions, read for
all declared datasets with one `stat` and set with `chown`/`chmod` after the dataset exists."""

from __future__ import annotations

from typing import Any

from ...model import Observed, Step
from ..base import Context
from ..holders import dataset_mountpoint
from . import btrfs_driver
from .common import pool_driver

FIELDS = ("owner", "group", "mode")


def directory(name: str, ctx: Context) -> str:
    """The dataset's directory as a path on this host (--root applied): btrfs paths come so."""
    observed = ctx.facts.of("dataset").get(name)
    if observed is not None and observed.info.get("driver") == "btrfs" and observed.info.get("path"):
        return str(observed.info["path"])
    if observed is None and pool_driver(ctx, name) == "btrfs":
        return btrfs_driver.subvolume_path(ctx, name)
    return ctx.host.path(dataset_mountpoint(name, ctx))


def read(out: dict[str, Observed], ctx: Context) -> None:
    """Add owner/group/mode to the observed datasets that a manifest gives them (one stat for all)."""
    wanted = {n: directory(n, ctx) for n, s in ctx.specs("dataset").items()
              if n in out and any(getattr(s, f) is not None for f in FIELDS)}
    if not wanted:
        return
    host = ctx.host
    paths = {p: n for n, p in wanted.items()}
    result = host.run(["stat", "-c", "%U\t%G\t%a\t%n", "--", *paths], check=False)
    for line in result.stdout.splitlines():
        parts = line.split("\t", 3)
        if len(parts) == 4 and parts[3] in paths:
            spec = out[paths[parts[3]]].spec
            spec.update(owner=parts[0], group=parts[1], mode=parts[2].zfill(4))


def steps(name: str, spec: Any, fields: set[str], ctx: Context) -> list[Step]:
    if not any(getattr(spec, f) is not None for f in set(FIELDS) & fields):
        return []
    path = directory(name, ctx)
    out = []
    owner = spec.owner if "owner" in fields else None
    group = spec.group if "group" in fields else None
    if owner or group:
        who = (owner or "") + (f":{group}" if group else "")
        out.append(Step(argv=["chown", "--", who, path], note="the directory's owner"))
    if "mode" in fields and spec.mode:
        # five digits: GNU chmod keeps a directory's setuid/setgid bits on a shorter numeric mode
        out.append(Step(argv=["chmod", "--", "0" + spec.mode, path], note="the directory's permissions"))
    return out
