"""Approvals of held destroys and replacements (the watcher holds them by default).

`converge approve REF` records an approval in DIR/.converge/approvals.json (written
atomically); the next reconcile applies the approved change and consumes the approval, so an
approval is good for one destroy, not for ever."""

from __future__ import annotations

import json
import os

from .fsutil import STATE_DIR, atomic_write, state_dir
from .model import Ref

FILE = os.path.join(STATE_DIR, "approvals.json")


def path(directory: str) -> str:
    return os.path.join(directory, FILE)


def load(directory: str) -> set[Ref]:
    try:
        with open(path(directory), encoding="utf-8") as f:
            return {Ref.parse(r) for r in json.load(f).get("approved", [])}
    except (FileNotFoundError, ValueError, AttributeError):
        return set()


def _save(directory: str, refs: set[Ref]) -> None:
    state_dir(directory)
    atomic_write(path(directory), json.dumps({"approved": sorted(str(r) for r in refs)}, indent=1) + "\n")


def approve(directory: str, refs: list[Ref]) -> set[Ref]:
    current = load(directory) | set(refs)
    _save(directory, current)
    return current


def consume(directory: str, used: set[Ref]) -> None:
    current = load(directory)
    if current & used:
        _save(directory, current - used)
