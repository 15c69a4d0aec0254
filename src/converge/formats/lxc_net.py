"""An LXC config's NICs (`lxc.net.N.*`), cpusets and description comments: the parts of
lxc.container.conf(5) beyond plain `key = value` fields, written and read back by formats/lxc.py.

A NIC list is `[{name, bridge, ip, gateway, ip6, gateway6, hwaddr}]`; the older single-string
form (`none`, `host`, `bridge` for lxcbr0, or a bridge's name) stays what it was: one veth on
that link, or no NIC (`empty`), or the host's network (`none`)."""

from __future__ import annotations

from typing import Any

DESCRIPTION = "#converge.description = "  # one comment line per line of the description


def nic_lines(network: Any) -> list[str]:
    """The `lxc.net.N.*` lines of a spec's network (a string or a list of NIC models/dicts)."""
    if network is None:
        return []
    if isinstance(network, str):
        if network in ("none", "host"):
            return ["lxc.net.0.type = " + ("empty" if network == "none" else "none")]
        link = "lxcbr0" if network == "bridge" else network
        return ["lxc.net.0.type = veth", f"lxc.net.0.link = {link}", "lxc.net.0.flags = up"]
    if not network:
        return ["lxc.net.0.type = empty"]
    lines = []
    for i, nic in enumerate(network):
        n = nic if isinstance(nic, dict) else nic.model_dump()
        p = f"lxc.net.{i}."
        lines += [f"{p}type = veth", f"{p}link = {n['bridge']}", f"{p}flags = up", f"{p}name = {n['name']}"]
        if n.get("hwaddr"):
            lines.append(f"{p}hwaddr = {n['hwaddr']}")
        if "/" in n.get("ip", "dhcp"):
            lines.append(f"{p}ipv4.address = {n['ip']}")
        if n.get("gateway"):
            lines.append(f"{p}ipv4.gateway = {n['gateway']}")
        if "/" in n.get("ip6", "auto"):
            lines.append(f"{p}ipv6.address = {n['ip6']}")
        if n.get("gateway6"):
            lines.append(f"{p}ipv6.gateway = {n['gateway6']}")
    return lines


def nics_from_keys(net: dict[int, dict[str, str]]) -> list[dict[str, Any]]:
    """`lxc.net.N.KEY = VALUE` grouped by N -> the NIC list (veth NICs; `empty` is no NIC)."""
    out = []
    for i in sorted(net):
        keys = net[i]
        if keys.get("type") != "veth":
            continue
        nic = {"name": keys.get("name", f"eth{i}"), "bridge": keys.get("link", "lxcbr0"),
               "ip": keys.get("ipv4.address", "dhcp"), "ip6": keys.get("ipv6.address", "auto"),
               "gateway": keys.get("ipv4.gateway"), "gateway6": keys.get("ipv6.gateway"),
               "hwaddr": keys.get("hwaddr", "").lower() or None}
        out.append({k: v for k, v in nic.items() if v is not None})
    return out


def network_from_keys(net: dict[int, dict[str, str]]) -> str | list[dict[str, Any]] | None:
    """The string form where one plain NIC (or none) says it all, else the NIC list."""
    first = net.get(0, {})
    kind = first.get("type")
    if kind is None:
        return None
    if len(net) == 1 and kind in ("empty", "none"):
        return "none" if kind == "empty" else "host"
    if len(net) == 1 and kind == "veth" and set(first) <= {"type", "link", "flags"}:
        return "bridge" if first.get("link") == "lxcbr0" else first.get("link")
    return nics_from_keys(net)


def cpu_list(cores: int) -> str:
    """The first N CPUs, as cpuset.cpus spells them."""
    return "0" if cores == 1 else f"0-{cores - 1}"


def count_cpus(value: str) -> int | None:
    """`0-3,6` -> 5; None for what is no cpu list."""
    total = 0
    for part in value.strip().split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            return None
        total += (int(high) - int(low) + 1) if high else 1
    return total or None


def description_lines(description: str | None) -> list[str]:
    return [DESCRIPTION + line for line in description.split("\n")] if description is not None else []


def description_of(text: str) -> str | None:
    lines = [line[len(DESCRIPTION):] for line in text.splitlines() if line.startswith(DESCRIPTION)]
    return "\n".join(line.rstrip() for line in lines) if lines else None
