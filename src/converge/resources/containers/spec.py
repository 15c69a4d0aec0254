"""The container kind's spec: what the kind and its drivers (podman/docker CLI, LXC) all build on,
so the drivers never import the kind. The volume grammar is volumes.py, the LXC-only parts lxc_spec.py."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, WithJsonSchema, field_validator, model_validator

from ...formats.containers import IMAGE_RE, MIN_MEMORY, normalize_cap, normalize_device, normalize_image, normalize_port
from ...types import IPAddress, OnOff, Size, Stamp, matches, matching, sorted_set_of
from ..accounts.extras import PublicKeys
from ..base import Spec, allow_destroy_field
from .fields import NETWORK_NAME, STRINGS, USER_RE, Healthcheck, StopRequest, Words, check_env_names
from .lxc_spec import HOSTNAME, LxcMount, LxcNic, check_runtime_fields, normalize_nameserver, normalize_nics
from .volumes import normalize_volume

# the one-string form or LXC's NIC list: chosen by the value's type, so an error is about that form
# only (the tags are of the shape that error locations leave out, yamlsource.py)
NetworkField = Annotated[
    Annotated[Annotated[str, Field(pattern=r"^(none|bridge|host|[A-Za-z0-9_][A-Za-z0-9_.:-]{0,14})$")], Tag("string[mode]")]
    | Annotated[list[LxcNic], Tag("list[nics]")],
    Discriminator(lambda v: "list[nics]" if isinstance(v, list) else "string[mode]"),
    BeforeValidator(normalize_nics)]  # first: NICs named (eth0, eth1, ...) and checked for twice-given names
Capabilities = Annotated[list[str], sorted_set_of(normalize_cap)]
Devices = Annotated[list[str], sorted_set_of(normalize_device)]
RunAs = Annotated[str, matches(USER_RE, "USER[:GROUP] (names or numeric ids)")]
Hostname = Annotated[str, matches(HOSTNAME, "a hostname (letters, digits and '-', up to 64, no '-' at either end)")]


def network_name(name: str) -> str:
    matching(NETWORK_NAME, name, "a network name (letters, digits, '_', '.', '-')")
    return name


NetworkNames = Annotated[list[str], sorted_set_of(network_name)]


class ContainerSpec(Spec):
    runtime: Literal["podman", "docker", "lxc"] = "podman"
    image: str | None = Field(None, description="image reference (podman/docker), e.g. jellyfin/jellyfin:10.9")
    template: str | None = Field(None, pattern=r"^[a-z0-9_-]+(:[A-Za-z0-9._-]+){0,3}$",
                                 description="lxc: template, e.g. busybox, or download:DIST:RELEASE:ARCH")
    command: Words | None = None
    entrypoint: Words | None = Field(None, description="podman/docker: replaces the image's entrypoint")
    env: dict[str, str] = Field(default_factory=dict, description="values are never shown in plans",
                                json_schema_extra={"x-converge-sensitive": True})
    env_file: str | None = Field(None, pattern=r"^/[A-Za-z0-9_./:+@-]+$")
    ports: Annotated[list[str], sorted_set_of(normalize_port)] | None = None
    volumes: Annotated[list[str], sorted_set_of(normalize_volume)] | None = None
    network: NetworkField | None = Field(None, description="a mode (none, bridge, host) or an interface; lxc also takes "
                                    "a list of NICs: [{name, bridge, ip: CIDR|dhcp, gateway, ip6, hwaddr}]")
    restart: Literal["no", "always", "on-failure", "unless-stopped"] | None = None
    state: Literal["running", "stopped", "frozen"] = Field(
        "running", description="frozen: lxc only (lxc-freeze)", json_schema_extra={"x-converge-always": True})
    cpus: float | None = Field(None, gt=0, le=1024)
    memory: Size | None = None
    pids_limit: int | None = Field(None, ge=1)
    labels: dict[str, str] = Field(default_factory=dict)
    devices: Devices | None = Field(None, description="host devices, /dev/HOST[:/CONTAINER][:rwm], e.g. /dev/dri")
    cap_add: Capabilities | None = Field(None, description="capabilities added, e.g. NET_ADMIN")
    cap_drop: Capabilities | None = Field(None, description="capabilities dropped, e.g. MKNOD or ALL")
    user: RunAs | None = Field(None, description="USER[:GROUP] (names or ids) the process runs as")
    healthcheck: Healthcheck | None = None
    networks: NetworkNames | None = Field(None, description="podman/docker networks joined, by name")
    pull: Literal["missing", "always", "newer"] = Field(
        "missing", description="missing: pull when not local; always: pull at every create/replace; newer: "
        "replace when the registry (or the local store) has another digest for the image",
        json_schema_extra={"x-converge-meta": True})
    stop_timeout: int | None = Field(None, ge=0, le=3600, description="seconds a stop waits before SIGKILL "
                                     "(podman/docker stop -t); 0 kills at once", json_schema_extra={"x-converge-meta": True})
    onboot: OnOff | None = Field(None, description="lxc: start at boot")
    unprivileged: OnOff | None = Field(None, description="lxc")
    rootfs_size: Size | None = Field(None, description="lxc")
    features: dict[str, OnOff] = Field(default_factory=dict, description="lxc: nesting, keyctl, ...")
    cores: int | None = Field(None, ge=1, le=1024, description="lxc: CPUs it may run on (cpuset 0..N-1)")
    swap: Size | None = Field(None, description="lxc: swap on top of memory (needs memory)")
    hostname: Hostname | None = Field(None, description="lxc: lxc.uts.name (default: the container's name)")
    nameserver: Annotated[list[IPAddress], WithJsonSchema({"anyOf": [
        {"type": "string", "description": "addresses separated by blanks"}, {**STRINGS, "maxItems": 3}]})] | None = Field(
        None, max_length=3, description="lxc: the rootfs's /etc/resolv.conf")
    ssh_keys: PublicKeys | None = Field(None, description="lxc: OpenSSH public keys in the rootfs's "
                                       "/root/.ssh/authorized_keys (converge's block of it)")
    startup_order: int | None = Field(None, ge=0, le=100000, description="lxc: lxc.start.order (lxc-autostart)")
    description: str | None = Field(None, max_length=4096, description="lxc: kept as comments in its config")
    mounts: list[LxcMount] | None = Field(None, description="lxc: datasets or host paths bind-mounted "
                                          "(the same binds as volumes, spelt as objects)")
    restart_requested: Stamp | None = None
    persist: bool = Field(True, description="podman with a restart policy: a converge-container-NAME.service "
                                            "unit recreates it at boot (docker: its restart policy and the docker "
                                            "service)", json_schema_extra={"x-converge-always": True})
    stop_requested: StopRequest | None = Field(None, description="podman/docker: how the stop that state: stopped "
                                               "makes is done, once: {at: STAMP, timeout: SECONDS, force: true}")
    allow_destroy: bool = allow_destroy_field()  # lxc: its rootfs holds data

    @field_validator("image")
    @classmethod
    def _image(cls, v: str | None) -> str | None:
        if v is not None and not IMAGE_RE.fullmatch(v):
            raise ValueError(f"{v!r} is not an image reference (name[:tag][@sha256:digest], lowercase)")
        return normalize_image(v) if v is not None else None

    @field_validator("env")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        check_env_names(v)
        for name, value in v.items():
            if "\x00" in str(value):
                raise ValueError(f"env {name}: value may not contain NUL")
        return {k: str(val) for k, val in v.items()}

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: int | None) -> int | None:
        if v is not None and v < MIN_MEMORY:
            raise ValueError("memory below 6M: podman and docker refuse limits under 6M")
        return v

    @field_validator("nameserver", mode="before")
    @classmethod
    def _nameserver(cls, v: Any) -> Any:
        # not a BeforeValidator in the type: the field's max_length would then apply to the string too
        return normalize_nameserver(v)

    @field_validator("description")
    @classmethod
    def _description(cls, v: str | None) -> str | None:
        # kept as comment lines: trailing blanks and empty lines at the end would not read back
        return "\n".join(line.rstrip() for line in v.strip("\n").splitlines()) if v is not None else None

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
        check_runtime_fields(self)
        if self.ports and self.network in ("none", "host"):
            # podman and docker drop the mappings with a warning: such a spec could never converge
            raise ValueError(f"ports with network {self.network}: the runtime discards port mappings there")
        if self.networks and self.network not in (None, "bridge"):
            raise ValueError(f"networks with network {self.network}: a container on named networks has no other mode")
        if self.runtime == "docker" and self.entrypoint and len(self.entrypoint) > 1:
            raise ValueError("docker's --entrypoint takes one program: put its arguments in command")
        if self.runtime == "docker" and self.healthcheck and self.healthcheck.test[0] != "CMD-SHELL":
            raise ValueError("docker healthcheck: the CLI sets a shell command only; give test as a string")
        return self
