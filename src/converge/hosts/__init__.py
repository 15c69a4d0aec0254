"""Hosts converge can reconcile: `local` (this machine, through sh) and `sim:PATH`."""

from __future__ import annotations

import os
from typing import Any

from ..errors import HostError
from .base import Host, Result
from .local import LocalHost
from .netns import NetnsHost
from .sim import SimHost

__all__ = ["Host", "Result", "LocalHost", "NetnsHost", "SimHost", "open_host", "default_sim_path"]


def default_sim_path(directory: str) -> str:
    return os.path.join(directory, ".converge", "sim-host.json")


def open_host(spec: str, *, root: str | None = None, sim_seed: dict[str, Any] | None = None) -> Host:
    """`local`, `sim:PATH`. (`ssh://user@host` comes later.)"""
    if spec == "local":
        return LocalHost(root=root)
    if spec.startswith("sim:") and len(spec) > 4:
        return SimHost(spec[4:], seed=sim_seed)
    if spec.startswith("netns:") and len(spec) > 6:  # this machine inside a network namespace
        return NetnsHost(spec[6:], root=root)
    raise HostError(f"unknown host {spec!r}: use 'local', 'netns:NAME' or 'sim:PATH'")
