"""File locks shared across processes: one serialises applies on a host (CLI, watcher, API),
another serialises manifest edits and their commits in a directory (every `serve` on it)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from .errors import LockBusy

EDIT_LOCK = os.path.join(".converge", "edit.lock")


@contextmanager
def file_lock(path: str, timeout: float, busy: str) -> Iterator[None]:
    """Hold an exclusive flock on `path`; wait up to `timeout` seconds, then raise LockBusy(busy
    + who holds it). flock belongs to the open file, so threads of one process exclude each other too."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        writable = True
    except OSError:
        if not os.path.isfile(path):
            raise
        fd = os.open(path, os.O_RDONLY)  # a read-only file system: flock still works, no pid note
        writable = False
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
                    raise LockBusy(f"{busy} (lock {path}, held by pid {holder})") from None
                time.sleep(0.02)
        if writable:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            if writable:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def apply_lock(path: str, timeout: float = 0.0) -> AbstractContextManager[None]:
    """Hold the host's apply lock; wait up to `timeout` seconds, then fail clearly."""
    return file_lock(path, timeout, "another apply is running on this host; wait for it or use --lock-timeout SECONDS")


@contextmanager
def host_lock(host: Any, timeout: float = 0.0) -> Iterator[None]:
    """The host's apply lock: the local one, and on a remote host also one held on that host
    (`remote_lock`), so applies from two machines never overlap there either."""
    with apply_lock(host.lock_path(), timeout):
        remote = getattr(host, "remote_lock", None)
        if remote is None:
            yield
        else:
            with remote(timeout):
                yield


def edit_lock(directory: str, timeout: float = 30.0) -> AbstractContextManager[None]:
    """Hold a manifest directory's edit lock: read, validate, write and commit as one step."""
    return file_lock(os.path.join(directory, EDIT_LOCK), timeout,
                     "another edit of these manifests is still being written; try again")
