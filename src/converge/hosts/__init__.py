"""Hosts converge can reconcile: `local` (this machine), `netns:NAME`, `sim:PATH` and
`ssh://[user@]host[:port]`.

Each host class is imported when it is first asked for: a command on the simulated host never
loads the local host's modules, and the reverse (module `__getattr__`, PEP 562)."""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

from ..errors import HostError
from .base import Host, Result

if TYPE_CHECKING:
    from .local import LocalHost
    from .netns import NetnsHost
    from .sim import SimHost
    from .ssh import SshHost

__all__ = ["Host", "Result", "LocalHost", "NetnsHost", "SimHost", "SshHost", "open_host", "default_sim_path"]
_LAZY = {"LocalHost": ".local", "NetnsHost": ".netns", "SimHost": ".sim", "SshHost": ".ssh"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_sim_path(directory: str) -> str:
    return os.path.join(directory, ".converge", "sim-host.json")


def open_host(spec: str, *, root: str | None = None, sim_seed: dict[str, Any] | None = None,
              ssh: dict[str, Any] | None = None) -> Host:
    """`local`, `sim:PATH`, `netns:NAME`, `ssh://[user@]host[:port]` (`ssh`: identity_file,
    known_hosts, ssh_options)."""
    # each host module is imported when asked for: importing the package (hosts.base) must not
    # load the simulated host's emulators, nor the local host's, at every start
    if spec == "local":
        from .local import LocalHost

        return LocalHost(root=root)
    if spec.startswith("sim:") and len(spec) > 4:
        from .sim import SimHost

        return SimHost(spec[4:], seed=sim_seed)
    if spec.startswith("netns:") and len(spec) > 6:  # this machine inside a network namespace
        from .netns import NetnsHost

        return NetnsHost(spec[6:], root=root)
    if spec.startswith("ssh://"):
        from .ssh import SshHost

        return SshHost(spec, root=root, **(ssh or {}))
    raise HostError(f"unknown host {spec!r}: use 'local', 'netns:NAME', 'sim:PATH' or 'ssh://[user@]host[:port]'")
