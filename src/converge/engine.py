"""The loop (docs/design.md §1): load, read facts in bulk, plan, apply, re-read and re-plan.
The CLI, the watcher and the API all go through `reconcile()`; nothing else touches a host."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass, field
from typing import Any

from .config import Config, load_config
from .errors import HostError, ManifestError, NotConverged, PlanError, StalePlan
from .executor import Event, Report, execute
from .fsutil import STATE_DIR, state_dir
from .gcpause import bulk
from .hosts import Host, default_sim_path, open_host
from .hosts.base import read_files
from .lock import host_lock
from .logs import get_logger
from .manifest import Desired, check_references, load_unchecked
from .model import Action, Change, Facts, Plan, Ref
from .planner import build_plan
from .planner.joint import hold_joints
from .resources import BY_KIND, KINDS, Context
from .resources.base import STATE_FILE, parse_state
from .yamlread import display_path

log = get_logger("converge")


@dataclass
class Target:
    """A manifest directory and the host it describes."""

    directory: str
    config: Config
    host: Host
    note: str = ""  # one line saying which host was chosen when it was not asked for
    layers: list[str] | None = None  # an inventory host's manifest directories (later ones win per resource)
    vars: dict[str, Any] = field(default_factory=dict)  # an inventory host's vars (over the manifests')
    inventory_name: str = ""  # its name in the inventory
    skip: list[str] = field(default_factory=list)  # the other hosts' manifest directories (not this host's)


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
    return parse_state(host.read_file(STATE_FILE))


def read_facts(host: Host, desired: Desired | None = None, settings: dict[str, Any] | None = None,
               *, tolerate: bool = False, reuse: Context | None = None, only: set[str] | None = None) -> Context:
    """Every kind reads all its instances in bulk (a few commands each, whatever their number).
    A kind whose read fails raises, naming the kind and the command; with `tolerate` it is
    recorded in ctx.failed instead, so a plan that does not need that kind can go on.
    With `reuse` and `only`, the kinds not in `only` keep what `reuse` read (the re-read after an
    apply: kinds it did not touch); converge's own files and its state are always read again."""
    state = host.read_file(STATE_FILE)
    ctx = Context(host=host, settings=settings or {}, desired=desired, facts=Facts(), state=parse_state(state))
    owned: list[str] = []
    for kind in KINDS:
        if reuse is not None and only is not None and kind.kind not in only and kind.kind in reuse.facts.resources:
            ctx.facts.resources[kind.kind] = reuse.facts.resources[kind.kind]
            owned.extend(kind.owned_files(ctx))
            continue
        if kind.tools and not any(host.has(t) for t in kind.tools):
            ctx.facts.resources[kind.kind] = {}
            continue
        try:
            ctx.facts.resources[kind.kind] = kind.read(ctx)
        except (HostError, OSError) as e:
            message = f"reading {kind.kind} from the host failed: {e}"
            if not tolerate:
                raise HostError(message) from None
            ctx.failed[kind.kind] = message
            log.warning("read failed", kind=kind.kind, error=str(e))
        owned.extend(kind.owned_files(ctx))  # read even after a failed read: a saved plan fingerprints them
    for path, text in read_files(host, owned).items():
        if text is not None:
            ctx.facts.files[path] = text
    ctx.reads["owned-files"] = frozenset(owned)  # ctx.file() answers these without asking the host again
    if state is not None:
        ctx.facts.files[STATE_FILE] = state
    return ctx


def touched_kinds(changes: list[Change], ctx: Context) -> set[str] | None:
    """The kinds an apply of `changes` can have changed on the host: the changes' own kinds and,
    transitively, every kind with a resource (declared or present) that depends on one of them
    (a destroyed dataset takes its snapshots; a share's directory sits on a dataset). None: all
    of them (a change converge cannot place in a kind)."""
    touched = {c.ref.kind for c in changes}
    if not touched <= BY_KIND.keys():
        return None
    grew = True
    while grew:
        grew = False
        for kind in KINDS:
            if kind.kind in touched:
                continue
            observed = ctx.facts.resources.get(kind.kind, {})
            needs = (ref for name, spec in ctx.specs(kind.kind).items() for ref in kind.depends_desired(name, spec, ctx))
            needed = (ref for name, obs in observed.items() for ref in kind.depends_observed(name, obs, ctx))
            if kind.kind in ctx.failed or any(ref.kind in touched for ref in itertools.chain(needs, needed)):
                touched.add(kind.kind)
                grew = True
    return touched


def present_refs(ctx: Context) -> set[Ref]:
    return {Ref.of(k, n) for k, names in ctx.facts.resources.items() for n in names}


class _Present(set[Ref]):
    """Refs present on the host; every ref of a kind whose read failed counts as present."""

    def __init__(self, refs: set[Ref], unknown: dict[str, str]) -> None:
        super().__init__(refs)
        self.unknown = set(unknown)

    def __contains__(self, ref: object) -> bool:
        return (isinstance(ref, Ref) and ref.kind in self.unknown) or super().__contains__(ref)


