"""Execution order: deletes first, dependents before what they depend on; then creates, updates
and replaces, dependencies first. A delete of something that a replace or update still uses on
the host (a dataset a replaced container mounts) waits for that change instead, after the
creates. A delete that an explicit change carries (a share the rewritten file leaves out, a link
the `ip -batch` deletes) waits for that change the same way, and the explicit change waits for the
deletes that must go before the ones it carries. Changes carry only the dependencies on other changes."""

from __future__ import annotations

import graphlib
from collections.abc import Callable

from ..errors import PlanError
from ..model import JOINT_KINDS, Action, Change, Ref
from ..resources import BY_KIND, KINDS, Context


def _kind_index() -> dict[str, int]:
    """Each kind's registry line (read when planning: a kind registered later counts)."""
    return {k.kind: i for i, k in enumerate(KINDS)}


def _keys(changes: list[Change]) -> Callable[[Ref], tuple[int, int, str]]:
    """Sort key: registry order of kinds, then name; an explicit change (file, batch, stop) sorts
    just before the first kind it is for."""
    index = _kind_index()
    joints: dict[Ref, tuple[int, int, str]] = {}
    for change in changes:
        for dep in change.depends_on:
            if dep.kind in JOINT_KINDS:
                rank = (index.get(change.ref.kind, len(index)), 0, dep.name)
                joints[dep] = min(joints.get(dep, rank), rank)
    return lambda ref: joints.get(ref) or (index.get(ref.kind, len(index)), 1, ref.name)


def order_changes(changes: list[Change], ctx: Context) -> list[Change]:
    keys = _keys(changes)
    deletes = {c.ref: c for c in changes if c.action is Action.DELETE}
    others = {c.ref: c for c in changes if c.action is not Action.DELETE}
    users = _host_users(others, deletes, ctx)  # delete -> replaces/updates that stop using it
    # Deletes: if A depends on B, A goes first. Reverse the edges.
    graph: dict[Ref, set[Ref]] = {r: set() for r in deletes}
    carriers: dict[Ref, set[Ref]] = {}  # explicit change -> the deletes it carries
    for r, c in deletes.items():
        for dep in c.depends_on:
            if dep in deletes:
                graph[dep].add(r)
            elif dep.kind in JOINT_KINDS and dep in others:
                users.setdefault(r, set()).add(dep)
                carriers.setdefault(dep, set()).add(r)
        c.depends_on = []
    late = _deferred(graph, users)
    early_graph = {r: {d for d in deps if d not in late} for r, deps in graph.items() if r not in late}
    ordered = []
    for ref in _toposort(early_graph, keys):
        c = deletes[ref]
        c.depends_on = sorted(early_graph[ref])
        ordered.append(c)
    rest = {r: {d for d in c.depends_on if d in others} for r, c in others.items()}
    for joint, carried in carriers.items():  # what must go before a carried delete goes before its joint
        rest[joint] |= {d for r in carried for d in graph[r] if d in late and d not in carried}
    for ref in late:  # after what still uses it, and after the late deletes that must go first
        rest[ref] = users.get(ref, set()) | (graph[ref] & late)
    for ref in _toposort(rest, keys):
        c = others.get(ref) or deletes[ref]
        c.depends_on = sorted(rest[ref] | graph.get(ref, set()))
        ordered.append(c)
    return ordered


def _host_users(others: dict[Ref, Change], deletes: dict[Ref, Change], ctx: Context) -> dict[Ref, set[Ref]]:
    """For each deleted resource, the replaced or updated ones that use it as they are on the host."""
    users: dict[Ref, set[Ref]] = {}
    for ref, change in others.items():
        observed = ctx.facts.of(ref.kind).get(ref.name) if change.action in (Action.REPLACE, Action.UPDATE) else None
        if observed is None or ref.kind not in BY_KIND:
            continue
        for dep in BY_KIND[ref.kind].depends_observed(ref.name, observed, ctx):
            if dep in deletes:
                users.setdefault(dep, set()).add(ref)
    return users


def _deferred(graph: dict[Ref, set[Ref]], users: dict[Ref, set[Ref]]) -> set[Ref]:
    """Deletes that wait for a replace or update, and the deletes that must follow them."""
    after: dict[Ref, set[Ref]] = {r: set() for r in graph}  # r -> deletes that wait for r
    for r, deps in graph.items():
        for d in deps:
            after[d].add(r)
    late, todo = set(), list(users)
    while todo:
        ref = todo.pop()
        if ref not in late:
            late.add(ref)
            todo += after[ref]
    return late


def _toposort(graph: dict[Ref, set[Ref]], keys: Callable[[Ref], tuple[int, int, str]]) -> list[Ref]:
    """Deterministic topological order: among ready nodes, registry order of kinds, then name."""
    sorter = graphlib.TopologicalSorter(graph)
    try:
        sorter.prepare()
    except graphlib.CycleError as e:
        raise PlanError("these changes wait on each other, so no order can apply them: "
                        + " → ".join(str(r) for r in e.args[1]) + "; apply them in two steps") from None
    out: list[Ref] = []
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=keys)
        out += ready
        sorter.done(*ready)
    return out
