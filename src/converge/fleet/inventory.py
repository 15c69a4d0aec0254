"""The inventory of `converge.yaml`: the hosts a directory describes, as `hosts:` entries (with
`host_defaults:` for all and `host_groups:`), plus the hosts of an Ansible inventory file
(`inventory: FILE`). Each host has an address (ssh://..., or any host spec converge knows),
manifest directories (shared ones first, its own overlay last: a later directory wins per
resource; `{name}` stands for the host's name, and such a directory may be missing), vars,
tags, and how to reach it (root, identity_file, known_hosts, ssh_options)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import Issue

NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,62}$"


class HostFields(BaseModel):
    """What `host_defaults:` may set for every host (and each host for itself)."""

    model_config = ConfigDict(defer_build=True, extra="forbid")
    manifests: list[str] | None = Field(None, description="manifest directories, later ones win per resource "
                                        "(relative to converge.yaml; `{name}` is the host's name)")
    vars: dict[str, Any] = Field(default_factory=dict, description="template variables (over the manifests' vars:)")
    tags: list[str] = Field(default_factory=list, description="names to select hosts by (--limit TAG)")
    root: str | None = Field(None, description="--root on that host")
    identity_file: str | None = Field(None, description="ssh -i (relative to converge.yaml)")
    known_hosts: str | None = Field(None, description="UserKnownHostsFile (relative to converge.yaml)")
    ssh_options: dict[str, str | int] = Field(default_factory=dict, description="more ssh -o OPTION=VALUE")


class InventoryHost(HostFields):
    address: str = Field(description="ssh://[user@]host[:port] (or local, netns:NAME, sim:PATH)")

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if value.startswith("ssh://"):
            from ..hosts.ssh import parse_address

            try:
                parse_address(value)
            except Exception as e:  # HostError: say it as a validation error at the address's line
                raise ValueError(str(e)) from None
        elif not (value == "local" or value.startswith(("sim:", "netns:"))):
            raise ValueError(f"{value!r} is not a host address: use ssh://[user@]host[:port], local, netns:NAME "
                             "or sim:PATH")
        return value


@dataclass
class FleetHost:
    """One host of the inventory, with its defaults applied and paths resolved."""

    name: str
    address: str
    manifests: list[str]
    vars: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    root: str | None = None
    ssh: dict[str, Any] = field(default_factory=dict)  # identity_file, known_hosts, ssh_options
    skip: list[str] = field(default_factory=list)  # other hosts' manifest directories: never this host's
    own: list[str] = field(default_factory=list)  # its `{name}` directories: read by this host alone
    source: str = "converge.yaml"


def resolve(directory: str, hosts: dict[str, InventoryHost], defaults: HostFields,
            groups: dict[str, list[str]], extra: dict[str, FleetHost] | None = None) -> dict[str, FleetHost]:
    """The inventory's hosts (Ansible's first, then converge.yaml's over them)."""
    found: dict[str, FleetHost] = dict(extra or {})
    for name, spec in hosts.items():
        base = found.get(name)
        merged = {**defaults.vars, **(base.vars if base else {}), **spec.vars}
        found[name] = FleetHost(
            name=name, address=spec.address, manifests=list(spec.manifests or defaults.manifests or ["."]),
            vars=merged, tags=sorted({*defaults.tags, *spec.tags}), groups=list(base.groups if base else []),
            root=spec.root or defaults.root,
            ssh=_ssh(directory, spec, defaults), source="converge.yaml")
    for host in found.values():
        if host.source != "converge.yaml":  # from the Ansible inventory: the defaults fill what it lacks
            host.manifests = list(defaults.manifests or ["."])
            host.vars = {**defaults.vars, **host.vars}
            host.tags = sorted({*defaults.tags, *host.tags})
            host.root = host.root or defaults.root
            host.ssh = {**_ssh(directory, defaults, defaults), **host.ssh}
    for group, members in groups.items():
        for member in members:
            if member in found and group not in found[member].groups:
                found[member].groups.append(group)
    for host in found.values():
        host.own = _directories(directory, host.name, [m for m in host.manifests if "{name}" in m])
        host.manifests = _directories(directory, host.name, host.manifests)
        if host.address.startswith("sim:") and not os.path.isabs(host.address[4:]):
            host.address = "sim:" + os.path.join(directory, host.address[4:])
    every = {d for h in found.values() for d in h.manifests}
    for host in found.values():
        host.skip = sorted(every - set(host.manifests))
    return found


def overlays(hosts: dict[str, FleetHost]) -> list[str]:
    """Every host's own `{name}` directories: the directory's own host (no --limit) reads none of them."""
    return sorted({d for h in hosts.values() for d in h.own})


def _ssh(directory: str, spec: HostFields, defaults: HostFields) -> dict[str, Any]:
    def path(value: str | None) -> str | None:
        return os.path.join(directory, os.path.expanduser(value)) if value else None

    return {"identity_file": path(spec.identity_file or defaults.identity_file),
            "known_hosts": path(spec.known_hosts or defaults.known_hosts),
            "ssh_options": {**defaults.ssh_options, **spec.ssh_options}}


def _directories(directory: str, name: str, manifests: list[str]) -> list[str]:
    out = []
    for entry in manifests:
        path = os.path.normpath(os.path.join(directory, entry.replace("{name}", name)))
        if "{name}" in entry and not os.path.isdir(path):
            continue  # no overlay for this host
        out.append(path)
    return out


def check(hosts: dict[str, InventoryHost], groups: dict[str, list[str]], known: set[str],
          locate: Any) -> list[Issue]:
    """Cross-checks pydantic cannot make: group members are hosts, names do not clash."""
    issues = []
    for group, members in groups.items():
        for index, member in enumerate(members):
            if member not in known:
                where = locate(("host_groups", group, index))
                issues.append(Issue(where.file, where.line, where.column, f"host_groups.{group}.{index}",
                                    f"{member!r} is not a host of the inventory (hosts: {', '.join(sorted(known))})"))
        if group in known:
            where = locate(("host_groups", group))
            issues.append(Issue(where.file, where.line, where.column, f"host_groups.{group}",
                                f"{group!r} is a host's name too: --limit {group} would be ambiguous"))
    return issues


def select(hosts: dict[str, FleetHost], limit: str | None) -> list[FleetHost]:
    """--limit NAME,GROUP,TAG (all hosts when None); an unknown word is an error naming the choices."""
    if limit is None:
        return [hosts[n] for n in sorted(hosts)]
    chosen: dict[str, FleetHost] = {}
    for word in (w.strip() for w in limit.split(",") if w.strip()):
        matched = [h for h in hosts.values() if word in (h.name, "all", *h.groups, *h.tags)]
        if not matched:
            labels = sorted({*hosts, *(g for h in hosts.values() for g in h.groups),
                             *(t for h in hosts.values() for t in h.tags)})
            raise ValueError(f"--limit {word}: no such host, group or tag (known: {', '.join(labels) or 'none'})")
        chosen.update((h.name, h) for h in matched)
    return [chosen[n] for n in sorted(chosen)]
