"""A stack's compose project as converge runs it: the checks a project must pass, the file read
from the manifest directory, datasets in volumes, and the resolved form a plan compares
(per service: image, ports, environment keys, definition digest, state)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ... import secrets
from ...errors import PlanError
from ...formats import compose
from ...formats.containers import normalize_image
from ...hosts.local import LocalHost
from ...model import Observed, Ref
from ..base import Context
from .common import resolve_volume, volume_source_ref
from .volumes import parse_volume

SERVICE_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"
REFUSED_KEYS = {"build": "converge runs images; build them elsewhere and name the image",
                "extends": "a service extends another file; write the service out in full",
                "container_name": "converge names containers PROJECT_SERVICE_1 so it finds them by project"}


def check_project(project: Any) -> list[tuple[str, str]]:
    """(field path inside the project, message) for each problem a runtime would trip on later."""
    import re

    if not isinstance(project, dict):
        return [("", "a compose project is a mapping with services:")]
    services = project.get("services")
    if not isinstance(services, dict) or not services:
        return [("services", "a compose project needs services: a mapping of service names to their fields")]
    problems = []
    named = set((project.get("volumes") or {}) if isinstance(project.get("volumes"), dict) else {})
    for name, svc in services.items():
        at = f"services.{name}"
        if not re.fullmatch(SERVICE_NAME, str(name)):
            problems.append((at, f"{name!r} is not a service name (letters, digits, '_', '.', '-')"))
            continue
        if not isinstance(svc, dict):
            problems.append((at, "a service is a mapping of fields (image, ports, environment, ...)"))
            continue
        for key, why in REFUSED_KEYS.items():
            if key in svc:
                problems.append((f"{at}.{key}", f"{key} is not supported: {why}"))
        if not isinstance(svc.get("image"), str) or not svc["image"]:
            problems.append((f"{at}.image", "every service needs image: (converge does not build)"))
        for i, volume in enumerate(svc.get("volumes") or []):
            message = _volume_problem(volume, named)
            if message:
                problems.append((f"{at}.volumes.{i}", message))
    return problems


def runtime_problems(project: dict[str, Any], runtime: str) -> list[tuple[str, str]]:
    """What one implementation cannot run: podman-compose 1.0.3 puts every service on the project's
    network, so `network_mode: none|host` fails there ("cannot set multiple networks")."""
    if runtime != "podman":
        return []
    return [(f"services.{name}.network_mode", f"network_mode {svc['network_mode']} does not work with "
             "podman-compose 1.0.3 (it adds the project network to every service); leave it out or use docker")
            for name, svc in project["services"].items()
            if isinstance(svc, dict) and svc.get("network_mode") not in (None, "bridge")]


def _volume_problem(volume: Any, named: set[str]) -> str:
    source = _bind_source(volume, named)
    if source is None or source.startswith("/") or "$" in source:
        return ""
    if source.startswith((".", "~")):
        return (f"volume source {source!r} is relative: write an absolute path or a dataset (pool/path); "
                "the file runs from converge's own directory on the host")
    try:
        parse_volume(volume if isinstance(volume, str) else f"{source}:/x")
    except ValueError as e:
        return str(e)
    return ""


def _bind_source(volume: Any, named: set[str]) -> str | None:
    """The host side of a bind (a path, a dataset or a pool), None for a named or anonymous volume."""
    if isinstance(volume, dict):
        if volume.get("type", "volume") != "bind":
            return None
        source = str(volume.get("source") or "")
    else:
        parts = str(volume).split(":")
        if len(parts) < 2:
            return None  # an anonymous volume: just the path inside
        source = parts[0]
    return None if source in named else source


def volume_refs(project: dict[str, Any]) -> list[Ref]:
    """Datasets and pools the services bind, and the external networks they join."""
    refs: list[Ref] = []
    named = set(project.get("volumes") or {}) if isinstance(project.get("volumes"), dict) else set()
    for svc in (project.get("services") or {}).values():
        for volume in (svc.get("volumes") or []) if isinstance(svc, dict) else []:
            source = _bind_source(volume, named)
            ref = volume_source_ref(source) if source and not source.startswith((".", "~")) and "$" not in source else None
            if ref is not None and ref not in refs:
                refs.append(ref)
    for key, net in (project.get("networks") or {}).items() if isinstance(project.get("networks"), dict) else []:
        if isinstance(net, dict) and net.get("external"):
            ext = net["external"] if isinstance(net["external"], dict) else {}
            ref = Ref.of("container_network", str(ext.get("name") or net.get("name") or key))
            if ref not in refs:
                refs.append(ref)
    return refs


def read_file(path: str, directory: str) -> tuple[Any, str]:
    """The project a stack's `file:` names: (mapping, "") or (None, why not). Only a regular file
    inside the manifest directory, bounded like a manifest."""
    from ...errors import Issue
    from ...yamlread import parse_yaml, plain, read_source

    issues: list[Issue] = []
    full = os.path.join(directory, path)
    if not os.path.lexists(full):
        return None, f"{path}: no such file in the manifest directory"
    text = read_source(full, path, issues, 4 * 1024 * 1024, directory)
    doc = parse_yaml(text, path, issues) if text is not None else None
    if issues:
        i = issues[0]
        return None, f"{i.file}:{i.line}: {i.message}" if i.line else f"{i.file}: {i.message}"
    return plain(doc), ""


@dataclass
class Resolved:
    """A stack ready to run: the project converge writes, the env file's values, the compared form."""

    project: dict[str, Any]
    plain_env: dict[str, str]
    secret_sources: dict[str, str] = field(default_factory=dict)  # variable -> secrets source
    form: dict[str, Any] = field(default_factory=dict)


