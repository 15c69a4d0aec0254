"""systemd's unit-file syntax and path escaping: what converge writes (mount units, container
services, timers) and what the simulated systemd checks and replays at boot."""

from __future__ import annotations

import functools
import re

_SAFE = re.compile(r"[A-Za-z0-9:_.]")


def escape_path(path: str) -> str:
    """`systemd-escape --path`: a mount unit's name must be its escaped Where= path."""
    trimmed = "/".join(p for p in path.split("/") if p)
    if not trimmed:  # the root alone (a directory named "-" is escaped like any other "-")
        return "-"
    out = []
    for i, ch in enumerate(trimmed):
        if ch == "/":
            out.append("-")
        elif _SAFE.fullmatch(ch) and not (i == 0 and ch == "."):
            out.append(ch)
        else:
            out.extend(f"\\x{b:02x}" for b in ch.encode())
    return "".join(out)


def mount_unit_name(where: str) -> str:
    return escape_path(where) + ".mount"


def parse_unit(text: str) -> dict[str, dict[str, str]]:
    """Sections and keys of a unit file (last value wins; enough for the units converge writes).
    Keys before the first section header land in section ""."""
    out: dict[str, dict[str, str]] = {}
    section = out.setdefault("", {})
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = out.setdefault(line[1:-1], {})
        elif "=" in line:
            key, _, value = line.partition("=")
            section[key.strip()] = value.strip()
    return out


def parse_sysctl(text: str) -> dict[str, str]:
    """sysctl.d(5) lines -> key: value (slashes in keys are dots; a leading '-' ignores errors)."""
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.lstrip("-").partition("=")
        if sep:
            out[key.strip().replace("/", ".")] = " ".join(value.split())
    return dict(sorted(out.items()))


@functools.cache
def timezones() -> frozenset[str]:
    """The tz database's zone names, as `timedatectl list-timezones` offers them."""
    import zoneinfo  # here: loading the zone list is slow and most runs never need it

    return frozenset(zoneinfo.available_timezones())
