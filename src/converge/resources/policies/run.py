"""`converge run snapshot_policy/NAME [--at TIME]`: take the policy's snapshots for one time
slot, then prune what its retention no longer keeps.

Snapshots are named DATASET@PREFIX-YYYYMMDD-HHMMSS (UTC); the time in the name is the time
retention uses, so a run is idempotent for its slot. Pruning considers only snapshots that carry
the policy's mark (ZFS: user property converge:policy=NAME set at creation; btrfs: converge's
host-side state file, `policy_snapshots.NAME`) and its prefix, and never deletes one that is held
(`zfs holds`), the origin of a clone, protected, or a replication's last common snapshot."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from ...errors import ConvergeError
from ...logs import get_logger
from ...model import Step
from ..base import Context, HostState
from ..storage import btrfs_driver, zfs_driver
from ..storage.common import pool_driver
from . import retention
from .spec import SnapshotPolicySpec

log = get_logger("converge.run")
POLICY_PROPERTY = "converge:policy"
STAMP = "%Y%m%d-%H%M%S"


@dataclass(frozen=True)
class Action:
    verb: str  # created, exists, pruned, kept
    snapshot: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.verb} {self.snapshot}" + (f" ({self.detail})" if self.detail else "")


def snapshot_time(snapshot: str, prefix: str) -> datetime | None:
    """The time in DATASET@PREFIX-YYYYMMDD-HHMMSS; None for any other name."""
    snap = snapshot.split("@", 1)[1] if "@" in snapshot else ""
    m = re.fullmatch(re.escape(prefix) + r"-(\d{8}-\d{6})", snap)
    if not m:
        return None
    try:
        return datetime.strptime(m.group(1), STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def datasets_of(name: str, spec: SnapshotPolicySpec, ctx: Context) -> list[str]:
    """The datasets the policy snapshots now: those listed (they must exist) and, with recursive,
    every dataset below them on the host."""
    present = set(ctx.facts.of("dataset")) | set(ctx.facts.of("pool"))
    # a replication target only changes by receiving: a snapshot taken there would make the next
    # incremental receive fail (zfs refuses a target with newer snapshots unless forced)
    targets = {r.target.pool_dataset: ref for ref, r in ctx.specs("replication").items() if not r.target.host}

    def target_of(dataset: str) -> str | None:
        return next((r for t, r in targets.items() if dataset == t or dataset.startswith(t + "/")), None)

    out: list[str] = []
    for d in spec.datasets:
        if d not in present:
            raise ConvergeError(f"snapshot_policy {name}: {d} does not exist on the host (apply the manifests first)")
        if target_of(d):
            raise ConvergeError(f"snapshot_policy {name}: {d} is the target of replication {target_of(d)}, which "
                                "keeps its own snapshots there; leave it out of the policy")
        out.append(d)
        if spec.recursive:
            out += sorted(n for n in ctx.facts.of("dataset") if n.startswith(d + "/") and not target_of(n))
    return list(dict.fromkeys(out))


def marked(name: str, prefix: str, dataset: str, driver: str, ctx: Context) -> list[str]:
    """The policy's own snapshots of one dataset on the host."""
    if driver == "btrfs":
        names = ctx.state.get("policy_snapshots", {}).get(name, [])
    else:
        props = zfs_driver.all_props(ctx)
        names = [n for n, p in props.items() if p.get(POLICY_PROPERTY, ("",))[0] == name]
    return [n for n in names if n.startswith(dataset + "@") and snapshot_time(n, prefix) is not None]


def protected_reasons(snapshot: str, driver: str, ctx: Context) -> str:
    """Why a policy snapshot must not be pruned ("" when it may be)."""
    if snapshot in ctx.state.get("replication_bases", {}).values():
        return "base of the last replication"
    observed = ctx.facts.of("snapshot").get(snapshot)
    if observed is not None and observed.protected:
        return "protected"
    if driver == "zfs":
        props = zfs_driver.all_props(ctx).get(snapshot, {})
        if props.get("userrefs", ("0",))[0] not in ("0", "-", ""):
            return "held (zfs holds)"
        if observed is not None and observed.info.get("clones"):
            return "origin of " + ", ".join(observed.info["clones"])
    return ""


def _state_step(name: str, names: list[str]) -> Step:
    return Step(op="state", state={f"policy_snapshots.{name}": sorted(names) or None})


def run_policy(name: str, spec: SnapshotPolicySpec, ctx: Context, at: datetime) -> list[Action]:
    """Snapshot and prune on the host; returns what was done (raises on the first failure)."""
    host = ctx.host
    state = HostState(host)
    at = at.astimezone(UTC).replace(microsecond=0)
    prefix = spec.prefix_for(name)
    actions: list[Action] = []
    for dataset in datasets_of(name, spec, ctx):
        driver = pool_driver(ctx, dataset)
        snapshot = f"{dataset}@{prefix}-{at.strftime(STAMP)}"
        own = marked(name, prefix, dataset, driver, ctx)
        if snapshot in ctx.facts.of("snapshot"):
            actions.append(Action("exists", snapshot))
        elif driver == "btrfs":
            for step in btrfs_driver.create_snapshot(snapshot, {}, ctx)[:2]:  # mkdir + snapshot, no "managed"
                host.run(step.argv)
            recorded = state.data.get("policy_snapshots", {}).get(name, [])
            state.apply(_state_step(name, [*recorded, snapshot]))
            actions.append(Action("created", snapshot))
        else:
            host.run(["zfs", "snapshot", "-o", f"{POLICY_PROPERTY}={name}", snapshot])
            actions.append(Action("created", snapshot))
        log.info("snapshot", policy=name, snapshot=snapshot, action=actions[-1].verb)
        if actions[-1].verb == "created":
            own.append(snapshot)
        times = {s: snapshot_time(s, prefix) for s in own}
        keep = retention.to_keep([(s, t) for s, t in times.items() if t], spec.rules(), at)
        for victim in sorted(set(own) - keep):
            why = protected_reasons(victim, driver, ctx)
            if why:
                actions.append(Action("kept", victim, why))
                log.info("prune skipped", policy=name, snapshot=victim, reason=why)
                continue
            if driver == "btrfs":
                host.run(["btrfs", "subvolume", "delete", "-c", btrfs_driver.subvolume_path(ctx, victim)])
                recorded = state.data.get("policy_snapshots", {}).get(name, [])
                state.apply(_state_step(name, [s for s in recorded if s != victim]))
            else:
                host.run(["zfs", "destroy", victim])
            actions.append(Action("pruned", victim))
            log.info("snapshot pruned", policy=name, snapshot=victim)
    return actions
