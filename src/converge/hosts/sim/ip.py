"""`ip` (iproute2) on the simulated host: `-j [-d] link|addr|route show`, `-batch -`, and
link add/set/del, address add/replace/del/flush, route add/replace/del — refusing what the
kernel refuses (a port or parent that does not exist, a route through a link that is down or
a gateway no address reaches, a duplicate address), with iproute2's messages and exit codes.
Kernel side effects are kept: a link going down loses its routes and IPv6 addresses; deleting
a link deletes its veth peer and the macvlans/vlans/vxlans on it and frees its ports.

Also `setsid -f ...` (the network rollback watchdog): recorded in sim["net_guard"], not run."""

from __future__ import annotations

import ipaddress
import json
import shlex
from typing import Any

from ..base import Result
from . import fail, tool
from .ip_state import (
    KINDS,
    Link,
    link_local,
    load,
    mac_for,
    next_index,
    render_addrs,
    render_links,
    render_routes,
    save,
)


class IpError(Exception):
    def __init__(self, message: str, rc: int = 2) -> None:
        super().__init__(message)
        self.rc = rc


def _no_dev(name: str) -> IpError:
    return IpError(f'Cannot find device "{name}"', 1)


@tool("ip")
def ip(host: Any, argv: list[str], input: str | None) -> Result:
    args, opts = _options(argv[1:])
    links = load(host.facts)
    if "batch" in opts:
        if opts["batch"] != "-":
            return fail(f'Cannot open file "{opts["batch"]}" for reading: No such file or directory')
        err = ""
        for n, line in enumerate((input or "").splitlines(), start=1):
            words = shlex.split(line, comments=True)
            if not words:
                continue
            try:
                _command(links, words)
            except IpError as e:
                err = f"{e}\nCommand failed -:{n}\n"
                break
        save(host.facts, links)
        host.changed()
        return Result(1, "", err) if err else Result(0, "", "")
    if args[:1] and args[0] in ("link", "l", "address", "addr", "a", "route", "r", "ro") and \
            (len(args) == 1 or args[1] in ("show", "list", "ls", "lst")):
        return Result(0, _show(links, args, opts) + "\n", "")
    try:
        _command(links, args)
    except IpError as e:
        return fail(str(e), e.rc)
    save(host.facts, links)
    host.changed()
    return Result(0, "", "")


@tool("setsid")
def setsid(host: Any, argv: list[str], input: str | None) -> Result:
    host.facts.sim.setdefault("net_guard", []).append(argv[1:])
    host.changed()
    return Result(0, "", "")


def _options(argv: list[str]) -> tuple[list[str], dict[str, str]]:
    opts: dict[str, str] = {}
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        o = argv[i].lstrip("-")
        if o in ("batch", "b"):
            opts["batch"], i = argv[i + 1], i + 2
            continue
        opts[{"j": "json", "d": "details", "4": "4", "6": "6"}.get(o, o)] = "1"
        i += 1
    return argv[i:], opts


def _show(links: dict[str, Link], args: list[str], opts: dict[str, str]) -> str:
    obj = args[0]
    if obj in ("link", "l"):
        data = render_links(links)
        if "details" not in opts:
            for e in data:
                e.pop("linkinfo", None)
    elif obj in ("address", "addr", "a"):
        data = render_addrs(links)
    else:
        data = render_routes(links)
        rest = args[2:]
        if rest[-2:] != ["table", "all"]:
            v6 = "6" in opts
            data = [r for r in data if r.get("table", "main") == "main" and r.get("type", "unicast") == "unicast"
                    and (":" in (r.get("gateway") or r["dst"])) == v6]
    if "dev" in args:
        name = args[args.index("dev") + 1]
        if name not in links:
            raise _no_dev(name)
        data = [e for e in data if e.get("ifname", e.get("dev")) == name]
    return json.dumps(data, separators=(",", ":"))


def _command(links: dict[str, Link], words: list[str]) -> None:
    obj, verb, rest = words[0], words[1] if len(words) > 1 else "", words[2:]
    if obj in ("link", "l"):
        {"add": _link_add, "set": _link_set, "del": _link_del, "delete": _link_del}.get(verb, _unknown)(links, rest)
    elif obj in ("address", "addr", "a"):
        {"add": _addr, "replace": _addr, "del": _addr, "delete": _addr, "flush": _addr}.get(verb, _unknown)(
            links, [verb] + rest)
    elif obj in ("route", "r", "ro"):
        {"add": _route, "replace": _route, "del": _route, "delete": _route}.get(verb, _unknown)(links, [verb] + rest)
    else:
        raise IpError(f'Object "{obj}" is unknown, try "ip help".', 255)


