"""The LXC driver (`lxc-*` tools, as on Proxmox-style hosts).

Read: one `lxc-ls --fancy` for names and states, then each container's `config` file (a file
read, not a command). Create: converge writes the container's settings as an LXC config file of
its own and hands it to `lxc-create -f`, which copies those keys into the container's config.
Update: the config file is edited in place (only the changed fields' keys), limits are set live
with `lxc-cgroup` in a running container, and what LXC reads only at start (network, binds, env,
command, nesting) restarts it. The rootfs holds data: only a template, unprivileged (idmap) or
rootfs size change replaces the container, and that replace is a guarded destroy.
LXC has no labels: ownership is converge's state file. The rootfs size cannot be read back
cheaply, so converge records the size it created with (as it records request stamps).
`state: frozen` is lxc-freeze (a frozen container is thawed before it is stopped or restarted);
ssh_keys and nameserver are files in the rootfs (lxc_rootfs.py)."""

from __future__ import annotations

from typing import Any

from ...formats import lxc as conf
from ...model import Observed, Ref, Step
from ..base import Context, record_managed, record_stamp
from . import lxc_rootfs
from .common import desired_specs, map_volumes_to_declared, parse_volume, resolve_volume, spec_form
from .lxc_spec import mount_of_volume
from .volumes import normalize_volume

