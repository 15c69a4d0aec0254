"""A minimal read -> create/update/delete -> run -> read loop over the storage kinds, for the
kind tests while the engine is written in parallel. It follows the CONTRACT's rules (compare
declared keys only, create-only paths force a replace, managed + undeclared is deleted) and is
no substitute for the planner: the hypothesis test against the real engine lives elsewhere.

`pools` limits what the loop sees to those pools (and their datasets and snapshots): a real test
shares the machine (zfs-fuse is one daemon for every pool), and ZFS keeps "managed" in the
datasets themselves, so without it one run would delete another run's managed datasets."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from converge.model import Action, Change, Facts, FieldDiff, Step
from converge.resources import BY_KIND
from converge.resources.base import Context

ORDER = ("pool", "dataset", "snapshot")


def diffs(declared: dict[str, Any], observed: dict[str, Any], prefix: str = "") -> list[FieldDiff]:
    out: list[FieldDiff] = []
    for key, want in declared.items():
        have = observed.get(key)
        if isinstance(want, dict) and isinstance(have, dict):
            out += diffs(want, have, f"{prefix}{key}.")
        elif want != have:
            out.append(FieldDiff(path=f"{prefix}{key}", before=have, after=want))
    return out


def in_pools(name: str, pools: Collection[str] | None) -> bool:
    return pools is None or name.split("/")[0].split("@")[0] in pools


def read(host: Any, desired: dict[str, dict[str, Any]], state: dict[str, Any],
         pools: Collection[str] | None = None) -> Context:
    ctx = Context(host=host, desired=desired, facts=Facts(), state=state)
    for kind in ORDER:
        found = BY_KIND[kind].read(ctx)
        ctx.facts.resources[kind] = {n: o for n, o in found.items() if in_pools(n, pools)}
    return ctx


def plan(ctx: Context) -> list[Step]:
    steps: list[Step] = []
    for kind in reversed(ORDER):  # deletes first, children before parents
        k = BY_KIND[kind]
        for name in sorted(ctx.facts.of(kind), reverse=True):
            obs = ctx.facts.of(kind)[name]
            if obs.managed and name not in ctx.desired.get(kind, {}):
                steps += k.delete(name, obs, ctx)
    for kind in ORDER:
        k = BY_KIND[kind]
        changes: list[Change] = []
        for name, spec in sorted(ctx.desired.get(kind, {}).items()):
            obs = ctx.facts.of(kind).get(name)
            if obs is None:
                changes.append(Change(ref=k.ref(name), action=Action.CREATE, steps=k.create(name, spec, ctx)))
                continue
            found = diffs(spec.declared(), obs.spec)
            if any(d.path in k.create_only for d in found):
                changes.append(Change(ref=k.ref(name), action=Action.REPLACE, steps=k.replace(name, spec, obs, ctx)))
            elif found or not obs.managed:
                changes.append(Change(ref=k.ref(name), action=Action.UPDATE, steps=k.update(name, spec, obs, found, ctx)))
        # what the kind's changes share (a btrfs filesystem's one `quota enable`) runs before them, as planned
        steps += [s for joint in k.joints(changes, ctx) for s in joint.steps] + [s for c in changes for s in c.steps]
    return steps


def run(host: Any, steps: list[Step], state: dict[str, Any]) -> None:
    for step in steps:
        if step.op == "run":
            host.run(step.argv, input=step.input)
        elif step.op == "write":
            host.write_file(step.path, step.content, step.mode)
        elif step.op == "remove":
            host.remove_file(step.path)
        elif step.op == "state":
            for key, value in step.state.items():
                section, _, item = key.partition(".")
                if value is None:
                    state.setdefault(section, {}).pop(item, None)
                else:
                    state.setdefault(section, {})[item] = value


def converge(host: Any, desired: dict[str, dict[str, Any]], state: dict[str, Any],
             pools: Collection[str] | None = None) -> list[Step]:
    """Apply once (seeing only `pools` when given); return the steps that ran."""
    steps = plan(read(host, desired, state, pools))
    run(host, steps, state)
    return steps


def specs(kind: str, raw: dict[str, Any]) -> dict[str, Any]:
    return {n: BY_KIND[kind].spec.model_validate(v) for n, v in raw.items()}
