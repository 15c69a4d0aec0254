"""The LXC driver (`lxc-*` tools, as on Proxmox-style hosts).

Read: one `lxc-ls --fancy` for names and states, then each container's `config` file (a file
read, not a command). Create: converge writes the container's settings as an LXC config file of
its own and hands it to `lxc-create -f`, which copies those keys into the container's config.
Update: the config file is edited in place (only the changed fields' keys), limits are set live
with `lxc-cgroup` in a running container, and what LXC reads only at start (network, binds, env,
command, nesting) restarts it. The rootfs holds data: only a template, unprivileged (idmap) or
rootfs size change replaces the container, and that replace is a guarded destroy.
LXC has no labels: ownership is converge's state file. The rootfs size cannot be read back
cheaply, so converge records the size it created with (as it records request stamps)."""

from __future__ import annotations

from typing import Any

from ...formats import lxc as conf
from ...model import Observed, Ref, Step
from ..base import Context, record_managed, record_stamp
from .common import map_volumes_to_declared, parse_volume, resolve_volume, spec_form

LXC_PATH = "/var/lib/lxc"
CONF_DIR = "/var/lib/converge/lxc"
CGROUP_ROOT = "/sys/fs/cgroup"
# what forces a replace: the rootfs is made for them (the template's files, ids shifted for an
# idmap, a loop file of that size); everything else is a config edit
CREATE_ONLY = frozenset({"runtime", "template", "unprivileged", "rootfs_size"})


