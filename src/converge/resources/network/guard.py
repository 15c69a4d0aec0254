"""The guard half of test-then-commit for network changes (netguard.py is the watchdog half): which
applies are risky, the checkpoint and the detached watchdog an apply starts first, and
`converge confirm`, which keeps the new config by removing the checkpoint."""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from typing import Any

from ...hosts.base import Host
from ...model import Action, Change, Observed, Step
from . import persist
from .steps import desired_specs

CHECKPOINT = "/run/converge/net-checkpoint.json"
ROLLED_BACK = "/run/converge/net-rolled-back.json"
DEFAULT_TIMEOUT = 120  # seconds, for a risky apply without an explicit confirm_timeout


def management_links(observed: dict[str, Observed], admin_ip: str | None) -> set[str]:
    """The link the admin reaches the host through (the one holding admin_ip, else those with a
    default route), and every link under it (ports, members, parent): changing any of them can
    cut the admin off."""
    top = set()
    if admin_ip:
        ip = ipaddress.ip_address(admin_ip)
        top = {n for n, o in observed.items() if any(ipaddress.ip_interface(a).ip == ip
                                                     for a in o.spec.get("addresses", []))}
    if not top:
        top = {n for n, o in observed.items() if o.spec.get("gateway")}
    out, todo = set(), list(top)
    while todo:
        n = todo.pop()
        if n in out or n not in observed:
            continue
        out.add(n)
        spec = observed[n].spec
        todo += list(spec.get("ports", [])) + list(spec.get("members", [])) + ([spec["parent"]] if spec.get("parent") else [])
    return out


def admin_address() -> str | None:
    """The host-side address of the SSH session converge runs in (SSH_CONNECTION's third field)."""
    parts = os.environ.get("SSH_CONNECTION", "").split()
    return parts[2] if len(parts) >= 4 else None


def timeout_for(changes: list[Change], ctx: Any) -> tuple[int | None, str]:
    settings = ctx.kind_settings("interface")
    explicit = settings.get("confirm_timeout")
    if explicit:
        return int(explicit), "confirm_timeout is set"
    touched = management_links(ctx.facts.of("interface"), admin_address())
    hit = sorted(c.ref.name for c in changes if c.ref.name in touched and c.action is not Action.CREATE)
    if hit:
        return int(settings.get("risky_confirm_timeout", DEFAULT_TIMEOUT)), \
            f"changes {', '.join(hit)}, which carries the management address"
    return None, ""


def guard_steps(changes: list[Change], ctx: Any) -> list[Step]:
    seconds, why = timeout_for(changes, ctx)
    if seconds is None:
        return []
    names = set(ctx.facts.of("interface")) | {c.ref.name for c in changes} | set(desired_specs(ctx))
    files: dict[str, str | None] = {}
    if persist.backend(ctx) == "networkd":
        for name in sorted(names):
            for path in persist.paths(name, ctx):
                files[path] = ctx.host.read_file(path)
    checkpoint = {"timeout": seconds, "links": {n: o.model_dump(mode="json")
                                                for n, o in ctx.facts.of("interface").items()},
                  "files": files, "settings": ctx.kind_settings("interface")}
    note = (f"test-then-commit ({why}): rolls back in {seconds}s unless `converge confirm`")
    return [Step(op="write", path=CHECKPOINT, content=json.dumps(checkpoint, sort_keys=True), mode=0o600, note=note),
            Step(op="run", argv=["setsid", "-f", sys.executable, "-m", "converge.resources.network.netguard", "watch",
                                 ctx.host.path(CHECKPOINT), str(seconds), ctx.host.path("/")],
                 note="start the rollback watchdog")]


def confirm(host: Host) -> bool:
    """Keep the applied network config: the watchdog finds no checkpoint and exits."""
    pending = host.read_file(CHECKPOINT) is not None
    host.remove_file(CHECKPOINT)
    return pending