def resolve(name: str, spec: Any, ctx: Context) -> Resolved:
    """Read the secrets (a missing one fails the plan now), digest each service, rewrite datasets
    in volumes to their mountpoints and label every service."""
    cache = ctx.reads.setdefault("stack", {}).setdefault("resolved", {})
    if name in cache:
        return cache[name]  # type: ignore[no-any-return]
    project = spec.project()
    if project is None:
        raise PlanError(f"stack {name}: its compose file was not read (validate the manifests first)")
    directory = str(getattr(ctx.desired, "directory", "") or "")
    env: dict[str, str] = {}
    plain_env: dict[str, str] = {}
    sources: dict[str, str] = {}
    for var, value in sorted(spec.env.items()):
        if isinstance(value, str):
            env[var] = plain_env[var] = value
            continue
        src = secrets.source(value, secrets.secrets_dir(ctx.settings, directory))
        env[var] = secrets.read(src, f"stack {name}: env {var}")
        if not compose.dotenv_safe(env[var]):
            raise PlanError(f"stack {name}: env {var}: the secret holds a quote or backslash, which an env file "
                            "cannot pass literally to both compose implementations")
        sources[var] = src
    secret_names = frozenset(sources)
    named = set(project.get("volumes") or {}) if isinstance(project.get("volumes"), dict) else set()
    services: dict[str, Any] = {}
    form: dict[str, Any] = {}
    for svc_name, svc in sorted(project["services"].items()):
        summary = compose.summary(svc, env, secret_names)
        summary["image"] = normalize_image(summary["image"]) if "$" not in summary["image"] else summary["image"]
        form[svc_name] = {**summary, "state": "running"}
        svc = dict(svc, volumes=[_mounted(v, named, ctx) for v in svc["volumes"]]) if svc.get("volumes") else svc
        services[svc_name] = compose.add_labels(svc, compose.labels_of(summary, name))
    for gone in sorted(set(_observed_services(name, ctx)) - set(form)):
        form[gone] = None  # shown as removed; its container goes
    compared: dict[str, Any] = {"runtime": spec.runtime, "state": spec.state}
    if spec.state == "up":
        compared["services"] = form
    resolved = Resolved({**project, "services": services}, plain_env, sources, compared)
    cache[name] = resolved
    return resolved


def _observed_services(name: str, ctx: Context) -> dict[str, Any]:
    observed = ctx.facts.of("stack").get(name)
    return (observed.spec.get("services") or {}) if observed is not None else {}


def _mounted(volume: Any, named: set[str], ctx: Context) -> Any:
    """A dataset or pool source becomes its mountpoint (the container code's own resolution)."""
    source = _bind_source(volume, named)
    if source is None or source.startswith("/") or "$" in source:
        return volume
    if isinstance(volume, dict):
        return {**volume, "source": resolve_volume(f"{source}:/x", ctx).rsplit(":", 1)[0]}
    return resolve_volume(str(volume), ctx)


