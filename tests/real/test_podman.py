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
