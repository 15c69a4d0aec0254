"""Simulated `podman network` and `docker network`: ls, inspect, create, rm.

State: sim["networks"] (podman) and sim["docker_networks"]: name -> {driver, subnet, gateway,
parent, labels}. Output shapes: podman 4.3's `network ls --format json` as recorded
(tests/fixtures/podman/network-ls.json); docker's `network inspect` shape. Refusals in the tools'
words: a name already used, removing a network a container is attached to, an unknown network."""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from ..base import Result
from . import fail
from .containers_render import digest


def store(host: Any, runtime: str) -> dict[str, dict[str, Any]]:
    return host.facts.sim.setdefault("networks" if runtime == "podman" else "docker_networks", {})


def network_cli(host: Any, runtime: str, rc: int, args: list[str]) -> Result:
    verb, rest = (args[0], args[1:]) if args else ("", [])
    nets = store(host, runtime)
    if verb == "ls":
        if runtime == "podman":
            return Result(0, json.dumps([_podman_row(n, nets[n]) for n in sorted(nets)], indent=2) + "\n")
        return Result(0, "".join(n + "\n" for n in sorted(nets)))
    if verb == "inspect":
        missing = [n for n in rest if n not in nets]
        if missing:
            return Result(rc, "[]\n", f"Error: network {missing[0]}: unable to find network with name or ID "
                                      f"{missing[0]}: network not found\n" if runtime == "podman"
                          else f"Error: No such network: {missing[0]}\n")
        rows = [_podman_row(n, nets[n]) if runtime == "podman" else _docker_row(n, nets[n]) for n in rest]
        return Result(0, json.dumps(rows, indent=4) + "\n")
    if verb == "create":
        return _create(host, runtime, rc, nets, rest)
    if verb == "rm":
        for name in rest:
            if name not in nets:
                return fail(f"Error: unable to find network with name or ID {name}: network not found", rc)
            users = [c for c, obs in host.facts.of("container").items()
                     if obs.spec.get("runtime") == runtime and name in (obs.spec.get("networks") or [])]
            if users:
                return fail(f"Error: \"{name}\" has associated containers with it. Use -f to forcibly delete "
                            "containers and pods: network is being used" if runtime == "podman" else
                            f"Error response from daemon: error while removing network: network {name} id "
                            f"{digest(name)} has active endpoints", rc if runtime == "podman" else 1)
            del nets[name]
            host.changed()
        return Result(0, "".join(n + "\n" for n in rest))
    return fail(f"Error: unrecognized command `{runtime} network {verb}`", rc)


def _create(host: Any, runtime: str, rc: int, nets: dict[str, Any], args: list[str]) -> Result:
    opts: dict[str, Any] = {"labels": {}}
    i = 0
    while i < len(args) - 1:
        flag, value = args[i], args[i + 1]
        if flag == "--label":
            key, _, val = value.partition("=")
            opts["labels"][key] = val
        elif flag in ("--driver", "-d"):
            opts["driver"] = value
        elif flag in ("--subnet", "--gateway"):
            opts[flag[2:]] = value
        elif flag == "-o" and value.startswith("parent="):
            opts["parent"] = value.partition("=")[2]
        else:
            return fail(f"Error: unknown flag: {flag}", rc)
        i += 2
    if i != len(args) - 1:
        return fail("Error: accepts at most 1 arg(s), received 0", rc)
    name = args[-1]
    if name in nets:
        return fail(f"Error: network name {name} already used: network already exists" if runtime == "podman"
                    else f"Error response from daemon: network with name {name} already exists", rc)
    if opts.get("driver") == "ipvlan" and opts.get("parent") and runtime == "podman":
        return fail("Error: unsupported network option parent", rc)  # measured: podman 4.3 with CNI
    if opts.get("gateway") and not opts.get("subnet"):
        return fail("Error: cannot set gateway or range without subnet", rc)
    if opts.get("subnet") is None and opts.get("driver", "bridge") == "bridge":
        opts["subnet"] = f"10.89.{len(nets) + 1}.0/24"  # the runtime picks a free one
    if opts.get("subnet") and not opts.get("gateway"):
        opts["gateway"] = str(next(ipaddress.ip_network(opts["subnet"]).hosts()))
    nets[name] = {"driver": opts.get("driver", "bridge"), **{k: opts[k] for k in ("subnet", "gateway", "parent")
                                                            if opts.get(k)}, "labels": opts["labels"]}
    host.changed()
    return Result(0, name + "\n")


def _podman_row(name: str, net: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"name": name, "id": digest("net:" + name), "driver": net.get("driver", "bridge"),
                           "network_interface": net.get("parent") or f"cni-podman{int(digest(name)[:2], 16) % 9 + 1}",
                           "created": "2026-11-28T10:21:19.854785514Z",
                           "subnets": [{"subnet": net["subnet"], "gateway": net.get("gateway", "")}]
                           if net.get("subnet") else [],
                           "ipv6_enabled": False, "internal": False, "dns_enabled": False,
                           "ipam_options": {"driver": "host-local"}}
    if net.get("labels"):
        row["labels"] = net["labels"]
    return row


def _docker_row(name: str, net: dict[str, Any]) -> dict[str, Any]:
    return {"Name": name, "Id": digest("net:" + name), "Scope": "local", "Driver": net.get("driver", "bridge"),
            "EnableIPv6": False, "Internal": False, "Attachable": False,
            "IPAM": {"Driver": "default", "Options": {},
                     "Config": [{"Subnet": net["subnet"], "Gateway": net.get("gateway", "")}] if net.get("subnet") else []},
            "Options": {"parent": net["parent"]} if net.get("parent") else {}, "Labels": net.get("labels") or {}}
