"""Simulated LXC 5 tools: lxc-create, lxc-destroy, lxc-start, lxc-stop, lxc-ls, lxc-info (lxc-cgroup,
lxc-freeze and lxc-unfreeze in lxc_cgroup.py; the `sed -i` converge runs on a config in sed.py).

State is kept where LXC keeps it: a container is its config file `LXCPATH/NAME/config` in
host.facts.files (lxc-create writes it as the real tool does: template header, the `-f` file's
keys, then the template's keys; anyone may edit it), its rootfs is the files under
`LXCPATH/NAME/rootfs/` (the template leaves `etc/hostname`; lxc-destroy removes them all), and a
running container's live cgroup values are sim["lxc_running"]["LXCPATH/NAME"]. The cgroup layout
is sim["statfs"]["/sys/fs/cgroup"] (`cgroup2fs` unless seeded, e.g. `tmpfs` for a hybrid v1 host):
as on the real tools, limits of the other family are accepted and silently not applied.
Messages and exit codes are LXC 5.0.2's (recorded on Debian 12, tests/fixtures/lxc/)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from ...formats import lxc as lxc_config
from ..base import Result
from . import fail, tool
from .containers_render import resolve
from .lxc_cgroup import acceptable, cgroup, err, freeze, fresh_values, is_frozen, running
from .system import is_directory

LXC_PATH = "/var/lib/lxc"
TEMPLATE_DIR = "/usr/share/lxc/templates/lxc-"
# lxc-templates 3.0.4 on Debian 12 (download fetches from the network: only seeded images work)
TEMPLATES = ("alpine", "altlinux", "archlinux", "busybox", "centos", "cirros", "debian", "devuan", "download",
             "fedora", "gentoo", "local", "oci", "openmandriva", "opensuse", "oracle", "plamo", "sabayon",
             "sshd", "ubuntu", "ubuntu-cloud", "voidlinux")
HEADER = ("# Template used to create this container: {path}\n# Parameters passed to the template:{args}\n"
          "# For additional config options, please look at lxc.container.conf(5)\n\n"
          "# Uncomment the following line to support nesting containers:\n"
          "#lxc.include = /usr/share/lxc/config/nesting.conf\n# (Be aware this has security implications)\n\n")
BUSYBOX_KEYS = """lxc.signal.halt = SIGUSR1
lxc.signal.reboot = SIGTERM
lxc.uts.name = "{name}"
lxc.autodev = 1
lxc.tty.max = 5
lxc.pty.max = 1
lxc.cap.drop = sys_module mac_admin mac_override sys_time

# When using LXC with apparmor, uncomment the next line to run unconfined:
#lxc.apparmor.profile = unconfined

