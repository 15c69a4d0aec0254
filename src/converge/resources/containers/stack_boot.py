"""What brings a podman compose stack back at boot: `converge-stack-NAME.service`, a oneshot
`podman-compose … up -d` (podman has no daemon to restart containers; docker stacks come back by
their restart policies and the docker service). Compared as the stack's `boot` field: true when
the host's unit is exactly the one converge would write now, and enabled."""

from __future__ import annotations

import shlex
from typing import Any

from ...model import Step
from ...rendering import render
from ..base import Context
from ..system.persist import observed_persist
from ..system.units import install_unit_steps, manages_boot, remove_unit_steps, unit_path


def unit_name(name: str) -> str:
    return f"converge-stack-{name}.service"


def wanted(spec: Any, ctx: Context) -> bool:
    return spec.runtime == "podman" and spec.state == "up" and manages_boot(ctx.host, ctx.reads)


def unit_text(name: str, compose_path: str, mounts: list[str], ctx: Context) -> str:
    argv = ["/usr/bin/podman-compose", "-p", name, "-f", ctx.host.path(compose_path)]
    return render("stack.service.j2", name=name, compose=" ".join(shlex.quote(a).replace("%", "%%") for a in argv),
                  mounts=sorted(set(mounts)))


def observed_boot(name: str, text: str, ctx: Context) -> bool:
    return observed_persist(ctx.host, ctx.reads, unit_name(name), text, True)


def install(name: str, text: str, ctx: Context) -> list[Step]:
    return install_unit_steps(ctx.host, unit_name(name), text)


def removal(name: str, ctx: Context) -> list[Step]:
    return remove_unit_steps(ctx.host, unit_name(name)) if ctx.host.read_file(unit_path(unit_name(name))) else []
