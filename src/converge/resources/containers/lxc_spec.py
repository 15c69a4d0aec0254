"""The LXC-only parts of a container's spec: its NICs (`network:` as a list), its bind mounts
(`mounts:`), and the checks that keep podman/docker fields off an LXC container and LXC fields
off the others.

NICs and mounts are compared as whole list items, so every field with a default is filled in
(as declared): an item reads back from the config exactly as the manifest spells it."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ...types import IPAddress, matches, parse_interface_address
from .volumes import normalize_volume

IFNAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}")
HWADDR = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}")
HOSTNAME = re.compile(r"(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?")
InterfaceName = Annotated[str, matches(IFNAME, "an interface name (up to 15 letters, digits, '_', '.', '-')")]
LXC_FEATURES = frozenset({"nesting"})
NIC_DEFAULTS = {"bridge": "lxcbr0", "ip": "dhcp", "ip6": "auto"}
# fields the podman/docker CLI has and LXC has not, and the other way round
NOT_LXC = ("ports", "restart", "env_file", "labels", "entrypoint", "devices", "cap_add", "cap_drop",
           "user", "healthcheck", "networks", "stop_requested")
LXC_ONLY = ("template", "onboot", "unprivileged", "rootfs_size", "cores", "swap", "hostname", "nameserver",
            "ssh_keys", "startup_order", "description", "mounts")


class LxcNic(BaseModel):
    """One veth NIC: `lxc.net.N.*`. `ip: dhcp` / `ip6: auto`: LXC sets no address, the container's
    own DHCP client or SLAAC does."""
    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: InterfaceName = Field("eth0", description="the interface inside the container (default ethN, N its index in the list)")
    bridge: InterfaceName = Field("lxcbr0", description="the host bridge the NIC joins")
    ip: str = Field("dhcp", description="IPv4 CIDR, e.g. 192.168.1.20/24, or dhcp")
    gateway: IPAddress | None = None
    ip6: str = Field("auto", description="IPv6 CIDR, or auto (SLAAC/DHCPv6 inside)")
    gateway6: IPAddress | None = None
    hwaddr: str | None = Field(None, description="MAC address, e.g. 02:00:00:00:00:01")

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        # every field with a default counts as declared: a NIC compares as a whole
        return {**NIC_DEFAULTS, **data} if isinstance(data, dict) else data

    @field_validator("ip", "ip6")
    @classmethod
    def _address(cls, v: str, info: ValidationInfo) -> str:
        word = "dhcp" if info.field_name == "ip" else "auto"
        if v == word:
            return v
        try:
            return parse_interface_address(v)
        except ValueError as e:
            raise ValueError(f"{e} (or {word})") from None

    @field_validator("hwaddr")
    @classmethod
    def _hwaddr(cls, v: str | None) -> str | None:
        if v is not None and not HWADDR.fullmatch(v.lower()):
            raise ValueError(f"{v!r} is not a MAC address (six hex pairs joined by ':')")
        return v.lower() if v is not None else None

    @model_validator(mode="after")
    def _gateways(self) -> "LxcNic":
        for gw, ip, family in ((self.gateway, self.ip, 4), (self.gateway6, self.ip6, 6)):
            if gw is None:
                continue
            if "/" not in ip:
                raise ValueError(f"gateway{'' if family == 4 else '6'} {gw} needs a static "
                                 f"ip{'' if family == 4 else '6'} (CIDR); with {ip} the container finds its own")
            if ipaddress.ip_address(gw).version != ipaddress.ip_interface(ip).version:
                raise ValueError(f"gateway {gw} is not of the address family of {ip}")
        if "/" in self.ip and ipaddress.ip_interface(self.ip).version != 4:
            raise ValueError(f"ip {self.ip} is an IPv6 address: give it as ip6")
        if "/" in self.ip6 and ipaddress.ip_interface(self.ip6).version != 6:
            raise ValueError(f"ip6 {self.ip6} is an IPv4 address: give it as ip")
        return self


class LxcMount(BaseModel):
    """A dataset (or host directory) bind-mounted into an LXC container."""
    model_config = ConfigDict(defer_build=True, extra="forbid")

    source: str = Field(description="a dataset (pool/path, bound at its mountpoint) or an absolute host path")
    target: str = Field(pattern=r"^/[A-Za-z0-9_./@+-]*$", description="where it appears inside the container")
    read_only: bool = False

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        return {"read_only": False, **data} if isinstance(data, dict) else data

    def as_volume(self) -> str:
        return normalize_volume(f"{self.source}:{self.target}" + (":ro" if self.read_only else ""))

    @model_validator(mode="after")
    def _check(self) -> "LxcMount":
        self.as_volume()  # the volume grammar's checks (source a dataset or an absolute path, no '..')
        self.target = self.target.rstrip("/") or "/"
        return self


def mount_of_volume(volume: str) -> dict[str, Any]:
    """`/tank/x:/x:ro` (a bind as read back) -> the mounts item."""
    source, target, opts = (volume.split(":") + [""])[:3]
    return {"source": source, "target": target, "read_only": "ro" in opts.split(",")}


def normalize_nics(v: Any) -> Any:
    """Names default to ethN (N the index); names must be unique."""
    if not isinstance(v, list):
        return v
    out = [{"name": f"eth{i}", **nic} if isinstance(nic, dict) else nic for i, nic in enumerate(v)]
    names = [n.get("name") for n in out if isinstance(n, dict)]
    dupes = sorted({n for n in names if names.count(n) > 1 and n is not None})
    if dupes:
        raise ValueError(f"network: NIC name {dupes[0]!r} is given twice")
    return out


def normalize_nameserver(v: Any) -> Any:
    """`1.1.1.1 9.9.9.9` (as Proxmox writes it) or a list."""
    return v.split() if isinstance(v, str) else v


def check_runtime_fields(spec: Any) -> None:
    """LXC fields on podman/docker and the reverse, and LXC's own limits of what it can express."""
    if spec.runtime != "lxc":
        given = [f for f in LXC_ONLY if getattr(spec, f) not in (None, [], {})]
        if given:
            raise ValueError(f"{given[0]} is for lxc containers ({spec.runtime} has no such setting)")
        if isinstance(spec.network, list):
            raise ValueError(f"network as a list of NICs is for lxc containers; {spec.runtime} takes "
                             "network: MODE (none, bridge, host, slirp4netns...) and networks: [NAMES]")
        if spec.state == "frozen":
            raise ValueError(f"state frozen is for lxc containers (lxc-freeze); {spec.runtime}: running or stopped")
        return
    for what in NOT_LXC:
        if getattr(spec, what):
            raise ValueError(f"lxc containers have no {what} (podman and docker do)")
    if any(not arg or any(c.isspace() or c in "'\"" for c in arg) for arg in spec.command or []):
        # LXC splits lxc.init.cmd on blanks and honours no quoting: such a command would run mangled
        raise ValueError("lxc command: an argument with blanks or quotes cannot be passed "
                         "(LXC splits lxc.init.cmd on blanks); use a script in the rootfs")
    unknown = set(spec.features) - LXC_FEATURES
    if unknown:
        raise ValueError(f"lxc features {sorted(unknown)}: known are {sorted(LXC_FEATURES)}")
    if spec.swap is not None and spec.memory is None:
        raise ValueError("swap needs memory: LXC limits memory and swap together (memory+swap on cgroup v1)")
    if spec.volumes and spec.mounts:
        raise ValueError("volumes and mounts are two spellings of an lxc container's binds: use one")
    if spec.rootfs_size and (spec.ssh_keys is not None or spec.nameserver is not None):
        raise ValueError("ssh_keys and nameserver are written into a directory rootfs; a rootfs_size one is a "
                         "loop image converge does not mount")
