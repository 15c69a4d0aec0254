"""Atomic file writes: temp file in the same directory, fsync, rename, fsync the directory."""

from __future__ import annotations

import os
import tempfile


def atomic_write(path: str, text: str, mode: int = 0o644) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".converge-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


STATE_DIR = ".converge"


def state_dir(directory: str) -> str:
    """DIR/.converge (tokens, approvals, the simulated host), created on first use and kept out of
    git: a `.converge/` line is added to DIR/.gitignore, so `git add -A` never commits token hashes
    (and `git clean -fd` leaves them alone)."""
    path = os.path.join(directory, STATE_DIR)
    os.makedirs(path, exist_ok=True)
    ignore = os.path.join(directory, ".gitignore")
    try:
        with open(ignore, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        text = ""
    if not any(line.strip().strip("/") == STATE_DIR for line in text.splitlines()):
        atomic_write(ignore, text + ("\n" if text and not text.endswith("\n") else "") + f"{STATE_DIR}/\n")
    return path
