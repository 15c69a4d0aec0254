"""One `ip -batch` per apply: InterfaceKind.joints merges the batch lines of every interface
change into one step, in an order that works (deletes, dependents first; then creates and
updates, parents and ports first), adds the persisted-config writes, and, when the change
could cut the admin off, the test-then-commit guard before it.

The merged steps are an explicit change of their own, `batch/interfaces`: one batch, because
iproute2 runs it as one unit in an order across links that separate per-link batches could not
keep (every removal before any addition: a route leaves before the address it uses, an address
moving from one link to another). Every interface change keeps its own state steps and waits for
the batch, so anything that depends on an interface (a container on br0) still waits for it."""

from __future__ import annotations

import graphlib

from ...model import Action, Change, Ref, Step
from ..base import Context, Joint
from .guard import guard_steps
from .persist import persist_steps
from .spec import links_needed
from .steps import BATCH_ARGV, desired_specs, is_batch


def _graph(changes: list[Change], ctx: Context) -> dict[str, set[str]]:
    """name -> names it needs, among these changes (a declared veth pair: the larger name
    waits for the smaller, which creates the pair)."""
    names = {c.ref.name for c in changes}
    declared = desired_specs(ctx)
    graph: dict[str, set[str]] = {}
    for c in changes:
        spec = declared.get(c.ref.name)
        deps = {r.name for r in c.depends_on if r.kind == "interface"}
        if spec is not None:
            deps |= set(links_needed(spec))
            if spec.type == "veth" and spec.peer and spec.peer < c.ref.name:
                deps.add(spec.peer)
        graph[c.ref.name] = deps & names - {c.ref.name}
    return graph


def _order(changes: list[Change], ctx: Context) -> list[Change]:
    by_name = {c.ref.name: c for c in changes}
    deletes = [c for c in changes if c.action is Action.DELETE]
    rest = [c for c in changes if c.action is not Action.DELETE]
    out: list[Change] = []
    for group, reverse in ((deletes, True), (rest, False)):
        members = {c.ref.name for c in group}
        full = _graph(group, ctx)
        graph: dict[str, set[str]] = {n: set() for n in members}
        for n, deps in full.items():
            for d in deps & members:
                # deletes: what sits on a link goes before the link
                (graph[d].add(n) if reverse else graph[n].add(d))
        sorter = graphlib.TopologicalSorter(graph)
        sorter.prepare()
        while sorter.is_active():
            ready = sorted(sorter.get_ready())
            out += [by_name[n] for n in ready]
            sorter.done(*ready)
    return out


def _without_cascaded(lines: list[str], ctx: Context) -> list[str]:
    """Drop `link del`/`link set` of a link an earlier delete already took with it: the kernel
    deletes a veth's peer and the macvlans/vlans/vxlans on a link together with it."""
    observed = ctx.facts.of("interface")
    removed: set[str] = set()
    out = []
    for line in lines:
        if line.startswith("link del dev "):
            name = line.split()[3]
            if name in removed:
                continue
            todo = [name]
            while todo:
                n = todo.pop()
                if n in removed:
                    continue
                removed.add(n)
                spec = observed[n].spec if n in observed else {}
                todo += [spec["peer"]] if spec.get("type") == "veth" and spec.get("peer") else []
                todo += [o for o, obs in observed.items() if obs.spec.get("parent") == n]
        elif line.startswith("link add "):
            removed.discard(line.split()[2])
        elif line.startswith("link set dev ") and line.split()[3] in removed:
            continue  # e.g. releasing a bond member that a delete above already removed
        out.append(line)
    return out


BATCH_REF = Ref.of("batch", "interfaces")


def merge_changes(changes: list[Change], ctx: Context) -> list[Joint]:
    ordered = _order(changes, ctx)
    gone = [line for c in ordered if c.action is Action.DELETE for s in c.steps if is_batch(s)
            for line in (s.input or "").splitlines()]
    rest = [line for c in ordered if c.action is not Action.DELETE for s in c.steps if is_batch(s)
            for line in (s.input or "").splitlines()]
    # Removals before additions, across all links: a route leaves before the address it uses
    # (the kernel drops it with the address), both before another link takes them over (an
    # address moving from mv0 to eth2.7), and a port leaves its old master before any link takes it.
    rest.sort(key=lambda line: 0 if line.startswith("route del ") else 1 if line.startswith("address del ")
              else 2 if line.endswith(" nomaster") else 3)
    text = "".join(line + "\n" for line in _without_cascaded(gone + rest, ctx))
    deleted = [c.ref.name for c in changes if c.action is Action.DELETE]
    for c in changes:  # each change keeps its own state steps; its batch lines are in the joint's batch
        c.steps = [s for s in c.steps if not is_batch(s)]
    merged: list[Step] = []
    if text:
        merged.append(Step(op="run", argv=list(BATCH_ARGV), input=text,
                           note=f"{text.count(chr(10))} iproute2 commands for {len(changes)} interface change(s)"))
    merged += persist_steps(ctx, deleted)
    if not merged:
        return []
    guard = guard_steps(changes, ctx)
    reason = f"one iproute2 batch for {', '.join(str(c.ref) for c in ordered)}"
    return [Joint(ref=BATCH_REF, steps=guard + merged, carries=[c.ref for c in ordered], before={}, after={},
                  reason=reason + (f"; {guard[0].note}" if guard else ""))]
