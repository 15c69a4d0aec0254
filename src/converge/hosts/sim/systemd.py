"""systemd and its settings tools on the simulated host: `systemctl`, `systemd-analyze verify`,
`systemd-escape --path`, `hostnamectl`, `timedatectl`, `sysctl -p`, and `ln -sfn` / `readlink`
for the /etc/localtime link; `systemd-analyze verify` also checks timers (OnCalendar=, the unit to trigger).

State in `sim["systemd"]`: {"running": bool, "units": {UNIT: {"enabled": bool, "active": bool}}}.
The host ships a few vendor services (VENDOR_UNITS); converge's own units are the unit files it
wrote (facts.files under /etc/systemd/system). Symlinks live in `sim["symlinks"]` (path -> target)."""

from __future__ import annotations

from typing import Any

from ...formats import calendar
from ...formats.systemd import escape_path, mount_unit_name, parse_unit, timezones
from ..base import Result
from . import TOOLS, fail, tool

UNIT_DIR = "/etc/systemd/system/"
# name -> (enabled, active) on a freshly installed simulated NAS
VENDOR_UNITS = {
    "ssh.service": (True, True), "systemd-timesyncd.service": (True, True), "systemd-networkd.service": (False, False),
    "systemd-resolved.service": (False, False), "smbd.service": (False, False), "nmbd.service": (False, False),
    "nfs-server.service": (False, False), "docker.service": (False, False), "podman.service": (False, False), "lxc.service": (True, True),
    "zfs-mount.service": (True, True), "zfs-import-cache.service": (True, True),
}
SUFFIXES = (".service", ".mount", ".timer", ".socket", ".target")


def state(host: Any) -> dict[str, Any]:
    systemd = host.facts.sim.setdefault("systemd", {})
    systemd.setdefault("running", True)
    units = systemd.setdefault("units", {})
    if not systemd.get("vendor"):
        for name, (enabled, active) in VENDOR_UNITS.items():
            units.setdefault(name, {"enabled": enabled, "active": active})
        systemd["vendor"] = True
    return systemd  # type: ignore[no-any-return]


def unit_files(host: Any) -> dict[str, dict[str, Any]]:
    """Every unit the host knows: vendor ones and converge's files, with their runtime record."""
    units = state(host)["units"]
    for path in host.facts.files:
        if path.startswith(UNIT_DIR) and path.endswith(SUFFIXES) and "/" not in path[len(UNIT_DIR):]:
            units.setdefault(path[len(UNIT_DIR):], {"enabled": False, "active": False})
    for name in [n for n in units if n not in VENDOR_UNITS and UNIT_DIR + n not in host.facts.files]:
        del units[name]  # its file was removed
    return units  # type: ignore[no-any-return]


def _unit(name: str) -> str:
    return name if name.endswith(SUFFIXES) else name + ".service"


@tool("systemctl")
def systemctl(host: Any, argv: list[str], input: str | None) -> Result:
    args = [a for a in argv[1:] if not a.startswith("--root=")]
    offline = len(args) != len(argv) - 1  # --root: the unit files only, no running manager
    flags = [a for a in args if a.startswith("-")]
    words = [a for a in args if not a.startswith("-")]
    if not words:
        return fail("systemctl: a command is needed")
    verb, names = words[0], [_unit(n) for n in words[1:]]
    systemd = state(host)
    if verb == "is-system-running":
        return Result(0, "running\n") if systemd["running"] else Result(1, "offline\n")
    units = unit_files(host)
    if verb == "list-unit-files":
        kind = next((f.split("=", 1)[1] for f in flags if f.startswith("--type=")), "")
        rows = [f"{n} {'enabled' if u['enabled'] else 'disabled'} enabled" for n, u in sorted(units.items())
                if not kind or n.endswith("." + kind)]
        return Result(0, "".join(r + "\n" for r in rows))
    if verb == "daemon-reload":
        return Result(0)
    if not systemd["running"] and not offline and verb not in ("enable", "disable", "is-enabled"):
        return fail("System has not been booted with systemd as init system (PID 1). Can't operate.")
    if verb == "list-units":
        kind = next((f.split("=", 1)[1] for f in flags if f.startswith("--type=")), "")
        rows = [f"{n} loaded {'active running' if u['active'] else 'inactive dead'} {n}"
                for n, u in sorted(units.items()) if not kind or n.endswith("." + kind)]
        return Result(0, "".join(r + "\n" for r in rows))
    missing = [n for n in names if n not in units]
    if missing:
        return fail(f"Failed to {verb} unit: Unit file {missing[0]} does not exist.")
    if verb in ("enable", "disable"):
        for n in names:
            units[n]["enabled"] = verb == "enable"
    elif verb in ("start", "restart", "reload-or-restart"):
        for n in names:
            units[n]["active"] = True
    elif verb == "try-restart":
        pass
    elif verb == "stop":
        for n in names:
            units[n]["active"] = False
    elif verb == "is-enabled":
        enabled = all(units[n]["enabled"] for n in names)
        return Result(0 if enabled else 1, "".join(("enabled" if units[n]["enabled"] else "disabled") + "\n"
                                                  for n in names))
    else:
        return fail(f"systemctl: {verb} is not emulated")
    host.changed()
    return Result(0)


