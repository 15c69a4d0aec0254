"""Kind `container`: podman or docker (one driver, same verbs), or LXC."""

from __future__ import annotations

import re
from typing import Any

from ...model import Change, FieldDiff, Observed, Ref, Step
from ..base import START_STOP_RESTART, Context, Joint, Kind, KindAction
from .boot import container_observed_persist, container_persist_steps, container_unit_removal
from .cli import CliDriver
from .common import desired_specs
from .lxc import CREATE_ONLY as LXC_CREATE_ONLY
from .lxc import LxcDriver
from .ports import host_port, port_moves
from .spec import ContainerSpec
from .volumes import parse_volume

# [registry[:port]/]path[:tag][@sha256:digest]
RUNTIME_TOOLS = {"podman": "podman", "docker": "docker", "lxc": "lxc-ls"}


def short_digest(digest: str) -> str:
    """`sha256:` and the first 12 hex digits, as `podman images` shows ids."""
    algo, _, hexes = digest.partition(":")
    return f"{algo}:{hexes[:12]}…" if len(hexes) > 12 else digest


class ContainerKind(Kind[ContainerSpec]):
    kind = "container"
    section = ("containers",)
    spec = ContainerSpec
    actions = {**START_STOP_RESTART, "stop": KindAction(
        "state: stopped; optional body {timeout: SECONDS, force: true}: a stop_requested stamp",
        patch={"state": "stopped"}, options=("timeout", "force"), options_stamp="stop_requested")}
    name_pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
    name_allowed = "a letter or digit, then up to 62 letters, digits, '_', '.', '-'"
    # podman/docker: everything but state and the restart stamp (containers are immutable, a change
    # is a replace). LXC: see replace_fields.
    create_only = frozenset({"runtime", "image", "template", "command", "env", "env_file", "ports", "volumes",
                             "network", "restart", "cpus", "memory", "pids_limit", "labels", "onboot",
                             "entrypoint", "devices", "cap_add", "cap_drop", "user", "healthcheck", "networks",
                             "unprivileged", "rootfs_size", "features"})

    def replace_fields(self, spec: ContainerSpec, observed: Observed) -> frozenset[str]:
        return LXC_CREATE_ONLY if spec.runtime == "lxc" == observed.spec.get("runtime") else self.create_only

    def destroys_data(self, observed: Observed) -> bool:
        """An LXC container's rootfs is its data; a podman/docker container is remade from its image
        (its data lives in volumes, which a replace keeps)."""
        return observed.spec.get("runtime") == "lxc"

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        if observed.spec.get("runtime") == "lxc":
            return self.driver("lxc").destroys(name, ctx)  # type: ignore[no-any-return]
        return []

    def depends(self, name: str, spec: ContainerSpec) -> list[Ref]:
        refs = []
        from .common import volume_source_ref

        binds = [m.as_volume() for m in spec.mounts or []] + list(spec.volumes or [])
        for volume in binds:
            ref = volume_source_ref(parse_volume(volume)[0])
            if ref is not None:
                refs.append(ref)
        if isinstance(spec.network, list):
            refs += [Ref(kind="interface", name=nic.bridge) for nic in spec.network if nic.bridge != "lxcbr0"]
        elif spec.network and spec.network not in ("none", "bridge", "host"):
            refs.append(Ref(kind="interface", name=spec.network))
        refs += [Ref(kind="container_network", name=n) for n in spec.networks or []]
        return refs

    def host_paths(self, name: str, observed: Observed) -> list[str]:
        """The host side of each bind volume or mount (what a dataset destroy must wait for)."""
        sources = [str(v).split(":", 1)[0] for v in observed.spec.get("volumes") or []]
        sources += [str(m.get("source", "")) for m in observed.spec.get("mounts") or []]
        return [s for s in sources if s.startswith("/")]

    def validate_set(self, specs: dict[str, ContainerSpec], desired: Any) -> list[tuple[str, str, str]]:
        seen: dict[tuple[str, int, str], str] = {}
        problems = []
        for name, spec in sorted(specs.items()):
            for i, mapping in enumerate(spec.ports or []):
                key = host_port(mapping)
                if key in seen:
                    problems.append((name, f"ports.{i}", f"host port {key[1]}/{key[2]} is already used by "
                                                         f"container {seen[key]!r}"))
                else:
                    seen[key] = name
        return problems

    # -- host ----------------------------------------------------------------------------------
    def driver(self, runtime: str) -> Any:
        return LxcDriver() if runtime == "lxc" else CliDriver(runtime)

    def read(self, ctx: Context) -> dict[str, Observed]:
        """Each runtime whose tool the host has, in bulk; a name is unique across runtimes here."""
        found: dict[str, Observed] = {}
        for runtime, tool in RUNTIME_TOOLS.items():
            if not ctx.host.has(tool):
                continue
            driver = self.driver(runtime)
            observed = driver.read(ctx)
            for name, obs in observed.items():  # is its boot unit the one converge would write now?
                obs.spec["persist"] = container_observed_persist(name, ctx.specs(self.kind).get(name), ctx)
            found.update(observed)
            if runtime != "lxc" and (observed or runtime in self._declared_runtimes(ctx)):
                ctx.reads.setdefault(self.kind, {})[runtime] = driver.local_images(ctx)
        return found

    def _declared_runtimes(self, ctx: Context) -> set[str]:
        return {s.runtime for s in desired_specs(ctx, self.kind).values()}

    def _images(self, runtime: str, ctx: Context) -> set[str] | None:
        """Local images of a runtime: learnt by read(), or asked once here."""
        cache = ctx.reads.setdefault(self.kind, {})
        if runtime not in cache:
            cache[runtime] = self.driver(runtime).local_images(ctx) if ctx.host.has(runtime) else None
        return cache[runtime]

    def create(self, name: str, spec: ContainerSpec, ctx: Context) -> list[Step]:
        if spec.runtime == "lxc":
            return self.driver("lxc").create(name, spec, ctx)
        return self.driver(spec.runtime).create(name, spec, ctx, self._images(spec.runtime, ctx)) + \
            container_persist_steps(name, spec, ctx)

    def update(self, name: str, spec: ContainerSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        paths = {d.path.split(".")[0] for d in diffs}
        steps = self.driver(spec.runtime).update(name, spec, observed, paths, ctx)
        return steps + (container_persist_steps(name, spec, ctx) if "persist" in paths else [])

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        return self.driver(observed.spec.get("runtime", "podman")).delete(name, observed, ctx) + \
            container_unit_removal(name, ctx)

    def finalize(self, changes: list[Change], ctx: Context) -> None:
        """An image whose digest moved on (`pull: newer`) is shown as such: `~ image digest: sha256:ab.. → sha256:cd..`."""
        newer = ctx.reads.get(self.kind, {}).get("newer", {})
        for change in changes:
            moved = newer.get(change.ref.name)
            for d in change.diffs if moved else []:
                if d.path == "image" and "@" in str(d.before) and "@" not in str(d.after):
                    d.path, d.before_text, d.after_text = "image digest", short_digest(moved[0]), short_digest(moved[1])

    def edges(self, changes: list[Change], ctx: Context) -> list[tuple[Ref, Ref]]:
        """A container that takes a host port another running container holds starts after that
        one is changed (independent changes may run in parallel)."""
        return port_moves(self.kind, changes, ctx)[0]

    def joints(self, changes: list[Change], ctx: Context) -> list[Joint]:
        """Two that swap ports: an explicit stop of the second, which the first waits for."""
        return port_moves(self.kind, changes, ctx)[1]

    def replace(self, name: str, spec: ContainerSpec, observed: Observed, ctx: Context) -> list[Step]:
        old_runtime = observed.spec.get("runtime", spec.runtime)
        if spec.runtime == "lxc" or old_runtime != spec.runtime:
            return self.delete(name, observed, ctx) + self.create(name, spec, ctx)
        return self.driver(spec.runtime).replace(name, spec, observed, ctx, self._images(spec.runtime, ctx)) + \
            container_persist_steps(name, spec, ctx)

