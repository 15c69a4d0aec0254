"""Host ports that move between containers in one plan. A container that takes a host port another
running container holds waits for that one's change (an edge). When two swap ports, neither can
wait for the other: the one that goes second is stopped first, by an explicit `stop` change the
first one waits for; it is then replaced or changed after the first and finds its new port free."""

from __future__ import annotations

from ...model import Action, Change, Ref, Step
from ..base import Context, Joint


def host_port(mapping: str) -> tuple[str, int, str]:
    parts = mapping.split("/")[0].split(":")
    return (parts[0] if len(parts) == 3 else "", int(parts[-2]), mapping.split("/")[1])


def port_moves(kind: str, changes: list[Change], ctx: Context) -> tuple[list[tuple[Ref, Ref]], list[Joint]]:
    """(edges (holder first, then the taker), stop joints for swaps). The same for the same changes."""
    observed = ctx.facts.of(kind)
    holders: dict[tuple[str, int, str], str] = {}
    for other, obs in observed.items():
        if obs.spec.get("state") == "running":
            for mapping in obs.spec.get("ports") or []:
                holders[host_port(mapping)] = other
    by_name = {c.ref.name: c for c in changes}
    waits = {c.ref: set(c.depends_on) for c in changes}  # grows with the edges below, in change order
    edges: list[tuple[Ref, Ref]] = []
    stops: dict[Ref, Joint] = {}
    for change in changes:
        if change.action not in (Action.CREATE, Action.REPLACE, Action.UPDATE) or not change.after:
            continue
        for mapping in change.after.get("ports") or []:
            holder = holders.get(host_port(mapping))
            if not holder or holder == change.ref.name or holder not in by_name:
                continue
            held_by = by_name[holder].ref
            if change.ref in waits[held_by]:  # a swap: the holder waits for this one already
                ref = Ref.of("stop", f"{kind}/{holder}")
                runtime = observed[holder].spec.get("runtime", "podman")
                joint = stops.setdefault(ref, Joint(
                    ref=ref, steps=[Step(argv=[runtime, "stop", holder], note=f"free port {mapping}")],
                    carries=[], before={}, after={},
                    reason=f"frees host port {mapping} for {change.ref}; {held_by} changes after it"))
                if change.ref not in joint.carries:
                    joint.carries.append(change.ref)
            elif held_by not in waits[change.ref]:
                waits[change.ref].add(held_by)
                edges.append((held_by, change.ref))
    return edges, list(stops.values())
