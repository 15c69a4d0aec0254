"""Fixtures shared by the real-component tests. Everything they create is named per run
(tests/isolation.py) and removed by exact device, mount or name afterwards."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from isolation import LoopDevices, leftover_loop_devices


@pytest.fixture
def loops(tmp_path) -> Iterator[list[str]]:
    """Three sparse 1 GiB files attached as loop devices. Afterwards: whatever is mounted under
    tmp_path is unmounted, and each device is detached only while its backing file is still ours."""
    leftover_loop_devices()
    devices = LoopDevices(tmp_path)
    try:
        for _ in range(3):
            devices.attach(1 << 30)
    except RuntimeError as exc:
        devices.cleanup()
        pytest.fail(str(exc))
    yield list(devices.attached)
    problems = devices.cleanup()
    assert not problems, problems


SHIM = """#!/bin/sh
# The real {tool}, in a mount namespace where zfs-fuse's socket directory is an empty tmpfs: the
# test sees a machine without a zfs-fuse daemon, whatever another run or person starts or stops.
exec unshare -m --propagation private sh -c 'mount -t tmpfs converge-test /run/zfs && exec {path} "$@"' {tool} "$@"
"""


@pytest.fixture
def without_machine_zfs(tmp_path_factory, monkeypatch) -> None:
    """For tests that are not about ZFS but reconcile every kind on the machine: zfs-fuse is one
    daemon per machine, and a ZFS pool says itself that converge manages it (a user property, not
    converge's state file under --root), so another run's pool would show up in this test's plan
    as managed-and-undeclared, and a daemon stopping mid-read aborts `zpool`. `zpool` and `zfs`
    come first on PATH as wrappers that run the real tool where no daemon can be reached."""
    shims = tmp_path_factory.mktemp("no-zfs")
    for tool in ("zpool", "zfs"):
        path = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
        if path is None:
            continue  # no ZFS tools on this machine: nothing to hide
        (shims / tool).write_text(SHIM.format(tool=tool, path=path))
        (shims / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{shims}:{os.environ.get('PATH', '')}")
