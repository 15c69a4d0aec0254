"""One lock serialises applies: a second holder fails clearly, or waits when asked to."""

from __future__ import annotations

import os
import threading
import time

import pytest

from converge.errors import LockBusy
from converge.lock import apply_lock


def test_second_apply_fails_clearly_naming_the_holder(tmp_path):
    path = str(tmp_path / "run" / "apply.lock")
    with apply_lock(path):
        with pytest.raises(LockBusy, match=rf"held by pid {os.getpid()}"):
            with apply_lock(path):
                pass
    with apply_lock(path):  # released: free again
        pass


def test_waiting_apply_gets_the_lock_when_released(tmp_path):
    path = str(tmp_path / "apply.lock")
    released = threading.Event()

    def hold():
        with apply_lock(path):
            time.sleep(0.3)
        released.set()

    t = threading.Thread(target=hold)
    t.start()
    time.sleep(0.05)
    start = time.monotonic()
    with apply_lock(path, timeout=5):
        assert released.is_set() and time.monotonic() - start >= 0.2
    t.join()