def _unknown(links: dict[str, Link], rest: list[str]) -> None:
    raise IpError('Command "' + " ".join(rest) + '" is unknown, try "ip help".', 255)


def _pairs(words: list[str]) -> dict[str, str]:
    out, i = {}, 0
    while i < len(words):
        w = words[i]
        if w in ("up", "down", "nomaster"):
            out[w], i = "1", i + 1
        elif i + 1 < len(words):
            out[w], i = words[i + 1], i + 2
        else:
            raise IpError(f'Error: argument "{w}" is wrong: missing value', 255)
    return out


def _get(links: dict[str, Link], name: str) -> Link:
    if name not in links:
        raise _no_dev(name)
    return links[name]


def _link_add(links: dict[str, Link], rest: list[str]) -> None:
    if rest[:1] == ["name"]:
        rest = rest[1:]
    name, rest = rest[0], rest[1:]
    if "type" not in rest:
        raise IpError('Not enough information: "type" argument is required', 1)
    t = rest.index("type")
    head, kind, words = _pairs(rest[:t]), rest[t + 1], rest[t + 2:]
    # `type veth peer name X`: the peer's own arguments follow `peer`
    tail = {"name": words[2]} if kind == "veth" and words[:2] == ["peer", "name"] and len(words) > 2 else \
        _pairs(words) if kind != "veth" else {}
    if kind not in KINDS:
        raise IpError("Error: Unknown device type.", 2)
    parent = head.get("link", "")
    if parent:
        _get(links, parent)
    if name in links:
        raise IpError("RTNETLINK answers: File exists", 2)
    lk = Link(name=name, ifindex=next_index(links), kind=kind, mac=mac_for(name + str(len(links))),
              link=parent, managed=False)
    if kind in ("macvlan", "vlan") and not parent:
        raise IpError("Error: Invalid link. You must specify a link (dev) for this device type." if kind == "vlan"
                      else "RTNETLINK answers: Invalid argument", 2)
    if kind == "bridge":
        lk.data = {"stp_state": int(tail.get("stp_state", 0))}
    elif kind == "macvlan":
        lk.data = {"mode": tail.get("mode", "vepa")}
    elif kind == "vlan":
        vid = int(tail.get("id", -1))
        if not 0 <= vid <= 4094:
            raise IpError(f'Error: argument "{tail.get("id")}" is wrong: id is invalid', 255)
        lk.data = {"id": vid}
    elif kind == "bond":
        lk.data = {"mode": tail.get("mode", "balance-rr")}
    elif kind == "vxlan":
        if "id" not in tail:
            raise IpError("vxlan: missing virtual network identifier", 255)
        if tail.get("dev"):
            _get(links, tail["dev"])
        lk.data = {k: tail[k] for k in ("remote", "group", "local") if k in tail}
        lk.data.update(id=int(tail["id"]), port=int(tail.get("dstport", 8472)))
        if tail.get("dev"):
            lk.data["link"] = tail["dev"]
        lk.mtu = 1450
    elif kind == "veth":
        peer = tail.get("name", "")
        if peer in links:
            raise IpError("RTNETLINK answers: File exists", 2)
        peer = peer or f"veth{len(links)}"
        lk.link = peer
        links[name] = lk
        links[peer] = Link(name=peer, ifindex=next_index(links), kind="veth", mac=mac_for(peer + str(len(links))),
                           link=name)
        return
    links[name] = lk


def _link_set(links: dict[str, Link], rest: list[str]) -> None:
    if rest[:1] == ["dev"]:
        rest = rest[1:]
    lk = _get(links, rest[0])
    words = rest[1:]
    if "type" in words:
        t = words.index("type")
        kind, tail, words = words[t + 1], _pairs(words[t + 2:]), words[:t]
        if kind != lk.kind:
            raise IpError("RTNETLINK answers: Operation not supported", 2)
        if kind == "bond" and "mode" in tail:
            if lk.up or any(o.master == lk.name for o in links.values()):
                raise IpError("Error: option mode: unable to set because the bond device is up.", 2)
            lk.data["mode"] = tail["mode"]
        for key in ("stp_state", "mode"):
            if key in tail and kind != "bond":
                lk.data[key] = int(tail[key]) if key == "stp_state" else tail[key]
    p = _pairs(words)
    if "mtu" in p:
        mtu = int(p["mtu"])
        if mtu < 68:
            raise IpError("Error: mtu less than device minimum.", 2)
        if mtu > 65535:
            raise IpError("Error: mtu greater than device maximum.", 2)
        lk.mtu = mtu
    if "address" in p:
        lk.mac = p["address"].lower()
    if "master" in p:
        master = _get(links, p["master"])
        if master.kind not in ("bridge", "bond") or master is lk:
            raise IpError("RTNETLINK answers: Operation not supported", 2)
        if master.kind == "bond" and lk.up:
            raise IpError("Error: Device can not be enslaved while up.", 2)
        lk.master = master.name  # the kernel releases it from a previous master first
    if "nomaster" in p:
        lk.master = ""
    if "down" in p and lk.up:
        lk.up = False
        # the kernel drops routes through the link and its IPv6 addresses
        lk.routes = []
        lk.addrs = [a for a in lk.addrs if ipaddress.ip_interface(a).version == 4]
    if "up" in p:
        lk.up = True


