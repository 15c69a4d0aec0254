"""Changes from desired vs actual, guarded and ordered: the Plan (plain data, runs nothing)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..errors import PlanError
from ..model import Action, Change, Observed, Plan, Ref
from ..redaction import mask_fields
from ..resources import BY_KIND, KINDS, Context, Kind, Spec
from .diff import SENSITIVE, diff_fields
from .joint import arrange, carried_by, desired_digest, hold_joints
from .order import order_changes


def build_plan(ctx: Context, *, allow_destroy: set[Ref] | frozenset[Ref] = frozenset(),
               targets: list[Ref] | None = None, record_manifests: bool = True) -> Plan:
    wanted = _with_dependencies(targets, ctx) if targets else None
    unread = _unread_kinds(ctx, wanted)
    changes: list[Change] = []
    for kind in KINDS:
        if kind.kind in unread:  # unknown, not empty: no create or delete is planned from a failed read
            continue
        kind_changes = []
        specs = kind.desired_specs(ctx)
        observed = ctx.facts.resources.get(kind.kind, {})
        for name, spec in sorted(specs.items()):
            ref = kind.ref(name)
            if wanted is None or ref in wanted:
                change = _desired_change(kind, name, spec, observed.get(name), ctx, allow_destroy)
                if change:
                    kind_changes.append(change)
        for name, obs in sorted(observed.items()):
            ref = kind.ref(name)
            if name not in specs and obs.managed and (wanted is None or ref in wanted):
                kind_changes.append(_delete(kind, name, obs, ctx, allow_destroy))
        if kind_changes:
            kind.finalize(kind_changes, ctx)
            kind_changes += arrange(kind, kind_changes, ctx)  # ordering edges; shared file, batch, stop
        changes += kind_changes
    for change in changes:  # a change of a kind that was read may still need an unread one
        dep = next((d for d in change.depends_on if d.kind in unread), None)
        if dep is not None:
            raise PlanError(f"{ctx.failed[dep.kind]}; this plan needs it ({change.ref} depends on {dep})")
    plan = Plan(changes=order_changes(changes, ctx),
                fingerprints={k.kind: "unread" if k.kind in unread else ctx.facts.fingerprint(k.kind) for k in KINDS})
    plan.warnings += [f"{ctx.failed[k]}; {k} is left out of this plan (nothing in the manifests or the targets "
                      "needs it; resources of it no longer declared are not destroyed until it reads again)"
                      for k in sorted(unread)]
    plan.fingerprints["state"] = state_fingerprint(ctx.state)
    # converge's own files (smb include, exports): an edit between plan and apply makes the plan stale
    # rather than being overwritten by it. An absent file has a fingerprint too (its creation counts).
    for path in sorted({p for k in KINDS for p in k.owned_files(ctx)}):
        plan.fingerprints[f"file:{path}"] = _digest(ctx.facts.files.get(path))
    if record_manifests:  # 0.2 s at 10 000 resources: the re-plan after an apply does without it
        plan.manifests = manifests_digest(ctx)
    plan.desired = {str(c.ref): _spec_digest(ctx, c.ref) for c in plan.changes}
    for ref, carried in carried_by(plan.changes).items():
        plan.desired[str(ref)] = desired_digest(carried, plan.desired)
    hold_joints(plan)
    plan.targets = sorted(targets or [])
    return plan


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:16]


def state_fingerprint(state: dict[str, Any]) -> str:
    return _digest(state)


def _spec_digest(ctx: Context, ref: Ref) -> str:
    """Digest of what a resource's manifest says (every field set, meta fields included); "" undeclared."""
    spec = ctx.specs(ref.kind).get(ref.name)
    return _digest(spec.model_dump(mode="json", exclude_unset=True)) if spec is not None else ""


def manifests_digest(ctx: Context) -> str:
    """Digest of the whole desired set (what each resource's manifest says)."""
    return _digest(sorted((str(k.ref(n)), _spec_digest(ctx, k.ref(n))) for k in KINDS for n in ctx.specs(k.kind)))


def _unread_kinds(ctx: Context, wanted: set[Ref] | None) -> set[str]:
    """Kinds whose read failed and that this plan can do without. A plan that needs one (a target
    or declared resource of that kind, or a dependency on it) fails with the read's error."""
    if not ctx.failed:
        return set()
    needs: dict[str, str] = {}
    refs = wanted if wanted is not None else {kind.ref(n) for kind in KINDS for n in ctx.specs(kind.kind)}
    for ref in sorted(refs):
        needs.setdefault(ref.kind, f"{ref} is {'targeted' if wanted is not None else 'declared'}")
        spec = ctx.specs(ref.kind).get(ref.name)
        if spec is not None:
            for dep in BY_KIND[ref.kind].depends(ref.name, spec):
                needs.setdefault(dep.kind, f"{ref} depends on {dep}")
    for kind, message in sorted(ctx.failed.items()):
        if kind in needs:
            raise PlanError(f"{message}; this plan needs it ({needs[kind]})")
    return set(ctx.failed)


