"""The LXC driver (`lxc-*` tools, as on Proxmox-style hosts).

Read: one `lxc-ls --fancy` for names and states, then each container's `config` file (a file
read, not a command). Create: converge writes the container's settings as an LXC config file of
its own and hands it to `lxc-create -f`, which copies those keys into the container's config
(lxc.container.conf(5) keys: cgroup2 limits, lxc.start.auto, lxc.idmap, lxc.net.0.*,
lxc.mount.entry, lxc.environment, lxc.init.cmd). LXC has no labels: ownership is converge's
state file. The rootfs size cannot be read back cheaply, so converge records the size it
created with (as it records request stamps)."""

from __future__ import annotations

import shlex
from typing import Any

from ..model import Observed, Ref, Step
from .base import Context, record_managed, record_stamp
from .container_common import map_volumes_to_declared, parse_volume, resolve_volume, spec_form

LXC_PATH = "/var/lib/lxc"
CONF_DIR = "/var/lib/converge/lxc"
TEMPLATES = "/usr/share/lxc/templates/lxc-"
IDMAP = ["u 0 100000 65536", "g 0 100000 65536"]
NESTING = "/usr/share/lxc/config/nesting.conf"
CPU_PERIOD = 100000
DOWNLOAD_OPTS = ("-d", "-r", "-a")


