"""The interface kind's spec: what the kind, its batch merge, its persisted files and the
rollback watchdog all build on, so none of them imports the kind."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

from ...types import IPAddress, Network, OnOff, SortedStrs, matching, parse_interface_address
from ..base import Spec

IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14}")


def default_metric(network: str) -> int:
    return 1024 if ":" in network else 0


class Route(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
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
    mac: str | None = Field(None, pattern=r"^([0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$",
                     description="e.g. 02:00:00:00:00:01 (read back in lowercase)")
    state: Literal["up", "down"] | None = None
    dhcp: OnOff | None = None

    @field_validator("mac", mode="before")
    @classmethod
    def _mac_lower(cls, v: object) -> object:
        return v.lower().replace("-", ":") if isinstance(v, str) else v

    @field_validator("addresses", mode="before")
    @classmethod
    def _addresses(cls, v: object) -> object:
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
            matching(IFNAME, name, "an interface name (up to 15 letters, digits, '_', '.', '-')")
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


def links_needed(spec: InterfaceSpec) -> list[str]:
    """The links this one needs first: its ports, members and parent. A veth's peer is created
    with it, so it is none (the batch merge orders declared pairs)."""
    return list(spec.ports or []) + list(spec.members or []) + ([spec.parent] if spec.parent else [])
