"""Kind `interface`: a network link configured with iproute2 and persisted for reboot."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from ...errors import PlanError
from ...formats.iproute import parse
from ...model import Change, FieldDiff, Observed, Ref, Step
from ...types import IPAddress, Network, OnOff, SortedStrs
from ..base import Context, Kind, Spec, record_managed
from . import persist as persist
from .check import check_set
from .merge import merge_changes
from .read import normal_form, run_reads
from .steps import add_line, batch_step, check_links, configure_lines, delete_lines, desired_specs

IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}")


def default_metric(network: str) -> int:
    return 1024 if ":" in network else 0


class Route(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: Network
    via: IPAddress | None = None
    metric: int | None = Field(None, ge=0, le=4294967295)

    @model_validator(mode="after")
    def _default_metric(self) -> "Route":
        # the kernel's default metric (0 for IPv4, 1024 for IPv6) is the same route as no metric
        if self.metric == default_metric(self.to):
            self.metric = None
        return self

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: Any) -> Any:
        # A route's unset via/metric is absent on both sides (manifest and `ip -j route`), so the
        # planner's whole-list comparison never sees `metric: null` against a missing key.
        return {k: v for k, v in handler(self).items() if v is not None}


def _route_key(r: Any) -> tuple[str, str, int]:
    d = r if isinstance(r, dict) else r.model_dump() if isinstance(r, BaseModel) else {}
    return (str(d.get("to", "")), str(d.get("via") or ""), int(d.get("metric") or 0))


class InterfaceSpec(Spec):
    type: Literal["physical", "bridge", "veth", "macvlan", "vxlan", "vlan", "bond"] = "physical"
    ports: SortedStrs | None = Field(None, description="bridge: member links")
    stp: OnOff | None = None
    peer: str | None = Field(None, description="veth: name of the other end")
    parent: str | None = Field(None, description="macvlan/vlan/vxlan: the lower link")
    mode: str | None = Field(None, description="macvlan: bridge/private/vepa/passthru; bond: 802.3ad, active-backup, ...")
    vlan_id: int | None = Field(None, ge=1, le=4094)
    vni: int | None = Field(None, ge=0, le=16777215, description="vxlan: id")
    remote: IPAddress | None = None
    group: IPAddress | None = None
    local: IPAddress | None = None
    dstport: int | None = Field(None, ge=1, le=65535)
    members: SortedStrs | None = Field(None, description="bond: member links")
    addresses: SortedStrs | None = None
    gateway: IPAddress | None = None
    routes: list[Route] | None = None
    mtu: int | None = Field(None, ge=68, le=65535)
    mac: str | None = Field(None, pattern=r"^([0-9a-f]{2}:){5}[0-9a-f]{2}$")
    state: Literal["up", "down"] | None = None
    dhcp: OnOff | None = None

    @field_validator("mac", mode="before")
    @classmethod
    def _mac_lower(cls, v: object) -> object:
        return v.lower().replace("-", ":") if isinstance(v, str) else v

    @field_validator("addresses", mode="before")
    @classmethod
    def _addresses(cls, v: object) -> object:
        from ...types import parse_interface_address

        if isinstance(v, list):
            return [parse_interface_address(a) for a in v]
        return v

    @field_validator("routes", mode="after")
    @classmethod
    def _routes_sorted(cls, v: list[Route] | None) -> list[Route] | None:
        # lists are compared whole: one order on both sides
        return sorted(v, key=_route_key) if v is not None else v

    @field_validator("ports", "members", "peer", "parent")
    @classmethod
    def _link_names(cls, v: object) -> object:
        for name in v if isinstance(v, list) else ([v] if v else []):
            if not IFNAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an interface name (up to 15 letters, digits, '_', '.', '-')")
        return v

    @model_validator(mode="after")
    def _type_fields(self) -> "InterfaceSpec":
        # what a kind needs (a vlan's parent...) is checked on manifests by network/check.py: a host
        # may hold a veth whose peer, or a macvlan whose parent, sits in another namespace
        if self.ports and self.type != "bridge":
            raise ValueError("only a bridge has ports")
        if self.members and self.type != "bond":
            raise ValueError("only a bond has members")
        return self


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
        # a veth's peer is created with it, so it is no dependency (finalize orders declared pairs)
        names = list(spec.ports or []) + list(spec.members or []) + ([spec.parent] if spec.parent else [])
        return [Ref(kind="interface", name=n) for n in names]

    def validate_set(self, specs: dict[str, InterfaceSpec], desired: Any) -> list[tuple[str, str, str]]:
        return check_set(specs)

    # -- host ----------------------------------------------------------------------------
    def read(self, ctx: Context) -> dict[str, Observed]:
        links, addrs, routes = run_reads(ctx.host)
        net_files = persist.backend(ctx) == "networkd"
        out: dict[str, Observed] = {}
        for name, (raw, info) in parse(links, addrs, routes).items():
            ref = self.ref(name)
            if net_files:
                dhcp = persist.dhcp_from(ctx.host.read_file(persist.paths(name, ctx)[1]))
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

    def finalize(self, changes: list[Change], ctx: Context) -> None:
        merge_changes(changes, ctx)


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
