"""`converge run replication/NAME`: snapshot the source, send it to the target (incremental from
the last common snapshot when there is one), record that snapshot as the replication's base (no
policy prunes it), then prune older replication snapshots on both sides.

ZFS: `zfs send [-i BASE] NEW | zfs receive -s -u TARGET`, never -F: a target that exists without the
recorded base is an error to resolve by hand. `-i`, not `-I`: the snapshots policies took between
two runs stay on the source (unmarked on the target, nothing would ever prune them there). An interrupted receive leaves a resume token on the
target (OpenZFS; zfs-fuse 0.7 has no `receive -s` and simply starts again): the next run first
finishes it with `zfs send -t TOKEN`, and the snapshot it carried becomes the base.
btrfs: `btrfs send [-p PARENT] NEW | btrfs receive TARGET/.snapshots`.
The two commands are joined by converge (Host.pipe, or hosts.transfer between two hosts), never
by a shell. With `target.host` the receive side is another host of the inventory: its facts are
read there, its received snapshots are recorded in its own state file (btrfs:
`replication_received.TARGET`; zfs: the converge:replication mark on the snapshot), and only
those are ever pruned there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...errors import ConvergeError, PlanError
from ...hosts.transfer import pipe_between
from ...logs import get_logger
from ...model import Step
from ..base import Context, HostState
from ..storage import btrfs_driver, zfs_driver
from ..storage.common import pool_driver
from .replication import ReplicationSpec
from .run import STAMP, Action, protected_reasons, snapshot_time

log = get_logger("converge.run")
MARK = "converge:replication"
RECEIVED = "replication_received"  # btrfs, on a target host: TARGET dataset -> the snapshots received there


@dataclass
class Side:
    """One end of a replication: the host's facts, its state file, and how messages name it."""

    ctx: Context
    state: HostState
    where: str = "the host"
    remote: bool = False


def receiving_side(ctx: Context, host_name: str) -> Side:
    """The target host's side (its storage facts already read into ctx)."""
    return Side(ctx, HostState(ctx.host), f"host {host_name}", remote=True)


def _own(name: str, prefix: str, dataset: str, driver: str, side: Side, extra: list[str]) -> list[str]:
    """The replication's snapshots of one dataset (marked; btrfs: recorded in the state file)."""
    ctx = side.ctx
    if driver == "btrfs":
        section, key = (RECEIVED, dataset) if side.remote else ("replication_snapshots", name)
        names = list(ctx.state.get(section, {}).get(key, []))
    else:
        names = [n for n, p in zfs_driver.all_props(ctx).items() if p.get(MARK, ("",))[0] == name]
    names += extra
    return sorted({n for n in names if n.startswith(dataset + "@") and snapshot_time(n, prefix) is not None})


def _driver(side: Side, dataset: str) -> str:
    try:
        return pool_driver(side.ctx, dataset)
    except PlanError:
        raise ConvergeError(f"{dataset}: its pool is not on {side.where}") from None


