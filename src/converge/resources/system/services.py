"""Kind `service` (ref service/NAME, NAME without `.service`): whether a systemd service is
enabled at boot and running now, plus a `restart_requested` stamp.

Read in bulk (`systemctl list-unit-files`, and `list-units` when systemd runs). Under --root
only enablement is applied (`systemctl --root=ROOT enable|disable` works offline); `state` and
restarts need a running systemd and are left out there, as the plan says. Other kinds imply the
services they need (an SMB share: smbd; an NFS export: nfs-server; interfaces: systemd-networkd;
docker containers: docker), shown as implied changes and overridden by a `services:` entry.
Services converge never declared nor implied are never touched."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from ...logs import get_logger
from ...model import Change, FieldDiff, Observed, Ref, Step
from ...types import Stamp
from ..base import START_STOP_RESTART, Context, Kind, Spec, record_stamp
from .units import manages_boot, systemctl, systemd_running, unit_files

log = get_logger(__name__)
ENABLED = ("enabled", "enabled-runtime")
ACTIVE = ("active", "activating", "reloading")

# kind -> (the service it needs, why), for kinds whose resources need a daemon to work
IMPLIED: dict[str, tuple[str, str]] = {
    "smb": ("smbd", "SMB shares are served by smbd"),
    "nfs": ("nfs-server", "NFS exports are served by nfs-server"),
    "interface": ("systemd-networkd", "interfaces are configured at boot by systemd-networkd"),
}


class ServiceSpec(Spec):
    enabled: bool | None = Field(None, description="started at boot")
    state: Literal["running", "stopped"] | None = Field(None, description="running now (needs a running systemd)")
    restart_requested: Stamp | None = Field(None, description="a new value restarts the service once")


def implying(ctx: Context) -> dict[str, list[Ref]]:
    """service name -> the declared resources that need it (they are configured before it starts)."""
    out: dict[str, list[Ref]] = {}
    for kind, (service, _) in IMPLIED.items():
        out.setdefault(service, []).extend(Ref(kind=kind, name=n) for n in sorted(ctx.specs(kind)))
    return out


def implied_services(ctx: Context) -> dict[str, str]:
    """service name -> why another kind needs it."""
    out: dict[str, str] = {}
    for kind, (service, why) in IMPLIED.items():
        if ctx.specs(kind):
            out.setdefault(service, why)
    containers = ctx.specs("container")
    if any(getattr(s, "runtime", "") == "docker" for s in containers.values()):
        out.setdefault("docker", "docker containers are restarted at boot by the docker service")
    if any(getattr(s, "runtime", "") == "docker" for s in ctx.specs("stack").values()):
        out.setdefault("docker", "docker compose stacks run on the docker service")
    if any(getattr(s, "runtime", "") == "lxc" and getattr(s, "onboot", None) for s in containers.values()):
        out.setdefault("lxc", "LXC containers with onboot are started at boot by lxc.service")
    return out


class ServiceKind(Kind[ServiceSpec]):
    kind = "service"
    section = ("services",)
    spec = ServiceSpec
    actions = START_STOP_RESTART
    name_pattern = re.compile(r"(?!.*\.service$)[A-Za-z0-9][A-Za-z0-9:_.@\\-]{0,200}")
    name_allowed = "a systemd service name without `.service` (smbd, nfs-server, getty@tty1)"
    tools = ("systemctl",)
    importable = False  # every service of the host is not what a manifest should list

    def desired_specs(self, ctx: Context) -> dict[str, ServiceSpec]:
        """Declared services, and implied ones the host has installed (a missing package is the
        implying kind's error to report: its own tool is missing too; under --root the root may
        hold no units at all), on a host converge sets up the boot of (see manages_boot)."""
        specs = self._with_implied(ctx)
        installed = ctx.facts.resources.get(self.kind)
        if installed is None:  # not read yet
            return specs
        declared = ctx.specs(self.kind)
        boots = manages_boot(ctx.host, ctx.reads)
        for name in [n for n in specs if n not in declared and (not boots or n not in installed)]:
            log.warning("implied service left alone: " + ("not installed on the host" if boots else
                        "this live host does not run systemd"), service=name)
            del specs[name]
        return specs

    def _with_implied(self, ctx: Context) -> dict[str, ServiceSpec]:
        specs: dict[str, ServiceSpec] = dict(ctx.specs(self.kind))
        for name in implied_services(ctx):
            if name not in specs:  # a services: entry overrides what a kind implies
                specs[name] = ServiceSpec.model_validate({"enabled": True, "state": "running"})
        return specs

    def read(self, ctx: Context) -> dict[str, Observed]:
        host = ctx.host
        files = unit_files(host, ctx.reads)
        live = systemd_running(host, ctx.reads)
        active: dict[str, str] = {}
        if live:
            out = host.run(["systemctl", "list-units", "--type=service", "--all", "--no-legend", "--no-pager",
                            "--plain"], check=False).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 4 and parts[0].endswith(".service"):
                    active[parts[0]] = parts[2]
        declared = self._with_implied(ctx)
        out_: dict[str, Observed] = {}
        for unit in sorted(set(files) | set(active)):
            if not unit.endswith(".service") or unit.endswith("@.service"):
                continue
            name = unit[: -len(".service")]
            spec: dict[str, Any] = {"enabled": files.get(unit) in ENABLED,
                                    "restart_requested": ctx.stamp(self.ref(name), "restart_requested")}
            if live:
                spec["state"] = "running" if active.get(unit) in ACTIVE else "stopped"
            elif name in declared and declared[name].state is not None:
                spec["state"] = declared[name].state  # not knowable without a running systemd: not applied
                log.warning("service state is not applied: systemd is not running on this host", service=name)
            out_[name] = Observed(spec=spec, info={"unit_file_state": files.get(unit, ""),
                                                   "active": active.get(unit, "unknown")})
        return out_

    def create(self, name: str, spec: ServiceSpec, ctx: Context) -> list[Step]:
        return self._steps(name, spec, {"enabled", "state", "restart_requested"}, ctx)

    def update(self, name: str, spec: ServiceSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        return self._steps(name, spec, {d.path for d in diffs}, ctx)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return []  # never planned: a service converge stops declaring is left as it is

    def _steps(self, name: str, spec: ServiceSpec, fields: set[str], ctx: Context) -> list[Step]:
        host, unit = ctx.host, f"{name}.service"
        live = systemd_running(host, ctx.reads)
        steps = []
        if "enabled" in fields and spec.enabled is not None:
            verb = "enable" if spec.enabled else "disable"
            steps.append(Step(argv=systemctl(host, verb, unit), note="at boot" if spec.enabled else "not at boot"))
        if live and "state" in fields and spec.state is not None:
            steps.append(Step(argv=["systemctl", "start" if spec.state == "running" else "stop", unit], note="now"))
        if "restart_requested" in fields and spec.restart_requested:
            if live:
                steps.append(Step(argv=["systemctl", "restart", unit], note="requested restart"))
            steps.append(record_stamp(self.ref(name), "restart_requested", spec.restart_requested))
        return steps

    def finalize(self, changes: list[Change], ctx: Context) -> None:
        declared = ctx.specs(self.kind)
        implied = implied_services(ctx)
        live = systemd_running(ctx.host, ctx.reads)
        needs = implying(ctx)
        for change in changes:
            name = change.ref.name
            change.depends_on += [r for r in needs.get(name, []) if r not in change.depends_on]
            if name not in declared and name in implied:
                change.reason = f"implied: {implied[name]} (override it under services:)"
            spec = declared.get(name)
            if not live and (spec is None or spec.state is not None):
                change.reason += "; state and restarts are not applied: systemd is not running on this host"
