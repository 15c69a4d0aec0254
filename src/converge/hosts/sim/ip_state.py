"""The simulated kernel's links, for the `ip` emulator: kept as the kernel keeps them (links with
their kind data, master, addresses and routes) in the sim host's state (`sim["ip_links"]`), and
rendered as real `ip -j` JSON (shapes recorded from iproute2 6.1, see tests/fixtures/ip/). The
interface kind reads them back through its own parser, as on a real host.

sim["links"] seeds physical NICs on first use: a list of names, or name -> {mac, mtu}."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import asdict, dataclass, field
from typing import Any

from ...model import Observed

KINDS = ("bridge", "veth", "macvlan", "vxlan", "vlan", "bond")


@dataclass
class Link:
    name: str
    ifindex: int
    kind: str = ""  # "" = a NIC (physical)
    mtu: int = 1500
    mac: str = ""
    up: bool = False
    master: str = ""
    link: str = ""  # macvlan/vlan parent, veth peer
    data: dict[str, Any] = field(default_factory=dict)  # info_data: stp_state, mode, id, remote, group, local, port, link
    addrs: list[str] = field(default_factory=list)
    routes: list[dict[str, Any]] = field(default_factory=list)  # {to, via?, metric?}; to "default" = gateway
    managed: bool = False
    protected: bool = False


def mac_for(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()
    return ":".join(f"{b:02x}" for b in (0x02,) + tuple(digest[:5]))


def load(facts: Any) -> dict[str, Link]:
    links: dict[str, Link] = {}
    seeds = facts.sim.get("links") or []
    seeds = {n: {} for n in seeds} if isinstance(seeds, list) else dict(seeds)
    for name, stored in facts.sim.get("ip_links", {}).items():
        links[name] = Link(**stored)
    old: dict[str, Observed] = facts.resources.get("interface", {})  # a state file of an older converge
    for i, (name, obs) in enumerate(sorted(old.items()), start=1):
        links.setdefault(name, _from_observed(name, obs, int(obs.info.get("ifindex") or 0) or 100 + i))
    for name, seed in sorted(seeds.items()):
        if name not in links:
            links[name] = Link(name=name, ifindex=next_index(links), mac=(seed or {}).get("mac") or mac_for(name),
                               mtu=int((seed or {}).get("mtu", 1500)))
    for lk in links.values():  # masters are stored on the bridge/bond side of an older state file
        for port in lk.data.pop("_ports", []):
            if port in links:
                links[port].master = lk.name
    return links


def next_index(links: dict[str, Link]) -> int:
    return max([1] + [lk.ifindex for lk in links.values()]) + 1


def _from_observed(name: str, obs: Observed, ifindex: int) -> Link:
    s = obs.spec
    t = s.get("type", "physical")
    kind = t if t in KINDS else ""
    lk = Link(name=name, ifindex=ifindex, kind=kind, mtu=s.get("mtu", 1500), mac=s.get("mac") or mac_for(name),
              up=s.get("state") == "up", managed=obs.managed, protected=obs.protected,
              addrs=list(s.get("addresses", [])), routes=[dict(r) for r in s.get("routes", [])])
    if s.get("gateway"):
        lk.routes.append({"to": "default", "via": s["gateway"]})
    if t == "bridge":
        lk.data = {"stp_state": int(bool(s.get("stp"))), "_ports": list(s.get("ports", []))}
    elif t == "bond":
        lk.data = {"mode": s.get("mode", "balance-rr"), "_ports": list(s.get("members", []))}
    elif t == "veth":
        lk.link = s.get("peer", "")
    elif t in ("macvlan", "vlan"):
        lk.link = s.get("parent", "")
        lk.data = {"mode": s.get("mode", "vepa")} if t == "macvlan" else {"id": s.get("vlan_id")}
    elif t == "vxlan":
        lk.data = {k: s[k] for k in ("remote", "group", "local") if s.get(k)}
        lk.data.update(id=s.get("vni"), port=s.get("dstport", 8472))
        if s.get("parent"):
            lk.data["link"] = s["parent"]
    return lk


def save(facts: Any, links: dict[str, Link]) -> None:
    facts.sim["ip_links"] = {name: asdict(lk) for name, lk in sorted(links.items())}
    facts.resources.pop("interface", None)


def _flags(lk: Link) -> list[str]:
    return ["BROADCAST", "MULTICAST"] + (["UP", "LOWER_UP"] if lk.up else [])


def render_links(links: dict[str, Link]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"ifindex": 1, "ifname": "lo", "flags": ["LOOPBACK", "UP", "LOWER_UP"], "mtu": 65536,
                                  "qdisc": "noqueue", "operstate": "UNKNOWN", "linkmode": "DEFAULT", "group": "default",
                                  "txqlen": 1000, "link_type": "loopback", "address": "00:00:00:00:00:00",
                                  "broadcast": "00:00:00:00:00:00"}]
    for lk in sorted(links.values(), key=lambda x: x.ifindex):
        entry: dict[str, Any] = {"ifindex": lk.ifindex}
        if lk.link:
            entry["link"] = lk.link
        entry.update(ifname=lk.name, flags=_flags(lk), mtu=lk.mtu, qdisc="noqueue" if lk.up else "noop")
        if lk.master:
            entry["master"] = lk.master
        entry.update(operstate="UP" if lk.up else "DOWN", linkmode="DEFAULT", group="default", txqlen=1000,
                     link_type="ether", address=lk.mac, broadcast="ff:ff:ff:ff:ff:ff", min_mtu=68, max_mtu=65535)
        if lk.kind:
            info: dict[str, Any] = {"info_kind": lk.kind}
            data = {k: v for k, v in lk.data.items() if not k.startswith("_")}
            if data:
                info["info_data"] = data
            if lk.master and lk.master in links:
                info["info_slave_kind"] = links[lk.master].kind
            entry["linkinfo"] = info
        out.append(entry)
    return out


def link_local(lk: Link) -> str:
    b = bytes(int(x, 16) for x in lk.mac.split(":"))
    eui = bytes([b[0] ^ 2]) + b[1:3] + b"\xff\xfe" + b[3:]
    return str(ipaddress.IPv6Address(b"\xfe\x80" + b"\x00" * 6 + eui))


def render_addrs(links: dict[str, Link]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for entry in render_links(links):
        lk = links.get(entry["ifname"])
        info = []
        for a in lk.addrs if lk else []:
            iface = ipaddress.ip_interface(a)
            item = {"family": "inet" if iface.version == 4 else "inet6", "local": str(iface.ip),
                    "prefixlen": iface.network.prefixlen, "scope": "global"}
            if iface.version == 4:
                item["label"] = lk.name
            info.append(dict(item, valid_life_time=4294967295, preferred_life_time=4294967295))
        if lk and lk.up:
            info.append({"family": "inet6", "local": link_local(lk), "prefixlen": 64, "scope": "link",
                         "valid_life_time": 4294967295, "preferred_life_time": 4294967295})
        keep = ("ifindex", "link", "ifname", "flags", "mtu", "qdisc", "master", "operstate", "group", "txqlen",
                "link_type", "address", "broadcast")
        out.append(dict({k: entry[k] for k in keep if k in entry}, addr_info=info))
    return out


def render_routes(links: dict[str, Link]) -> list[dict[str, Any]]:
    """`ip -j route show table all`: main-table unicast routes of both families, local entries."""
    out: list[dict[str, Any]] = []
    for lk in sorted(links.values(), key=lambda x: x.ifindex):
        if not lk.up:
            continue
        for r in lk.routes:
            v6 = ":" in (r.get("via") or r["to"])
            e: dict[str, Any] = {"dst": r["to"] if r["to"] == "default" or not _is_host(r["to"]) else r["to"].split("/")[0]}
            if r.get("via"):
                e["gateway"] = r["via"]
            e["dev"] = lk.name
            if r.get("metric") is not None or v6:
                e["metric"] = r.get("metric") if r.get("metric") is not None else 1024
            e["flags"] = []
            out.append(e)
        for a in lk.addrs:
            iface = ipaddress.ip_interface(a)
            if iface.version == 4:
                out.append({"dst": str(iface.network), "dev": lk.name, "protocol": "kernel", "scope": "link",
                            "prefsrc": str(iface.ip), "flags": []})
                out.append({"type": "local", "dst": str(iface.ip), "dev": lk.name, "table": "local",
                            "protocol": "kernel", "scope": "host", "prefsrc": str(iface.ip), "flags": []})
            else:
                out.append({"dst": str(iface.network), "dev": lk.name, "protocol": "kernel", "metric": 256,
                            "flags": [], "pref": "medium"})
        out.append({"dst": "fe80::/64", "dev": lk.name, "protocol": "kernel", "metric": 256, "flags": [],
                    "pref": "medium"})
    return out


def _is_host(net: str) -> bool:
    n = ipaddress.ip_network(net)
    return n.prefixlen == n.max_prefixlen
