"""Checks across declared interfaces, before anything runs: a port in two bridges, the same
address twice, overlapping networks on different links, a gateway no address can reach,
routes on a link declared down."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .spec import InterfaceSpec

MODES = {"macvlan": ("bridge", "private", "vepa", "passthru", "source"),
         "bond": ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb",
                  "balance-alb")}
Problem = tuple[str, str, str]  # (name, field path, message)


def check_set(specs: dict[str, "InterfaceSpec"]) -> list[Problem]:
    problems: list[Problem] = []
    problems += _masters(specs)
    problems += _addresses(specs)
    for name, spec in sorted(specs.items()):
        problems += _one(name, spec)
    return problems


def _masters(specs: dict[str, "InterfaceSpec"]) -> list[Problem]:
    out: list[Problem] = []
    owner: dict[str, str] = {}
    for name, spec in sorted(specs.items()):
        for field, links in (("ports", spec.ports or []), ("members", spec.members or [])):
            for link in links:
                if link in owner:
                    out.append((name, field, f"{link} is already a port/member of {owner[link]}: "
                                             "a link has one master"))
                else:
                    owner[link] = name
                if link in specs and specs[link].addresses:
                    out.append((link, "addresses", f"{link} is a port/member of {name}: put its addresses "
                                                   f"on {name}"))
    return out


def _addresses(specs: dict[str, "InterfaceSpec"]) -> list[Problem]:
    out: list[Problem] = []
    seen: list[tuple[str, Any]] = []
    for name, spec in sorted(specs.items()):
        for text in spec.addresses or []:
            iface = ipaddress.ip_interface(text)
            for other, prev in seen:
                if prev.version != iface.version:
                    continue
                if prev.ip == iface.ip:
                    out.append((name, "addresses", f"{iface.ip} is declared twice ({other} and {name})"))
                elif other != name and prev.network.overlaps(iface.network):
                    out.append((name, "addresses", f"{iface} overlaps {prev} on {other}: one network, one link"))
            seen.append((name, iface))
    return out


NEEDS = {"macvlan": ("parent", "the link it sits on"), "vlan": ("parent", "the link it sits on"),
         "veth": ("peer", "the name of its other end"), "bond": ("members", "the links it bonds")}


def _one(name: str, spec: "InterfaceSpec") -> list[Problem]:
    out: list[Problem] = []
    need = NEEDS.get(spec.type)
    if need and not getattr(spec, need[0]):
        out.append((name, "", f"a {spec.type} interface needs {need[0]}: {need[1]}"))
    for field, what, kind in (("vlan_id", "1-4094", "vlan"), ("vni", "0-16777215", "vxlan")):
        if spec.type == kind and getattr(spec, field) is None:
            out.append((name, "", f"a {kind} interface needs {field} ({what})"))
    nets = [ipaddress.ip_interface(a).network for a in spec.addresses or []]
    if spec.gateway and not spec.dhcp:
        gw = ipaddress.ip_address(spec.gateway)
        if not gw.is_link_local and not any(gw.version == n.version and gw in n for n in nets):
            out.append((name, "gateway", f"gateway {gw} is outside every address's network "
                                         f"({', '.join(map(str, nets)) or 'no addresses'})"))
    for i, r in enumerate(spec.routes or []):
        if r.via and not spec.dhcp:
            via = ipaddress.ip_address(r.via)
            if not via.is_link_local and not any(via.version == n.version and via in n for n in nets):
                out.append((name, f"routes.{i}.via", f"{via} is outside every address's network of {name}"))
        if r.via and ipaddress.ip_network(r.to).version != ipaddress.ip_address(r.via).version:
            out.append((name, f"routes.{i}", f"route to {r.to} via {r.via} mixes IPv4 and IPv6"))
    if spec.state == "down":
        v6 = [a for a in spec.addresses or [] if ":" in a]
        if spec.routes or spec.gateway or v6:
            out.append((name, "state", "a link that is down keeps no routes, gateway or IPv6 addresses "
                                       "(the kernel removes them): declare state up or drop them"))
    if spec.type == "vxlan" and spec.remote and spec.group:
        out.append((name, "group", "a vxlan has a remote or a multicast group, not both"))
    if spec.type == "vxlan" and spec.group and not spec.parent:
        out.append((name, "parent", "a multicast vxlan (group) needs parent: the link to send on"))
    if spec.type == "veth" and spec.peer == name:
        out.append((name, "peer", "a veth's peer is another name"))
    modes = MODES.get(spec.type)
    if spec.mode and modes is None:
        out.append((name, "mode", f"a {spec.type} interface has no mode (macvlan and bond do)"))
    elif spec.mode and spec.mode not in modes:
        out.append((name, "mode", f"{spec.mode!r} is not a {spec.type} mode: {', '.join(modes)}"))
    return out