class LxcDriver:
    runtime = "lxc"

    def lxcpath(self, ctx: Context) -> str:
        return str(ctx.kind_settings("container").get("lxc_path", LXC_PATH))

    def _p(self, ctx: Context) -> list[str]:
        return ["-P", ctx.host.path(self.lxcpath(ctx))]

    # -- read ------------------------------------------------------------------------------
    def read(self, ctx: Context) -> dict[str, Observed]:
        out = ctx.host.run(["lxc-ls", *self._p(ctx), "--fancy", "--fancy-format", "NAME,STATE,AUTOSTART"]).stdout
        result = {}
        for name, state in parse_ls(out):
            ref = Ref(kind="container", name=name)
            text = ctx.host.read_file(f"{self.lxcpath(ctx)}/{name}/config") or ""
            spec = map_volumes_to_declared(spec_from_config(text), name, ctx)
            spec.update(state="running" if state == "RUNNING" else "stopped",
                        restart_requested=ctx.stamp(ref, "restart_requested"),
                        rootfs_size=ctx.stamp(ref, "rootfs_size"))
            result[name] = Observed(spec=spec_form(spec), managed=ctx.managed_in_state(ref),
                                    info={"runtime": "lxc", "status": state})
        return result

    # -- steps -----------------------------------------------------------------------------
    def create(self, name: str, spec: Any, ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        conf = f"{CONF_DIR}/{name}.conf"
        template, *targs = (spec.template or "busybox").split(":")
        argv = ["lxc-create", *self._p(ctx), "-n", name, "-f", ctx.host.path(conf), "-t", template]
        if spec.rootfs_size:
            argv += ["-B", "loop", "--fssize", f"{spec.rootfs_size // (1024 * 1024)}M"]
        if targs:
            argv += ["--", *[a for pair in zip(DOWNLOAD_OPTS, targs, strict=False) for a in pair]]
        steps = [Step(op="write", path=conf, content=render_config(spec, ctx), mode=0o600,
                      redact=[f"{k}={v}" for k, v in sorted(spec.env.items())], note="settings for lxc-create -f"),
                 Step(argv=argv, note="create the container"), record_managed(ref, True)]
        if spec.rootfs_size:
            steps.append(record_stamp(ref, "rootfs_size", spec.rootfs_size))
        if spec.state == "running":
            steps.append(Step(argv=["lxc-start", *self._p(ctx), "-n", name], note="start"))
        if spec.restart_requested:
            steps.append(record_stamp(ref, "restart_requested", spec.restart_requested))
        return steps

    def update(self, name: str, spec: Any, observed: Observed, paths: set[str], ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        steps = [] if observed.managed else [record_managed(ref, True)]
        running = observed.spec.get("state") == "running"
        if "state" in paths and spec.state != observed.spec.get("state"):
            verb = "lxc-start" if spec.state == "running" else "lxc-stop"
            steps.append(Step(argv=[verb, *self._p(ctx), "-n", name], note=verb[4:]))
        elif "restart_requested" in paths and spec.restart_requested and running:
            steps.append(Step(argv=["lxc-stop", *self._p(ctx), "-n", name, "--reboot"], note="restart requested"))
        if "restart_requested" in paths:
            steps.append(record_stamp(ref, "restart_requested", spec.restart_requested))
        return steps

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        steps = []
        if observed.spec.get("state") == "running":
            steps.append(Step(argv=["lxc-stop", *self._p(ctx), "-n", name], note="stop"))
        steps += [Step(argv=["lxc-destroy", *self._p(ctx), "-n", name], note="destroy the container and its rootfs"),
                  Step(op="remove", path=f"{CONF_DIR}/{name}.conf"),
                  record_managed(ref, False), record_stamp(ref, "rootfs_size", None)]
        return steps


def parse_ls(text: str) -> list[tuple[str, str]]:
    """`lxc-ls --fancy` table (a header line, then NAME STATE AUTOSTART columns)."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return [(r[0], r[1]) for r in rows[1:] if len(r) >= 2] if rows and rows[0][0] == "NAME" else []


def render_config(spec: Any, ctx: Context) -> str:
    lines = []
    if spec.memory is not None:
        lines.append(f"lxc.cgroup2.memory.max = {spec.memory}")
    if spec.cpus is not None:
        lines.append(f"lxc.cgroup2.cpu.max = {round(spec.cpus * CPU_PERIOD)} {CPU_PERIOD}")
    if spec.pids_limit is not None:
        lines.append(f"lxc.cgroup2.pids.max = {spec.pids_limit}")
    if spec.onboot is not None:
        lines.append(f"lxc.start.auto = {int(spec.onboot)}")
    if spec.unprivileged:
        lines += [f"lxc.idmap = {m}" for m in IDMAP]
    if spec.network in ("none", None):
        lines.append("lxc.net.0.type = empty" if spec.network else "")
    elif spec.network == "host":
        lines.append("lxc.net.0.type = none")
    else:
        link = "lxcbr0" if spec.network == "bridge" else spec.network
        lines += ["lxc.net.0.type = veth", f"lxc.net.0.link = {link}", "lxc.net.0.flags = up"]
    for volume in spec.volumes or []:
        source, target, opts = parse_volume(resolve_volume(volume, ctx))
        flags = ",".join(["bind", "create=dir", *[o for o in opts.split(",") if o]])
        lines.append(f"lxc.mount.entry = {source} {target.lstrip('/')} none {flags} 0 0")
    lines += [f"lxc.environment = {k}={v}" for k, v in sorted(spec.env.items())]
    if spec.command:
        lines.append(f"lxc.init.cmd = {shlex.join(spec.command)}")
    if spec.features.get("nesting"):
        lines.append(f"lxc.include = {NESTING}")
    return "\n".join(line for line in lines if line) + "\n"


def spec_from_config(text: str) -> dict[str, Any]:
    """A container's config (the template's keys plus converge's) -> spec fields."""
    spec: dict[str, Any] = {"runtime": "lxc", "env": {}, "volumes": [], "features": {}}
    idmaps: list[str] = []
    net: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("# Template used to create this container:"):
            spec["template"] = line.rsplit(TEMPLATES, 1)[-1].strip()
        elif line.startswith("# Parameters passed to the template:") and spec.get("template") == "download":
            args = line.split(":", 1)[1].split()
            values = [args[args.index(o) + 1] for o in DOWNLOAD_OPTS if o in args[:-1]]
            spec["template"] = ":".join(["download", *values])
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = (p.strip() for p in line.split("=", 1))
        if key == "lxc.cgroup2.memory.max" and value.isdigit():
            spec["memory"] = int(value)
        elif key == "lxc.cgroup2.cpu.max" and value.split()[0].isdigit():
            quota, _, period = value.partition(" ")
            spec["cpus"] = int(quota) / int(period or CPU_PERIOD)
        elif key == "lxc.cgroup2.pids.max" and value.isdigit():
            spec["pids_limit"] = int(value)
        elif key == "lxc.start.auto":
            spec["onboot"] = value == "1"
        elif key == "lxc.idmap":
            idmaps.append(value)
        elif key.startswith("lxc.net.0."):
            net[key[len("lxc.net.0."):]] = value
        elif key == "lxc.mount.entry":
            source, target, _fs, flags = value.split()[:4]
            opts = [o for o in flags.split(",") if o not in ("bind", "rbind", "create=dir", "create=file")]
            spec["volumes"].append(f"{source}:/{target}" + (":" + ",".join(opts) if opts else ""))
        elif key == "lxc.environment" and "=" in value:
            k, v = value.split("=", 1)
            spec["env"][k] = v
        elif key == "lxc.init.cmd":
            spec["command"] = shlex.split(value)
        elif key == "lxc.include" and value == NESTING:
            spec["features"]["nesting"] = True
    spec["unprivileged"] = bool(idmaps)
    kind = net.get("type")
    spec["network"] = {"empty": "none", "none": "host", None: None}.get(kind) if kind != "veth" else (
        "bridge" if net.get("link") == "lxcbr0" else net.get("link"))
    return spec
