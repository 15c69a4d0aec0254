"""An LXC container's config file (lxc.container.conf(5)): the keys converge writes, read back
into spec fields, and edited in place for one field without touching the template's keys. Used by
the container kind's LXC driver and by the simulated LXC tools (which keep these files as LXC does).
`spec` arguments are anything with the container fields as attributes.

Limits use the key names of the host's cgroup layout: `lxc.cgroup2.*` on a unified (v2) host,
`lxc.cgroup.*` where the controllers sit on v1 (a hybrid host). LXC 5 accepts the other family
without a word and applies nothing, so the layout is asked, never assumed."""

from __future__ import annotations

from typing import Any

from .lxc_net import DESCRIPTION, count_cpus, cpu_list, description_lines, description_of, network_from_keys, nic_lines

TEMPLATES = "/usr/share/lxc/templates/lxc-"
IDMAP = ["u 0 100000 65536", "g 0 100000 65536"]
NESTING = "/usr/share/lxc/config/nesting.conf"
CPU_PERIOD = 100000
DOWNLOAD_OPTS = ("-d", "-r", "-a")

# spec field -> the config keys that hold it (both cgroup families: an edit drops either)
FIELD_KEYS: dict[str, tuple[str, ...]] = {
    "memory": ("lxc.cgroup2.memory.max", "lxc.cgroup.memory.limit_in_bytes"),
    "cpus": ("lxc.cgroup2.cpu.max", "lxc.cgroup.cpu.cfs_quota_us", "lxc.cgroup.cpu.cfs_period_us"),
    "swap": ("lxc.cgroup2.memory.swap.max", "lxc.cgroup.memory.memsw.limit_in_bytes"),
    "cores": ("lxc.cgroup2.cpuset.cpus", "lxc.cgroup.cpuset.cpus"),
    "pids_limit": ("lxc.cgroup2.pids.max", "lxc.cgroup.pids.max"),
    "onboot": ("lxc.start.auto",),
    "startup_order": ("lxc.start.order",),
    "hostname": ("lxc.uts.name",),
    "description": (DESCRIPTION,),  # comment lines of converge's own
    "unprivileged": ("lxc.idmap",),
    "network": ("lxc.net.",),  # a prefix: every lxc.net.N.* key
    "volumes": ("lxc.mount.entry",),  # only converge's binds (see is_converge_bind)
    "env": ("lxc.environment",),
    "command": ("lxc.init.cmd",),
    "features": ("lxc.include",),  # only the nesting include
}
LIVE_FIELDS = frozenset({"memory", "swap", "cpus", "cores", "pids_limit"})  # lxc-cgroup sets them live
START_FIELDS = frozenset({"network", "volumes", "mounts", "env", "command", "features", "hostname"})  # read at start
CONFIG_FIELDS = LIVE_FIELDS | START_FIELDS | {"onboot", "startup_order", "description"}
MAX = {2: "max", 1: "-1"}  # a limit taken away, live


def limit_lines(field: str, spec: Any, cgroup: int) -> list[tuple[str, str]]:
    """(key, value) of a limit in the config; the same names without `lxc.cgroup[2].` are what
    `lxc-cgroup` sets live."""
    value = getattr(spec, field)
    if value is None:
        return []
    prefix = "lxc.cgroup2." if cgroup == 2 else "lxc.cgroup."
    if field == "memory":
        return [(prefix + ("memory.max" if cgroup == 2 else "memory.limit_in_bytes"), str(value))]
    if field == "pids_limit":
        return [(prefix + "pids.max", str(value))]
    if field == "swap":  # v2 limits swap alone; v1 memory and swap together
        return [(prefix + "memory.swap.max", str(value))] if cgroup == 2 else \
            [(prefix + "memory.memsw.limit_in_bytes", str(value + (spec.memory or 0)))]
    if field == "cores":
        return [(prefix + "cpuset.cpus", cpu_list(value))]
    quota = str(round(value * CPU_PERIOD))
    if cgroup == 2:
        return [(prefix + "cpu.max", f"{quota} {CPU_PERIOD}")]
    # the period first: v1 checks the quota against the period in force
    return [(prefix + "cpu.cfs_period_us", str(CPU_PERIOD)), (prefix + "cpu.cfs_quota_us", quota)]


