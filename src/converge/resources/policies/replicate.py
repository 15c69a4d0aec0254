"""`converge run replication/NAME`: snapshot the source, send it to the target (incremental from
the last common snapshot when there is one), record that snapshot as the replication's base (no
policy prunes it), then prune older replication snapshots on both sides.

ZFS: `zfs send [-I BASE] NEW | zfs receive -u TARGET`, never -F: a target that exists without the
recorded base is an error to resolve by hand. btrfs: `btrfs send [-p PARENT] NEW | btrfs receive
TARGET/.snapshots`. The two commands are joined by converge (Host.pipe), not by a shell."""

from __future__ import annotations

from datetime import UTC, datetime

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
    if received in snaps:
        return [Action("exists", received)]
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
        host.pipe(["zfs", "send", *(["-I", common] if common else []), new], ["zfs", "receive", "-u", dst])
        host.run(["zfs", "set", f"{MARK}={name}", received])
    actions.append(Action("sent", received, f"incremental from {common.split('@', 1)[1]}" if common else "full"))
    state.apply(Step(op="state", state={f"replication_bases.{name}": new}))
    ctx.state = state.data  # the new base is protected from here on
    log.info("replicated", replication=name, snapshot=new, base=common)
    for dataset, keep, extra in ((src, 1, [new]), (dst, spec.keep, [received])):
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


def _record(state: object, section: str, name: str, add: list[str] = [], remove: list[str] = []) -> None:  # noqa: B006
    data = getattr(state, "data")  # noqa: B009
    have = [n for n in data.get(section, {}).get(name, []) if n not in remove]
    getattr(state, "apply")(Step(op="state", state={f"{section}.{name}": sorted({*have, *add}) or None}))  # noqa: B009
