"""Execution order: deletes first, dependents before what they depend on; then creates, updates
and replaces, dependencies first. Changes carry only the dependencies on other changes."""

from __future__ import annotations

import graphlib

from ..errors import PlanError
from ..model import Action, Change, Ref
from ..resources import KINDS, Context

_KIND_INDEX = {k.kind: i for i, k in enumerate(KINDS)}


def _key(ref: Ref) -> tuple[int, str]:
    return _KIND_INDEX.get(ref.kind, len(KINDS)), ref.name


def order_changes(changes: list[Change], ctx: Context) -> list[Change]:
    deletes = {c.ref: c for c in changes if c.action is Action.DELETE}
    others = {c.ref: c for c in changes if c.action is not Action.DELETE}
    ordered = []
    # Deletes: if A depends on B, A goes first. Reverse the edges.
    graph: dict[Ref, set[Ref]] = {r: set() for r in deletes}
    for r, c in deletes.items():
        for dep in c.depends_on:
            if dep in deletes:
                graph[dep].add(r)
        c.depends_on = []
    for ref in _toposort(graph):
        c = deletes[ref]
        c.depends_on = sorted(d for d in graph[ref])
        ordered.append(c)
    graph = {r: {d for d in c.depends_on if d in others} for r, c in others.items()}
    for ref in _toposort(graph):
        c = others[ref]
        c.depends_on = sorted(graph[ref])
        ordered.append(c)
    return ordered


def _toposort(graph: dict[Ref, set[Ref]]) -> list[Ref]:
    """Deterministic topological order: among ready nodes, registry order of kinds, then name."""
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        raise PlanError("these changes wait on each other, so no order can apply them: "
                        + " → ".join(str(r) for r in e.args[1]) + "; apply them in two steps") from None
    out: list[Ref] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=_key)
        out += ready
        sorter.done(*ready)
    return out
