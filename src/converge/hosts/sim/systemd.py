"""Emulated `systemctl` (enable, disable, is-enabled, daemon-reload, --root=) and
`systemd-analyze verify` / `calendar` for converge's timer units. Enabled units are recorded in
sim["systemd_enabled"]; unit files are the host's files. verify checks what converge's units
need: the sections, ExecStart= an absolute path, OnCalendar= a calendar event, the timer's unit."""

from __future__ import annotations

from typing import Any

from ..base import Result
from . import fail, tool


def _enabled(host: Any) -> list[str]:
    return host.facts.sim.setdefault("systemd_enabled", [])  # type: ignore[no-any-return]


def _unit_file(host: Any, unit: str) -> str | None:
    for directory in ("/etc/systemd/system", "/usr/lib/systemd/system"):
        text = host.read_file(f"{directory}/{unit}")
        if text is not None:
            return str(text)
    return None


@tool("systemctl")
def systemctl(host: Any, argv: list[str], input: str | None) -> Result:
    args = [a for a in argv[1:] if not a.startswith("--root=") and a not in ("--now", "-q", "--quiet")]
    verb, units = (args[0] if args else ""), args[1:]
    if verb == "daemon-reload":
        return Result(0)
    if verb in ("enable", "disable"):
        for unit in units:
            if _unit_file(host, unit) is None:
                return fail(f"Failed to {verb} unit: Unit file {unit} does not exist.")
        enabled = _enabled(host)
        for unit in units:
            if verb == "enable" and unit not in enabled:
                enabled.append(unit)
                host.changed()
            elif verb == "disable" and unit in enabled:
                enabled.remove(unit)
                host.changed()
        return Result(0)
    if verb == "is-enabled":
        out = []
        for unit in units:
            if _unit_file(host, unit) is None:
                return Result(1, "".join(out), f"Failed to get unit file state for {unit}: No such file or directory\n")
            out.append(("enabled" if unit in _enabled(host) else "disabled") + "\n")
        return Result(0 if all(line == "enabled\n" for line in out) else 1, "".join(out))
    return fail(f"Unknown command verb {verb} (not emulated by the simulated host).")


def _sections(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    current = ""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            out.setdefault(current, {})
        elif "=" in line and current:
            key, _, value = line.partition("=")
            out[current][key.strip()] = value.strip()
    return out


@tool("systemd-analyze")
def systemd_analyze(host: Any, argv: list[str], input: str | None) -> Result:
    from ...resources.policies import calendar

    if argv[1:2] != ["verify"]:
        return fail(f"systemd-analyze {' '.join(argv[1:2])}: not emulated by the simulated host")
    errors = []
    given = {p.rsplit("/", 1)[-1]: p for p in argv[2:]}
    for name, path in given.items():
        text = host.read_file(path)
        if text is None:
            errors.append(f"Failed to prepare filename {path}: No such file or directory")
            continue
        sections = _sections(text)
        if name.endswith(".service"):
            start = sections.get("Service", {}).get("ExecStart", "")
            if not start.lstrip('"').startswith("/"):
                errors.append(f"{name}: Executable path is not absolute: {start}")
        elif name.endswith(".timer"):
            spec = sections.get("Timer", {}).get("OnCalendar", "")
            try:
                calendar.parse(spec.removesuffix(" UTC"))
            except calendar.CalendarError:
                errors.append(f"{path}:{1}: Failed to parse calendar specification, ignoring: {spec}")
                errors.append(f"{name}: Timer unit lacks value setting. Refusing.")
            target = sections.get("Timer", {}).get("Unit", name.removesuffix(".timer") + ".service")
            if target not in given and _unit_file(host, target) is None:
                errors.append(f"{name}: Refusing to start, unit {target} to trigger not loaded.")
        else:
            errors.append(f"{name}: unit type not emulated by the simulated host")
    return Result(1 if errors else 0, "", "".join(e + "\n" for e in errors))
