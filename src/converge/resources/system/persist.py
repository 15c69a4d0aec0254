"""What makes a resource converge creates survive a reboot, for the kinds that need a unit:
a `.mount` unit per btrfs pool (named after its escaped Where= path, as systemd requires), and a
`converge-container-NAME.service` per podman container whose restart policy is not `no`.

Kinds compare a `persist` field: the observed value says whether the host's unit is exactly the
one converge would write now (and enabled), so a missing, edited or disabled unit is drift."""

from __future__ import annotations

import shlex
from typing import Any

from ...formats.systemd import mount_unit_name
from ...hosts.base import Host
from ...model import Step
from ...rendering import render
from .units import install_unit_steps, manages_boot, remove_unit_steps, unit_files, unit_path

MOUNT_OPTIONS = "defaults,nofail"  # nofail: a missing data disk must not stop the boot




def mount_unit(description: str, what: str, where: str, fstype: str, options: str = MOUNT_OPTIONS) -> str:
    return render("mount.j2", description=description, what=what, where=where, type=fstype, options=options)


def container_unit_name(name: str) -> str:
    return f"converge-container-{name}.service"


def container_unit(name: str, runtime: str, create_argv: list[str], mounts: list[str],
                   env_file: str | None) -> str:
    """The unit of a podman container: converge's `create` argv as a `run -d --replace`, its
    environment values moved to a root-only env file (never in the world-readable unit)."""
    args = list(create_argv[2:])
    out: list[str] = []
    i = 0
    while i < len(args):
        if args[i] == "--env":
            i += 2
            continue
        out.append(args[i])
        i += 1
    if env_file:
        out = ["--env-file", env_file] + out
    binary = f"/usr/bin/{runtime}"
    exec_start = " ".join(shlex.quote(a).replace("%", "%%") for a in [binary, "run", "-d", "--replace", *out])
    return render("container.service.j2", name=name, runtime=runtime, exec_start=exec_start, binary=binary,
                  mounts=sorted(set(mounts)))


def observed_persist(host: Host, reads: dict[str, Any], unit: str, expected: str | None, wanted: bool) -> bool:
    """The observed value of a `persist` field declared as `wanted`: equal to it when the host's unit
    is exactly `expected` and enabled (or absent, when no unit is expected), else its opposite."""
    actual = host.read_file(unit_path(unit))
    enabled = unit_files(host, reads).get(unit) == "enabled"
    matches = actual == expected and (expected is None or enabled)
    return wanted if matches else not wanted


def persist_steps(host: Host, unit: str, expected: str | None, present: bool) -> list[Step]:
    """Install (verified) and enable the unit, or remove a unit no longer wanted."""
    if expected is not None:
        return install_unit_steps(host, unit, expected)
    return remove_unit_steps(host, unit) if present else []


__all__ = ["container_unit", "container_unit_name", "mount_unit", "mount_unit_name", "observed_persist",
           "persist_steps"]


# -- btrfs pools -----------------------------------------------------------------------------------
def pool_mount(name: str, where: str, uuid: str) -> tuple[str, str]:
    """(unit name, unit text) of a btrfs pool's top-level mount."""
    return mount_unit_name(where), mount_unit(f"btrfs pool {name}", f"UUID={uuid}", where, "btrfs")


def pool_observed_persist(name: str, spec: Any, observed: Any, ctx: Any) -> bool:
    wanted = True if spec is None else bool(spec.persist)
    if not manages_boot(ctx.host, ctx.reads):  # a host not booted by systemd: no unit to write
        return wanted
    where = (spec.mountpoint if spec is not None else None) or observed.spec.get("mountpoint") or f"/{name}"
    unit, text = pool_mount(name, where, str(observed.info.get("uuid") or ""))
    return observed_persist(ctx.host, ctx.reads, unit, text if wanted else None, wanted)


def pool_persist_steps(name: str, spec: Any, uuid: str, old_where: str | None, ctx: Any) -> list[Step]:
    if not manages_boot(ctx.host, ctx.reads):
        return []
    where = spec.mountpoint or f"/{name}"
    unit, text = pool_mount(name, where, uuid)
    steps: list[Step] = []
    if old_where and old_where != where and ctx.host.read_file(unit_path(mount_unit_name(old_where))) is not None:
        steps += remove_unit_steps(ctx.host, mount_unit_name(old_where))
    present = ctx.host.read_file(unit_path(unit)) is not None
    return steps + persist_steps(ctx.host, unit, text if spec.persist else None, present)


def pool_unit_removal(observed: Any, ctx: Any) -> list[Step]:
    where = observed.spec.get("mountpoint")
    if not where or ctx.host.read_file(unit_path(mount_unit_name(where))) is None:
        return []
    return remove_unit_steps(ctx.host, mount_unit_name(where))