@tool("systemd-analyze")
def systemd_analyze(host: Any, argv: list[str], input: str | None) -> Result:
    """`verify FILE...`: the checks systemd makes that converge's units could fail."""
    if argv[1:2] != ["verify"]:
        return fail("systemd-analyze: only verify is emulated")
    errors = []
    for path in argv[2:]:
        text = host.facts.files.get(path)
        name = path.rsplit("/", 1)[-1]
        if text is None:
            errors.append(f"Failed to prepare filename {path}: No such file or directory")
            continue
        sections = {line.strip() for line in text.splitlines() if line.strip().startswith("[")}
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("ExecStart", "ExecStartPre", "ExecStop", "ExecStopPost") and value.strip():
                binary = value.strip().lstrip("-@:+!").split()[0].strip('"')
                if binary.rsplit("/", 1)[-1] not in TOOLS and not _ours(binary):
                    errors.append(f"{name}: Command {binary} is not executable: No such file or directory")
            if key.strip() == "Where" and name.endswith(".mount"):
                if mount_unit_name(value.strip()) != name:
                    errors.append(f"{name}: Where= setting doesn't match unit name. Refusing.")
        if name.endswith(".mount") and "[Mount]" not in sections:
            errors.append(f"{name}: Unit has no [Mount] section")
        if name.endswith(".timer"):
            errors += _timer_problems(host, name, path, text, argv[2:])
        if name.endswith(".service") and "[Service]" not in sections:
            errors.append(f"{name}: Service has no ExecStart=, ExecStop=, or SuccessAction=. Refusing.")
    return Result(1, "", "".join(e + "\n" for e in errors)) if errors else Result(0)


def _ours(binary: str) -> bool:
    """converge itself (its console script, or the Python running it): what timers call."""
    base = binary.rsplit("/", 1)[-1]
    return binary.startswith("/") and (base == "converge" or base.startswith("python"))


def _timer_problems(host: Any, name: str, path: str, text: str, given: list[str]) -> list[str]:
    timer = parse_unit(text).get("Timer", {})
    spec, problems = timer.get("OnCalendar", ""), []
    try:
        calendar.parse(spec.removesuffix(" UTC"))
    except calendar.CalendarError:
        problems += [f"{path}:1: Failed to parse calendar specification, ignoring: {spec}",
                     f"{name}: Timer unit lacks value setting. Refusing."]
    target = timer.get("Unit", name.removesuffix(".timer") + ".service")
    if target not in {g.rsplit("/", 1)[-1] for g in given} and UNIT_DIR + target not in host.facts.files:
        problems.append(f"{name}: Refusing to start, unit {target} to trigger not loaded.")
    return problems


@tool("systemd-escape")
def systemd_escape(host: Any, argv: list[str], input: str | None) -> Result:
    args = argv[1:]
    suffix = next((a.split("=", 1)[1] for a in args if a.startswith("--suffix=")), "")
    paths = [a for a in args if not a.startswith("-")]
    return Result(0, "".join(escape_path(p) + (f".{suffix}" if suffix else "") + "\n" for p in paths))


@tool("hostnamectl")
def hostnamectl(host: Any, argv: list[str], input: str | None) -> Result:
    if argv[1:2] != ["set-hostname"] or len(argv) != 3:
        return fail("hostnamectl: only set-hostname NAME is emulated")
    if not state(host)["running"]:
        return fail("System has not been booted with systemd as init system (PID 1). Can't operate.")
    host.facts.files["/etc/hostname"] = argv[2] + "\n"
    host.changed()
    return Result(0)


@tool("timedatectl")
def timedatectl(host: Any, argv: list[str], input: str | None) -> Result:
    if argv[1:2] != ["set-timezone"] or len(argv) != 3:
        return fail("timedatectl: only set-timezone ZONE is emulated")
    if argv[2] not in timezones():
        return fail(f"Failed to set time zone: Invalid or unknown time zone '{argv[2]}'")
    host.facts.sim.setdefault("symlinks", {})["/etc/localtime"] = f"/usr/share/zoneinfo/{argv[2]}"
    host.changed()
    return Result(0)


@tool("sysctl")
def sysctl(host: Any, argv: list[str], input: str | None) -> Result:
    if argv[1:2] != ["-p"] or len(argv) != 3:
        return fail("sysctl: only -p FILE is emulated")
    text = host.facts.files.get(argv[2])
    if text is None:
        return fail(f"sysctl: cannot open \"{argv[2]}\": No such file or directory", 255)
    live = host.facts.sim.setdefault("sysctl", {})
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if not sep:
            return fail(f"sysctl: {argv[2]}: line without '=': {line}", 255)
        live[key.strip()] = value.strip()
        out.append(f"{key.strip()} = {value.strip()}")
    host.changed()
    return Result(0, "".join(o + "\n" for o in out))


@tool("readlink")
def readlink(host: Any, argv: list[str], input: str | None) -> Result:
    path = argv[-1]
    target = host.facts.sim.get("symlinks", {}).get(path)
    return Result(0, target + "\n") if target else Result(1)


@tool("ln")
def ln(host: Any, argv: list[str], input: str | None) -> Result:
    args = argv[1:]
    if args[:1] != ["-sfn"] or len(args) != 3:
        return fail("ln: only `ln -sfn TARGET LINK` is emulated")
    host.facts.sim.setdefault("symlinks", {})[args[2]] = args[1]
    host.changed()
    return Result(0)
