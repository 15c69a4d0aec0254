"""`converge run REF`: one snapshot policy, replication or pool scrub run now, on the host the
manifests name, under the host's apply lock (the CLI, the API and the timers' units call it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import engine
from .errors import ConvergeError
from .lock import host_lock
from .logs import get_logger
from .model import Ref, Step
from .resources.base import Context, HostState
from .resources.policies.replicate import replicate
from .resources.policies.run import Action, run_policy
from .resources.policies.spec import SnapshotPolicySpec
from .resources.storage.scrub_timers import scrub
from .scheduler import LAST_RUNS

log = get_logger("converge.run")
LOCK_WAIT = 60.0  # seconds a replication waits for an apply running on its target host


def parse_at(text: str | None) -> datetime:
    """--at: an ISO 8601 time (a time without zone is UTC); now when not given."""
    if not text:
        return datetime.now(UTC)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConvergeError(f"--at {text!r}: not an ISO 8601 time (e.g. 2026-11-28T14:00:00Z)") from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def run(target: Any, ref: Ref, at: datetime, lock_timeout: float = 0.0) -> list[Action]:
    """Run one policy now, under the host's apply lock."""
    if ref.kind not in ("snapshot_policy", "pool", "replication"):
        raise ConvergeError(f"converge run takes snapshot_policy/NAME, replication/NAME or pool/NAME (a scrub), "
                            f"not {ref}")
    with host_lock(target.host, lock_timeout):
        target.host.reload()
        desired, ctx = engine.load_checked(target)
        try:
            actions = _dispatch(target, ref, at, desired, ctx)
            # when it last ran: what `converge watch` schedules from (scheduler.py)
            HostState(target.host).apply(Step(op="state", state={f"{LAST_RUNS}.{ref}": at.isoformat()}))
            return actions
        finally:
            target.host.flush()


def _dispatch(target: Any, ref: Ref, at: datetime, desired: Any, ctx: Context) -> list[Action]:
    spec = desired.spec(ref)
    if ref.kind == "pool":
        return _scrub(ref, spec, ctx, target)
    if ref.kind == "replication" and spec is not None:
        host = spec.target.host
        if host and host != target.inventory_name:
            return _replicate_to(target, host, ref.name, spec, ctx, at)
        return replicate(ref.name, spec, ctx, at)
    if not isinstance(spec, SnapshotPolicySpec):
        known = ", ".join(sorted(desired.specs(ref.kind))) or "none declared"
        raise ConvergeError(f"{ref} is not declared in {target.directory} (declared: {known})")
    return run_policy(ref.name, spec, ctx, at)


def _replicate_to(target: Any, name: str, replication: str, spec: Any, ctx: Context, at: datetime) -> list[Action]:
    """A replication whose receive runs on another host of the inventory, under that host's apply
    lock too (its state file records what it received)."""
    from .config import load_fleet
    from .hosts import open_host
    from .resources.policies.replicate import receiving_side

    config, hosts = load_fleet(target.directory)
    if name not in hosts:
        raise ConvergeError(f"replication {replication}: target host {name!r} is not in the inventory of "
                            f"{target.directory}")
    entry = hosts[name]
    other = open_host(entry.address, root=entry.root, sim_seed=config.sim,
                      ssh=entry.ssh if entry.address.startswith("ssh://") else None)
    try:
        with host_lock(other, LOCK_WAIT):
            other.reload()
            remote = receiving_side(storage_facts(other), name)
            try:
                return replicate(replication, spec, ctx, at, remote)
            finally:
                other.flush()
    finally:
        close = getattr(other, "close", None)
        if close is not None:
            close()


def storage_facts(host: Any) -> Context:
    """Only the storage facts of a host (pools, datasets, snapshots) and its state file."""
    from .resources import BY_KIND
    from .resources.base import STATE_FILE, parse_state

    ctx = Context(host=host, state=parse_state(host.read_file(STATE_FILE)))
    for kind in ("pool", "dataset", "snapshot"):
        ctx.facts.resources[kind] = BY_KIND[kind].read(ctx)
    return ctx


def _scrub(ref: Ref, spec: Any, ctx: Context, target: Any) -> list[Action]:
    if spec is None:
        raise ConvergeError(f"{ref} is not declared in {target.directory}")
    if ref.name not in ctx.facts.of("pool"):
        raise ConvergeError(f"{ref} does not exist on the host (apply the manifests first)")
    argv = scrub(ref.name, ctx)
    log.info("scrub", pool=ref.name, argv=argv)
    return [Action("scrubbed", ref.name, " ".join(argv))]
