"""An Ansible inventory file, INI or YAML, read as is: hosts with `ansible_host`, `ansible_user`,
`ansible_port` and `ansible_ssh_private_key_file`, groups (`[group]`, `[group:children]`,
`[group:vars]`; YAML `hosts`/`children`/`vars`). Other variables become the host's vars.
Host ranges (`web[01:10]`) and dynamic inventory scripts are not supported: they are errors."""

from __future__ import annotations

import re
import shlex
from typing import Any

from ..errors import Issue
from .inventory import NAME_PATTERN, FleetHost

NAME = re.compile(NAME_PATTERN)
CONNECTION = {"ansible_host", "ansible_user", "ansible_port", "ansible_ssh_private_key_file", "ansible_ssh_host",
              "ansible_ssh_user", "ansible_ssh_port"}


class Collected:
    def __init__(self) -> None:
        self.hosts: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, set[str]] = {}  # group -> direct hosts
        self.children: dict[str, set[str]] = {}
        self.group_vars: dict[str, dict[str, Any]] = {}


def parse(text: str, shown: str, issues: list[Issue]) -> dict[str, FleetHost]:
    """YAML when the file is named *.yaml / *.yml, else INI (as Ansible's own plugins tell them)."""
    got = Collected()
    if shown.endswith((".yaml", ".yml")):
        _yaml(text, shown, issues, got)
    else:
        _ini(text, shown, issues, got)
    return _hosts(got, shown)


def _ini(text: str, shown: str, issues: list[Issue], got: Collected) -> None:
    group, section = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            m = re.fullmatch(r"\[([A-Za-z0-9_.-]+)(?::(children|vars))?\]", line)
            if not m:
                issues.append(Issue(shown, number, 1, "", f"not an inventory section header: {line!r}"))
                continue
            group, section = m.group(1), m.group(2) or "hosts"
            got.groups.setdefault(group, set())
            continue
        try:
            words = shlex.split(line, comments=True)
        except ValueError as e:
            issues.append(Issue(shown, number, 1, "", f"cannot read this line: {e}"))
            continue
        if section == "vars":
            key, sep, value = line.partition("=")
            if not sep:
                issues.append(Issue(shown, number, 1, f"{group}:vars", "expected NAME=VALUE"))
                continue
            got.group_vars.setdefault(group, {})[key.strip()] = _value(value.strip())
        elif section == "children":
            got.children.setdefault(group, set()).add(words[0])
        else:
            _add_host(got, group, words[0], dict(w.split("=", 1) for w in words[1:] if "=" in w), shown, number,
                      issues, [w for w in words[1:] if "=" not in w])


def _add_host(got: Collected, group: str, name: str, variables: dict[str, Any], shown: str, number: int,
              issues: list[Issue], junk: list[str] | None = None) -> None:
    if "[" in name or not NAME.fullmatch(name):
        issues.append(Issue(shown, number, 1, name, "not a host name converge takes (letters, digits, '_', '.', "
                            "'-'; host ranges like web[01:10] are not supported)"))
        return
    if junk:
        issues.append(Issue(shown, number, 1, name, f"expected NAME=VALUE, got {junk[0]!r}"))
    got.hosts.setdefault(name, {}).update({k: _value(str(v)) if isinstance(v, str) else v for k, v in variables.items()})
    got.groups.setdefault(group, set()).add(name)


def _value(text: str) -> Any:
    if text.isdigit():
        return int(text)
    return text.strip("'\"") if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"" else text


def _yaml(text: str, shown: str, issues: list[Issue], got: Collected) -> None:
    from ..yamlread import node_location, parse_yaml, plain

    doc = parse_yaml(text, shown, issues)
    if not isinstance(doc, dict):
        if not issues:
            issues.append(Issue(shown, 1, 1, "", "an Ansible inventory: a mapping of groups (all: {hosts, children})"))
        return

    def group(name: str, node: Any, path: str) -> None:
        got.groups.setdefault(name, set())
        if node is None:
            return
        if not isinstance(node, dict):
            where = node_location(shown, node)
            issues.append(Issue(where.file, where.line, where.column, path, "expected hosts, children and vars"))
            return
        for key, value in node.items():
            where = node_location(shown, node, key)
            if key == "hosts" and isinstance(value, dict):
                for host, variables in value.items():
                    at = node_location(shown, value, host)
                    _add_host(got, name, str(host), plain(variables) or {}, shown, at.line, issues)
            elif key == "vars" and isinstance(value, dict):
                got.group_vars.setdefault(name, {}).update(plain(value))
            elif key == "children" and isinstance(value, dict):
                for child, sub in value.items():
                    got.children.setdefault(name, set()).add(str(child))
                    group(str(child), sub, f"{path}.children.{child}")
            else:
                issues.append(Issue(where.file, where.line, where.column, f"{path}.{key}",
                                    "expected hosts (a mapping), children (a mapping) or vars (a mapping)"))

    for name, node in doc.items():
        group(str(name), node, str(name))


def _hosts(got: Collected, shown: str) -> dict[str, FleetHost]:
    members: dict[str, set[str]] = {}

    def expand(group: str, seen: frozenset[str] = frozenset()) -> set[str]:
        if group in seen:
            return set()
        out = set(got.groups.get(group, set()))
        for child in got.children.get(group, set()):
            out |= expand(child, seen | {group})
        return out

    for group in set(got.groups) | set(got.children):
        members[group] = expand(group)
    found = {}
    for name, variables in got.hosts.items():
        groups = sorted(g for g, m in members.items() if name in m and g not in ("all", "ungrouped"))
        merged: dict[str, Any] = dict(got.group_vars.get("all", {}))
        for g in groups:  # group vars, then the host's own
            merged.update(got.group_vars.get(g, {}))
        merged.update(variables)
        host = merged.get("ansible_host") or merged.get("ansible_ssh_host") or name
        user = merged.get("ansible_user") or merged.get("ansible_ssh_user")
        port = merged.get("ansible_port") or merged.get("ansible_ssh_port")
        bracketed = f"[{host}]" if ":" in str(host) else str(host)
        address = "ssh://" + (f"{user}@" if user else "") + bracketed + (f":{port}" if port else "")
        ssh: dict[str, Any] = {}
        if merged.get("ansible_ssh_private_key_file"):
            ssh["identity_file"] = str(merged["ansible_ssh_private_key_file"])
        found[name] = FleetHost(name=name, address=address, manifests=[], groups=groups, ssh=ssh, source=shown,
                                vars={k: v for k, v in merged.items() if k not in CONNECTION})
    return found
