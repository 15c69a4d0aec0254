"""systemd units that run converge on a schedule, without a resident converge: one
`<stem>.timer` + `<stem>.service` pair per scheduled resource, calling `converge run REF -C DIR`.

Install steps: system/units.py's verified install of both units (candidates checked with
`systemd-analyze verify`; a failing verify fails the apply with the verifier's message and leaves
the installed units as they were), then enable the timer (`systemctl --root=ROOT enable` under --root)."""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

from ...hosts.base import Host
from ...model import Observed, Ref, Step
from ...rendering import render
from ..base import Context
from ..system.units import InstallNotes, verified_install_steps

UNIT_DIR = "/etc/systemd/system"
CANDIDATE_DIR = "/var/lib/converge/units"  # candidates checked by systemd-analyze before install
MARKER = "# converge-spec: "
INSTALL_NOTES = InstallNotes(candidate="candidate {what} unit", verify="check the units before installing them",
                             install="install the {what} unit", drop="candidate checked")


def unit_paths(stem: str, directory: str = UNIT_DIR) -> tuple[str, str]:
    return f"{directory}/{stem}.timer", f"{directory}/{stem}.service"


def _quote(arg: str) -> str:
    """systemd's ExecStart= quoting: plain words stay, anything else in double quotes."""
    if arg and all(c.isalnum() or c in "-_./:=@,+%" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%") + '"'


def converge_command(ctx: Context) -> list[str]:
    """How the units call converge: settings `timers.converge` (an absolute path), else the
    `converge` on PATH, else this Python with `-m converge.cli`."""
    configured = ctx.kind_settings("timers").get("converge")
    if configured:
        return [str(configured)]
    found = shutil.which("converge")
    return [found] if found else [sys.executable, "-m", "converge.cli"]


def directory_of(ctx: Context) -> str:
    return str(getattr(ctx.desired, "directory", "") or ".")


def host_args(host: Host) -> list[str]:
    """The host the timer's run must use: the one this apply targets (a directory's default is the
    simulated host, which is not what a timer on this machine should change)."""
    spec = host.name.split(" ", 1)[0]
    root = host.path("/").rstrip("/")
    return ["--host", spec] + (["--root", root] if root and not spec.startswith("sim:") else [])


def render_units(ref: Ref, stem: str, schedule: str, spec: dict[str, Any], ctx: Context) -> tuple[str, str]:
    argv = [*converge_command(ctx), "run", str(ref), "-C", directory_of(ctx), *host_args(ctx.host)]
    values = {"ref": str(ref), "stem": stem, "schedule": " ".join(schedule.split()),
              "spec_json": json.dumps(spec, sort_keys=True, separators=(",", ":")),
              "exec_start": " ".join(_quote(a) for a in argv)}
    return render("converge-run.timer.j2", **values), render("converge-run.service.j2", **values)


def _systemctl(host: Host, *args: str) -> list[str]:
    root = host.path("/")
    return ["systemctl", f"--root={root.rstrip('/') or '/'}", *args] if root != "/" else ["systemctl", *args]


def read_units(ctx: Context, stems: dict[str, str]) -> dict[str, tuple[dict[str, Any], bool, str]]:
    """name -> (spec recovered from the timer's marker, enabled, the timer+service text) for each
    name whose timer exists; one `systemctl is-enabled` for all of them."""
    found: dict[str, tuple[dict[str, Any], str]] = {}
    for name, stem in stems.items():
        timer_path, service_path = unit_paths(stem)
        timer = ctx.host.read_file(timer_path)
        if timer is None:
            continue
        service = ctx.host.read_file(service_path) or ""
        spec: dict[str, Any] = {}
        for line in timer.splitlines():
            if line.startswith(MARKER):
                try:
                    spec = json.loads(line[len(MARKER):])
                except ValueError:
                    spec = {}
        found[name] = (spec, timer + "\0" + service)
    if not found:
        return {}
    names = sorted(found)
    result = ctx.host.run(_systemctl(ctx.host, "is-enabled", *(f"{stems[n]}.timer" for n in names)), check=False)
    states = result.stdout.split()
    enabled = {n: (states[i] == "enabled" if i < len(states) else False) for i, n in enumerate(names)}
    return {n: (found[n][0], enabled[n], found[n][1]) for n in names}


def observed(spec: dict[str, Any], enabled: bool, text: str, rendered: tuple[str, str], info: dict[str, Any]) -> Observed:
    """A scheduled resource as read: the spec its units were written from; an edited unit or a
    disabled timer shows as a changed schedule, so the plan rewrites and re-enables it."""
    spec = dict(spec)
    drift = "" if text == rendered[0] + "\0" + rendered[1] else "units edited by hand"
    if not enabled:
        drift = ", ".join(filter(None, [drift, "timer not enabled"]))
    if drift:
        spec["schedule"] = f"{spec.get('schedule', '')} ({drift})"
    return Observed(spec=spec, managed=True, info=dict(info, drift=drift))


def install_steps(stem: str, timer: str, service: str, host: Host) -> list[Step]:
    steps = verified_install_steps(host, {f"{stem}.service": service, f"{stem}.timer": timer}, CANDIDATE_DIR,
                                   INSTALL_NOTES)
    if host.path("/") == "/":
        steps.append(Step(argv=_systemctl(host, "daemon-reload"), note="systemd reads the new units"))
        return steps + [Step(argv=_systemctl(host, "enable", "--now", f"{stem}.timer"), note="start the timer")]
    return steps + [Step(argv=_systemctl(host, "enable", f"{stem}.timer"), note="enable the timer")]


def remove_steps(stem: str, host: Host) -> list[Step]:
    timer_path, service_path = unit_paths(stem)
    disable = ["disable", "--now"] if host.path("/") == "/" else ["disable"]
    steps = [Step(argv=_systemctl(host, *disable, f"{stem}.timer"), note="stop and disable the timer"),
             Step(op="remove", path=timer_path, note="remove the timer unit"),
             Step(op="remove", path=service_path, note="remove the service unit")]
    if host.path("/") == "/":
        steps.append(Step(argv=_systemctl(host, "daemon-reload"), note="systemd forgets the units"))
    return steps
