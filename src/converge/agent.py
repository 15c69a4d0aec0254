"""Pull mode: `converge agent install DIR` makes a host converge itself. It writes the systemd
service converge-agent.service that runs `converge watch DIR [--git-pull N] [--report URL
--report-token-file PATH]` on the host, through the same path as every unit converge writes
(resources/system/units.py): a candidate, `systemd-analyze verify`, install, enable. Enabling
(and starting) happens only where converge manages what boots: under --root (an image), or on a
host whose running init is systemd; anywhere else the install is refused (nothing would run it).

A second install with the same options changes nothing and says so; `agent uninstall` removes
the unit. The report token stays in its file: the unit names the file, never the token."""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field
from typing import Any

from .errors import ConvergeError
from .hosts.base import Host
from .model import Step
from .rendering import render
from .resources.policies.units import _quote, host_args
from .resources.system.units import install_unit_steps, manages_boot, systemctl, systemd_running, unit_files, unit_path

UNIT = "converge-agent.service"


@dataclass
class Outcome:
    changed: bool
    lines: list[str] = field(default_factory=list)  # what was done, one line a step


def converge_command() -> list[str]:
    """How the unit calls converge: the `converge` on PATH, else this Python with -m converge.cli."""
    found = shutil.which("converge")
    return [found] if found else [sys.executable, "-m", "converge.cli"]


def watch_argv(directory: str, host: Host, git_pull: float | None = None, report: str | None = None,
               token_file: str | None = None, report_as: str | None = None) -> list[str]:
    if (report is None) != (token_file is None):
        raise ConvergeError("--report URL and --report-token-file PATH go together")
    if git_pull is not None and not git_pull > 0:
        raise ConvergeError(f"--git-pull {git_pull:g}: seconds between pulls, more than 0")
    argv = [*converge_command(), "watch", os.path.abspath(directory), *host_args(host)]
    if git_pull is not None:
        argv += ["--git-pull", f"{git_pull:g}"]
    if report is not None and token_file is not None:
        argv += ["--report", report, "--report-token-file", os.path.abspath(token_file)]
        if report_as:
            argv += ["--report-as", report_as]
    return argv


def render_unit(directory: str, argv: list[str]) -> str:
    return render("converge-agent.service.j2", directory=os.path.abspath(directory),
                  exec_start=" ".join(_quote(a) for a in argv))


def _run(host: Host, steps: list[Step]) -> list[str]:
    lines = []
    for step in steps:
        if step.op == "write":
            host.write_file(step.path, step.content, step.mode)
        elif step.op == "remove":
            host.remove_file(step.path)
        else:
            host.run(step.argv)
        lines.append(f"{step.display()}  # {step.note}" if step.note else step.display())
    host.flush()
    return lines


def install(host: Host, content: str) -> Outcome:
    reads: dict[str, Any] = {}
    boots = manages_boot(host, reads)
    if not boots:  # a unit nothing would ever start: the user would believe the host converges itself
        raise ConvergeError(f"{host.name} does not boot with systemd (it is not the running init, and no --root "
                            f"was given): {UNIT} would never run; install it where systemd runs, or into an image "
                            "with --root ROOT")
    current = host.read_file(unit_path(UNIT))
    enabled = unit_files(host, reads).get(UNIT) == "enabled"
    if current == content and enabled:
        return Outcome(False, [f"{UNIT} is installed as asked: nothing to change"])
    steps = install_unit_steps(host, UNIT, content)
    if systemd_running(host):  # the live host: start the new agent (or restart it with its new options)
        steps.append(Step(argv=["systemctl", "restart", UNIT], note="run the agent now"))
    try:
        lines = _run(host, steps)
    except ConvergeError:
        host.remove_file(steps[0].path)  # the candidate the verifier refused; the installed unit stays
        host.flush()
        raise
    return Outcome(True, lines)


def uninstall(host: Host) -> Outcome:
    if host.read_file(unit_path(UNIT)) is None:
        return Outcome(False, [f"{UNIT} is not installed: nothing to remove"])
    reads: dict[str, Any] = {}
    steps = []
    if systemd_running(host):
        steps.append(Step(argv=["systemctl", "stop", UNIT], note="stop the agent"))
    if manages_boot(host, reads):
        steps.append(Step(argv=systemctl(host, "disable", UNIT), note="no longer started at boot"))
    steps.append(Step(op="remove", path=unit_path(UNIT), note="the agent's unit"))
    if systemd_running(host):
        steps.append(Step(argv=["systemctl", "daemon-reload"], note="systemd forgets the unit"))
    return Outcome(True, _run(host, steps))
