"""Planner findings of issue 13 against the real tools: disks checked with the real `stat` and
`lsblk`, btrfs reads on loop devices when a tool is missing or a filesystem vanishes."""

from __future__ import annotations

import os
import subprocess

import pytest
from isolation import unique_name

from converge.errors import PlanError
from converge.hosts import LocalHost
from converge.resources import BY_KIND
from converge.resources.base import Context

from .test_podman import podman_env  # noqa: F401  (private podman storage, emptied afterwards)

pytestmark = [pytest.mark.real, pytest.mark.usefixtures("without_machine_zfs")]  # tests/real/conftest.py


def test_pool_on_a_missing_disk_is_a_plan_error_naming_the_hosts_disks(tmp_path):
    image = tmp_path / "a.img"
    with open(image, "wb") as f:
        f.truncate(64 << 20)
    missing = str(tmp_path / "gone.img")
    host = LocalHost(str(tmp_path / "root"))
    ctx = Context(host=host)
    spec = BY_KIND["pool"].spec.model_validate({"vdevs": [{"type": "mirror", "disks": [str(image), missing]}]})
    with pytest.raises(PlanError) as e:
        BY_KIND["pool"].create("cvmissing", spec, ctx)
    disks = subprocess.run(["lsblk", "-dn", "-o", "PATH"], capture_output=True, text=True, check=True).stdout.split()
    assert str(e.value).startswith(f"pool cvmissing: the host has no {missing}; its disks are: {', '.join(disks)}")
    assert str(image) not in str(e.value).split(";")[0]


@pytest.fixture
def btrfs_mount(loops, tmp_path):
    """One btrfs (a label of this run) on a loop device of tests/real/conftest.py, mounted under
    tmp_path; the conftest unmounts what is under tmp_path and detaches only its own devices."""
    device = loops[0]
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    for argv in (["mkfs.btrfs", "-q", "-f", "-L", unique_name(), device], ["mount", "-t", "btrfs", device, str(mnt)]):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode:
            pytest.fail(f"{' '.join(argv)}: {done.stderr}")
    return device, str(mnt)


def path_without(tmp_path, tool: str) -> str:
    """A PATH with every command of /usr/bin but `tool` (a host without its package)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in os.listdir("/usr/bin"):
        if name != tool:
            os.symlink(os.path.join("/usr/bin", name), bindir / name)
    return f"{bindir}:/usr/sbin:/sbin"


def test_btrfs_compression_is_read_without_getfattr(btrfs_mount, tmp_path, monkeypatch):
    device, mnt = btrfs_mount
    for argv in (["btrfs", "subvolume", "create", f"{mnt}/media"], ["btrfs", "property", "set", f"{mnt}/media",
                                                                       "compression", "zstd"]):
        subprocess.run(argv, capture_output=True, check=True)
    monkeypatch.setenv("PATH", path_without(tmp_path, "getfattr"))

    class ThisFilesystem(LocalHost):
        """Reads only this test's filesystem: another run's may vanish between two commands."""

        def run(self, argv, *args, **kwargs):  # type: ignore[no-untyped-def]
            if list(argv[:4]) == ["btrfs", "filesystem", "show", "--raw"]:
                argv = [*argv, device]
            return super().run(argv, *args, **kwargs)

    host = ThisFilesystem()
    assert not host.has("getfattr")
    ctx = Context(host=host)
    ctx.facts.resources["pool"] = BY_KIND["pool"].read(ctx)
    datasets = BY_KIND["dataset"].read(ctx)
    [name] = [n for n, o in datasets.items() if o.info.get("path") == f"{mnt}/media"]
    assert datasets[name].spec["properties"]["compression"] == "zstd"  # was read as unset (getfattr: exit 127)
    assert ["btrfs", "property", "get", f"{mnt}/media", "compression"] in host.commands


def test_btrfs_read_without_findmnt_is_an_error_naming_the_package(btrfs_mount, tmp_path, monkeypatch):
    """Without findmnt every filesystem read as unmounted, so its subvolumes as absent (to create)."""
    from converge.errors import CommandFailed

    device, mnt = btrfs_mount
    subprocess.run(["btrfs", "subvolume", "create", f"{mnt}/media"], capture_output=True, check=True)
    monkeypatch.setenv("PATH", path_without(tmp_path, "findmnt"))
    ctx = Context(host=LocalHost())
    with pytest.raises(CommandFailed, match=r"findmnt .*exit 127.*install the package util-linux"):
        BY_KIND["pool"].read(ctx)


def test_container_and_the_subvolume_it_binds_are_removed_container_first(podman_env, loops, tmp_path):  # noqa: F811
    """Removed together, the dataset's destroy waits for the container that binds it: the bind is
    a dependency only on the host (podman inspect's Binds) once the manifests are gone."""
    from converge import engine
    from converge.model import Ref

    from .test_podman import IMAGE, LOOP, apply, ps, write

    l1, l2, _ = loops
    name = unique_name()  # the btrfs label and the container: another run of the suite may be at the same test
    d = tmp_path / "manifests"
    d.mkdir()
    pool = (f"pools:\n  {name}: {{driver: btrfs, disks: [{l1}, {l2}], data_profile: raid1, "
            f"metadata_profile: raid1, mountpoint: /srv/{name}}}\n")
    write(d, pool + f"""datasets:
  {name}/media: {{}}
containers:
  {name}-player:
    image: {IMAGE}
    command: [sh, -c, "{LOOP}"]
    volumes: ["{name}/media:/media:ro"]
    network: none
""")
    root = tmp_path / "root"
    assert apply(d, root).report.ok
    write(d, pool)
    t = engine.open_target(str(d), "local", str(root))
    plan, _ = engine.plan(t)
    deps = {str(c.ref): [str(r) for r in c.depends_on] for c in plan.changes}
    assert deps == {f"container/{name}-player": [], f"dataset/{name}/media": [f"container/{name}-player"]}
    t = engine.open_target(str(d), "local", str(root))
    outcome = engine.reconcile(t, allow_destroy={Ref(kind="dataset", name=f"{name}/media")}, parallelism=4)
    assert outcome.report.ok and outcome.replan.empty
    ran = [a for a in t.host.commands if a[:2] == ["podman", "rm"] or a[:3] == ["btrfs", "subvolume", "delete"]]
    assert ran[0][:2] == ["podman", "rm"] and ran[-1][:3] == ["btrfs", "subvolume", "delete"], ran
    assert f"{name}-player" not in ps()
    assert " path media\n" not in subprocess.run(["btrfs", "subvolume", "list", str(root / "srv" / name)],
                                                 capture_output=True, text=True, check=True).stdout + "\n"