def field_lines(field: str, spec: Any, volumes: list[tuple[str, str, str]], cgroup: int) -> list[str]:
    """The config lines of one spec field. volumes: (source, target, options), already resolved."""
    if field in LIVE_FIELDS:
        return [f"{k} = {v}" for k, v in limit_lines(field, spec, cgroup)]
    if field == "onboot":
        return [] if spec.onboot is None else [f"lxc.start.auto = {int(spec.onboot)}"]
    if field == "startup_order":
        return [] if spec.startup_order is None else [f"lxc.start.order = {spec.startup_order}"]
    if field == "hostname":
        return [] if spec.hostname is None else [f"lxc.uts.name = {spec.hostname}"]
    if field == "description":
        return description_lines(spec.description)
    if field == "unprivileged":
        return [f"lxc.idmap = {m}" for m in IDMAP] if spec.unprivileged else []
    if field == "network":
        return nic_lines(spec.network)
    if field == "volumes":
        return [f"lxc.mount.entry = {source} {target.lstrip('/')} none "
                + ",".join(["bind", "create=dir", *[o for o in opts.split(",") if o]]) + " 0 0"
                for source, target, opts in volumes]
    if field == "env":
        return [f"lxc.environment = {k}={v}" for k, v in sorted(spec.env.items())]
    if field == "command":
        # LXC splits lxc.init.cmd on blanks and honours no quotes (the spec refuses blanks in an argument)
        return [f"lxc.init.cmd = {' '.join(spec.command)}"] if spec.command else []
    if field == "features":
        return [f"lxc.include = {NESTING}"] if spec.features.get("nesting") else []
    raise KeyError(field)


def render(spec: Any, volumes: list[tuple[str, str, str]], cgroup: int) -> str:
    """The settings file handed to `lxc-create -f` (lxc-create copies its keys into the config)."""
    lines = [line for field in FIELD_KEYS for line in field_lines(field, spec, volumes, cgroup)]
    return "\n".join(lines) + "\n"


def edit(text: str, spec: Any, fields: set[str], volumes: list[tuple[str, str, str]], cgroup: int) -> str:
    """The config with the keys of `fields` replaced by the spec's values; every other line (the
    template's keys, comments, a key set by hand) is kept as it was."""
    fields = {"volumes" if f == "mounts" else f for f in fields}  # two spellings of the same binds
    kept = [line for line in text.splitlines() if not any(_holds(line, f) for f in fields)]
    while kept and not kept[-1].strip():
        kept.pop()
    added = [line for field in FIELD_KEYS if field in fields for line in field_lines(field, spec, volumes, cgroup)]
    return "\n".join(kept + added) + "\n"


def _key_value(line: str) -> tuple[str, str] | None:
    line = line.strip()
    if not line or line.startswith("#") or "=" not in line:
        return None
    key, value = (p.strip() for p in line.split("=", 1))
    return key, value


def _holds(line: str, field: str) -> bool:
    if field == "description":
        return line.startswith(DESCRIPTION)
    kv = _key_value(line)
    if kv is None:
        return False
    key, value = kv
    if field == "volumes":
        return key == "lxc.mount.entry" and is_converge_bind(value)
    if field == "features":
        return key == "lxc.include" and value == NESTING
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in FIELD_KEYS[field])


def is_converge_bind(entry: str) -> bool:
    """converge writes its binds as `SRC TARGET none bind,create=dir[,ro] 0 0`; the templates'
    own entries (busybox binds /lib read-only, mounts shm) lack create=dir or are no binds."""
    parts = entry.split()
    flags = parts[3].split(",") if len(parts) >= 4 else []
    return len(parts) >= 4 and parts[2] == "none" and "bind" in flags and "create=dir" in flags


