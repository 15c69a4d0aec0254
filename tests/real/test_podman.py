"""Real podman (runc, cgroupfs, netns none, vfs storage in a temp dir) driven by `converge apply
--host local`; checked with podman's own `ps -a --format json`, `inspect` and `exec`.

The image is built here from busybox-static (no registry is reachable) and imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest
from isolation import unique_name

from converge import engine
from converge.model import Ref

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py
IMAGE = "localhost/busybox:converge-test"
LOOP = "trap 'exit 0' TERM; while true; do sleep 1; done"  # a PID 1 that stops on SIGTERM


def podman(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, env=os.environ.copy())
    if check and result.returncode:
        pytest.fail(f"podman {' '.join(args)} failed: {result.stderr.strip()}")
    return result


@pytest.fixture
def podman_env(tmp_path_factory, monkeypatch):
    """Private podman storage, configuration and run directory (tmp_dir: podman's own locks,
    events and exit files, /run/libpod by default and shared by every podman on the machine),
    file locks instead of the machine-wide shared-memory lock table; every container of this
    private storage removed afterwards."""
    if not shutil.which("podman") or not shutil.which("runc"):
        pytest.fail("podman and runc are needed (apt-get install podman runc): .ci/apt-packages.txt lists them")
    base = tmp_path_factory.mktemp("podman")
    (base / "containers.conf").write_text(
        f'[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
        f'tmp_dir = "{base}/tmp"\nlock_type = "file"\n'
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\nnetns = "none"\n')
    (base / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{base}/graph"\nrunroot = "{base}/run"\n')
    monkeypatch.setenv("CONTAINERS_CONF", str(base / "containers.conf"))
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(base / "storage.conf"))
    rootfs = base / "rootfs"
    (rootfs / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", rootfs / "bin" / "busybox")
    for applet in ("sh", "sleep", "cat", "echo", "env", "ls"):
        os.symlink("busybox", rootfs / "bin" / applet)
    subprocess.run(["tar", "-C", str(rootfs), "-cf", str(base / "rootfs.tar"), "."], check=True)
    podman("import", str(base / "rootfs.tar"), IMAGE)
    try:
        yield base
    finally:
        podman("rm", "-af", "-t", "0", check=False)  # only this test's private storage
        podman("rmi", "-af", check=False)
        shutil.rmtree(base, ignore_errors=True)


def ps() -> dict[str, dict[str, Any]]:
    return {c["Names"][0]: c for c in json.loads(podman("ps", "-a", "--format", "json").stdout or "[]")}


def write(directory, text):
    (directory / "apps.yaml").write_text(text)


MANIFEST = f"""
containers:
  web:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    env: {{GREETING: hello}}
    volumes: ["DATA:/data:ro"]
    network: none
  idle:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    network: none
    state: stopped
