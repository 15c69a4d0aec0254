"""Unit files converge writes (mount units, container services), for any kind to call: a unit is
written as a candidate, checked with `systemd-analyze verify`, and only then installed and enabled,
so a unit the verifier refuses fails the apply with its message and the old unit stays.
Scheduled runs (policies/units.py) install their timer and service through the same sequence."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from ...hosts.base import Host
from ...model import Step

UNIT_DIR = "/etc/systemd/system"
CANDIDATES = "/var/lib/converge/unit-candidates"  # where a unit waits for the verifier (under --root too)
LIVE_STATES = ("running", "degraded", "starting", "initializing", "maintenance", "stopping")


def root_of(host: Host) -> str:
    """The --root of a local host ("" on the machine itself and on the simulated host)."""
    return str(getattr(host, "root", "") or "")


def systemd_running(host: Host, reads: dict[str, Any] | None = None) -> bool:
    """Is systemd the running init of this host (not under --root: a root is not booted)?"""
    if root_of(host) or not host.has("systemctl"):
        return False
    if reads is not None and "systemd-running" in reads:
        return bool(reads["systemd-running"])
    state = host.run(["systemctl", "is-system-running"], check=False).stdout.strip()
    running = state in LIVE_STATES
    if reads is not None:
        reads["systemd-running"] = running
    return running


def manages_boot(host: Host, reads: dict[str, Any]) -> bool:
    """Does converge set up what this host starts at boot? Under --root (an image or a mounted
    system) and on a host whose running init is systemd; never on a live host without systemd
    (a container, a test VM), where enabling units would change a machine that does not boot them."""
    if not host.has("systemctl"):
        return False
    return bool(root_of(host)) or systemd_running(host, reads)


def systemctl(host: Host, *args: str) -> list[str]:
    """systemctl argv; under --root, `systemctl --root=ROOT` (enable/disable work offline there)."""
    root = root_of(host)
    return ["systemctl", *([f"--root={root}"] if root else []), *args]


def unit_files(host: Host, reads: dict[str, Any]) -> dict[str, str]:
    """unit -> its enablement state (enabled, disabled, static, ...), one list-unit-files per facts pass."""
    if "unit-files" not in reads:
        found: dict[str, str] = {}
        if host.has("systemctl"):
            out = host.run(systemctl(host, "list-unit-files", "--no-legend", "--no-pager"), check=False).stdout
            for line in out.splitlines():
                parts = line.split()
                if len(parts) >= 2:
                    found[parts[0]] = parts[1]
        reads["unit-files"] = found
    return reads["unit-files"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class InstallNotes:
    """What the plan says of each step; `{what}` is the unit's type (service, timer, mount)."""
    candidate: str = "candidate unit, verified before it is installed"
    verify: str = "systemd's own check of the unit"
    install: str = "install the verified unit"
    drop: str = "drop the candidate"


def verified_install_steps(host: Host, units: dict[str, str], candidates: str = CANDIDATES,
                           notes: InstallNotes = InstallNotes()) -> list[Step]:
    """Write each unit (file name -> text) as a candidate, check them all with one
    `systemd-analyze verify`, install them under /etc/systemd/system and drop the candidates:
    the one sequence of every unit converge writes (enabling is the caller's)."""
    def what(unit: str) -> str:
        return unit.rsplit(".", 1)[-1]
    steps = [Step(op="write", path=f"{candidates}/{u}", content=text, note=notes.candidate.format(what=what(u)))
             for u, text in units.items()]
    steps.append(Step(argv=["systemd-analyze", "verify", *(host.path(f"{candidates}/{u}") for u in units)],
                      note=notes.verify))
    steps += [Step(op="write", path=f"{UNIT_DIR}/{u}", content=text, note=notes.install.format(what=what(u)))
              for u, text in units.items()]
    return steps + [Step(op="remove", path=f"{candidates}/{u}", note=notes.drop.format(what=what(u))) for u in units]


def install_unit_steps(host: Host, unit: str, content: str, *, enable: bool = True,
                       reload: bool = True) -> list[Step]:
    """Verify, install and (optionally) enable one unit file under /etc/systemd/system."""
    steps = verified_install_steps(host, {unit: content})
    if reload and systemd_running(host):
        steps.append(Step(argv=["systemctl", "daemon-reload"], note="systemd reads the new unit"))
    if enable:
        steps.append(Step(argv=systemctl(host, "enable", unit), note="start it at boot"))
    return steps


def remove_unit_steps(host: Host, unit: str) -> list[Step]:
    return [Step(argv=systemctl(host, "disable", unit), note="no longer started at boot"),
            Step(op="remove", path=f"{UNIT_DIR}/{unit}", note="converge's unit")]


def unit_path(name: str) -> str:
    return os.path.join(UNIT_DIR, name)