def _link_del(links: dict[str, Link], rest: list[str]) -> None:
    if rest[:1] == ["dev"]:
        rest = rest[1:]
    lk = _get(links, rest[0])
    if not lk.kind:
        raise IpError("RTNETLINK answers: Operation not supported", 2)
    gone = {lk.name} | ({lk.link} if lk.kind == "veth" and lk.link else set())
    gone |= {o.name for o in links.values() if o.kind in ("macvlan", "vlan") and o.link in gone}
    gone |= {o.name for o in links.values() if o.kind == "vxlan" and o.data.get("link") in gone}
    for name in gone:
        links.pop(name, None)
    for o in links.values():
        if o.master in gone:
            o.master = ""


def _addr(links: dict[str, Link], words: list[str]) -> None:
    verb, rest = words[0], words[1:]
    if verb == "flush":
        lk = _get(links, _pairs(rest).get("dev", ""))
        lk.addrs = []
        return
    text, p = rest[0], _pairs(rest[1:])
    lk = _get(links, p.get("dev", ""))
    iface = ipaddress.ip_interface(text)
    value = str(iface)
    v6 = iface.version == 6
    same = [a for a in lk.addrs if ipaddress.ip_interface(a).ip == iface.ip]
    if verb == "add" and same:
        raise IpError("RTNETLINK answers: File exists" if v6 else "Error: ipv4: Address already assigned.", 2)
    if verb in ("del", "delete"):
        if not same:
            raise IpError("RTNETLINK answers: Cannot assign requested address" if v6
                          else "Error: ipv4: Address not found.", 2)
        lk.addrs.remove(same[0])
        return
    lk.addrs = [a for a in lk.addrs if a not in same] + [value]


def _route(links: dict[str, Link], words: list[str]) -> None:
    verb, to, p = words[0], words[1], _pairs(words[2:])
    lk = _get(links, p["dev"]) if "dev" in p else None
    via = p.get("via")
    dst = "default" if to == "default" else str(ipaddress.ip_network(to if "/" in to else
                                                                       to + ("/128" if ":" in to else "/32")))
    if lk is None:  # the real ip finds the link from the gateway; converge always names it
        lk = next((o for o in links.values() if via and any(ipaddress.ip_address(via) in
                                                            ipaddress.ip_interface(a).network for a in o.addrs)), None)
        if lk is None:
            raise IpError("Error: Nexthop has invalid gateway." if via else "Error: Device for nexthop is not up.", 2)
    route: dict[str, Any] = {"to": dst}
    if via:
        route["via"] = str(ipaddress.ip_address(via))
    if "metric" in p:
        route["metric"] = int(p["metric"])
    default = 1024 if ":" in (via or dst) else 0
    key = lambda r: (r["to"], r.get("metric", default) if r.get("metric") is not None else default)  # noqa: E731
    if verb in ("del", "delete"):
        match = [r for r in lk.routes if key(r) == key(route) and (not via or r.get("via") == route["via"])]
        if not match:
            raise IpError("RTNETLINK answers: No such process", 2)
        lk.routes.remove(match[0])
        return
    if not lk.up:
        raise IpError("Error: Nexthop device is not up." if via else "Error: Device for nexthop is not up.", 2)
    if via and not ipaddress.ip_address(via).is_link_local and not any(
            ipaddress.ip_address(via) in ipaddress.ip_interface(a).network for a in lk.addrs):
        raise IpError("Error: Nexthop has invalid gateway.", 2)
    existing = [r for r in lk.routes if key(r) == key(route)]
    if existing and verb == "add":
        raise IpError("RTNETLINK answers: File exists", 2)
    # a route's key is (destination, metric) across links: replace moves it
    for o in links.values():
        o.routes = [r for r in o.routes if key(r) != key(route)]
    lk.routes.append(route)


__all__ = ["ip", "setsid", "link_local"]
