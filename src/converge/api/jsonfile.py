"""A JSON object kept in DIR/.converge (mode 0600): read again only when the file changes, and
changed under a file lock (every `serve` and `converge` command on the directory shares it), so
two writers never lose each other's change. A file that cannot be read or parsed is an error,
never an empty store."""

from __future__ import annotations

import copy
import json
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import ConvergeError
from ..fsutil import STATE_DIR, atomic_write, state_dir
from ..lock import file_lock

T = TypeVar("T")


class StoreError(ConvergeError):
    """A store file that cannot be trusted: unreadable or corrupt."""


class JsonFile:
    def __init__(self, directory: str, filename: str, check: Callable[[str, Any], None] | None = None) -> None:
        self.directory, self.path = directory, os.path.join(directory, STATE_DIR, filename)
        self.check = check  # raises ValueError saying what is wrong with one entry
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        self._data: dict[str, Any] = {}

    def read(self) -> dict[str, Any]:
        """The entries ({} when the file does not exist). Do not change what is returned."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StoreError(f"{self.path} cannot be read: {e.strerror}") from None
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if stamp != self._seen:
                self._data, self._seen = self._load(), stamp
            return self._data

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise StoreError(f"{self.path} cannot be read: {e.strerror}") from None
        except ValueError as e:
            raise StoreError(f"{self.path} is not valid JSON ({e})") from None
        if not isinstance(data, dict):
            raise StoreError(f"{self.path} is not a JSON object")
        for name, entry in data.items():
            try:
                if self.check is not None:
                    self.check(name, entry)
            except (ValueError, TypeError, KeyError) as e:
                raise StoreError(f"{self.path}: entry {name!r} is corrupt ({e})") from None
        return data

    def update(self, change: Callable[[dict[str, Any]], T]) -> T:
        """Run `change` on a fresh copy of the entries under the file lock, then write them."""
        state_dir(self.directory)
        with file_lock(self.path + ".lock", 10.0, f"{self.path} is being changed"):
            data = copy.deepcopy(self._load())
            result = change(data)
            atomic_write(self.path, json.dumps(data, indent=1, sort_keys=True) + "\n", 0o600)
            return result