"""


def apply(directory, root):
    return engine.reconcile(engine.open_target(str(directory), "local", str(root)))


def test_podman_containers_apply_replace_restart_and_nothing_to_do(podman_env, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "hello.txt").write_text("from the host\n")
    d = tmp_path / "manifests"
    d.mkdir()
    manifest = MANIFEST.replace("DATA", str(data))
    write(d, manifest)
    podman("create", "--name", "theirs", IMAGE, "sh", "-c", LOOP)  # not converge's: never touched

    first = apply(d, tmp_path / "root")
    assert first.report.ok and first.replan.empty
    got = ps()
    assert got["web"]["State"] == "running" and got["idle"]["State"] in ("created", "exited")
    assert got["web"]["Labels"]["converge.managed"] == "true"
    assert podman("exec", "web", "cat", "/data/hello.txt").stdout == "from the host\n"
    assert podman("exec", "web", "sh", "-c", "echo $GREETING").stdout == "hello\n"
    web_id = got["web"]["Id"]

    second = apply(d, tmp_path / "root")
    assert second.plan.empty and second.report.commands == 0

    # A changed env replaces only that container.
    write(d, manifest.replace("GREETING: hello", "GREETING: bonjour"))
    plan, _ = engine.plan(engine.open_target(str(d), "local", str(tmp_path / "root")))
    assert [(c.action.value, str(c.ref), [x.path for x in c.diffs]) for c in plan.changes] == [
        ("-/+", "container/web", ["env"])]
    assert "bonjour" not in plan.redacted().model_dump_json()  # env values never appear in a shown plan
    third = apply(d, tmp_path / "root")
    assert third.report.ok and third.replan.empty
    got = ps()
    assert got["web"]["Id"] != web_id and got["idle"]["State"] in ("created", "exited")
    assert podman("exec", "web", "sh", "-c", "echo $GREETING").stdout == "bonjour\n"

    # A restart stamp is honoured once.
    write(d, manifest.replace("GREETING: hello", "GREETING: bonjour").replace(
        "    network: none\n  idle:", "    network: none\n    restart_requested: 2026-11-22T10:00:00Z\n  idle:"))
    started = podman("inspect", "web", "--format", "{{.State.StartedAt}}").stdout
    fourth = apply(d, tmp_path / "root")
    assert [str(c.ref) for c in fourth.plan.changes] == ["container/web"]
    assert podman("inspect", "web", "--format", "{{.State.StartedAt}}").stdout != started
    assert apply(d, tmp_path / "root").plan.empty

    # Stop, by state.
    write(d, manifest.replace("GREETING: hello", "GREETING: bonjour").replace(
        "    network: none\n  idle:", "    network: none\n    restart_requested: 2026-11-22T10:00:00Z\n"
        "    state: stopped\n  idle:"))
    apply(d, tmp_path / "root")
    assert ps()["web"]["State"] == "exited"
    assert ps()["theirs"]["State"] == "created"  # the unmanaged container was left alone


def apply_only(directory, root, *refs: str):
    """Apply limited to this test's own resources: real tests running at once (other pools, other
    containers on this machine) never enter its plan."""
    return engine.reconcile(engine.open_target(str(directory), "local", str(root)), targets=[Ref.parse(r) for r in refs])



def test_dataset_volume_from_a_btrfs_subvolume(loops, podman_env, tmp_path):
    """`POOL/media:/media:ro` binds the subvolume converge mounted (under --root). The loop
    devices come first so they are released last, after the containers that bind the pool."""
    l1, l2, _ = loops
    pool = unique_name()  # the btrfs label: one per run
    d = tmp_path / "manifests"
    d.mkdir()
    write(d, f"""
pools:
  {pool}: {{driver: btrfs, disks: [{l1}, {l2}], data_profile: raid1, metadata_profile: raid1, mountpoint: /srv/{pool}}}
datasets:
  {pool}/media: {{}}
containers:
  player:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    volumes: ["{pool}/media:/media:ro"]
    network: none
  spare:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    network: none
    state: stopped
