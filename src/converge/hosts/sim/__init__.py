"""The simulated host: its whole state is one JSON file in the format of `converge facts`.

Commands are emulated per tool (`zfs`, `ip`, `podman`, ...) by the modules of this package,
each registered with `@tool(NAME)`. An emulator reads and changes `host.facts` and answers
in the real tool's output format, so kinds parse the same text on both hosts, and refuses
what the real tool refuses (a dataset on a missing pool, two containers on one port)."""

from __future__ import annotations

import importlib
import os
import shlex
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ...errors import HostError
from ...fsutil import atomic_write
from ...model import Facts
from ..base import CommandLog, Result, checked, validate_argv

Emulator = Callable[["SimHost", list[str], "str | None"], Result]
TOOLS: dict[str, Emulator] = {}

# Every emulator module; each registers its tools on import.
_MODULES = ("zfs", "btrfs", "btrfs_cmd", "ip", "containers", "lxc", "samba", "nfs", "system", "systemd", "accounts", "passdb")


def tool(*names: str) -> Callable[[Emulator], Emulator]:
    def register(fn: Emulator) -> Emulator:
        for n in names:
            TOOLS[n] = fn
        return fn
    return register


def fail(message: str, returncode: int = 1) -> Result:
    return Result(returncode, "", message if message.endswith("\n") else message + "\n")


class SimHost(CommandLog):
    def __init__(self, state_path: str, seed: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.state_path = os.path.abspath(state_path)
        self.name = f"sim:{state_path}"
        self._lock = threading.RLock()
        self._seed = dict(seed or {})
        self.dirty = False
        self._loaded: tuple[int, int, int] | None = None  # (inode, size, mtime) of the state read
        self.reload()

    def reload(self) -> None:
        """Load the state file. The engine calls this once it holds the apply lock: the state
        read at construction may predate another process's apply (the CLI, a watcher), and
        planning from it would redo that apply and then overwrite its state on flush."""
        with self._lock:
            if self.dirty:
                return  # unflushed changes of this process win (nothing on disk to merge them with)
            try:
                with open(self.state_path, encoding="utf-8") as f:
                    st = os.fstat(f.fileno())
                    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)  # atomic_write makes a new inode
                    if stamp != self._loaded:
                        self.facts = Facts.model_validate_json(f.read())
                        self._loaded = stamp
            except FileNotFoundError:
                self.facts, self._loaded = Facts(sim=dict(self._seed)), None
            except ValueError as e:
                raise HostError(f"{self.state_path}: not a converge facts file: {e}") from None
            self.dirty = False

    # -- Host interface -------------------------------------------------------------------
    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
        argv = validate_argv(argv)
        self.record(argv)
        name = os.path.basename(argv[0])
        emulator = TOOLS.get(name)
        if emulator is None:
            return checked(argv, Result(127, "", f"{name}: command not found (not emulated by the simulated host)"), check)
        with self._lock:
            result = emulator(self, argv, input)
            return checked(argv, result, check)

    def pipe(self, first: Sequence[str], second: Sequence[str], *, check: bool = True) -> Result:
        """The first emulator's output is the second's input (a simulated send stream is JSON)."""
        out = self.run(first, check=check)
        if out.returncode:
            return out
        return self.run(second, input=out.stdout, check=check)

    def read_file(self, path: str) -> str | None:
        with self._lock:
            return self.facts.files.get(path)

    def write_file(self, path: str, text: str, mode: int = 0o644) -> None:
        with self._lock:
            self.facts.files[path] = text
            self.dirty = True

    def remove_file(self, path: str) -> None:
        with self._lock:
            if self.facts.files.pop(path, None) is not None:
                self.dirty = True

    def has(self, tool_name: str) -> bool:
        return tool_name in TOOLS

    def path(self, path: str) -> str:
        return path

    def lock_path(self) -> str:
        return self.state_path + ".lock"

    def flush(self) -> None:
        with self._lock:
            if self.dirty or not os.path.exists(self.state_path):
                # pydantic's own JSON (as `converge facts` prints it): json.dumps with an indent
                # runs the pure-Python encoder, 2 s for 10 000 datasets
                atomic_write(self.state_path, self.facts.model_dump_json(indent=1) + "\n")
                self.dirty = False
                st = os.stat(self.state_path)
                self._loaded = (st.st_ino, st.st_size, st.st_mtime_ns)

    # -- for emulators --------------------------------------------------------------------
    def changed(self) -> None:
        self.dirty = True

    def __repr__(self) -> str:
        return f"SimHost({shlex.quote(self.state_path)})"


for _m in _MODULES:
    importlib.import_module(f"{__name__}.{_m}")
