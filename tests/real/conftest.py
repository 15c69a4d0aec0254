"""Fixtures shared by the real-component tests. Everything they create is named per run
(tests/isolation.py) and removed by exact device, mount or name afterwards."""

from __future__ import annotations

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