class LxcDriver:
    runtime = "lxc"

    def lxcpath(self, ctx: Context) -> str:
        return str(ctx.kind_settings("container").get("lxc_path", LXC_PATH))

    def _p(self, ctx: Context) -> list[str]:
        return ["-P", ctx.host.path(self.lxcpath(ctx))]

    def config_path(self, name: str, ctx: Context) -> str:
        return f"{self.lxcpath(ctx)}/{name}/config"

    def cgroup(self, ctx: Context) -> int:
        """2 on a unified cgroup host, 1 where the controllers are on v1 (setting `lxc_cgroup: 1|2`
        overrides); asked once per planning pass."""
        cache = ctx.reads.setdefault("container", {})
        if "lxc_cgroup" not in cache:
            setting = str(ctx.kind_settings("container").get("lxc_cgroup", "")).lstrip("v")
            if setting in ("1", "2"):
                cache["lxc_cgroup"] = int(setting)
            else:
                fs = ctx.host.run(["stat", "-f", "-c", "%T", CGROUP_ROOT], check=False).stdout.strip()
                cache["lxc_cgroup"] = 2 if fs == "cgroup2fs" else 1
        return int(cache["lxc_cgroup"])

    # -- read ------------------------------------------------------------------------------
    def read(self, ctx: Context) -> dict[str, Observed]:
        out = ctx.host.run(["lxc-ls", *self._p(ctx), "--fancy", "--fancy-format", "NAME,STATE,AUTOSTART"]).stdout
        result = {}
        for name, state in parse_ls(out):
            ref = Ref(kind="container", name=name)
            text = ctx.host.read_file(self.config_path(name, ctx)) or ""
            spec = map_volumes_to_declared(conf.spec_from_config(text), name, ctx)
            spec.update(state="running" if state == "RUNNING" else "stopped",
                        restart_requested=ctx.stamp(ref, "restart_requested"),
                        rootfs_size=ctx.stamp(ref, "rootfs_size"))
            result[name] = Observed(spec=spec_form(spec), managed=ctx.managed_in_state(ref),
                                    info={"runtime": "lxc", "status": state})
        return result

    # -- steps -----------------------------------------------------------------------------
    def _volumes(self, spec: Any, ctx: Context) -> list[tuple[str, str, str]]:
        return [parse_volume(resolve_volume(v, ctx)) for v in spec.volumes or []]

    def create(self, name: str, spec: Any, ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        settings = f"{CONF_DIR}/{name}.conf"
        template, *targs = (spec.template or "busybox").split(":")
        argv = ["lxc-create", *self._p(ctx), "-n", name, "-f", ctx.host.path(settings), "-t", template]
        if spec.rootfs_size:
            argv += ["-B", "loop", "--fssize", f"{spec.rootfs_size // (1024 * 1024)}M"]
        if targs:
            argv += ["--", *[a for pair in zip(conf.DOWNLOAD_OPTS, targs, strict=False) for a in pair]]
        steps = [Step(op="write", path=settings, content=conf.render(spec, self._volumes(spec, ctx), self.cgroup(ctx)),
                      mode=0o600, redact=[f"{k}={v}" for k, v in sorted(spec.env.items())],
                      note="settings for lxc-create -f"),
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
        stays_running = running and spec.state == "running"
        lxc = [*self._p(ctx), "-n", name]
        if running and not stays_running:
            steps.append(Step(argv=["lxc-stop", *lxc], note="stop"))
        edited = paths & conf.CONFIG_FIELDS
        restarted = False
        if edited:
            if stays_running:
                # live first: a limit the kernel refuses (memory below what is in use) leaves the
                # config as it was, so the next plan still shows the change
                for field in sorted(edited & conf.LIVE_FIELDS):
                    for key, value in conf.limit_lines(field, spec, self.cgroup(ctx)):
                        steps.append(Step(argv=["lxc-cgroup", *lxc, key.split(".", 2)[2], value],
                                          note=f"{field} in the running container"))
            steps.append(self._edit_config(name, spec, edited, ctx))
            if stays_running:
                start_only = sorted(edited & conf.START_FIELDS)
                if start_only:
                    steps += [Step(argv=["lxc-stop", *lxc], note=f"restart: LXC reads {', '.join(start_only)} at start"),
                              Step(argv=["lxc-start", *lxc], note="start with the new config")]
                    restarted = True
        if not running and spec.state == "running":
            steps.append(Step(argv=["lxc-start", *lxc], note="start"))
        elif "restart_requested" in paths and spec.restart_requested and stays_running and not restarted:
            steps.append(Step(argv=["lxc-stop", *lxc, "--reboot"], note="restart requested"))
        if "restart_requested" in paths:
            steps.append(record_stamp(ref, "restart_requested", spec.restart_requested))
        return steps

    def _edit_config(self, name: str, spec: Any, fields: set[str], ctx: Context) -> Step:
        path = self.config_path(name, ctx)
        text = ctx.host.read_file(path) or ""
        content = conf.edit(text, spec, fields, self._volumes(spec, ctx), self.cgroup(ctx))
        # 0640 as lxc-create leaves it: it may hold lxc.environment values
        return Step(op="write", path=path, content=content, mode=0o640, redact=conf.environment(text + "\n" + content),
                    note=f"set {', '.join(sorted(fields))} in the container's config")

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        steps = []
        if observed.spec.get("state") == "running":
            steps.append(Step(argv=["lxc-stop", *self._p(ctx), "-n", name], note="stop"))
        steps += [Step(argv=["lxc-destroy", *self._p(ctx), "-n", name], note="destroy the container and its rootfs"),
                  Step(op="remove", path=f"{CONF_DIR}/{name}.conf"),
                  record_managed(ref, False), record_stamp(ref, "rootfs_size", None)]
        return steps

    def destroys(self, name: str, ctx: Context) -> list[str]:
        return [f"its root filesystem {ctx.host.path(self.lxcpath(ctx))}/{name}/rootfs and every file in it"]


def parse_ls(text: str) -> list[tuple[str, str]]:
    """`lxc-ls --fancy` table (a header line, then NAME STATE AUTOSTART columns)."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return [(r[0], r[1]) for r in rows[1:] if len(r) >= 2] if rows and rows[0][0] == "NAME" else []
