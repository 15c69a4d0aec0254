"""The container runtimes' own canonical forms (podman 4.3, docker 20+): an image reference as the
runtime records it, a `-p` port mapping, a `--device` and a `--cap-add` as `inspect` shows them,
and the smallest memory limit they accept. Shared by the container kind (a manifest's spelling and
an `inspect` answer land in the same form) and the simulated podman/docker (which record them so)."""

from __future__ import annotations

import re
from typing import Any

IMAGE_RE = re.compile(r"([a-z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*"
                      r"(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(@sha256:[a-f0-9]{64})?")
PORT_RE = re.compile(r"(?:(?P<ip>\d{1,3}(?:\.\d{1,3}){3}):)?(?P<host>\d{1,5})(?::(?P<ctr>\d{1,5}))?(?:/(?P<proto>tcp|udp|sctp))?")
DEVICE_PERMS = re.compile(r"[rwm]{1,3}")
CAP_RE = re.compile(r"(CAP_)?[A-Z][A-Z0-9_]*")
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


def normalize_image(ref: str) -> str:
    """The reference the runtime records: `jellyfin/jellyfin` -> `docker.io/jellyfin/jellyfin:latest`,
    `busybox:1` -> `docker.io/library/busybox:1`. Podman stores the fully qualified name, and converge
    always passes it, so short-name resolution (which could pick `localhost/busybox`) never guesses."""
    name, _, digest = ref.partition("@")
    last = name.rsplit("/", 1)[-1]
    tag = ""
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    first, slash, rest = name.partition("/")
    if not slash or not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
        first, _, rest = name.partition("/")
    if first == "docker.io" and "/" not in rest:
        name = f"docker.io/library/{rest}"
    if not tag and not digest:
        tag = "latest"
    return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")


def normalize_device(spec: str) -> str:
    """`/dev/dri` -> `/dev/dri:/dev/dri`; `/dev/fuse:/dev/fuse:rwm` -> `/dev/fuse:/dev/fuse` (rwm is
    the default); other permissions kept, sorted as r, w, m."""
    parts = str(spec).split(":")
    if len(parts) == 2 and DEVICE_PERMS.fullmatch(parts[1]):
        parts = [parts[0], parts[0], parts[1]]
    if not 1 <= len(parts) <= 3 or not all(p.startswith("/dev/") or i == 1 and p.startswith("/")
                                           for i, p in enumerate(parts[:2])):
        raise ValueError(f"{spec!r} is not a device: /dev/HOST[:/CONTAINER-PATH][:rwm], e.g. /dev/dri")
    if ".." in "/".join(parts[:2]).split("/"):
        raise ValueError(f"device {spec!r}: '..' is not allowed in a path")
    host, ctr = parts[0], parts[1] if len(parts) > 1 else parts[0]
    perms = parts[2] if len(parts) == 3 else "rwm"
    if not DEVICE_PERMS.fullmatch(perms) or len(set(perms)) != len(perms):
        raise ValueError(f"device {spec!r}: permissions are some of r, w, m (e.g. rwm or r)")
    perms = "".join(p for p in "rwm" if p in perms)
    return f"{host}:{ctr}" + (f":{perms}" if perms != "rwm" else "")


def normalize_cap(cap: str) -> str:
    """`net_admin`, `NET_ADMIN`, `CAP_NET_ADMIN` -> `CAP_NET_ADMIN`; `all` -> `ALL`."""
    name = str(cap).strip().upper()
    if name == "ALL":
        return name
    if not CAP_RE.fullmatch(name):
        raise ValueError(f"{cap!r} is not a capability name (e.g. NET_ADMIN, SYS_PTRACE or ALL)")
    return name if name.startswith("CAP_") else "CAP_" + name
