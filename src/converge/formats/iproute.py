"""`ip -j` JSON of iproute2 (shapes recorded from iproute2 6.1, tests/fixtures/ip/): links, addresses
and routes of a host, parsed into per-interface dicts in the shape of the interface spec (before
its validation). Pure: the interface kind reads a host with it, on a real host and the simulated one."""

from __future__ import annotations

from typing import Any

# Kinds converge creates; any other link (a NIC, tun, wireguard, dummy...) is "physical":
# configured, never created or deleted.
VIRTUAL = ("bridge", "veth", "macvlan", "vxlan", "vlan", "bond")
# Routes converge manages: static ones (no protocol = boot, or static). Kernel, DHCP and RA
# routes belong to the kernel or to a daemon.
STATIC_PROTOCOLS = (None, "boot", "static")


def _host_net(dst: str) -> str:
    """`ip -j route` prints host routes without a prefix (10.5.5.5): give them one."""
    if dst == "default" or "/" in dst:
        return dst
    return dst + ("/128" if ":" in dst else "/32")


def parse(links: list[dict[str, Any]], addrs: list[dict[str, Any]],
          routes: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """name -> (raw spec dict, info dict). The spec dict still goes through InterfaceSpec."""
    by_name = {lk["ifname"]: lk for lk in links if lk.get("link_type") != "loopback" and "ifname" in lk}
    out: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for name, lk in by_name.items():
        info_block = lk.get("linkinfo") or {}
        kind = info_block.get("info_kind", "")
        data = info_block.get("info_data") or {}
        t = kind if kind in VIRTUAL else "physical"
        if "link_netnsid" in lk and t in ("veth", "macvlan", "vlan"):
            # its peer/parent lives in another namespace: converge cannot re-create it as
            # declared, so it is an existing link to configure, like a NIC
            t = "physical"
        spec: dict[str, Any] = {"type": t, "mtu": lk.get("mtu"), "state": "up" if "UP" in lk.get("flags", []) else "down"}
        if lk.get("address") and lk.get("link_type") == "ether":
            spec["mac"] = lk["address"]
        if t == "bridge":
            spec["stp"] = bool(data.get("stp_state", 0))
            spec["ports"] = sorted(n for n, o in by_name.items() if o.get("master") == name)
        elif t == "bond":
            spec["members"] = sorted(n for n, o in by_name.items() if o.get("master") == name)
            if data.get("mode"):
                spec["mode"] = data["mode"]
        elif t == "veth":
            if lk.get("link"):
                spec["peer"] = lk["link"]
        elif t in ("macvlan", "vlan"):
            if lk.get("link"):
                spec["parent"] = lk["link"]
            if t == "macvlan" and data.get("mode"):
                spec["mode"] = data["mode"]
            if t == "vlan" and "id" in data:
                spec["vlan_id"] = data["id"]
        elif t == "vxlan":
            spec["vni"] = data.get("id")
            for key in ("remote", "group", "local"):
                if data.get(key):
                    spec[key] = data[key]
            if data.get("link"):
                spec["parent"] = data["link"]
            if data.get("port") is not None:
                spec["dstport"] = data["port"]
        info = {"ifindex": lk.get("ifindex"), "kind": kind, "operstate": lk.get("operstate", ""),
                "master": lk.get("master", "")}
        out[name] = (spec, info)

    for entry in addrs:
        name = entry.get("ifname")
        if name not in out:
            continue
        found = []
        for a in entry.get("addr_info", []):
            # link-local and DHCP/SLAAC (dynamic) addresses are the kernel's or a daemon's, not ours
            if a.get("scope") == "link" or a.get("dynamic") or "local" not in a:
                continue
            found.append(f"{a['local']}/{a['prefixlen']}")
        out[name][0]["addresses"] = found

    for name in out:
        out[name][0]["routes"] = []
    for r in routes:
        if r.get("type", "unicast") != "unicast" or r.get("table", "main") != "main":
            continue
        dev = r.get("dev")
        if dev not in out or r.get("protocol") not in STATIC_PROTOCOLS or "nexthops" in r:
            continue
        spec = out[dev][0]
        if r["dst"] == "default":
            # one gateway per link: IPv4 wins over IPv6 when both exist
            if "gateway" in r and (not spec.get("gateway") or ":" in spec["gateway"]):
                spec["gateway"] = r["gateway"]
            continue
        route: dict[str, Any] = {"to": _host_net(r["dst"])}
        if r.get("gateway"):
            route["via"] = r["gateway"]
        if r.get("metric") is not None:
            route["metric"] = r["metric"]
        spec["routes"].append(route)
    return out
