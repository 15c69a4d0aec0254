"""The Host interface: run an argv, read a file, write a file. Every kind talks to a host
only through this, so the same kind code runs on the real machine and on the simulated one."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import CommandFailed


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str = ""
    stderr: str = ""


class Host(Protocol):
    name: str  # how the user named it: "local", "sim:/path/state.json"
    commands: list[list[str]]  # every argv run so far (counted by tests and benchmarks)

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result: ...
    def pipe(self, first: Sequence[str], second: Sequence[str], *, check: bool = True) -> Result: ...
    # `first | second`: two argv processes connected by converge (never a shell); bytes pass through
    def read_file(self, path: str) -> str | None: ...  # None when missing
    def write_file(self, path: str, text: str, mode: int = 0o644) -> None: ...  # atomic
    def remove_file(self, path: str) -> None: ...
    def has(self, tool: str) -> bool: ...  # is this command available on the host
    def path(self, path: str) -> str: ...  # where an absolute host path lives (--root applied), for argv
    def lock_path(self) -> str: ...  # the file whose lock serialises applies on this host
    def flush(self) -> None: ...  # persist buffered state (the simulated host); no-op elsewhere
    def reload(self) -> None: ...  # re-read buffered state after taking the apply lock (sim); no-op elsewhere


def read_files(host: Host, paths: list[str]) -> dict[str, str | None]:
    """Many files at once: one round trip on a remote host (its `read_files`), one read each elsewhere."""
    bulk_read = getattr(host, "read_files", None)
    if bulk_read is not None:
        return dict(bulk_read(paths))
    return {path: host.read_file(path) for path in dict.fromkeys(paths)}


def unroot(host: Host, path: str) -> str:
    """The host path (as the manifests name it) that a path read on the host stands for: --root
    removed, the inverse of host.path."""
    root = host.path("/").rstrip("/")
    if root and (path == root or path.startswith(root + "/")):
        return path[len(root):] or "/"
    return path


class CommandLog:
    """Thread-safe record of the commands a host ran."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []
        self._lock = threading.Lock()

    def record(self, argv: Sequence[str]) -> None:
        with self._lock:
            self.commands.append(list(argv))


# The Debian package of each tool converge runs: a missing tool's error says what to install.
PACKAGES = {
    "btrfs": "btrfs-progs", "mkfs.btrfs": "btrfs-progs", "zfs": "zfsutils-linux (or zfs-fuse)",
    "zpool": "zfsutils-linux (or zfs-fuse)", "getfattr": "attr", "findmnt": "util-linux", "lsblk": "util-linux",
    "blkid": "util-linux", "wipefs": "util-linux", "mount": "mount", "umount": "mount", "stat": "coreutils",
    "exportfs": "nfs-kernel-server", "testparm": "samba-common-bin", "smbcontrol": "samba-common-bin",
    "ip": "iproute2", "podman": "podman", "docker": "docker.io", "lxc-ls": "lxc",
}


def not_found(tool: str) -> Result:
    """What running a tool the host lacks gives: exit 127 and a message naming its package."""
    package = PACKAGES.get(tool.rsplit("/", 1)[-1])
    return Result(127, "", f"{tool}: command not found" + (f" (install the package {package})" if package else ""))


def checked(argv: Sequence[str], result: Result, check: bool) -> Result:
    if check and result.returncode != 0:
        raise CommandFailed(list(argv), result.returncode, result.stderr, result.stdout)
    return result


def validate_argv(argv: Sequence[str]) -> list[str]:
    """argv lists only: every element a string, no NUL; never a shell string."""
    out = [a for a in argv]
    if not out or not all(isinstance(a, str) for a in out) or any("\x00" in a for a in out):
        raise ValueError(f"invalid argv: {argv!r}")
    return out
