"""Kind `interface`: a network link configured with iproute2 and persisted for reboot."""

from __future__ import annotations

from typing import Any

from ...errors import PlanError
from ...formats.iproute import parse
from ...hosts.base import read_files
from ...model import Change, FieldDiff, Observed, Ref, Step
from ..base import Context, Joint, Kind, record_managed
from . import persist as persist
from .check import check_set
from .merge import merge_changes
from .read import normal_form, run_reads
from .spec import IFNAME, InterfaceSpec, links_needed
from .steps import add_line, batch_step, check_links, configure_lines, delete_lines, desired_specs


class InterfaceKind(Kind[InterfaceSpec]):
    kind = "interface"
    section = ("interfaces",)
    spec = InterfaceSpec
    name_pattern = IFNAME
    name_allowed = "up to 15 letters, digits, '_', '.', '-', ':' (a Linux interface name)"
    name_max_length = 15  # IFNAMSIZ (16) less the kernel's NUL
    tools = ("ip",)
    # what `ip link set` cannot change on an existing link: a new link replaces it
    create_only = frozenset({"type", "peer", "parent", "vlan_id", "vni", "remote", "group", "local", "dstport"})

    def depends(self, name: str, spec: InterfaceSpec) -> list[Ref]:
        return [Ref(kind="interface", name=n) for n in links_needed(spec)]

    def validate_set(self, specs: dict[str, InterfaceSpec], desired: Any) -> list[tuple[str, str, str]]:
        return check_set(specs)

    # -- host ----------------------------------------------------------------------------
    def read(self, ctx: Context) -> dict[str, Observed]:
        links, addrs, routes = run_reads(ctx.host)
        net_files = persist.backend(ctx) == "networkd"
        out: dict[str, Observed] = {}
        parsed = parse(links, addrs, routes)
        # every link's .network file in one read (one round trip on a remote host, whatever their number)
        networks = read_files(ctx.host, [persist.paths(n, ctx)[1] for n in parsed]) if net_files else {}
        for name, (raw, info) in parsed.items():
            ref = self.ref(name)
            if net_files:
                dhcp = persist.dhcp_from(networks[persist.paths(name, ctx)[1]])
                raw["dhcp"] = bool(dhcp)
            spec, problem = normal_form(InterfaceSpec, raw, name)
            if problem:
                info["problem"] = problem
            owner = ctx.state.get("managed", {}).get(str(ref))
            info["created"] = owner == CREATED
            out[name] = Observed(spec=spec, managed=bool(owner), info=info)
        return out

    def create(self, name: str, spec: InterfaceSpec, ctx: Context) -> list[Step]:
        check_links(name, list(spec.ports or []) + list(spec.members or []) + ([spec.parent] if spec.parent else []),
                    ctx, "port/member/parent")
        lines = [] if _pair_made_by_peer(name, spec, ctx) else [add_line(name, spec)]
        lines += configure_lines(name, spec, {}, set(spec.declared()), ctx, new=True)
        return batch_step(lines, f"create {spec.type} {name}") + [_own(self.ref(name), created=True)]

    def update(self, name: str, spec: InterfaceSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        fields = {d.path.split(".")[0].split("[")[0] for d in diffs}
        check_links(name, sorted(set(spec.ports or []) | set(spec.members or [])), ctx, "port/member")
        steps = batch_step(configure_lines(name, spec, observed.spec, fields, ctx), f"configure {name}")
        if not observed.managed:
            steps.append(_own(self.ref(name), created=False))
        return steps

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return batch_step(delete_lines(name, observed, ctx), f"delete {name}") + [record_managed(self.ref(name), False)]

    def replace(self, name: str, spec: InterfaceSpec, observed: Observed, ctx: Context) -> list[Step]:
        if observed.spec.get("type") == "physical" or not observed.info.get("created"):
            raise PlanError(f"interface {name}: {_forced(spec, observed)} cannot change on an existing link, and "
                            f"converge did not create {name}, so it will not delete it; change it on the host "
                            "or declare a new name")
        lines = delete_lines(name, observed, ctx) + [add_line(name, spec)]
        lines += configure_lines(name, spec, {}, set(spec.declared()), ctx, new=True)
        return batch_step(lines, f"re-create {name}") + [_own(self.ref(name), created=True)]

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        if observed.spec.get("type") == "physical" or not observed.info.get("created"):
            return []
        out = [f"interface/{p} leaves the bridge/bond" for p in observed.spec.get("ports", []) +
               observed.spec.get("members", [])]
        if observed.spec.get("peer"):
            out.append(f"interface/{observed.spec['peer']} (the other end of the veth pair)")
        for other, obs in sorted(ctx.facts.of("interface").items()):
            if obs.spec.get("parent") == name:
                out.append(f"interface/{other} (a {obs.spec.get('type')} on it; the kernel deletes it too)")
        return out

    def joints(self, changes: list[Change], ctx: Context) -> list[Joint]:
        return merge_changes(changes, ctx)


CREATED = "created"  # state-file value: converge created the link (only those are ever deleted)


def _own(ref: Ref, created: bool) -> Step:
    """Ownership in converge's state file: True = configured (adopted), "created" = converge made it."""
    step = record_managed(ref, True)
    if created:
        step.state = {k: CREATED for k in step.state}
    return step


def _pair_made_by_peer(name: str, spec: InterfaceSpec, ctx: Context) -> bool:
    """Both ends of a veth declared: the one with the smaller name creates the pair."""
    if spec.type != "veth" or not spec.peer:
        return False
    other = desired_specs(ctx).get(spec.peer)
    return bool(other is not None and other.type == "veth" and other.peer == name and spec.peer < name
                and spec.peer not in ctx.facts.of("interface"))


def _forced(spec: InterfaceSpec, observed: Observed) -> str:
    declared = spec.declared()
    return ", ".join(sorted(k for k in InterfaceKind.create_only if k in declared and declared[k] != observed.spec.get(k)))
