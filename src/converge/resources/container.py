"""Kind `container`: podman or docker (one driver, same verbs), or LXC."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..model import Ref
from ..types import OnOff, Size, Stamp
from .base import Kind, Spec
from .shares_common import DATASET_NAME

# [registry[:port]/]path[:tag][@sha256:digest]
IMAGE_RE = re.compile(r"([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
                      r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?")
PORT_RE = re.compile(r"(?:(?P<ip>[0-9.]+):)?(?P<host>\d{1,5})(?::(?P<ctr>\d{1,5}))?(?:/(?P<proto>tcp|udp|sctp))?")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MIN_MEMORY = 6 * 1024 * 1024  # podman and docker refuse less than 6M


def normalize_port(spec: Any) -> str:
    """`8096`, `8096:8096`, `0.0.0.0:8096:8096/tcp` -> `8096:8096/tcp` (bind address kept if not 0.0.0.0)."""
    m = PORT_RE.fullmatch(str(spec).strip())
    if not m:
        raise ValueError(f"{spec!r} is not a port mapping: HOST:CONTAINER[/tcp|udp], e.g. 8096:8096")
    host, ctr = int(m["host"]), int(m["ctr"] or m["host"])
    if not (1 <= host <= 65535 and 1 <= ctr <= 65535):
        raise ValueError(f"{spec!r}: ports are 1-65535")
    ip = m["ip"] if m["ip"] and m["ip"] != "0.0.0.0" else ""
    return f"{ip + ':' if ip else ''}{host}:{ctr}/{m['proto'] or 'tcp'}"


def host_port(mapping: str) -> tuple[str, int, str]:
    parts = mapping.split("/")[0].split(":")
    return (parts[0] if len(parts) == 3 else "", int(parts[-2]), mapping.split("/")[1])


def parse_volume(spec: str) -> tuple[str, str, str]:
    """`tank/media:/media:ro` or `/srv/x:/x` -> (source, target, options)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/"):
        raise ValueError(f"{spec!r} is not a volume: SOURCE:/path/in/container[:ro|rw], "
                         "SOURCE a dataset (pool/path) or an absolute path")
    source, target, opts = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
    if not (source.startswith("/") or DATASET_NAME.fullmatch(source)) or ".." in spec.split("/"):
        raise ValueError(f"volume source {source!r} is neither a dataset (pool/path) nor an absolute path")
    for opt in filter(None, opts.split(",")):
        if opt not in ("ro", "rw", "z", "Z", "shared", "slave", "private", "rshared", "rslave", "rprivate"):
            raise ValueError(f"volume option {opt!r} is not one of ro, rw, z, Z, [r]shared, [r]slave, [r]private")
    return source, target, opts


class ContainerSpec(Spec):
    runtime: Literal["podman", "docker", "lxc"] = "podman"
    image: str | None = Field(None, description="image reference (podman/docker), e.g. jellyfin/jellyfin:10.9")
    template: str | None = Field(None, description="lxc: template (busybox, download)")
    command: list[str] | None = None
    env: dict[str, str] = Field(default_factory=dict, description="values are never shown in plans",
                                json_schema_extra={"x-converge-sensitive": True})
    env_file: str | None = Field(None, pattern=r"^/[A-Za-z0-9_./:+@-]+$")
    ports: list[str] | None = None
    volumes: list[str] | None = None
    network: str | None = Field(None, pattern=r"^(none|bridge|host|[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14})$")
    restart: Literal["no", "always", "on-failure", "unless-stopped"] | None = None
    state: Literal["running", "stopped"] = Field("running", json_schema_extra={"x-converge-always": True})
    cpus: float | None = Field(None, gt=0, le=1024)
    memory: Size | None = None
    pids_limit: int | None = Field(None, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)
    onboot: OnOff | None = Field(None, description="lxc: start at boot")
    unprivileged: OnOff | None = Field(None, description="lxc")
    rootfs_size: Size | None = Field(None, description="lxc")
    features: dict[str, OnOff] = Field(default_factory=dict, description="lxc: nesting, keyctl, ...")
    restart_requested: Stamp | None = None

    @field_validator("image")
    @classmethod
    def _image(cls, v: str | None) -> str | None:
        if v is not None and not IMAGE_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not an image reference (name[:tag][@sha256:digest], lowercase)")
        return v

    @field_validator("command", mode="before")
    @classmethod
    def _command(cls, v: Any) -> Any:
        if isinstance(v, str):
            import shlex

            return shlex.split(v)
        return v

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            if not ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name ([A-Za-z_][A-Za-z0-9_]*)")
            if "\x00" in str(value):
                raise ValueError(f"env {name}: value may not contain NUL")
        return {k: str(val) for k, val in v.items()}

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[str] | None) -> list[str] | None:
        return sorted({normalize_port(p) for p in v}) if v is not None else None

    @field_validator("volumes")
    @classmethod
    def _volumes(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        for spec in v:
            parse_volume(spec)
        return sorted(set(v))

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: int | None) -> int | None:
        if v is not None and v < MIN_MEMORY:
            raise ValueError("memory below 6M: podman and docker refuse limits under 6M")
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if k.startswith("converge."):
                raise ValueError(f"label {k!r}: the converge.* labels are converge's own")
        return v

    @model_validator(mode="after")
    def _runtime_fields(self) -> "ContainerSpec":
        if self.runtime in ("podman", "docker") and not self.image:
            raise ValueError(f"a {self.runtime} container needs image")
        if self.runtime == "lxc" and self.image:
            raise ValueError("an lxc container takes template, not image")
        return self


class ContainerKind(Kind[ContainerSpec]):
    kind = "container"
    section = ("containers",)
    spec = ContainerSpec
    name_pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
    name_allowed = "a letter or digit, then up to 62 letters, digits, '_', '.', '-'"
    create_only = frozenset({"runtime", "image", "template", "command", "env", "env_file", "ports", "volumes",
                             "network", "restart", "cpus", "memory", "pids_limit", "labels"})

    def depends(self, name: str, spec: ContainerSpec) -> list[Ref]:
        refs = []
        for volume in spec.volumes or []:
            source = parse_volume(volume)[0]
            if not source.startswith("/"):
                refs.append(Ref(kind="dataset" if "/" in source else "pool", name=source))
        if spec.network and spec.network not in ("none", "bridge", "host"):
            refs.append(Ref(kind="interface", name=spec.network))
        return refs

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