""")
    root = tmp_path / "root"
    first = apply(d, root)
    assert first.report.ok and first.replan.empty
    (root / "srv" / pool / "media" / "song.txt").write_text("la la\n")
    assert podman("exec", "player", "cat", "/media/song.txt").stdout == "la la\n"
    got = ps()
    assert got["player"]["State"] == "running" and got["spare"]["State"] in ("created", "exited")
    assert apply(d, root).report.commands == 0


def test_devices_capabilities_user_healthcheck_read_back_and_nothing_to_do(podman_env, tmp_path):
    """A device and capabilities land in the container (podman inspect shows them), and the
    second plan is empty: what inspect says is read back in the manifest's form."""
    name = f"cvdev-{os.getpid()}-{tmp_path.name[-8:]}"
    d = tmp_path / "manifests"
    d.mkdir()
    write(d, f"""
containers:
  {name}:
    image: {IMAGE}
    entrypoint: [sh, -c]
    command: ["{LOOP}"]
    devices: [/dev/null:/dev/cvnull, "/dev/zero:/dev/cvzero:rwm"]
    cap_add: [net_admin]
    cap_drop: [MKNOD]
    user: "1000:1000"
    healthcheck: {{test: "true", interval: 1m, timeout: 5s, start_period: 2s}}
    stop_timeout: 3
    network: none
""")
    root = tmp_path / "root"
    first = apply_only(d, root, f"container/{name}")
    assert first.report.ok, first.report
    raw = json.loads(podman("inspect", name).stdout)[0]
    assert [(x["PathOnHost"], x["PathInContainer"]) for x in raw["HostConfig"]["Devices"]] == [
        ("/dev/null", "/dev/cvnull"), ("/dev/zero", "/dev/cvzero")]
    assert raw["HostConfig"]["CapAdd"] == ["CAP_NET_ADMIN"] and raw["HostConfig"]["CapDrop"] == ["CAP_MKNOD"]
    assert "CAP_NET_ADMIN" in raw["EffectiveCaps"] and "CAP_MKNOD" not in raw["EffectiveCaps"]
    assert raw["Config"]["User"] == "1000:1000" and raw["Config"]["StopTimeout"] == 3
    assert raw["Config"]["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert raw["Config"]["Healthcheck"]["Interval"] == 60 * 10**9
    assert "\nUid:\t1000\t" in podman("exec", name, "cat", "/proc/self/status").stdout
    assert podman("exec", name, "ls", "/dev/cvnull").returncode == 0
    assert first.replan.empty
    second = apply_only(d, root, f"container/{name}")
    assert second.plan.empty and second.report.commands == 0

    # a capability more is a replace; the stop waits the declared 3 s at most
    write(d, (d / "apps.yaml").read_text().replace("cap_add: [net_admin]", "cap_add: [net_admin, sys_ptrace]"))
    plan, _ = engine.plan(engine.open_target(str(d), "local", str(root)), targets=[Ref.parse(f"container/{name}")])
    [change] = plan.changes
    assert [s.argv for s in change.steps if s.op == "run"][0] == ["podman", "stop", "-t", "3", name]
    third = apply_only(d, root, f"container/{name}")
    assert third.report.ok and third.replan.empty
    assert json.loads(podman("inspect", name).stdout)[0]["HostConfig"]["CapAdd"] == ["CAP_NET_ADMIN", "CAP_SYS_PTRACE"]


def test_network_made_first_and_a_container_joins_it(podman_env, tmp_path):
    """A bridge network and a (stopped: starting would plumb the host) container on it; podman's own
    `network inspect` and `inspect` show them; a second plan is empty; then both go, container first.
    The network configuration lives in this test's directory, never in /etc/cni."""
    with open(podman_env / "containers.conf", "a") as f:
        f.write(f'[network]\nnetwork_config_dir = "{podman_env}/net"\n')
    tag = f"{os.getpid()}{tmp_path.name[-6:]}".replace("_", "")
    net, ctr = f"cvnet{tag}", f"cvon{tag}"
    d = tmp_path / "manifests"
    d.mkdir()
    write(d, f"""
container_networks:
  {net}: {{subnet: 10.231.7.0/24, gateway: 10.231.7.1}}
containers:
  {ctr}:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    networks: [{net}]
    state: stopped
""")
    root = tmp_path / "root"
    mine = (f"container_network/{net}", f"container/{ctr}")
    first = apply_only(d, root, *mine)
    assert first.report.ok, first.report
    assert [str(c.ref) for c in first.plan.changes] == [f"container_network/{net}", f"container/{ctr}"]
    [raw_net] = json.loads(podman("network", "inspect", net).stdout)
    assert raw_net["subnets"] == [{"subnet": "10.231.7.0/24", "gateway": "10.231.7.1"}]
    assert raw_net["labels"]["converge.managed"] == "true"
    raw = json.loads(podman("inspect", ctr).stdout)[0]
    assert list(raw["NetworkSettings"]["Networks"]) == [net]
    assert first.replan.empty and apply_only(d, root, *mine).plan.empty

    # Removal, still limited to this test's refs. (A targeted reconcile cannot re-plan a target that
    # is gone: the planner refuses a --target neither declared nor present; so plan, then execute.)
    write(d, "containers: {}\n")
    target = engine.open_target(str(d), "local", str(root))
    removal, _ = engine.plan(target, targets=[Ref.parse(r) for r in mine])
    assert [(c.action.value, str(c.ref)) for c in removal.changes] == [("-", f"container/{ctr}"),
                                                                        ("-", f"container_network/{net}")]
    assert engine.execute(removal, target.host).ok
    assert net not in podman("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert ctr not in ps()
