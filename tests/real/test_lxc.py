"""Real LXC 5 (busybox template) driven by the `converge` CLI with `--host local --root ROOT`, the
CLI itself run under `nsenter --net` of a network namespace this test makes: lxc-* reach a running
container through an abstract socket, which belongs to a network namespace, so every lxc-* of a
test (converge's and the checks') runs in the same one. The containers use `network: none`
(lxc.net.0.type = empty): nothing touches this machine's network. The lxc path is a temp dir
under ROOT; every container has a unique name and is stopped and destroyed by name afterwards.
Checked with LXC's own lxc-info, lxc-cgroup, lxc-ls, lxc-attach and the config file.

Not covered here: a template change that then creates the new template's container. Every other
template (debian, download, alpine...) fetches from the network, which is not reachable here; the
simulated-host tests run that path. This test checks the refusal of such a replace, and runs a
real guarded replace through the other create-only field, `unprivileged`."""

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

    def converge(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("converge")
        assert exe, "the converge console script is not installed"
        return self.ns(exe, *args, str(self.manifests), "--host", "local", "--root", str(self.root), check=check)

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

    lxc.declare(name, {**box, "template": "debian"})
    (change,) = plan_json(lxc)
    assert change["action"] == "-/+" and change["destructive"]
    assert f"--allow-destroy container/{name}" in change["blocked"]
    refused = lxc.converge("apply", check=False)
    assert refused.returncode != 0 and "refused" in refused.stdout + refused.stderr
    assert notes.read_text() == "precious\n" and name in lxc.ns("lxc-ls", "-P", lxc.path).stdout

    lxc.declare(name, {**box, "unprivileged": True})
    assert lxc.converge("apply", check=False).returncode != 0
    assert notes.read_text() == "precious\n"
    lxc.converge("apply", "--allow-destroy", f"container/{name}")
    assert not notes.exists()
    assert "lxc.idmap = u 0 100000 65536" in lxc.config(name)
    assert lxc.rootfs(name).stat().st_uid == 100000  # lxc-create shifted the new rootfs
    assert "No changes" in lxc.converge("plan").stdout
