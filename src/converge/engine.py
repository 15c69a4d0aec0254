"""The loop (DESIGN.md §1): load, read facts in bulk, plan, apply, re-read and re-plan.
The CLI, the watcher and the API all go through `reconcile()`; nothing else touches a host."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from .config import Config, load_config
from .errors import ManifestError, NotConverged, StalePlan
from .executor import Event, Report, execute
from .gcpause import bulk
from .hosts import Host, default_sim_path, open_host
from .lock import apply_lock
from .manifest import Desired, check_references, load_unchecked
from .model import Action, Facts, Plan, Ref
from .planner import build_plan
from .resources import KINDS, Context
from .resources.base import STATE_FILE
from .yamlsource import display_path


@dataclass
class Target:
    """A manifest directory and the host it describes."""

    directory: str
    config: Config
    host: Host
    note: str = ""  # one line saying which host was chosen when it was not asked for


def open_target(directory: str, host: str | None = None, root: str | None = None) -> Target:
    directory = os.path.abspath(directory) if directory else os.getcwd()
    config = load_config(directory) if os.path.isdir(directory) else Config()
    spec, note = host or config.host, ""
    if not spec:
        path = default_sim_path(directory)
        spec = f"sim:{path}"
        note = f"host: simulated ({display_path(path)}); use --host local for this machine"
    return Target(directory, config, open_host(spec, root=root or config.root, sim_seed=config.sim), note)


def read_state(host: Host) -> dict[str, Any]:
    text = host.read_file(STATE_FILE)
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def read_facts(host: Host, desired: Desired | None = None, settings: dict[str, Any] | None = None) -> Context:
    """Every kind reads all its instances in bulk (a few commands each, whatever their number)."""
    ctx = Context(host=host, settings=settings or {}, desired=desired, facts=Facts(), state=read_state(host))
    for kind in KINDS:
        if kind.tools and not any(host.has(t) for t in kind.tools):
            ctx.facts.resources[kind.kind] = {}
            continue
        ctx.facts.resources[kind.kind] = kind.read(ctx)
        for path in kind.owned_files(ctx):
            text = host.read_file(path)
            if text is not None:
                ctx.facts.files[path] = text
    state = host.read_file(STATE_FILE)
    if state is not None:
        ctx.facts.files[STATE_FILE] = state
    return ctx


def present_refs(ctx: Context) -> set[Ref]:
    return {Ref.of(k, n) for k, names in ctx.facts.resources.items() for n in names}


def load_checked(target: Target) -> tuple[Desired, Context]:
    """Load the manifests, read the host, and check references against declared ∪ present."""
    desired, issues = load_unchecked(target.directory, target.config.vars)
    # The host is only read (never changed) here, so references are checked even when other
    # errors were found: every error of a run is reported at once.
    ctx = read_facts(target.host, desired, target.config.settings)
    issues += check_references(desired, present_refs(ctx))
    if issues:
        raise ManifestError(issues)
    return desired, ctx


def plan(target: Target, *, allow_destroy: set[Ref] | frozenset[Ref] = frozenset(),
         targets: list[Ref] | None = None) -> tuple[Plan, Context]:
    with bulk():
        desired, ctx = load_checked(target)
        result = build_plan(ctx, allow_destroy=allow_destroy, targets=targets)
    result.host, result.directory = target.host.name, target.directory
    return result, ctx


@dataclass
class Outcome:
    plan: Plan
    report: Report
    replan: Plan | None = None
    notes: list[str] = field(default_factory=list)


def reconcile(target: Target, *, allow_destroy: set[Ref] | frozenset[Ref] = frozenset(),
              targets: list[Ref] | None = None, saved: Plan | None = None, parallelism: int = 1,
              hold_destroys: bool = False, lock_timeout: float = 0.0, on_event: Event | None = None) -> Outcome:
    """Plan (or take a saved plan), apply it under the host's lock, and prove convergence."""
    with apply_lock(target.host.lock_path(), lock_timeout), bulk():
        target.host.reload()  # what the previous lock holder left, not what was there before we waited
        current, ctx = plan(target, allow_destroy=allow_destroy, targets=targets)
        if saved is not None:
            stale = sorted(k for k, v in saved.fingerprints.items() if current.fingerprints.get(k) != v)
            if stale:
                raise StalePlan("plan is stale: the host changed since it was made (" + ", ".join(stale)
                                + "); make a new plan")
            to_run = saved
        else:
            to_run = current
        if hold_destroys:  # the watcher: destroys and replacements wait for an approval
            for c in to_run.changes:
                obs = ctx.facts.of(c.ref.kind).get(c.ref.name)
                # Also reword the data guard's "--allow-destroy" block: here an approval allows it.
                # Protection stays as the planner put it: no approval releases a protected resource.
                if c.action in (Action.DELETE, Action.REPLACE) and c.ref not in allow_destroy \
                        and not (obs and obs.protected):
                    c.blocked = (f"{c.ref}: {'destroy' if c.action is Action.DELETE else 'replacement'} held for "
                                 f"approval (converge approve {c.ref})")
        report = execute(to_run, target.host, parallelism=parallelism, on_event=on_event)
        outcome = Outcome(plan=to_run, report=report)
        if report.failed or report.skipped:
            return outcome
        if not to_run.changes and to_run is current:  # nothing ran: the plan just made is the proof
            outcome.replan = current
            return outcome
        # Re-plan against the same manifests that were applied (a save during the apply is the
        # next reconcile's business, not a convergence failure).
        ctx = read_facts(target.host, ctx.desired, target.config.settings)
        after = build_plan(ctx, allow_destroy=allow_destroy, targets=targets)
        outcome.replan = after
        held = set(report.held)
        left = [c for c in after.changes if c.ref not in held and not c.blocked]
        if left:
            raise NotConverged("after apply the host still differs from the manifests (a bug in converge: "
                               "please report it): " + "; ".join(
                                   f"{c.action.value} {c.ref}" + (": " + ", ".join(
                                       f"{d.path} {d.before_text} → {d.after_text}" for d in c.diffs) if c.diffs else "")
                                   for c in left))
        return outcome