def replicate(name: str, spec: ReplicationSpec, ctx: Context, at: datetime, remote: Side | None = None) -> list[Action]:
    src_side = Side(ctx, HostState(ctx.host))
    dst_side = remote or src_side
    src, dst = spec.source, spec.target.pool_dataset
    driver = _driver(src_side, src)
    if _driver(dst_side, dst) != driver:
        raise ConvergeError(f"replication {name}: {src} is {driver} but {dst} is not; send/receive needs one kind")
    if src not in ctx.facts.of("dataset"):
        raise ConvergeError(f"replication {name}: {src} does not exist on the host (apply the manifests first)")
    dst_ctx = dst_side.ctx
    if remote:
        parent = dst.rsplit("/", 1)[0] if driver == "zfs" else dst
        if parent not in dst_ctx.facts.of("dataset") and parent not in dst_ctx.facts.of("pool"):
            raise ConvergeError(f"replication {name}: {parent} does not exist on {remote.where} (declare it in "
                                "that host's manifests and apply them first)")
    prefix = spec.prefix_for(name)
    src_snaps, dst_snaps = set(ctx.facts.of("snapshot")), set(dst_ctx.facts.of("snapshot"))
    label = f"{prefix}-{at.astimezone(UTC).strftime(STAMP)}"
    new, received = f"{src}@{label}", f"{dst}@{label}"
    state = src_side.state
    base = state.data.get("replication_bases", {}).get(name)
    actions: list[Action] = []
    resumable = driver == "zfs" and not _legacy_zfs(dst_ctx, dst)
    finished: list[str] = []  # a receive an earlier run left half done, finished now
    if resumable and dst in dst_ctx.facts.of("dataset"):
        finished = _resume(name, dst, src_side, dst_side, actions)
        dst_snaps |= set(finished)
        base = state.data.get("replication_bases", {}).get(name) if finished else base
    if received in dst_snaps:
        return [*actions, Action("exists", received)]
    if new not in src_snaps:
        if driver == "btrfs":
            for step in btrfs_driver.create_snapshot(new, {}, ctx)[:2]:
                ctx.host.run(step.argv)
            _record(state, "replication_snapshots", name, add=[new])
        else:
            ctx.host.run(["zfs", "snapshot", "-o", f"{MARK}={name}", new])
        actions.append(Action("created", new))
    common = base if base and base in src_snaps and f"{dst}@{base.split('@', 1)[1]}" in dst_snaps else None
    if driver == "btrfs":
        target_dir = btrfs_driver.subvolume_path(dst_ctx, dst) + "/.snapshots"
        dst_ctx.host.run(["mkdir", "-p", target_dir])
        parent_arg = ["-p", btrfs_driver.subvolume_path(ctx, common)] if common else []
        pipe_between(ctx.host, ["btrfs", "send", *parent_arg, btrfs_driver.subvolume_path(ctx, new)],
                     dst_ctx.host, ["btrfs", "receive", target_dir])
        _record_received(name, dst, dst_side, add=[received])
    else:
        if common is None and dst in dst_ctx.facts.of("dataset"):
            raise ConvergeError(f"replication {name}: {dst} exists but holds no snapshot in common with {src} "
                                "(the last replicated one is gone or was never recorded); converge never receives "
                                "with -F: rename or destroy the target yourself, then run again")
        state.apply(Step(op="state", state={f"replication_pending.{name}": new}))
        pipe_between(ctx.host, ["zfs", "send", *(["-i", common] if common else []), new],
                     dst_ctx.host, ["zfs", "receive", *(["-s"] if resumable else []), "-u", dst])
        dst_ctx.host.run(["zfs", "set", f"{MARK}={name}", received])
        state.apply(Step(op="state", state={f"replication_pending.{name}": None}))
    actions.append(Action("sent", received, f"incremental from {common.split('@', 1)[1]}" if common else "full"))
    state.apply(Step(op="state", state={f"replication_bases.{name}": new}))
    ctx.state = state.data  # the new base is protected from here on
    log.info("replicated", replication=name, snapshot=new, base=common, target_host=remote.where if remote else None)
    for side, dataset, keep, extra in ((src_side, src, 1, [new]), (dst_side, dst, spec.keep, [received, *finished])):
        own = _own(name, prefix, dataset, driver, side, extra)
        newest = sorted(own, key=lambda n: snapshot_time(n, prefix) or at)[-keep:]
        for victim in sorted(set(own) - set(newest) - {new, received}):
            actions.append(_prune(name, victim, driver, side))
    return actions


def _prune(name: str, victim: str, driver: str, side: Side) -> Action:
    why = protected_reasons(victim, driver, side.ctx)
    if why:
        return Action("kept", victim, why)
    host = side.ctx.host
    if driver == "btrfs":
        host.run(["btrfs", "subvolume", "delete", "-c", btrfs_driver.subvolume_path(side.ctx, victim)])
        if side.remote:
            _record_received(name, victim.split("@", 1)[0], side, remove=[victim])
        else:
            _record(side.state, "replication_snapshots", name, remove=[victim])
    else:
        host.run(["zfs", "destroy", victim])
    log.info("snapshot pruned", replication=name, snapshot=victim, where=side.where)
    return Action("pruned", victim, side.where if side.remote else "")


def _legacy_zfs(ctx: Context, dataset: str) -> bool:
    pool = ctx.facts.of("pool").get(dataset.split("/")[0])
    return bool(pool and pool.info.get("zfs_legacy"))


def _resume(name: str, dst: str, src_side: Side, dst_side: Side, actions: list[Action]) -> list[str]:
    """Finish a receive a previous run left half done; its snapshot becomes the new base."""
    target = dst_side.ctx.host
    token = target.run(["zfs", "get", "-H", "-o", "value", "receive_resume_token", dst]).stdout.strip()
    if token in ("", "-"):
        return []
    pipe_between(src_side.ctx.host, ["zfs", "send", "-t", token], target, ["zfs", "receive", "-s", "-u", dst])
    state = src_side.state
    pending = state.data.get("replication_pending", {}).get(name)
    actions.append(Action("resumed", dst, f"finished the interrupted receive of {pending or 'an earlier run'}"
                          + (f" on {dst_side.where}" if dst_side.remote else "")))
    log.info("receive resumed", replication=name, target=dst, snapshot=pending)
    if not pending:
        return []
    received = f"{dst}@{pending.split('@', 1)[1]}"
    target.run(["zfs", "set", f"{MARK}={name}", received])
    state.apply(Step(op="state", state={f"replication_bases.{name}": pending, f"replication_pending.{name}": None}))
    return [received]


def _record_received(name: str, dst: str, side: Side, add: list[str] = [], remove: list[str] = []) -> None:  # noqa: B006
    if side.remote:
        _record(side.state, RECEIVED, dst, add=add, remove=remove)
    else:
        _record(side.state, "replication_snapshots", name, add=add, remove=remove)


def _record(state: Any, section: str, name: str, add: list[str] = [], remove: list[str] = []) -> None:  # noqa: B006
    have = [n for n in state.data.get(section, {}).get(name, []) if n not in remove]
    state.apply(Step(op="state", state={f"{section}.{name}": sorted({*have, *add}) or None}))