def spec_from_config(text: str) -> dict[str, Any]:
    """A container's config (the template's keys plus converge's) -> spec fields."""
    spec: dict[str, Any] = {"runtime": "lxc", "env": {}, "volumes": [], "features": {}}
    idmaps: list[str] = []
    net: dict[int, dict[str, str]] = {}
    cpu_v1: dict[str, str] = {}
    memsw: int | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# Template used to create this container:"):
            spec["template"] = line.rsplit(TEMPLATES, 1)[-1].strip()
        elif line.startswith("# Parameters passed to the template:") and spec.get("template") == "download":
            args = line.split(":", 1)[1].split()
            values = [args[args.index(o) + 1] for o in DOWNLOAD_OPTS if o in args[:-1]]
            spec["template"] = ":".join(["download", *values])
        kv = _key_value(line)
        if kv is None:
            continue
        key, value = kv
        if key in ("lxc.cgroup2.memory.max", "lxc.cgroup.memory.limit_in_bytes") and value.isdigit():
            spec["memory"] = int(value)
        elif key == "lxc.cgroup2.cpu.max" and value.split()[0].isdigit():
            quota, _, period = value.partition(" ")
            spec["cpus"] = int(quota) / int(period or CPU_PERIOD)
        elif key in ("lxc.cgroup.cpu.cfs_quota_us", "lxc.cgroup.cpu.cfs_period_us"):
            cpu_v1[key.rsplit("_", 2)[-2]] = value
        elif key in ("lxc.cgroup2.pids.max", "lxc.cgroup.pids.max") and value.isdigit():
            spec["pids_limit"] = int(value)
        elif key == "lxc.cgroup2.memory.swap.max" and value.isdigit():
            spec["swap"] = int(value)
        elif key == "lxc.cgroup.memory.memsw.limit_in_bytes" and value.isdigit():
            memsw = int(value)
        elif key in ("lxc.cgroup2.cpuset.cpus", "lxc.cgroup.cpuset.cpus"):
            spec["cores"] = count_cpus(value)
        elif key == "lxc.start.order" and value.lstrip("-").isdigit():
            spec["startup_order"] = int(value)
        elif key == "lxc.uts.name":
            spec["hostname"] = value.strip('"')
        elif key == "lxc.start.auto":
            spec["onboot"] = value == "1"
        elif key == "lxc.idmap":
            idmaps.append(value)
        elif key.startswith("lxc.net.") and key.split(".")[2].isdigit():
            index, _, sub = key[len("lxc.net."):].partition(".")
            net.setdefault(int(index), {})[sub] = value
        elif key == "lxc.mount.entry" and is_converge_bind(value):
            source, target, _fs, flags = value.split()[:4]
            opts = [o for o in flags.split(",") if o not in ("bind", "rbind", "create=dir", "create=file")]
            spec["volumes"].append(f"{source}:/{target}" + (":" + ",".join(opts) if opts else ""))
        elif key == "lxc.environment" and "=" in value:
            k, v = value.split("=", 1)
            spec["env"][k] = v
        elif key == "lxc.init.cmd":
            spec["command"] = value.split()
        elif key == "lxc.include" and value == NESTING:
            spec["features"]["nesting"] = True
    if cpu_v1.get("quota", "").isdigit():
        spec["cpus"] = int(cpu_v1["quota"]) / int(cpu_v1.get("period") or CPU_PERIOD)
    if memsw is not None and spec.get("memory") is not None and memsw >= spec["memory"]:
        spec["swap"] = memsw - spec["memory"]
    spec["unprivileged"] = bool(idmaps)
    spec["network"] = network_from_keys(net)
    if description_of(text) is not None:
        spec["description"] = description_of(text)
    return spec


def environment(text: str) -> list[str]:
    """`K=V` of every lxc.environment line: never shown in plans or logs."""
    return [kv[1] for kv in map(_key_value, text.splitlines()) if kv and kv[0] == "lxc.environment"]