def load_checked(target: Target) -> tuple[Desired, Context]:
    """Load the manifests, read the host, and check references against declared ∪ present."""
    desired, issues = load_unchecked(target.directory, target.config.vars, layers=target.layers,
                                     host_vars=target.vars, skip=target.skip)
    # The host is only read (never changed) here, so references are checked even when other
    # errors were found: every error of a run is reported at once.
    ctx = read_facts(target.host, desired, target.config.settings, tolerate=True)
    # A kind whose read failed is unknown, not empty: references to it are not reported missing
    # here; the planner refuses a plan that needs that kind, with the read's own error.
    issues += check_references(desired, _Present(present_refs(ctx), ctx.failed))
    if issues:
        raise ManifestError(issues)
    return desired, ctx


def plan(target: Target, *, allow_destroy: set[Ref] | frozenset[Ref] = frozenset(),
         targets: list[Ref] | None = None) -> tuple[Plan, Context]:
    with bulk():
        desired, ctx = load_checked(target)
        result = build_plan(ctx, allow_destroy=allow_destroy, targets=targets)
    result.host, result.directory = target.host.name, target.directory
    result.inventory_host = target.inventory_name
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
    if saved is not None and targets is None:
        targets = saved.targets or None  # the saved plan's own --target: the check below covers that much
    if target.host.lock_path().startswith(os.path.join(target.directory, STATE_DIR, "")):
        state_dir(target.directory)  # the simulated host's state lives in DIR/.converge: kept out of git
    with host_lock(target.host, lock_timeout), bulk():
        target.host.reload()  # what the previous lock holder left, not what was there before we waited
        current, ctx = plan(target, allow_destroy=allow_destroy, targets=targets)
        notes: list[str] = []
        if saved is not None and saved.host and saved.host != target.host.name:
            raise PlanError(f"this plan was made for {saved.host}" + (f" ({saved.inventory_host})" if
                            saved.inventory_host else "") + f", not {target.host.name}: make a plan for this host")
        if saved is not None:
            stale = sorted(k for k, v in saved.fingerprints.items() if current.fingerprints.get(k) != v)
            if stale:
                raise StalePlan("plan is stale: the host changed since it was made (" + ", ".join(stale)
                                + "); make a new plan")
            to_run = saved
            if saved.manifests and saved.manifests != current.manifests:
                log.warning("the manifests changed since the saved plan was made; applying the saved plan only")
                notes.append("warning: the manifests changed since this plan was made; applying the saved plan "
                             "only (the later edits stay pending: run converge plan/apply again)")
        else:
            to_run = current
        if hold_destroys:  # the watcher: destroys and replacements wait for an approval
            for c in to_run.changes:
                obs = ctx.facts.resources.get(c.ref.kind, {}).get(c.ref.name)
                # Also reword the data guard's "--allow-destroy" block: here an approval allows it.
                # Protection stays as the planner put it: no approval releases a protected resource.
                if c.action in (Action.DELETE, Action.REPLACE) and c.ref not in allow_destroy \
                        and not (obs and obs.protected):
                    c.blocked = (f"{c.ref}: {'destroy' if c.action is Action.DELETE else 'replacement'} held for "
                                 f"approval (converge approve {c.ref})")
            hold_joints(to_run)  # a shared file written without a held share would delete it anyway
        report = execute(to_run, target.host, parallelism=parallelism, on_event=on_event)
        outcome = Outcome(plan=to_run, report=report, notes=notes)
        if report.failed or report.skipped:
            return outcome
        if not to_run.changes and to_run is current:  # nothing ran: the plan just made is the proof
            outcome.replan = current
            return outcome
        # Re-plan against the same manifests that were applied (a save during the apply is the
        # next reconcile's business, not a convergence failure).
        # Only what the apply can have changed is read again (a save that changed one dataset
        # re-reads the ZFS kinds and what sits on them, not every container and account).
        ctx = read_facts(target.host, ctx.desired, target.config.settings, tolerate=True, reuse=ctx,
                         only=touched_kinds(to_run.changes, ctx))
        if targets:  # a target this apply deleted is gone by design: the proof covers the others
            gone = {c.ref for c in to_run.changes if c.action is Action.DELETE}
            targets = [t for t in targets if t not in gone]
            if not targets:
                outcome.replan = Plan(host=current.host, directory=current.directory)
                return outcome
        after = build_plan(ctx, allow_destroy=allow_destroy, targets=targets, record_manifests=saved is not None)
        outcome.replan = after
        held = set(report.held)
        left = [c for c in after.changes if c.ref not in held and not c.blocked]
        if saved is not None:
            pending = [c for c in left if _edited_since(saved, after, c.ref)]
            left = [c for c in left if c not in pending]
            if pending:
                notes.append("pending (the manifests changed after the plan was made; not part of it): "
                             + ", ".join(f"{c.action.value} {c.ref}" for c in pending))
        if left:
            raise NotConverged("after apply the host still differs from the manifests (a bug in converge: "
                               "please report it): " + "; ".join(
                                   f"{c.action.value} {c.ref}" + (": " + ", ".join(
                                       f"{d.path} {d.before_text} → {d.after_text}" for d in c.diffs) if c.diffs else "")
                                   for c in left))
        return outcome


def _edited_since(saved: Plan, now: Plan, ref: Ref) -> bool:
    """Is what is left of `ref` after applying a saved plan the work of a later manifest edit?
    A change the plan made is judged by its own manifest; any other one by the whole set."""
    if not saved.manifests:  # a plan saved before plans recorded their manifests: no way to tell
        return False
    key = str(ref)
    if key in saved.desired:
        return saved.desired[key] != now.desired.get(key, "")
    return saved.manifests != now.manifests
