"""`converge sim reboot`: what survives a restart of the simulated host.

Runtime state goes: btrfs mounts, running containers, live interface configuration, service
states, live sysctl values. Then what the host persisted is replayed, as systemd would at boot:
enabled services run, enabled `.mount` units mount their What= at Where=, an enabled
`converge-container-NAME.service` brings its container back (`converge-stack-NAME.service` a stack's), docker containers with a restart
policy come back when docker.service is enabled, interfaces come back from converge's networkd
files when systemd-networkd is enabled, and sysctl drop-ins are applied. Files, ZFS pools
(zfs-mount.service) and stopped-but-created containers persist as on a real disk."""

from __future__ import annotations

import os
from typing import Any

from ...errors import ConvergeError
from ...formats.systemd import parse_sysctl, parse_unit
from . import SimHost, ip_state
from .systemd import UNIT_DIR, state, unit_files

NETWORKD_DIR = "/etc/systemd/network"


def reboot(host: SimHost) -> list[str]:
    """Reboot the simulated host; returns what came back, one line each (for the CLI)."""
    with host._lock:
        facts = host.facts
        units = unit_files(host)
        enabled = {n for n, u in units.items() if u["enabled"]}
        for unit in units.values():
            unit["active"] = bool(unit["enabled"])
        lines = [f"service {n}" for n in sorted(enabled) if n.endswith(".service")]
        # mounts: only btrfs pools an enabled mount unit names come back
        mounts = {}
        for name in sorted(enabled):
            if name.endswith(".mount") and UNIT_DIR + name in facts.files:
                mount = parse_unit(facts.files[UNIT_DIR + name]).get("Mount", {})
                mounts[mount.get("What", "")] = mount.get("Where", "")
        for pool_name, pool in facts.of("pool").items():
            if pool.spec.get("driver") != "btrfs":
                continue
            where = mounts.get(f"UUID={pool.info.get('uuid')}", "")
            pool.info["path"] = where
            pool.spec["mountpoint"] = where or None
            if where:
                lines.append(f"mount {pool_name} at {where}")
        # containers
        docker_up = "docker.service" in enabled
        for name, container in facts.of("container").items():
            runtime = container.spec.get("runtime", container.info.get("runtime", "podman"))
            if runtime == "lxc":
                continue  # LXC autostart (lxc.start.auto) is not emulated here
            stack = container.info.get("converge_labels", {}).get("converge.stack")
            unit = f"converge-stack-{stack}.service" if stack else f"converge-container-{name}.service"
            back = unit in enabled if runtime == "podman" else \
                docker_up and container.spec.get("restart") in ("always", "unless-stopped", "on-failure")
            running = container.spec.get("state") == "running"
            container.spec["state"] = "running" if back else "stopped"
            container.info["state"] = "running" if back else "exited"
            if back:
                lines.append(f"container {name}")
            elif running:
                lines.append(f"container {name} stays stopped (no enabled unit)")
        # interfaces: only what networkd files describe, when networkd runs at boot
        networkd = "systemd-networkd.service" in enabled
        links = ip_state.load(facts)
        for name in list(links):
            kept = networkd and f"{NETWORKD_DIR}/converge-{name}.network" in facts.files
            if kept:
                lines.append(f"interface {name}")
                continue
            if links[name].kind:
                del links[name]
            else:
                links[name].addrs, links[name].up = [], False
        for lk in links.values():
            if lk.master not in links:
                lk.master = ""
        ip_state.save(facts, links)
        _sysctl(facts)
        state(host)["boots"] = int(state(host).get("boots", 0)) + 1
        host.changed()
    host.flush()
    return lines


def rebooted_copy(target: Any) -> Any:
    """The target with its simulated host replaced by a rebooted copy (the state file is untouched)."""
    import atexit
    import dataclasses
    import shutil
    import tempfile

    host = target.host
    if not isinstance(host, SimHost):
        raise ConvergeError(f"--after-reboot needs a simulated host, not {host.name}")
    scratch = tempfile.mkdtemp(prefix="converge-reboot-")
    atexit.register(shutil.rmtree, scratch, True)  # the copy lives as long as this command
    copy = os.path.join(scratch, "sim-host.json")
    host.flush()
    shutil.copyfile(host.state_path, copy)
    rebooted = SimHost(copy)
    reboot(rebooted)
    rebooted.name = host.name + " (after a simulated reboot)"
    return dataclasses.replace(target, host=rebooted)


def _sysctl(facts: Any) -> None:
    live: dict[str, str] = {}
    for path in sorted(p for p in facts.files if p.startswith("/etc/sysctl.d/") and p.endswith(".conf")):
        live.update(parse_sysctl(facts.files[path]))
    facts.sim["sysctl"] = live