def _with_dependencies(targets: list[Ref], ctx: Context) -> set[Ref]:
    """The targets and, transitively, what they depend on (declared ones)."""
    seen: set[Ref] = set()
    todo = list(targets)
    while todo:
        ref = todo.pop()
        if ref in seen:
            continue
        if ref.kind not in BY_KIND:
            raise PlanError(f"--target {ref}: unknown kind {ref.kind!r}; kinds: {', '.join(BY_KIND)}")
        spec = ctx.desired.spec(ref) if ctx.desired else None
        if spec is None and ref.kind in ctx.failed:
            raise PlanError(f"{ctx.failed[ref.kind]}; this plan needs it (--target {ref})")
        if spec is None and ref.name not in ctx.facts.resources.get(ref.kind, {}):
            raise PlanError(f"--target {ref}: neither declared nor present on the host")
        seen.add(ref)
        if spec is not None:
            todo += BY_KIND[ref.kind].depends(ref.name, spec)
    return seen


def _desired_change(kind: Kind, name: str, spec: Spec, obs: Observed | None, ctx: Context,
                    allow_destroy: set[Ref] | frozenset[Ref]) -> Change | None:
    ref = kind.ref(name)
    after = spec.declared()
    if obs is None:
        deps = kind.depends_desired(name, spec, ctx)
        return Change(ref=ref, action=Action.CREATE, after=redact_sensitive(spec, after),
                      diffs=diff_fields(type(spec), after, {}), steps=kind.create(name, spec, ctx),
                      depends_on=deps, reason="not on the host")
    diffs = diff_fields(type(spec), after, obs.spec, kind.replace_fields(spec, obs))
    if not diffs:  # identical: declared is enough; the ownership mark comes with the first change
        return None
    deps = kind.depends_desired(name, spec, ctx)
    before = redact_sensitive(spec, {k: obs.spec.get(k) for k in after})
    after = redact_sensitive(spec, after)
    forced = [d.path for d in diffs if d.forces_replace]
    if forced:
        change = Change(ref=ref, action=Action.REPLACE, before=before, after=after, diffs=diffs,
                        steps=kind.replace(name, spec, obs, ctx), depends_on=deps,
                        destroys=kind.destroys(name, obs, ctx) + _dependents(ref, ctx),
                        reason=f"{', '.join(forced)} can only be set at creation",
                        destructive=kind.destroys_data(obs))
        _guard(change, obs, allowed=ref in allow_destroy or bool(getattr(spec, "allow_destroy", False)))
        return change
    reason = "differs from the manifest" + ("" if obs.managed else "; adopted (marked as managed by converge)")
    return Change(ref=ref, action=Action.UPDATE, before=before, after=after, diffs=diffs,
                  steps=kind.update(name, spec, obs, diffs, ctx), depends_on=deps, reason=reason)


def _delete(kind: Kind, name: str, obs: Observed, ctx: Context, allow_destroy: set[Ref] | frozenset[Ref]) -> Change:
    ref = kind.ref(name)
    change = Change(ref=ref, action=Action.DELETE, before=redact_sensitive(kind.spec, obs.spec), steps=kind.delete(name, obs, ctx),
                    depends_on=kind.depends_observed(name, obs, ctx), reason="managed by converge, no longer declared",
                    destroys=kind.destroys(name, obs, ctx) + _dependents(ref, ctx), destructive=kind.destroys_data(obs))
    _guard(change, obs, allowed=ref in allow_destroy)
    return change


def redact_sensitive(spec: Spec | type[Spec], data: dict[str, Any]) -> dict[str, Any]:
    """Values of sensitive fields (container env) never appear in a plan."""
    return mask_fields((spec if isinstance(spec, type) else type(spec)).flagged(SENSITIVE), data)


def _guard(change: Change, obs: Observed, allowed: bool) -> None:
    if obs.protected:
        change.blocked = (f"{change.ref} is protected on the host (converge:protect=on); "
                          "clear the flag on the host to let converge destroy it")
    elif change.destructive and not allowed:
        what = "destroys" if change.action is Action.DELETE else "is replaced, which destroys"
        change.blocked = (f"{change.ref} {what} its data; allow with --allow-destroy {change.ref}"
                          + (" or allow_destroy: true on the resource" if change.action is Action.REPLACE else ""))


def _dependents(ref: Ref, ctx: Context) -> list[str]:
    """Declared resources that need this one: a destroy takes them with it or leaves them broken."""
    out = []
    if ctx.desired is None:
        return out
    for kind in KINDS:
        for name, spec in ctx.desired.specs(kind.kind).items():
            if ref in kind.depends(name, spec):
                out.append(f"{kind.ref(name)} (declared, depends on it)")
    return out
