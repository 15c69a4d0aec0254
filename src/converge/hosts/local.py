"""The machine itself, through `sh`: argv lists, LC_ALL=C, never a shell string."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence

import sh

from ..fsutil import atomic_write
from .base import CommandLog, Result, checked, validate_argv


class LocalHost(CommandLog):
    def __init__(self, root: str | None = None) -> None:
        super().__init__()
        self.root = os.path.abspath(root) if root else ""
        self.name = "local" + (f" (root {self.root})" if self.root else "")
        self._env = dict(os.environ, LC_ALL="C", LANG="C")

    def path(self, path: str) -> str:
        return os.path.join(self.root, path.lstrip("/")) if self.root else path

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
        argv = validate_argv(argv)
        self.record(argv)
        try:
            cmd = sh.Command(argv[0])
        except sh.CommandNotFound:
            return checked(argv, Result(127, "", f"{argv[0]}: command not found"), check)
        try:
            proc = cmd(*argv[1:], _env=self._env, _in=input, _ok_code=list(range(256)),
                       _return_cmd=True, _tty_out=False, _decode_errors="replace")
        except sh.SignalException as killed:  # e.g. zfs-fuse's zpool aborts when its daemon goes away
            return checked(argv, Result(128 - killed.exit_code, killed.stdout.decode(errors="replace"),
                                        killed.stderr.decode(errors="replace")), check)
        return checked(argv, Result(proc.exit_code, str(proc), proc.stderr.decode(errors="replace")), check)

    def read_file(self, path: str) -> str | None:
        try:
            with open(self.path(path), encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def write_file(self, path: str, text: str, mode: int = 0o644) -> None:
        atomic_write(self.path(path), text, mode)

    def remove_file(self, path: str) -> None:
        try:
            os.unlink(self.path(path))
        except FileNotFoundError:
            pass

    def has(self, tool: str) -> bool:
        return shutil.which(tool, path=self._env.get("PATH", "") + ":/usr/sbin:/sbin") is not None

    def lock_path(self) -> str:
        return self.path("/run/converge/apply.lock")

    def flush(self) -> None:
        pass

    def reload(self) -> None:
        pass