LXC_PATH = "/var/lib/lxc"
CONF_DIR = "/var/lib/converge/lxc"
CGROUP_ROOT = "/sys/fs/cgroup"
# what forces a replace: the rootfs is made for them (the template's files, ids shifted for an
# idmap, a loop file of that size); everything else is a config edit
CREATE_ONLY = frozenset({"runtime", "template", "unprivileged", "rootfs_size"})
STATES = {"RUNNING": "running", "FROZEN": "frozen"}  # lxc-ls; anything else is stopped
ACTIVE = ("running", "frozen")
ROOTFS_FIELDS = frozenset({"ssh_keys", "nameserver"})


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
            declared = desired_specs(ctx, "container").get(name)
            spec = self._as_declared(conf.spec_from_config(text), name, declared, ctx)
            links: list[str] = []
            if declared is not None and declared.runtime == "lxc":
                files, links = lxc_rootfs.read(self.rootfs(name, ctx), declared, ctx)
                spec.update(files)
            spec.update(state=STATES.get(state, "stopped"),
                        restart_requested=ctx.stamp(ref, "restart_requested"),
                        rootfs_size=ctx.stamp(ref, "rootfs_size"))
            result[name] = Observed(spec=spec_form(spec), managed=ctx.managed_in_state(ref),
                                    info={"runtime": "lxc", "status": state, "rootfs_links": links})
        return result

    def rootfs(self, name: str, ctx: Context) -> str:
        return f"{self.lxcpath(ctx)}/{name}/rootfs"

    def _as_declared(self, spec: dict[str, Any], name: str, declared: Any, ctx: Context) -> dict[str, Any]:
        """The config read in the manifest's spelling where both say the same: the NIC list or the
        one-string network, a dataset's name for its mountpoint, mounts or volumes."""
        spec = map_volumes_to_declared(spec, name, ctx)
        if declared is None:
            return spec
        if isinstance(declared.network, list) and not isinstance(spec.get("network"), list):
            spec["network"] = nics_of(spec.get("network"))
        if declared.mounts is not None:
            by_bind = {}
            for mount in declared.mounts:
                try:
                    by_bind[normalize_volume(resolve_volume(mount.as_volume(), ctx))] = mount.model_dump()
                except ValueError:
                    continue
            spec["mounts"] = [by_bind.get(normalize_volume(v), mount_of_volume(v)) for v in spec.pop("volumes", [])]
        return spec

    # -- steps -----------------------------------------------------------------------------
    def _volumes(self, spec: Any, ctx: Context) -> list[tuple[str, str, str]]:
        binds = [m.as_volume() for m in spec.mounts] if spec.mounts else spec.volumes or []
        return [parse_volume(resolve_volume(v, ctx)) for v in binds]

    def create(self, name: str, spec: Any, ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        settings = f"{CONF_DIR}/{name}.conf"
        template, *targs = (spec.template or "busybox").split(":")
        lxc = [*self._p(ctx), "-n", name]
        argv = ["lxc-create", *lxc, "-f", ctx.host.path(settings), "-t", template]
        if spec.rootfs_size:
            argv += ["-B", "loop", "--fssize", f"{spec.rootfs_size // (1024 * 1024)}M"]
        if targs:
            argv += ["--", *[a for pair in zip(conf.DOWNLOAD_OPTS, targs, strict=False) for a in pair]]
        steps = [Step(op="write", path=settings, content=conf.render(spec, self._volumes(spec, ctx), self.cgroup(ctx)),
                      mode=0o600, redact=[f"{k}={v}" for k, v in sorted(spec.env.items())],
                      note="settings for lxc-create -f"),
                 Step(argv=argv, note="create the container"), record_managed(ref, True)]
        if spec.hostname is not None:  # the template writes its own lxc.uts.name after the -f keys
            steps.append(Step(argv=["sed", "-i", "-e", f"s/^lxc\\.uts\\.name *=.*$/lxc.uts.name = {spec.hostname}/",
                                    ctx.host.path(self.config_path(name, ctx))], note="hostname (over the template's)"))
        if spec.rootfs_size:
            steps.append(record_stamp(ref, "rootfs_size", spec.rootfs_size))
        steps += lxc_rootfs.steps(name, self.rootfs(name, ctx), spec, set(ROOTFS_FIELDS), [], ctx)
        if spec.state in ACTIVE:
            steps.append(Step(argv=["lxc-start", *lxc], note="start"))
        if spec.state == "frozen":
            steps.append(Step(argv=["lxc-freeze", *lxc], note="freeze"))
        if spec.restart_requested:
            steps.append(record_stamp(ref, "restart_requested", spec.restart_requested))
        return steps

    def update(self, name: str, spec: Any, observed: Observed, paths: set[str], ctx: Context) -> list[Step]:
        ref = Ref(kind="container", name=name)
        steps = [] if observed.managed else [record_managed(ref, True)]
        was, want = observed.spec.get("state", "stopped"), spec.state
        stays_active = was in ACTIVE and want in ACTIVE
        lxc = [*self._p(ctx), "-n", name]
        edited = paths & conf.CONFIG_FIELDS
        cgroup = self.cgroup(ctx)
        if "memory" in edited and cgroup == 1 and (spec.swap is not None or observed.spec.get("swap") is not None):
            # v1 holds memory+swap in one value: it moves with memory (a swap no longer declared keeps
            # its size), or the memory limit would exceed it and LXC could not start the container
            if spec.swap is None:
                spec = spec.model_copy(update={"swap": observed.spec["swap"]})
            edited.add("swap")
        start_only = sorted(edited & conf.START_FIELDS) if stays_active else []
        requested = "restart_requested" in paths and bool(spec.restart_requested) and stays_active
        thaw = was == "frozen" and (want != "frozen" or bool(start_only) or requested)
        if thaw:  # a frozen container's init cannot take the stop signal
            steps.append(Step(argv=["lxc-unfreeze", *lxc], note="thaw"))
        if was in ACTIVE and want == "stopped":
            steps.append(Step(argv=["lxc-stop", *lxc], note="stop"))
        if edited:
            if stays_active:
                # live first: a limit the kernel refuses (memory below what is in use) leaves the
                # config as it was, so the next plan still shows the change
                for field, key, value in live_order(edited, spec, observed.spec, cgroup):
                    steps.append(Step(argv=["lxc-cgroup", *lxc, key, value], note=f"{field} in the running container"))
            steps.append(self._edit_config(name, spec, edited, ctx))
        steps += lxc_rootfs.steps(name, self.rootfs(name, ctx), spec, paths & ROOTFS_FIELDS,
                                  observed.info.get("rootfs_links") or [], ctx)
        if start_only:
            steps += [Step(argv=["lxc-stop", *lxc], note=f"restart: LXC reads {', '.join(start_only)} at start"),
                      Step(argv=["lxc-start", *lxc], note="start with the new config")]
        elif requested:
            steps.append(Step(argv=["lxc-stop", *lxc, "--reboot"], note="restart requested"))
        if was not in ACTIVE and want in ACTIVE:
            steps.append(Step(argv=["lxc-start", *lxc], note="start"))
        if want == "frozen" and (was != "frozen" or thaw):
            steps.append(Step(argv=["lxc-freeze", *lxc], note="freeze"))
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
        lxc = [*self._p(ctx), "-n", name]
        if observed.spec.get("state") == "frozen":
            steps.append(Step(argv=["lxc-unfreeze", *lxc], note="thaw"))
        if observed.spec.get("state") in ACTIVE:
            steps.append(Step(argv=["lxc-stop", *lxc], note="stop"))
        steps += [Step(argv=["lxc-destroy", *lxc], note="destroy the container and its rootfs"),
                  Step(op="remove", path=f"{CONF_DIR}/{name}.conf"),
                  record_managed(ref, False), record_stamp(ref, "rootfs_size", None)]
        return steps

    def destroys(self, name: str, ctx: Context) -> list[str]:
        return [f"its root filesystem {ctx.host.path(self.lxcpath(ctx))}/{name}/rootfs and every file in it"]


def parse_ls(text: str) -> list[tuple[str, str]]:
    """`lxc-ls --fancy` table (a header line, then NAME STATE AUTOSTART columns)."""
    rows = [line.split() for line in text.splitlines() if line.strip()]
    return [(r[0], r[1]) for r in rows[1:] if len(r) >= 2] if rows and rows[0][0] == "NAME" else []


def live_order(fields: set[str], spec: Any, before: dict[str, Any], cgroup: int) -> list[tuple[str, str, str]]:
    """(field, cgroup key, value) of the live limits, in an order the kernel takes: on v1 the
    memory limit may never exceed memory+swap, so a growing memory limit goes after the new
    memory+swap and a shrinking one before it."""
    out = [(f, key.split(".", 2)[2], value) for f in sorted(fields & conf.LIVE_FIELDS)
           for key, value in conf.limit_lines(f, spec, cgroup)]
    old = before.get("memory")  # none in the config: the cgroup's own, unlimited
    if cgroup == 1 and spec.memory is not None and old is not None and spec.memory > old:
        out.sort(key=lambda item: item[0] != "swap")
    return out


def nics_of(network: str | None) -> list[dict[str, Any]]:
    """The one-string network as a NIC list (none: no NIC; host: the host's, no NIC of its own)."""
    if network in (None, "none", "host"):
        return []
    return [{"name": "eth0", "bridge": "lxcbr0" if network == "bridge" else network, "ip": "dhcp", "ip6": "auto"}]
