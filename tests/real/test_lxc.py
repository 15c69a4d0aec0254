"""Real LXC 5 (busybox template) driven by the `converge` CLI with `--host local --root ROOT`, the
CLI itself run under `nsenter --net` of a network namespace this test makes: lxc-* reach a running
container through an abstract socket, which belongs to a network namespace, so every lxc-* of a
test (converge's and the checks') runs in the same one. The containers use `network: none`
(lxc.net.0.type = empty): nothing touches this machine's network. The lxc path is a temp dir
under ROOT; every container has a unique name and is stopped and destroyed by name afterwards.
Checked with LXC's own lxc-info, lxc-cgroup, lxc-ls, lxc-attach and the config file.

A template change is a real guarded replace from busybox to the sshd template (both build their
rootfs from this machine's own files; every other template fetches from the network, which is not
reachable here), and so is an `unprivileged` change. One container also gets a NIC on a bridge
made inside the test's namespace, with a static address, which `ip` inside the container shows."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py
LXCPATH = "/lxc"  # inside ROOT


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True)
    if check and result.returncode:
        pytest.fail(f"{' '.join(argv)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


@dataclass
class Lxc:
    netns: str
    root: Path
    manifests: Path
    names: list[str] = field(default_factory=list)

    @property
    def path(self) -> str:
        return str(self.root) + LXCPATH

    def ns(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return sh("nsenter", f"--net=/run/netns/{self.netns}", *argv, check=check)

    def tool(self, tool: str, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.ns(tool, "-P", self.path, "-n", name, *args, check=check)

    def converge(self, *args: str, check: bool = True, sysfs: bool = False) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("converge")
        assert exe, "the converge console script is not installed"
        argv = [exe, *args, str(self.manifests), "--host", "local", "--root", str(self.root)]
        if sysfs:
            keep = self.root / ".cgroup"
            keep.mkdir(exist_ok=True)
            argv = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                    'mount --rbind /sys/fs/cgroup "$0" && mount -t sysfs sysfs /sys && '
                    'mount --move "$0" /sys/fs/cgroup && exec "$@"', str(keep), *argv]
        return self.ns(*argv, check=check)

    def declare(self, name: str, spec: dict) -> None:
        (self.manifests / "lxc.yaml").write_text(json.dumps({"containers": {name: spec}}))

    def new_name(self) -> str:
        self.names.append(f"cvg-{secrets.token_hex(4)}")
        return self.names[-1]

    def state(self, name: str) -> str:
        return self.tool("lxc-info", name, "-s").stdout.split(":", 1)[1].strip()

    def pid(self, name: str) -> str:
        return self.tool("lxc-info", name, "-p").stdout.split(":", 1)[1].strip()

    def memory_limit(self, name: str) -> int:
        key = "memory.max" if cgroup_v2() else "memory.limit_in_bytes"
        return int(self.tool("lxc-cgroup", name, key).stdout.strip())

    def cgroup(self, name: str, key: str) -> str:
        return self.tool("lxc-cgroup", name, key).stdout.strip()

    def attach(self, name: str, *argv: str) -> str:
        return self.tool("lxc-attach", name, "--", *argv).stdout

    def config(self, name: str) -> str:
        return (Path(self.path) / name / "config").read_text()

    def rootfs(self, name: str) -> Path:
        return Path(self.path) / name / "rootfs"


def cgroup_v2() -> bool:
    return sh("stat", "-f", "-c", "%T", "/sys/fs/cgroup").stdout.strip() == "cgroup2fs"


@pytest.fixture
def lxc(tmp_path_factory) -> Iterator[Lxc]:
    for tool in ("lxc-create", "lxc-start", "lxc-cgroup", "nsenter"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is missing (apt-get install lxc lxc-templates util-linux): .ci/apt-packages.txt lists them")
    if not os.path.exists("/usr/share/lxc/templates/lxc-busybox") or not shutil.which("busybox"):
        pytest.fail("the busybox template needs lxc-templates and busybox(-static): .ci/apt-packages.txt lists them")
    netns = f"converge-lxc-{secrets.token_hex(4)}"
    made = sh("ip", "netns", "add", netns, check=False)
    if made.returncode:
        pytest.fail(f"cannot create network namespace {netns}: {made.stderr.strip()}")
    base = tmp_path_factory.mktemp("lxc")
    (base / "root" / LXCPATH.lstrip("/")).mkdir(parents=True)
    (base / "nas").mkdir()
    (base / "nas" / "converge.yaml").write_text(json.dumps({"settings": {"container": {"lxc_path": LXCPATH}}}))
    env = Lxc(netns=netns, root=base / "root", manifests=base / "nas")
    try:
        yield env
    finally:
        for name in env.names:  # only this test's containers, by name, in this test's lxc path
            env.tool("lxc-stop", name, "-k", check=False)
            env.tool("lxc-destroy", name, check=False)
        sh("ip", "netns", "del", netns, check=False)
        shutil.rmtree(base, ignore_errors=True)


def plan_json(lxc: Lxc) -> list[dict]:
    return json.loads(lxc.converge("plan", "--json").stdout)["changes"]


def test_create_then_in_place_memory_change_keeps_the_rootfs_and_the_process(lxc):
    name = lxc.new_name()
    box = {"runtime": "lxc", "template": "busybox", "network": "none", "memory": "64M", "onboot": False}
    lxc.declare(name, box)
    lxc.converge("apply")
    if lxc.state(name) != "RUNNING":
        log = lxc.root / "start.log"
        start = lxc.tool("lxc-start", name, "-l", "INFO", "-o", str(log), check=False)
        errors = [line for line in log.read_text().splitlines() if " ERROR " in line] if log.exists() else []
        pytest.fail(f"LXC cannot start a busybox container on this machine: {start.stderr.strip()}\n"
                    + "\n".join(errors[:10]))
    assert lxc.memory_limit(name) == 64 * 1024 * 1024
    assert "lxc.start.auto = 0" in lxc.config(name)
    (lxc.rootfs(name) / "root" / "notes.txt").write_text("kept\n")
    assert lxc.tool("lxc-attach", name, "--", "cat", "/root/notes.txt").stdout == "kept\n"
    pid = lxc.pid(name)

    lxc.declare(name, {**box, "memory": "128M", "onboot": True})
    (change,) = plan_json(lxc)
    assert change["action"] == "~" and not change["destructive"]
    assert [d["path"] for d in change["diffs"]] == ["memory", "onboot"]
    assert not any(s["argv"][:1] in (["lxc-destroy"], ["lxc-stop"]) for s in change["steps"])
    lxc.converge("apply")
    assert lxc.memory_limit(name) == 128 * 1024 * 1024  # set live
    assert lxc.pid(name) == pid  # not restarted
    assert "lxc.start.auto = 1" in lxc.config(name)
    assert lxc.tool("lxc-attach", name, "--", "cat", "/root/notes.txt").stdout == "kept\n"
    assert "No changes" in lxc.converge("plan").stdout

    lxc.declare(name, {**box, "memory": "128M", "onboot": True, "state": "stopped"})
    lxc.converge("apply")
    assert lxc.state(name) == "STOPPED"
    lxc.declare(name, {**box, "memory": "128M", "onboot": True})
    lxc.converge("apply")
    assert lxc.state(name) == "RUNNING"
    assert lxc.memory_limit(name) == 128 * 1024 * 1024  # the edited config, read at start
    assert (lxc.rootfs(name) / "root" / "notes.txt").read_text() == "kept\n"

    # env is read at start: an edit of the config and a restart, never a new rootfs
    lxc.declare(name, {**box, "memory": "128M", "onboot": True, "env": {"GREETING": "hello"}})
    (change,) = plan_json(lxc)
    assert change["action"] == "~" and [s["argv"][0] for s in change["steps"] if s["op"] == "run"] \
        == ["lxc-stop", "lxc-start"]
    lxc.converge("apply")
    environ = lxc.tool("lxc-attach", name, "--", "cat", "/proc/1/environ").stdout.split("\0")
    assert "GREETING=hello" in environ
    assert (lxc.rootfs(name) / "root" / "notes.txt").read_text() == "kept\n"


def test_replace_destroys_the_rootfs_only_with_an_allow(lxc):
    name = lxc.new_name()
    box = {"runtime": "lxc", "template": "busybox", "network": "none", "state": "stopped"}
    lxc.declare(name, box)
    lxc.converge("apply")
    notes = lxc.rootfs(name) / "root" / "notes.txt"
    notes.write_text("precious\n")

    lxc.declare(name, {**box, "template": "sshd"})
    (change,) = plan_json(lxc)
    assert change["action"] == "-/+" and change["destructive"]
    assert f"--allow-destroy container/{name}" in change["blocked"]
    refused = lxc.converge("apply", check=False)
    assert refused.returncode != 0 and "refused" in refused.stdout + refused.stderr
    assert notes.read_text() == "precious\n" and name in lxc.ns("lxc-ls", "-P", lxc.path).stdout
    assert "lxc-busybox" in lxc.config(name)

    lxc.converge("apply", "--allow-destroy", f"container/{name}")
    assert not notes.exists()
    assert "/usr/share/lxc/templates/lxc-sshd" in lxc.config(name)  # the sshd template made the new rootfs
    assert (lxc.rootfs(name) / "etc" / "ssh").is_dir()
    assert "No changes" in lxc.converge("plan").stdout
    notes.parent.mkdir(exist_ok=True)
    notes.write_text("precious\n")

    lxc.declare(name, {**box, "unprivileged": True})  # back to busybox (sshd refuses unprivileged containers)
    assert lxc.converge("apply", check=False).returncode != 0
    assert notes.read_text() == "precious\n"
    lxc.converge("apply", "--allow-destroy", f"container/{name}")
    assert not notes.exists()
    assert "lxc.idmap = u 0 100000 65536" in lxc.config(name)
    assert lxc.rootfs(name).stat().st_uid == 100000  # lxc-create shifted the new rootfs
    assert "No changes" in lxc.converge("plan").stdout


KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx5Y29udmVyZ2V0ZXN0a2V5YWFhYWFhYWFhYWFhYWFh converge@test"


def test_cores_swap_freeze_keys_and_nameserver(lxc):
    name = lxc.new_name()
    box = {"runtime": "lxc", "template": "busybox", "network": "none", "memory": "64M", "swap": "32M", "cores": 1,
           "hostname": "toolbox", "ssh_keys": [KEY], "nameserver": ["192.0.2.53"], "startup_order": 3,
           "description": "real test box"}
    lxc.declare(name, box)
    lxc.converge("apply")
    assert lxc.state(name) == "RUNNING"
    assert lxc.cgroup(name, "cpuset.cpus") == "0"
    if cgroup_v2():
        assert lxc.cgroup(name, "memory.swap.max") == str(32 << 20)
    else:  # v1: memory+swap in one limit
        assert lxc.cgroup(name, "memory.memsw.limit_in_bytes") == str(96 << 20)
    assert lxc.attach(name, "hostname").strip() == "toolbox"
    assert KEY in lxc.attach(name, "cat", "/root/.ssh/authorized_keys")
    assert lxc.attach(name, "cat", "/etc/resolv.conf").endswith("nameserver 192.0.2.53\n")
    assert "lxc.start.order = 3" in lxc.config(name)
    assert "No changes" in lxc.converge("plan").stdout

    # memory above the old memory+swap: the order of the live writes matters on v1
    lxc.declare(name, {**box, "memory": "256M"})
    pid = lxc.pid(name)
    lxc.converge("apply")
    assert lxc.memory_limit(name) == 256 << 20 and lxc.pid(name) == pid
    if not cgroup_v2():
        assert lxc.cgroup(name, "memory.memsw.limit_in_bytes") == str(288 << 20)

    lxc.declare(name, {**box, "memory": "256M", "state": "frozen"})
    lxc.converge("apply")
    assert lxc.state(name) == "FROZEN"
    assert "No changes" in lxc.converge("plan").stdout
    lxc.declare(name, {**box, "memory": "256M", "state": "stopped"})
    lxc.converge("apply")  # thawed first: a frozen init never sees the stop signal
    assert lxc.state(name) == "STOPPED"
    lxc.declare(name, {**box, "memory": "256M"})
    lxc.converge("apply")
    assert lxc.state(name) == "RUNNING" and lxc.memory_limit(name) == 256 << 20


def test_a_nic_on_a_bridge_with_a_static_address(lxc):
    bridge = f"cvgbr{secrets.token_hex(2)}"
    lxc.ns("ip", "link", "add", bridge, "type", "bridge")
    lxc.ns("ip", "link", "set", bridge, "up")
    name = lxc.new_name()
    nic = {"name": "eth0", "bridge": bridge, "ip": "192.0.2.10/24", "gateway": "192.0.2.1",
           "hwaddr": "02:00:00:c0:00:0a"}
    # sleep as init: the busybox template's rcS runs udhcpc, whose deconfig flushes the static address
    box = {"runtime": "lxc", "template": "busybox", "network": [nic], "command": ["/bin/sleep", "3600"]}
    (lxc.manifests / "net.yaml").write_text(json.dumps({"interfaces": {bridge: {"type": "bridge", "state": "up"}}}))
    lxc.declare(name, box)
    plan = [c for c in plan_json(lxc) if c["ref"]["kind"] == "container"]
    assert plan and plan[0]["action"] == "+"
    # LXC looks for the bridge in /sys/class/net, which nsenter --net leaves the machine's: the
    # apply runs in a mount namespace of its own with this namespace's sysfs (cgroups moved over)
    lxc.converge("apply", "--target", f"container/{name}", sysfs=True)
    addresses = lxc.attach(name, "ip", "addr", "show", "eth0")
    assert "inet 192.0.2.10/24" in addresses and "02:00:00:c0:00:0a" in addresses
    assert "default via 192.0.2.1" in lxc.attach(name, "ip", "route")
    assert lxc.ns("ip", "-o", "link", "show", "master", bridge).stdout.count("veth") == 1
    assert not [c for c in plan_json(lxc) if c["ref"]["kind"] == "container"]
