"""A podman container's boot unit: `converge-container-NAME.service` (converge's own create argv as
`podman run -d --replace`), with its environment in a root-only env file, for containers whose
restart policy asks to come back after a reboot."""

from __future__ import annotations

from typing import Any

from ...model import Step
from ..system.persist import container_unit, container_unit_name, observed_persist, persist_steps
from ..system.units import manages_boot, remove_unit_steps, unit_path
from .cli import CliDriver

CONTAINER_ENV_DIR = "/etc/converge/containers"
BOOT_RESTARTS = ("always", "on-failure", "unless-stopped")


def container_expected(name: str, spec: Any, ctx: Any) -> tuple[str | None, list[Step]]:
    """The unit a podman container should have (None: no unit), and the env file it reads."""
    if spec is None or not spec.persist or spec.runtime != "podman" or spec.restart not in BOOT_RESTARTS \
            or not manages_boot(ctx.host, ctx.reads):  # a host not booted by systemd gets no unit
        return None, []
    create = CliDriver("podman").create_steps(name, spec, ctx)[0]
    env_path = f"{CONTAINER_ENV_DIR}/{name}.env" if spec.env else None
    mounts = [v.split(":", 1)[0] for v in create.argv if v.startswith("/") and ":" in v]
    text = container_unit(name, "podman", create.argv, mounts, env_path)
    extra = []
    if env_path:
        content = "".join(f"{k}={v}\n" for k, v in sorted(spec.env.items()))
        extra.append(Step(op="write", path=env_path, content=content, mode=0o600,
                          redact=[f"{k}={v}" for k, v in sorted(spec.env.items())],
                          note="the container's environment, readable by root only"))
    return text, extra


def container_observed_persist(name: str, spec: Any, ctx: Any) -> bool:
    wanted = True if spec is None else bool(spec.persist)
    expected, _ = container_expected(name, spec, ctx)
    return observed_persist(ctx.host, ctx.reads, container_unit_name(name), expected, wanted)


def container_persist_steps(name: str, spec: Any, ctx: Any) -> list[Step]:
    """Write (verified), enable, or remove a container's boot unit after it is created or changed."""
    unit = container_unit_name(name)
    expected, extra = container_expected(name, spec, ctx)
    present = ctx.host.read_file(unit_path(unit)) is not None
    steps = extra + persist_steps(ctx.host, unit, expected, present)
    if expected is None and spec is not None and spec.env and ctx.host.read_file(f"{CONTAINER_ENV_DIR}/{name}.env"):
        steps.append(Step(op="remove", path=f"{CONTAINER_ENV_DIR}/{name}.env", note="its env file"))
    return steps


def container_unit_removal(name: str, ctx: Any) -> list[Step]:
    unit = container_unit_name(name)
    steps = remove_unit_steps(ctx.host, unit) if ctx.host.read_file(unit_path(unit)) is not None else []
    if ctx.host.read_file(f"{CONTAINER_ENV_DIR}/{name}.env") is not None:
        steps.append(Step(op="remove", path=f"{CONTAINER_ENV_DIR}/{name}.env", note="its env file"))
    return steps
