"""Simulated `lxc-cgroup`, `lxc-freeze` and `lxc-unfreeze` (LXC 5.0.2) and the cgroup values a
running container starts with. A running container's values are sim["lxc_running"]["LXCPATH/NAME"]
(its key `freezer.state` is FROZEN or THAWED); the host's CPU count is sim["cpus"] (4 unless
seeded). The kernel's refusals that matter to converge are emulated: a cpuset beyond the host's
CPUs, and on cgroup v1 a memory limit above memory+swap (or the reverse)."""

from __future__ import annotations

from typing import Any

from ..base import Result
from . import fail

FRESH_V1_LIMIT = "9223372036854771712"
# cgroup keys lxc-cgroup knows per layout, and a fresh cgroup's values (cpuset.cpus filled in per host)
CGROUP_KEYS = {2: {"memory.max": "max", "memory.swap.max": "max", "cpu.max": "max 100000", "pids.max": "max",
                   "cpuset.cpus": ""},
               1: {"memory.limit_in_bytes": FRESH_V1_LIMIT, "memory.memsw.limit_in_bytes": FRESH_V1_LIMIT,
                   "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000", "pids.max": "max", "cpuset.cpus": ""}}


def fresh_values(host: Any, version: int) -> dict[str, str]:
    cpus = int(host.facts.sim.get("cpus", 4))
    return {**CGROUP_KEYS[version], "cpuset.cpus": "0" if cpus == 1 else f"0-{cpus - 1}"}


def running(host: Any) -> dict[str, dict[str, str]]:
    return host.facts.sim.setdefault("lxc_running", {})  # type: ignore[no-any-return]


def err(tool_name: str, name: str, where: str, message: str, rc: int = 1) -> Result:
    return fail(f"{tool_name}: {name}: ../src/lxc/{where} {message}", rc)


def acceptable(host: Any, values: dict[str, str], key: str, value: str) -> bool:
    """Would the kernel take `value` for `key` in a cgroup holding `values`?"""
    if key == "cpuset.cpus":
        cpus = int(host.facts.sim.get("cpus", 4))
        for part in value.split(","):
            low, _, high = part.partition("-")
            if not low.isdigit() or (high and not high.isdigit()) or int(high or low) >= cpus or int(high or low) < int(low):
                return False
        return True
    if key == "cpu.max":
        return value.split()[0].isdigit() or value.split()[0] == "max"
    if not (value.lstrip("-").isdigit() or value == "max"):
        return False
    limit = lambda v: 1 << 63 if v in ("-1", "max") else int(v)  # noqa: E731
    if key == "memory.limit_in_bytes" and "memory.memsw.limit_in_bytes" in values:
        return limit(value) <= limit(values["memory.memsw.limit_in_bytes"])
    if key == "memory.memsw.limit_in_bytes":
        return limit(value) >= limit(values["memory.limit_in_bytes"])
    return True


def cgroup(host: Any, container: str, name: str, is_running: bool, args: list[str]) -> Result:
    lxcpath = container.rsplit("/", 1)[0]
    if not is_running:
        return err("lxc-cgroup", name, "tools/lxc_cgroup.c: main: 102", f"'{lxcpath}:{name}' is not running")
    if not args:
        return fail("lxc-cgroup: missing state object")
    values = running(host)[container]
    key = args[0]
    if len(args) == 1:
        if key not in values or key == "freezer.state":
            return err("lxc-cgroup", name, "tools/lxc_cgroup.c: main: 122",
                       f"Failed to retrieve value of '{key}' for '{lxcpath}:{name}'")
        return Result(0, values[key] + "\n\n")
    value = args[1]
    if key not in values or not acceptable(host, values, key, value):
        return err("lxc-cgroup", name, "tools/lxc_cgroup.c: main: 111",
                   f"Failed to assign '{value}' value to '{key}' for '{name}'")
    values[key] = value
    host.changed()
    return Result(0, "")


def freeze(host: Any, tool_name: str, container: str, name: str, is_running: bool) -> Result:
    """lxc-freeze / lxc-unfreeze. Measured on LXC 5.0.2: freezing a stopped container fails with
    these lines, thawing one succeeds without a word, and either twice in a row is no error."""
    if not is_running:
        if tool_name == "lxc-unfreeze":
            return Result(0, "")
        lxcpath = container.rsplit("/", 1)[0]
        serve = f"{tool_name}: {name}: ../src/lxc/commands.c: lxc_cmd_serve_state_clients: 1579 Connection " \
                "refused - Failed to serve state clients\n"
        return fail(f"{serve}{tool_name}: {name}: ../src/lxc/freezer.c: do_freeze_thaw: 46 Failed to freeze {name}\n"
                    f"{serve}{tool_name}: {name}: ../src/lxc/tools/lxc_freeze.c: main: 87 Failed to freeze "
                    f"{lxcpath}:{name}")
    running(host)[container]["freezer.state"] = "FROZEN" if tool_name == "lxc-freeze" else "THAWED"
    host.changed()
    return Result(0, "")


def is_frozen(host: Any, container: str) -> bool:
    return running(host).get(container, {}).get("freezer.state") == "FROZEN"
