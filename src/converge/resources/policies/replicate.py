"""`converge run replication/NAME`: snapshot the source, send it to the target (incremental from
the last common snapshot when there is one), record that snapshot as the replication's base (no
policy prunes it), then prune older replication snapshots on both sides.

ZFS: `zfs send [-i BASE] NEW | zfs receive -s -u TARGET`, never -F: a target that exists without the
recorded base is an error to resolve by hand. `-i`, not `-I`: the snapshots policies took between
two runs stay on the source (unmarked on the target, nothing would ever prune them there). An interrupted receive leaves a resume token on the
target (OpenZFS; zfs-fuse 0.7 has no `receive -s` and simply starts again): the next run first
finishes it with `zfs send -t TOKEN`, and the snapshot it carried becomes the base.
btrfs: `btrfs send [-p PARENT] NEW | btrfs receive TARGET/.snapshots`.
The two commands are joined by converge (Host.pipe), not by a shell."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ...errors import ConvergeError
from ...logs import get_logger
from ...model import Step
from ..base import Context, HostState
from ..storage import btrfs_driver, zfs_driver
from ..storage.common import pool_driver
from .replication import ReplicationSpec
from .run import STAMP, Action, protected_reasons, snapshot_time

log = get_logger("converge.run")
MARK = "converge:replication"


def _own(name: str, prefix: str, dataset: str, driver: str, ctx: Context, extra: list[str]) -> list[str]:
    """The replication's snapshots of one dataset (marked; btrfs: recorded in the state file)."""
    if driver == "btrfs":
        names = list(ctx.state.get("replication_snapshots", {}).get(name, []))
    else:
        names = [n for n, p in zfs_driver.all_props(ctx).items() if p.get(MARK, ("",))[0] == name]
    names += extra
    return sorted({n for n in names if n.startswith(dataset + "@") and snapshot_time(n, prefix) is not None})


def replicate(name: str, spec: ReplicationSpec, ctx: Context, at: datetime) -> list[Action]:
    host, state = ctx.host, HostState(ctx.host)
    src, dst = spec.source, spec.target.pool_dataset
    driver = pool_driver(ctx, src)
    if pool_driver(ctx, dst) != driver:
        raise ConvergeError(f"replication {name}: {src} is {driver} but {dst} is not; send/receive needs one kind")
    if src not in ctx.facts.of("dataset"):
        raise ConvergeError(f"replication {name}: {src} does not exist on the host (apply the manifests first)")
    prefix, snaps = spec.prefix_for(name), ctx.facts.of("snapshot")
    label = f"{prefix}-{at.astimezone(UTC).strftime(STAMP)}"
    new, received = f"{src}@{label}", f"{dst}@{label}"
    base = state.data.get("replication_bases", {}).get(name)
    actions: list[Action] = []
    resumable = driver == "zfs" and not _legacy_zfs(ctx, dst)
    finished: list[str] = []  # a receive an earlier run left half done, finished now
    if resumable and dst in ctx.facts.of("dataset"):
        finished = _resume(name, dst, state, ctx, actions)
        snaps, base = {*snaps, *finished}, (state.data.get("replication_bases", {}).get(name) if finished else base)
    if received in snaps:
        return [*actions, Action("exists", received)]
    if new not in snaps:
        if driver == "btrfs":
            for step in btrfs_driver.create_snapshot(new, {}, ctx)[:2]:
                host.run(step.argv)
            _record(state, "replication_snapshots", name, add=[new])
        else:
            host.run(["zfs", "snapshot", "-o", f"{MARK}={name}", new])
        actions.append(Action("created", new))
    common = base if base and base in snaps and f"{dst}@{base.split('@', 1)[1]}" in snaps else None
    if driver == "btrfs":
        target_dir = btrfs_driver.subvolume_path(ctx, dst) + "/.snapshots"
        host.run(["mkdir", "-p", target_dir])
        parent = ["-p", btrfs_driver.subvolume_path(ctx, common)] if common else []
        host.pipe(["btrfs", "send", *parent, btrfs_driver.subvolume_path(ctx, new)], ["btrfs", "receive", target_dir])
        _record(state, "replication_snapshots", name, add=[received])
    else:
        if common is None and dst in ctx.facts.of("dataset"):
            raise ConvergeError(f"replication {name}: {dst} exists but holds no snapshot in common with {src} "
                                "(the last replicated one is gone or was never recorded); converge never receives "
                                "with -F: rename or destroy the target yourself, then run again")
        state.apply(Step(op="state", state={f"replication_pending.{name}": new}))
        host.pipe(["zfs", "send", *(["-i", common] if common else []), new],
                  ["zfs", "receive", *(["-s"] if resumable else []), "-u", dst])
        host.run(["zfs", "set", f"{MARK}={name}", received])
        state.apply(Step(op="state", state={f"replication_pending.{name}": None}))
    actions.append(Action("sent", received, f"incremental from {common.split('@', 1)[1]}" if common else "full"))
    state.apply(Step(op="state", state={f"replication_bases.{name}": new}))
    ctx.state = state.data  # the new base is protected from here on
    log.info("replicated", replication=name, snapshot=new, base=common)
    for dataset, keep, extra in ((src, 1, [new]), (dst, spec.keep, [received, *finished])):
        own = _own(name, prefix, dataset, driver, ctx, extra)
        newest = sorted(own, key=lambda n: snapshot_time(n, prefix) or at)[-keep:]
        for victim in sorted(set(own) - set(newest) - {new, received}):
            why = protected_reasons(victim, driver, ctx)
            if why:
                actions.append(Action("kept", victim, why))
                continue
            if driver == "btrfs":
                host.run(["btrfs", "subvolume", "delete", "-c", btrfs_driver.subvolume_path(ctx, victim)])
                _record(state, "replication_snapshots", name, remove=[victim])
            else:
                host.run(["zfs", "destroy", victim])
            actions.append(Action("pruned", victim))
            log.info("snapshot pruned", replication=name, snapshot=victim)
    return actions


def _legacy_zfs(ctx: Context, dataset: str) -> bool:
    pool = ctx.facts.of("pool").get(dataset.split("/")[0])
    return bool(pool and pool.info.get("zfs_legacy"))


def _resume(name: str, dst: str, state: Any, ctx: Context, actions: list[Action]) -> list[str]:
    """Finish a receive a previous run left half done; its snapshot becomes the new base."""
    token = ctx.host.run(["zfs", "get", "-H", "-o", "value", "receive_resume_token", dst]).stdout.strip()
    if token in ("", "-"):
        return []
    ctx.host.pipe(["zfs", "send", "-t", token], ["zfs", "receive", "-s", "-u", dst])
    pending = state.data.get("replication_pending", {}).get(name)
    actions.append(Action("resumed", dst, f"finished the interrupted receive of {pending or 'an earlier run'}"))
    log.info("receive resumed", replication=name, target=dst, snapshot=pending)
    if not pending:
        return []
    received = f"{dst}@{pending.split('@', 1)[1]}"
    ctx.host.run(["zfs", "set", f"{MARK}={name}", received])
    state.apply(Step(op="state", state={f"replication_bases.{name}": pending, f"replication_pending.{name}": None}))
    return [received]


def _record(state: object, section: str, name: str, add: list[str] = [], remove: list[str] = []) -> None:  # noqa: B006
    data = getattr(state, "data")  # noqa: B009
    have = [n for n in data.get(section, {}).get(name, []) if n not in remove]
    getattr(state, "apply")(Step(op="state", state={f"{section}.{name}": sorted({*have, *add}) or None}))  # noqa: B009
