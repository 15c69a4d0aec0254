"""Planner findings of issue 13 against the real tools: disks checked with the real `stat` and
`lsblk`, btrfs reads on loop devices when a tool is missing or a filesystem vanishes."""

from __future__ import annotations

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