def bind_mounts(name: str, spec: Any, ctx: Context) -> list[str]:
    """The host paths the services bind (datasets at their mountpoints): the boot unit waits for them."""
    project = spec.project() or {}
    named = set(project.get("volumes") or {}) if isinstance(project.get("volumes"), dict) else set()
    out = []
    for svc in (project.get("services") or {}).values():
        for volume in (svc.get("volumes") or []) if isinstance(svc, dict) else []:
            source = _bind_source(_mounted(volume, named, ctx), named)
            if source and source.startswith("/"):
                out.append(source)
    return sorted(set(out))


def newer_images(found: dict[str, Observed], declared: dict[str, Any], ps_text: str, ctx: Context) -> None:
    """`pull: newer`: a service whose image moved on (the registry's digest, through skopeo where
    it answers, or the local store's image under that tag) reads as the image it runs, pinned
    (`IMAGE@sha256:…`), so the plan recreates it after the pull. One `image inspect` for all."""
    import json

    stacks = [n for n, s in sorted(declared.items()) if s.pull == "newer" and s.runtime == "podman" and n in found]
    if not stacks:
        return
    running = {str(r.get("Names", [""])[0]): str(r.get("ImageID") or "") for r in json.loads(ps_text or "[]") or []}
    images = sorted({svc["image"] for n in stacks for svc in found[n].spec["services"].values()})
    answer = ctx.host.run(["podman", "image", "inspect", *images], check=False)
    local = {normalize_image(tag): row for row in json.loads(answer.stdout or "[]") or []
             for tag in row.get("RepoTags") or row.get("Names") or []}
    from .cli import CliDriver

    for name in stacks:
        for service, summary in found[name].spec["services"].items():
            row, runs = local.get(summary["image"]), running.get(found[name].info["containers"][service], "")
            if row is None or not runs:
                continue
            remote = CliDriver("podman").registry_digest(ctx, summary["image"])
            moved = remote != row.get("Digest") if remote and row.get("Digest") else \
                str(row.get("Id", "")).removeprefix("sha256:") != runs.removeprefix("sha256:")
            if moved:
                summary["image"] = f"{summary['image']}@sha256:{runs.removeprefix('sha256:')[:12]}…"


def check_with_runtime(name: str, spec: Any, ctx: Context) -> None:
    """A file is checked by the runtime's own parser where it runs on this machine (plan time)."""
    if spec.file is None or not isinstance(ctx.host, LocalHost):
        return
    path = os.path.join(str(getattr(ctx.desired, "directory", "") or ""), spec.file)
    if spec.runtime == "docker":
        argv = ["docker", "compose", "-p", name, "-f", path, "config", "-q"]
    else:  # podman-compose 1.0.3 has no `config`: a dry run parses the file and runs nothing
        argv = ["podman-compose", "--dry-run", "-p", name, "-f", path, "ps"]
    answer = ctx.host.run(argv, check=False)
    if answer.returncode != 0:
        why = (answer.stderr.strip() or answer.stdout.strip()).splitlines()
        raise PlanError(f"stack {name}: {spec.file}: {argv[0]} refuses it: {why[-1] if why else answer.returncode}")


def port_clashes(specs: dict[str, Any], desired: Any) -> list[tuple[str, str, str]]:
    """A host port published twice (by two services, or a service and a container) could never start."""
    from .ports import host_port

    taken: dict[tuple[str, int, str], str] = {}
    for name, spec in sorted((desired.specs("container") if hasattr(desired, "specs") else {}).items()):
        for mapping in spec.ports or []:
            taken.setdefault(host_port(mapping), f"container {name!r}")
    problems = []
    for name, spec in sorted(specs.items()):
        project = spec.project() or {}
        for service, svc in sorted((project.get("services") or {}).items()):
            for i, port in enumerate(svc.get("ports") or [] if isinstance(svc, dict) else []):
                try:
                    key = host_port(compose.normalize_port(port))
                except (ValueError, IndexError):
                    continue  # a port spelled with ${VAR}: the runtime checks it
                owner = taken.setdefault(key, f"stack {name!r} service {service!r}")
                if owner != f"stack {name!r} service {service!r}":
                    where = "compose" if spec.compose is not None else "file"
                    problems.append((name, f"{where}.services.{service}.ports.{i}" if where == "compose" else "file",
                                     f"host port {key[1]}/{key[2]} is already used by {owner}"))
    return problems
