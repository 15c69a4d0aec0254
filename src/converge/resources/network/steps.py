"""iproute2 batch lines for one interface change. Each change becomes one `ip -batch -` step
(the lines on stdin); InterfaceKind.joints merges the steps of an apply into one batch, an
explicit change of its own (network/merge.py).

Order inside a change: the link itself, its settings and ports, `up`, then addresses, then
routes and the gateway (routes need the link up and its address), `down` last."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...errors import PlanError
from ...model import Observed, Step

if TYPE_CHECKING:
    from ..base import Context
    from .spec import InterfaceSpec

BATCH_ARGV = ["ip", "-batch", "-"]


def desired_specs(ctx: "Context") -> dict[str, "InterfaceSpec"]:
    return ctx.specs("interface")


def batch_step(lines: list[str], note: str) -> list[Step]:
    if not lines:
        return []
    return [Step(op="run", argv=list(BATCH_ARGV), input="".join(line + "\n" for line in lines), note=note)]


def is_batch(step: Step) -> bool:
    return step.op == "run" and step.argv == BATCH_ARGV


def check_links(name: str, names: list[str], ctx: "Context", what: str) -> None:
    """A port/member/parent must be declared or on the host: iproute2 would refuse later,
    after other changes already ran."""
    present = ctx.facts.of("interface")
    declared = desired_specs(ctx)
    for other in names:
        if other == name:
            raise PlanError(f"interface {name}: {what} {other} is the interface itself")
        if other not in present and other not in declared:
            raise PlanError(f"interface {name}: {what} {other} is neither declared nor present on the host")


def _route_args(r: dict[str, Any], name: str) -> str:
    text = r["to"]
    if r.get("via"):
        text += f" via {r['via']}"
    text += f" dev {name}"
    if r.get("metric") is not None:
        text += f" metric {r['metric']}"
    return text


def _route_id(r: dict[str, Any]) -> tuple[str, str, int | None]:
    return (r["to"], r.get("via") or "", r.get("metric"))


def add_line(name: str, spec: "InterfaceSpec") -> str:
    t = spec.type
    if t == "bridge":
        return f"link add {name} type bridge" + (f" stp_state {int(spec.stp)}" if spec.stp is not None else "")
    if t == "veth":
        return f"link add {name} type veth peer name {spec.peer}"
    if t == "macvlan":
        return f"link add {name} link {spec.parent} type macvlan" + (f" mode {spec.mode}" if spec.mode else "")
    if t == "vlan":
        return f"link add {name} link {spec.parent} type vlan id {spec.vlan_id}"
    if t == "bond":
        return f"link add {name} type bond" + (f" mode {spec.mode}" if spec.mode else "")
    if t == "vxlan":
        text = f"link add {name} type vxlan id {spec.vni}"
        for key in ("remote", "group", "local"):
            if getattr(spec, key):
                text += f" {key} {getattr(spec, key)}"
        if spec.dstport is not None:
            text += f" dstport {spec.dstport}"
        if spec.parent:
            text += f" dev {spec.parent}"
        return text
    raise PlanError(f"interface {name}: converge never creates a {t} interface; it is not on the host")


def configure_lines(name: str, spec: "InterfaceSpec", before: dict[str, Any], fields: set[str],
                    ctx: "Context", *, new: bool = False) -> list[str]:
    """Lines that make the fields of `name` named in `fields` equal to `spec`, from `before`."""
    lines: list[str] = []
    declared = desired_specs(ctx)
    present = ctx.facts.of("interface")
    if "mtu" in fields and spec.mtu is not None:
        lines.append(f"link set dev {name} mtu {spec.mtu}")
    if "mac" in fields and spec.mac:
        lines.append(f"link set dev {name} address {spec.mac}")
    if not new and "stp" in fields and spec.stp is not None:
        lines.append(f"link set dev {name} type bridge stp_state {int(spec.stp)}")
    if not new and "mode" in fields and spec.mode and spec.type == "macvlan":
        lines.append(f"link set dev {name} type macvlan mode {spec.mode}")
    members_before = list(before.get("members") or [])
    reup = False  # a bond that was up goes down for a mode change and comes back up
    if not new and "mode" in fields and spec.mode and spec.type == "bond":
        # the kernel changes a bond's mode only while it is down and has no members
        lines += [f"link set dev {m} nomaster" for m in members_before]
        lines += [f"link set dev {name} down", f"link set dev {name} type bond mode {spec.mode}"]
        members_before, fields = [], fields | {"members", "state"}
        # down drops the bond's routes and IPv6 addresses (the kernel does): they are re-added
        reup = before.get("state") == "up"
        before = dict(before, state="down", routes=[], gateway=None,
                      addresses=[a for a in before.get("addresses") or [] if ":" not in a])
        fields = fields | {"addresses", "routes", "gateway"}

    for key, prefix in (("ports", ""), ("members", "down")):
        wanted = getattr(spec, key)
        if key not in fields or wanted is None:
            continue
        had = members_before if key == "members" else list(before.get("ports") or [])
        for p in sorted(set(had) - set(wanted)):
            # a port converge is about to delete leaves the bridge with it
            if p in declared or not _will_be_deleted(p, present, declared):
                lines.append(f"link set dev {p} nomaster")
        for p in sorted(set(wanted) - set(had)):
            if prefix:  # a bond takes members only while they are down
                lines.append(f"link set dev {p} down")
            lines.append(f"link set dev {p} master {name}")
            port_spec = declared.get(p)
            if port_spec is None or port_spec.state != "down":
                lines.append(f"link set dev {p} up")

    was_up = before.get("state") == "up"
    # routes and the gateway need the link up: bring it up when its state is not declared
    needs_up = spec.state == "up" or (spec.state is None and (reup or bool(spec.routes or spec.gateway)))
    going_up = needs_up and not was_up and ("state" in fields or bool({"routes", "gateway"} & fields) or new)
    if going_up:
        lines.append(f"link set dev {name} up")

    # Going up (or just created): routes and IPv6 addresses vanished while the link was down,
    # so every declared one is (re-)applied with `replace`, which is idempotent. Routes go before
    # the addresses they use: the kernel drops a route with its address, and a later `route del`
    # of it would fail the whole batch (network/merge.py also puts every removal first across links).
    removals: list[str] = []
    additions: list[str] = []
    if spec.routes is not None and ("routes" in fields or going_up):
        have_r = {_route_id(r): r for r in before.get("routes") or []}
        want_r = {_route_id(r): r for r in (r.model_dump(mode="json") for r in spec.routes)}
        for key in sorted(set(have_r) - set(want_r), key=str):
            removals.append("route del " + _route_args(have_r[key], name))
        for key, r in sorted(want_r.items(), key=lambda kv: str(kv[0])):
            if key not in have_r or going_up:
                additions.append("route replace " + _route_args(r, name))
    if "gateway" in fields or (going_up and spec.gateway):
        old = before.get("gateway")
        if old and old != spec.gateway and not going_up:
            removals.append(f"route del default via {old} dev {name}")
        if spec.gateway:
            additions.append(f"route replace default via {spec.gateway} dev {name}")
    lines += removals
    if spec.addresses is not None and ("addresses" in fields or going_up):
        have = set(before.get("addresses") or [])
        for a in sorted(have - set(spec.addresses)):
            lines.append(f"address del {a} dev {name}")
        for a in spec.addresses:
            if a not in have or (going_up and ":" in a):
                lines.append(f"address replace {a} dev {name}")
    lines += additions
    if "state" in fields and spec.state == "down" and (was_up or new):
        lines.append(f"link set dev {name} down")
    return lines


def _will_be_deleted(name: str, present: dict[str, Observed], declared: dict[str, Any]) -> bool:
    obs = present.get(name)
    return obs is not None and obs.managed and name not in declared and bool(obs.info.get("created"))


def delete_lines(name: str, observed: Observed, ctx: "Context") -> list[str]:
    """A link converge created is deleted; anything else (a NIC, an adopted bridge) is left as is."""
    if observed.spec.get("type") == "physical" or not observed.info.get("created"):
        return []
    peer = observed.spec.get("peer")
    if observed.spec.get("type") == "veth" and peer:
        declared = desired_specs(ctx)
        if peer in declared:
            raise PlanError(f"interface {name} is one end of a veth pair whose other end {peer} is still "
                            "declared; deleting it deletes both: remove both from the manifests, or neither")
        # both ends go: deleting one deletes the pair, so only the first name deletes it
        if peer < name and _will_be_deleted(peer, ctx.facts.of("interface"), declared):
            return []
    return [f"link del dev {name}"]
