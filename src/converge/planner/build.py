"""Changes from desired vs actual, guarded and ordered: the Plan (plain data, runs nothing)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from ..errors import PlanError
from ..model import Action, Change, Observed, Plan, Ref
from ..resources import BY_KIND, KINDS, Context, Kind, Spec
from .diff import SENSITIVE, diff_fields
from .order import order_changes


def build_plan(ctx: Context, *, allow_destroy: set[Ref] | frozenset[Ref] = frozenset(),
               targets: list[Ref] | None = None) -> Plan:
    desired = ctx.desired
    wanted = _with_dependencies(targets, ctx) if targets else None
    changes: list[Change] = []
    for kind in KINDS:
        kind_changes = []
        specs = desired.specs(kind.kind) if desired else {}
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
        changes += kind_changes
    plan = Plan(changes=order_changes(changes, ctx),
                fingerprints={k.kind: ctx.facts.fingerprint(k.kind) for k in KINDS})
    plan.fingerprints["state"] = state_fingerprint(ctx.state)
    return plan


def state_fingerprint(state: dict[str, Any]) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:16]


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
    deps = kind.depends(name, spec)
    if obs is None:
        return Change(ref=ref, action=Action.CREATE, after=redact_sensitive(spec, after),
                      diffs=diff_fields(type(spec), after, {}), steps=kind.create(name, spec, ctx),
                      depends_on=deps, reason="not on the host")
    diffs = diff_fields(type(spec), after, obs.spec, kind.create_only)
    if not diffs:  # identical: declared is enough; the ownership mark comes with the first change
        return None
    before = redact_sensitive(spec, {k: obs.spec.get(k) for k in after})
    after = redact_sensitive(spec, after)
    forced = [d.path for d in diffs if d.forces_replace]
    if forced:
        change = Change(ref=ref, action=Action.REPLACE, before=before, after=after, diffs=diffs,
                        steps=kind.replace(name, spec, obs, ctx), depends_on=deps,
                        destroys=kind.destroys(name, obs, ctx) + _dependents(ref, ctx),
                        reason=f"{', '.join(forced)} can only be set at creation",
                        destructive=kind.holds_data)
        _guard(change, obs, allowed=ref in allow_destroy or bool(getattr(spec, "allow_destroy", False)))
        return change
    reason = "differs from the manifest" + ("" if obs.managed else "; adopted (marked as managed by converge)")
    return Change(ref=ref, action=Action.UPDATE, before=before, after=after, diffs=diffs,
                  steps=kind.update(name, spec, obs, diffs, ctx), depends_on=deps, reason=reason)


def _delete(kind: Kind, name: str, obs: Observed, ctx: Context, allow_destroy: set[Ref] | frozenset[Ref]) -> Change:
    ref = kind.ref(name)
    change = Change(ref=ref, action=Action.DELETE, before=redact_sensitive(kind.spec, obs.spec), steps=kind.delete(name, obs, ctx),
                    depends_on=_observed_depends(kind, name, obs), reason="managed by converge, no longer declared",
                    destroys=kind.destroys(name, obs, ctx) + _dependents(ref, ctx), destructive=kind.holds_data)
    _guard(change, obs, allowed=ref in allow_destroy)
    return change


def redact_sensitive(spec: Spec | type[Spec], data: dict[str, Any]) -> dict[str, Any]:
    """Values of sensitive fields (container env) never appear in a plan."""
    secret = (spec if isinstance(spec, type) else type(spec)).flagged(SENSITIVE)
    return {k: ({kk: "(sensitive)" for kk in v} if isinstance(v, dict) else "(sensitive)") if k in secret and v else v
            for k, v in data.items()}


def _guard(change: Change, obs: Observed, allowed: bool) -> None:
    if obs.protected:
        change.blocked = (f"{change.ref} is protected on the host (converge:protect=on); "
                          "clear the flag on the host to let converge destroy it")
    elif change.destructive and not allowed:
        what = "destroys" if change.action is Action.DELETE else "is replaced, which destroys"
        change.blocked = (f"{change.ref} {what} its data; allow with --allow-destroy {change.ref}"
                          + (" or allow_destroy: true on the resource" if change.action is Action.REPLACE else ""))


def _observed_depends(kind: Kind, name: str, obs: Observed) -> list[Ref]:
    try:
        return kind.depends(name, kind.spec.model_validate(obs.spec))
    except (ValidationError, ValueError, TypeError):
        return []


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
