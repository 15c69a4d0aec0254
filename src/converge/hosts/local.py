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
        proc = cmd(*argv[1:], _env=self._env, _in=input, _ok_code=list(range(256)),
                   _return_cmd=True, _tty_out=False, _decode_errors="replace")
        return checked(argv, Result(proc.exit_code, str(proc), proc.stderr.decode(errors="replace")), check)

    def pipe(self, first: Sequence[str], second: Sequence[str], *, check: bool = True) -> Result:
        """first's stdout into second's stdin (binary: a `zfs send` stream); the first failure wins."""
        import subprocess

        first, second = validate_argv(first), validate_argv(second)
        self.record(first)
        self.record(second)
        try:
            producer = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env)
        except FileNotFoundError:
            return checked(first, Result(127, "", f"{first[0]}: command not found"), check)
        assert producer.stdout is not None
        try:
            consumer = subprocess.run(second, stdin=producer.stdout, capture_output=True, env=self._env)
        except FileNotFoundError:
            producer.kill()
            producer.wait()
            return checked(second, Result(127, "", f"{second[0]}: command not found"), check)
        finally:
            producer.stdout.close()
        err = producer.stderr.read().decode(errors="replace") if producer.stderr else ""
        producer.wait()
        if producer.returncode:
            return checked(first, Result(producer.returncode, "", err), check)
        return checked(second, Result(consumer.returncode, consumer.stdout.decode(errors="replace"),
                                      consumer.stderr.decode(errors="replace")), check)

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
