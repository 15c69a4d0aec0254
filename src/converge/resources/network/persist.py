"""Persisted network config, so a reboot brings back what converge applied.

Default backend: systemd-networkd, one `converge-NAME.netdev` (virtual links) and one
`converge-NAME.network` per link under /etc/systemd/network, rendered with Jinja2 from the
whole desired set (a port's file names its bridge, a parent's file names its macvlans).
Settings (`settings: interface:` in converge.yaml): `persist: networkd | none`,
`networkd_dir: /etc/systemd/network`."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ...errors import PlanError
from ...model import Step
from ...rendering import render as render_template
from .spec import InterfaceSpec
from .steps import desired_specs

if TYPE_CHECKING:
    from ..base import Context
PREFIX = "converge-"
DEFAULT_DIR = "/etc/systemd/network"
BACKENDS = ("networkd", "none")
_CHILD_KEY = {"macvlan": "MACVLAN", "vlan": "VLAN", "vxlan": "VXLAN"}
_DHCP = re.compile(r"^\s*DHCP\s*=\s*(yes|true|on|ipv4|ipv6|1)\s*$", re.IGNORECASE | re.MULTILINE)


def backend(ctx: "Context") -> str:
    value = ctx.kind_settings("interface").get("persist", "networkd")
    if value not in BACKENDS:
        raise PlanError(f"settings.interface.persist: {value!r} is not one of {', '.join(BACKENDS)}")
    return str(value)


def directory(ctx: "Context") -> str:
    return str(ctx.kind_settings("interface").get("networkd_dir", DEFAULT_DIR)).rstrip("/")


def paths(name: str, ctx: "Context") -> tuple[str, str]:
    base = f"{directory(ctx)}/{PREFIX}{name}"
    return base + ".netdev", base + ".network"


def dhcp_from(text: str | None) -> bool | None:
    """What a persisted .network says about DHCP (the runtime has no trace of it)."""
    if text is None:
        return None
    return bool(_DHCP.search(text))


def render(specs: dict[str, "InterfaceSpec"]) -> dict[str, str]:
    """name -> file text for every declared link, plus a .network for undeclared bridge ports and
    bond members (they carry nothing but their master). Undeclared parents get no file: their
    config may come from elsewhere (DHCP on the admin NIC) and converge does not override it."""
    masters: dict[str, tuple[str, str]] = {}
    children: dict[str, list[tuple[str, str]]] = {}
    for name, spec in specs.items():
        for port in spec.ports or []:
            masters[port] = ("Bridge", name)
        for member in spec.members or []:
            masters[member] = ("Bond", name)
        if spec.parent and spec.type in _CHILD_KEY:
            children.setdefault(spec.parent, []).append((_CHILD_KEY[spec.type], name))
    out: dict[str, str] = {}
    for name in sorted(set(specs) | set(masters)):
        spec = specs.get(name) or InterfaceSpec(type="physical")
        master_kind, master = masters.get(name, ("", ""))
        peer = specs.get(spec.peer or "")
        made_by_peer = spec.type == "veth" and peer is not None and peer.peer == name and spec.peer < name
        if spec.type != "physical" and not made_by_peer:  # one .netdev per veth pair
            out[f"{name}.netdev"] = render_template("networkd.netdev.j2", name=name, spec=spec)
        out[f"{name}.network"] = render_template("networkd.network.j2",
            name=name, spec=spec, master=master, master_kind=master_kind, children=sorted(children.get(name, [])))
    return out


def persist_steps(ctx: "Context", deleted: list[str]) -> list[Step]:
    """Write the files that differ from the host's, remove those of deleted links."""
    if backend(ctx) == "none":
        return []
    base = directory(ctx)
    steps: list[Step] = []
    rendered = render(desired_specs(ctx))
    for fname, text in rendered.items():
        path = f"{base}/{PREFIX}{fname}"
        if ctx.file(path) != text:
            steps.append(Step(op="write", path=path, content=text, note="persist for reboot (systemd-networkd)"))
    for name in sorted(deleted):
        for path in paths(name, ctx):
            if os.path.basename(path)[len(PREFIX):] not in rendered:
                steps.append(Step(op="remove", path=path, note="no longer declared"))
    return steps

