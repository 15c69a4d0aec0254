"""Loop devices are released by exact device, and only while the device is still backed by our
file: a device number another run got after ours was detached is never detached by us."""

from __future__ import annotations

import subprocess

import pytest
from isolation import LoopDevices, backing_file

pytestmark = pytest.mark.real


def test_a_reused_device_number_is_left_alone(tmp_path):
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    ours, theirs = LoopDevices(tmp_path / "ours"), LoopDevices(tmp_path / "theirs")
    device = ours.attach(16 << 20)
    mine = ours.attached[device]
    assert backing_file(device) == mine
    # our device was detached behind our back and another run's file got the number
    subprocess.run(["losetup", "-d", device], check=True)
    reused = theirs.attach(16 << 20)
    ours.attached = {reused: mine}  # what we recorded, whichever number the kernel gave them
    try:
        assert ours.cleanup() == []
        assert backing_file(reused) == theirs.attached[reused]  # still attached: not ours
    finally:
        assert theirs.cleanup() == []
    assert backing_file(reused) is None or backing_file(reused) != theirs.attached[reused]


def test_cleanup_unmounts_under_our_directory_and_detaches(tmp_path):
    devices = LoopDevices(tmp_path)
    device = devices.attach(256 << 20)
    try:
        subprocess.run(["mkfs.btrfs", "-q", "-f", device], check=True, capture_output=True)
        (tmp_path / "mnt").mkdir()
        subprocess.run(["mount", device, str(tmp_path / "mnt")], check=True)
        (tmp_path / "mnt" / "inner").mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(tmp_path / "mnt" / "inner")], check=True)
    finally:
        problems = devices.cleanup()
    assert problems == []
    assert backing_file(device) != devices.attached[device]
    assert not any(str(tmp_path) in line for line in open("/proc/self/mountinfo"))
