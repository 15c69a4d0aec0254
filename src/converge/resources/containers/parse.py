"""Parsing podman/docker output: `ps`, `images`, `inspect` (same code for both runtimes and for
the simulated host's output) into the container kind's spec form."""

from __future__ import annotations

import json
from typing import Any

from ...formats.containers import normalize_image
from ...model import Ref
from ..base import Context
from .fields import (
    devices_from_inspect,
    entrypoint_from_inspect,
    health_from_inspect,
    networks_from_inspect,
)

MANAGED_LABEL = "converge.managed"
ENV_LABEL = "converge.env"
ENV_FILE_LABEL = "converge.env-file"
# Set by the runtime itself, never by a manifest: left out of an unmanaged container's env.
RUNTIME_ENV = frozenset({"container", "HOSTNAME"})


def parse_ps(runtime: str, text: str) -> list[dict[str, Any]]:
    """`ps -a` output -> [{id, name, labels, image, state, status, command}], infra containers left out."""
    if runtime == "podman":
        rows = json.loads(text or "[]") or []
    else:
        rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    out = []
    for row in rows:
        if row.get("IsInfra"):
            continue
        names = row.get("Names")
        name = (names[0] if isinstance(names, list) else str(names).split(",")[0]).lstrip("/")
        labels = row.get("Labels") or {}
        if isinstance(labels, str):  # docker: "a=b,c=d"
            labels = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in labels.split(",") if kv)
        status = str(row.get("Status", ""))
        state = str(row.get("State") or ("running" if status.startswith("Up") else "exited"))
        out.append({"id": row.get("Id") or row.get("ID"), "name": name, "labels": labels,
                    "image": row.get("Image", ""), "state": state, "status": status,
                    "command": row.get("Command") if isinstance(row.get("Command"), list) else None})
    return out


def parse_images(runtime: str, text: str) -> set[str]:
    """Local images, as normalised references (what a spec's `image` holds)."""
    names: set[str] = set()
    if runtime == "podman":
        for row in json.loads(text or "[]") or []:
            names.update(row.get("Names") or [])
            for digest in row.get("RepoDigests") or []:
                names.add(digest)
    else:
        for line in text.splitlines():
            row = json.loads(line) if line.strip() else {}
            repo, tag = row.get("Repository", "<none>"), row.get("Tag", "<none>")
            if repo != "<none>":
                names.add(f"{repo}:{tag}" if tag != "<none>" else repo)
                if row.get("Digest", "<none>") != "<none>":
                    names.add(f"{repo}@{row['Digest']}")
    return {normalize_image(n) for n in names}


def honoured_stop(ctx: Context, ref: Ref, declared: Any) -> dict[str, Any] | None:
    """The stop request last honoured, with the parameters the manifest gives it when it is that one."""
    at = ctx.stamp(ref, "stop_requested")
    request = getattr(declared, "stop_requested", None)
    if request is not None and request.at == at:
        return request.model_dump(mode="json")  # type: ignore[no-any-return]
    return {"at": at} if at else None


def inspect_name(raw: dict[str, Any]) -> str:
    return str(raw.get("Name", "")).lstrip("/")  # docker says "/web", podman "web"


def spec_from_ps(runtime: str, row: dict[str, Any]) -> dict[str, Any]:
    """The little `ps` tells about a container converge neither owns nor is asked about."""
    spec: dict[str, Any] = {"runtime": runtime, "image": row["image"], "state": _state(row["state"]),
                            "labels": {k: v for k, v in row["labels"].items() if not k.startswith("converge.")}}
    if row["command"]:
        spec["command"] = row["command"]
    return spec


def spec_from_inspect(runtime: str, raw: dict[str, Any]) -> dict[str, Any]:
    config, hostcfg = raw.get("Config") or {}, raw.get("HostConfig") or {}
    labels = config.get("Labels") or {}
    env = dict(e.split("=", 1) if "=" in e else (e, "") for e in config.get("Env") or [])
    if ENV_LABEL in labels:  # converge made it: compare just the names the manifest set
        names = set(filter(None, labels[ENV_LABEL].split(",")))
        env = {k: v for k, v in env.items() if k in names}
    else:
        env = {k: v for k, v in env.items() if k not in RUNTIME_ENV}
    spec: dict[str, Any] = {
        "runtime": runtime,
        "image": raw.get("ImageName") or config.get("Image"),
        "command": config.get("Cmd") or None,
        "env": env,
        "env_file": labels.get(ENV_FILE_LABEL),
        "labels": {k: v for k, v in labels.items() if not k.startswith("converge.")},
        "ports": sorted(_ports(hostcfg.get("PortBindings") or {})),
        "volumes": list(hostcfg.get("Binds") or []),
        "network": {"default": "bridge"}.get(hostcfg.get("NetworkMode") or "", hostcfg.get("NetworkMode")) or None,
        "restart": (hostcfg.get("RestartPolicy") or {}).get("Name") or "no",
        "state": _state((raw.get("State") or {}).get("Status", "")),
        "cpus": (hostcfg.get("NanoCpus") or 0) / 1e9 or None,
        "memory": hostcfg.get("Memory") or None,
        "pids_limit": hostcfg.get("PidsLimit") or None,
        "entrypoint": entrypoint_from_inspect(config.get("Entrypoint")),
        "devices": devices_from_inspect(hostcfg.get("Devices")),
        "cap_add": list(hostcfg.get("CapAdd") or []),
        "cap_drop": list(hostcfg.get("CapDrop") or []),
        "user": config.get("User") or None,
        "healthcheck": health_from_inspect(config.get("Healthcheck")),
    }
    networks, mode = networks_from_inspect(raw)
    if networks:
        spec["networks"], spec["network"] = networks, mode
    return spec


def _ports(bindings: dict[str, Any]) -> list[str]:
    out = []
    for ctr, hosts in bindings.items():
        port, _, proto = ctr.partition("/")
        for h in hosts or []:
            ip = h.get("HostIp") or ""
            out.append(f"{ip + ':' if ip and ip != '0.0.0.0' else ''}{h.get('HostPort') or port}:{port}/{proto or 'tcp'}")
    return out


def _state(status: str) -> str:
    return "running" if status == "running" else "stopped"
