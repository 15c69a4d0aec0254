"""Test support for the share kinds: a stand-in Desired holding only share specs, so one kind
can be planned alone with the engine's own generic diff, and a step runner that runs deletes
first as the executor does. It calls the kinds' own read/create/update/delete/finalize, and the
planner's joints (the kind's shared file as an explicit change, last in the list)."""

from __future__ import annotations

from typing import Any

from converge.model import Action, Change, Step
from converge.planner.diff import diff_fields
from converge.planner.joint import arrange
from converge.resources.base import Context, Kind


class FakeDesired:
    """What the engine's Desired offers the kinds: `.specs(kind)`."""

    def __init__(self, **kinds: dict[str, Any]) -> None:
        self.resources = kinds

    def specs(self, kind: str) -> dict[str, Any]:
        return self.resources.get(kind, {})


def plan(kind: Kind, ctx: Context) -> list[Change]:
    observed = kind.read(ctx)
    ctx.facts.resources[kind.kind] = observed
    specs = ctx.desired.specs(kind.kind)
    changes = []
    for name, spec in sorted(specs.items()):
        ref = kind.ref(name)
        deps = kind.depends(name, spec)
        if name not in observed:
            changes.append(Change(ref=ref, action=Action.CREATE, after=spec.declared(), depends_on=deps,
                                  steps=kind.create(name, spec, ctx)))
            continue
        obs = observed[name]
        diffs = diff_fields(type(spec), spec.declared(), obs.spec, kind.create_only)
        if diffs or not obs.managed:
            changes.append(Change(ref=ref, action=Action.UPDATE, before=obs.spec, after=spec.declared(), diffs=diffs,
                                  depends_on=deps, steps=kind.update(name, spec, obs, diffs, ctx)))
    for name, obs in sorted(observed.items()):
        if obs.managed and name not in specs:
            changes.append(Change(ref=kind.ref(name), action=Action.DELETE, before=obs.spec,
                                  steps=kind.delete(name, obs, ctx)))
    if changes:
        kind.finalize(changes, ctx)
        changes += arrange(kind, changes, ctx)
    return changes


def run_steps(ctx: Context, steps: list[Step]) -> None:
    for step in steps:
        if step.op == "run":
            ctx.host.run(step.argv, input=step.input)
        elif step.op == "write":
            ctx.host.write_file(step.path, step.content, step.mode)
        elif step.op == "remove":
            ctx.host.remove_file(step.path)
        else:
            for key, value in step.state.items():
                section, _, rest = key.partition(".")
                if value is None:
                    ctx.state.get(section, {}).pop(rest, None)
                else:
                    ctx.state.setdefault(section, {})[rest] = value


def apply(kind: Kind, ctx: Context) -> list[Change]:
    """Plan, run every step, and return the re-plan (empty when converged)."""
    for change in sorted(plan(kind, ctx), key=lambda c: c.action != Action.DELETE):  # deletes first
        run_steps(ctx, change.steps)
    return plan(kind, ctx)


def all_steps(changes: list[Change]) -> list[Step]:
    return [s for c in changes for s in c.steps]
