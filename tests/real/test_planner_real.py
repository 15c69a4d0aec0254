"""Planner findings of issue 13 against the real tools: disks checked with the real `stat` and
`lsblk`, btrfs reads on loop devices when a tool is missing or a filesystem vanishes."""

from __future__ import annotations

import os
import subprocess

import pytest

from converge.errors import PlanError
from converge.hosts import LocalHost
from converge.resources import BY_KIND
from converge.resources.base import Context

pytestmark = pytest.mark.real


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
def btrfs_mount(tmp_path):
    """One btrfs on a loop device, mounted under tmp_path; unmounted and detached by device afterwards."""
    image = tmp_path / "b.img"
    with open(image, "wb") as f:
        f.truncate(256 << 20)
    out = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True)
    if out.returncode:
        pytest.fail(f"cannot attach a loop device: {out.stderr}")
    device = out.stdout.strip()
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        for argv in (["mkfs.btrfs", "-q", "-f", "-L", "cvplanner", device], ["mount", "-t", "btrfs", device, str(mnt)]):
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode:
                pytest.fail(f"{' '.join(argv)}: {done.stderr}")
        yield device, str(mnt)
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)
        subprocess.run(["losetup", "-d", device], capture_output=True)


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
    host = LocalHost()
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