lxc.mount.auto = cgroup:mixed proc:mixed sys:ro
lxc.mount.entry = shm dev/shm tmpfs defaults,create=dir 0 0
lxc.mount.entry = mqueue dev/mqueue mqueue defaults,optional,create=dir 0 0
lxc.mount.entry = /lib lib none ro,bind 0 0
lxc.mount.entry = /usr/lib usr/lib none ro,bind 0 0
lxc.mount.entry = /lib64 lib64 none ro,bind 0 0
lxc.mount.entry = /usr/lib64 usr/lib64 none ro,bind 0 0
lxc.mount.entry = /sys/kernel/security sys/kernel/security none ro,bind,optional 0 0
"""
FLAGS_WITH_VALUE = {"-P": "lxcpath", "--lxcpath": "lxcpath", "-n": "name", "--name": "name", "-f": "config",
                    "--config": "config", "-t": "template", "--template": "template", "-B": "bdev",
                    "--bdev": "bdev", "--fssize": "fssize", "--fancy-format": "format", "-F": "format",
                    "-l": "logpriority", "-o": "logfile"}


def cgroup_version(host: Any) -> int:
    return 2 if host.facts.sim.get("statfs", {}).get("/sys/fs/cgroup", "cgroup2fs") == "cgroup2fs" else 1


def _args(argv: list[str]) -> tuple[dict[str, str], set[str], list[str], list[str]]:
    """(options with values, bare flags, positional arguments, what follows `--`)."""
    opts: dict[str, str] = {}
    flags: set[str] = set()
    positional: list[str] = []
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            return opts, flags, positional, argv[i + 1:]
        key, eq, inline = arg.partition("=")
        if key in FLAGS_WITH_VALUE:
            opts[FLAGS_WITH_VALUE[key]] = inline if eq else (argv[i + 1] if i + 1 < len(argv) else "")
            i += 1 if eq else 2
            continue
        if arg.startswith("-"):
            flags.add(arg)
        else:
            positional.append(arg)
        i += 1
    return opts, flags, positional, []


def _config_path(lxcpath: str, name: str) -> str:
    return f"{lxcpath.rstrip('/')}/{name}/config"


def _keys(text: str) -> list[tuple[str, str]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out.append((key.strip(), value.strip()))
    return out


def _snapshot_spec(spec: dict[str, Any]) -> SimpleNamespace:
    """An observed LXC spec of a `converge facts` snapshot (already in its normal form), with the
    fields the config file holds."""
    fields = {"memory": None, "cpus": None, "pids_limit": None, "onboot": None, "unprivileged": None,
              "network": None, "env": {}, "command": None, "features": {}, "volumes": None, "mounts": None,
              "template": None, "state": "running", "swap": None, "cores": None, "hostname": None,
              "startup_order": None, "description": None}
    values = {**fields, **{k: v for k, v in spec.items() if k in fields}}
    if values["mounts"]:  # binds read back as mounts: the same lines as volumes
        values["volumes"] = [f"{m['source']}:{m['target']}" + (":ro" if m.get("read_only") else "")
                             for m in values["mounts"]]
    return SimpleNamespace(**values)


def _bind(volume: str) -> tuple[str, str, str]:
    """`/src:/target[:opts]` -> (source, target, options)."""
    source, target, opts = (volume.split(":") + [""])[:3]
    return source, target, opts


def _from_snapshot(host: Any) -> None:
    """A state file taken with `converge facts` from a real host lists LXC containers as observed
    specs (their config files were read, not copied): give each its config and rootfs here, once,
    under the default lxc path, so the snapshot plans as the real host would."""
    observed = host.facts.resources.get("container", {})
    for name in [n for n, o in observed.items() if o.spec.get("runtime") == "lxc"]:
        obs = observed.pop(name)
        spec = _snapshot_spec(obs.spec)
        volumes = [_bind(resolve(host, v)) for v in spec.volumes or []]
        template, *targs = (spec.template or "busybox").split(":")
        args = "".join(f" {o} {v}" for o, v in zip(("-d", "-r", "-a"), targs, strict=False))
        container = f"{LXC_PATH}/{name}"
        host.facts.files[f"{container}/config"] = (HEADER.format(path=TEMPLATE_DIR + template, args=args)
                                                   + lxc_config.render(spec, volumes, cgroup_version(host))
                                                   + f"lxc.rootfs.path = dir:{container}/rootfs\n")
        host.facts.files[f"{container}/rootfs/etc/hostname"] = name + "\n"
        if spec.state in ("running", "frozen"):
            _start(host, container, name)
        if spec.state == "frozen":
            running(host)[container]["freezer.state"] = "FROZEN"
        host.changed()


@tool("lxc-create", "lxc-destroy", "lxc-start", "lxc-stop", "lxc-ls", "lxc-info", "lxc-cgroup", "lxc-freeze",
      "lxc-unfreeze")
def lxc(host: Any, argv: list[str], input: str | None) -> Result:
    tool_name = argv[0].rsplit("/", 1)[-1]
    _from_snapshot(host)
    opts, flags, positional, rest = _args(argv)
    lxcpath = opts.get("lxcpath", LXC_PATH).rstrip("/") or "/"
    if tool_name == "lxc-ls":
        return _ls(host, lxcpath, "--fancy" in flags or "-f" in flags, opts.get("format"))
    name = opts.get("name", "")
    if not name:
        return fail(f"{tool_name}: missing container name, use --name option", 1)
    config = _config_path(lxcpath, name)
    exists = host.facts.files.get(config) is not None
    container = f"{lxcpath}/{name}"
    if tool_name == "lxc-create":
        return _create(host, lxcpath, name, opts, rest) if not exists else \
            err(tool_name, name, "tools/lxc_create.c: main: 264", "Container already exists")
    is_running = container in running(host)
    if tool_name == "lxc-info":
        if not exists:
            return fail(f"{name} doesn't exist")
        state = f"State:          {_state(host, container)}\n"
        return Result(0, state if "-s" in flags else f"Name:           {name}\n{state}")
    if tool_name == "lxc-start":
        if not exists:
            return err(tool_name, name, "tools/lxc_start.c: main: 266", "No container config specified")
        if is_running:
            return Result(0, "", f"lxc-start: {name}: ../src/lxc/tools/lxc_start.c: main: 256 Container is already running\n")
        return _start(host, container, name)
    if tool_name == "lxc-stop":
        if not is_running:
            return err(tool_name, name, "tools/lxc_stop.c: main: 168", f"{name} is not running", 2)
        if "--reboot" in flags or "-r" in flags:
            return _start(host, container, name)  # a reboot applies the config afresh
        if is_frozen(host, container) and not ("-k" in flags or "--kill" in flags):
            # SIGPWR cannot reach a frozen init: lxc-stop waits its timeout, then gives up
            return err(tool_name, name, "tools/lxc_stop.c: main: 211", f"Failed to stop {name}")
        del running(host)[container]
        host.changed()
        return Result(0, "")
    if tool_name == "lxc-destroy":
        if not exists:
            return err(tool_name, name, "tools/lxc_destroy.c: main: 240", "Container is not defined")
        if is_running:
            return err(tool_name, name, "tools/lxc_destroy.c: do_destroy: 91", f"{name} is running")
        for path in [p for p in host.facts.files if p.startswith(container + "/")]:
            del host.facts.files[path]  # the config and the whole rootfs
        host.changed()
        return Result(0, "")
    if tool_name in ("lxc-freeze", "lxc-unfreeze"):
        return freeze(host, tool_name, container, name, is_running)
    return cgroup(host, container, name, is_running, positional)


def _create(host: Any, lxcpath: str, name: str, opts: dict[str, str], targs: list[str]) -> Result:
    template = opts.get("template", "")
    if template not in host.facts.sim.get("lxc_templates", TEMPLATES):
        return fail(f"lxc-create: {name}: ../src/lxc/utils.c: get_template_path: 900 No such file or directory - "
                    f"bad template: {template}\nlxc-create: {name}: ../src/lxc/lxccontainer.c: __lxcapi_create: "
                    f"1799 Template \"{template}\" not found\nlxc-create: {name}: ../src/lxc/tools/lxc_create.c: "
                    f"main: 317 Failed to create container {name}")
    if template == "download":
        wanted = ":".join(targs[i + 1] for i, a in enumerate(targs[:-1]) if a in ("-d", "-r", "-a"))
        if wanted not in host.facts.sim.get("lxc_images", []):
            return fail(f"ERROR: Couldn't find a matching image\nlxc-create: {name}: ../src/lxc/lxccontainer.c: "
                        f"create_run_template: 1628 Failed to create container from template\nlxc-create: {name}: "
                        f"../src/lxc/tools/lxc_create.c: main: 317 Failed to create container {name}")
    err = ""
    given = ""
    if "config" in opts:
        text = host.facts.files.get(opts["config"])
        if text is None:  # lxc-create only warns and creates the container without those keys
            err = (f"lxc-create: {name}: ../src/lxc/parse.c: lxc_file_for_each_line_mmap: 78 No such file or "
                   f"directory - Failed to open file \"{opts['config']}\"\n")
        else:
            # LXC keeps the file's comment lines too (measured: a `#...` line of -f stands in the config)
            given = "".join(line.strip() + "\n" if line.strip().startswith("#") else f"{kv[0]} = {kv[1]}\n"
                            for line in text.splitlines() for kv in [_keys(line)[0] if _keys(line) else ("", "")]
                            if line.strip().startswith("#") or kv[0])
    container = f"{lxcpath}/{name}"
    header = HEADER.format(path=TEMPLATE_DIR + template, args="".join(" " + a for a in targs))
    own = f"lxc.rootfs.path = dir:{container}/rootfs\n"
    own += BUSYBOX_KEYS.format(name=name) if template == "busybox" else f'lxc.uts.name = "{name}"\n'
    host.facts.files[f"{container}/config"] = header + given + own
    host.facts.files[f"{container}/rootfs/etc/hostname"] = name + "\n"
    host.changed()
    return Result(0, "", err)


def _start(host: Any, container: str, name: str) -> Result:
    text = host.facts.files.get(f"{container}/config", "")
    version = cgroup_version(host)
    values = fresh_values(host, version)
    prefix = "lxc.cgroup2." if version == 2 else "lxc.cgroup."
    for key, value in _keys(text):
        if key == "lxc.mount.entry":
            parts = value.split()
            if len(parts) >= 4 and "create=dir" in parts[3].split(",") and parts[2] == "none" \
                    and not is_directory(host, parts[0]):
                return _start_failed(name)  # the bind source is missing: the mount fails, the start aborts
        elif key.startswith(prefix) and key[len(prefix):] in values:
            values[key[len(prefix):]] = value
    fresh = fresh_values(host, version)
    # LXC sets memory before memory+swap in a fresh cgroup; a value the kernel refuses aborts the start
    applied = dict(fresh)
    for key in sorted(values, key=lambda k: k == "memory.memsw.limit_in_bytes"):
        if values[key] != fresh[key] and not acceptable(host, applied, key, values[key]):
            return _start_failed(name)
        applied[key] = values[key]
    running(host)[container] = values
    host.changed()
    return Result(0, "")


def _start_failed(name: str) -> Result:
    where = "../src/lxc/tools/lxc_start.c: main:"
    return fail(f"lxc-start: {name}: ../src/lxc/lxccontainer.c: wait_on_daemonized_start: 878 Received container "
                f"state \"ABORTING\" instead of \"RUNNING\"\nlxc-start: {name}: {where} 306 The container failed to "
                f"start\nlxc-start: {name}: {where} 309 To get more details, run the container in foreground mode\n"
                f"lxc-start: {name}: {where} 311 Additional information can be obtained by setting the --logfile "
                "and --logpriority options")


def _ls(host: Any, lxcpath: str, fancy: bool, fmt: str | None) -> Result:
    names = sorted({p[len(lxcpath) + 1:].split("/", 1)[0] for p in host.facts.files
                    if p.startswith(lxcpath + "/") and p.count("/", len(lxcpath) + 1) == 1 and p.endswith("/config")})
    if not fancy:
        return Result(0, "".join(n + "\n" for n in names))
    if not names:
        return Result(0, "")
    columns = (fmt or "NAME,STATE,AUTOSTART,GROUPS,IPV4,IPV6,UNPRIVILEGED").split(",")
    rows = [columns]
    for name in names:
        container = f"{lxcpath}/{name}"
        keys = dict(_keys(host.facts.files[f"{container}/config"]))
        cells = {"NAME": name, "STATE": _state(host, container),
                 "AUTOSTART": keys.get("lxc.start.auto", "0"), "GROUPS": "-", "IPV4": "-", "IPV6": "-",
                 "UNPRIVILEGED": "true" if "lxc.idmap" in keys else "false"}
        rows.append([cells.get(c, "-") for c in columns])
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    return Result(0, "".join("".join(c.ljust(w) + " " for c, w in zip(r, widths, strict=True)) + "\n" for r in rows))


def _state(host: Any, container: str) -> str:
    return "FROZEN" if is_frozen(host, container) else "RUNNING" if container in running(host) else "STOPPED"
