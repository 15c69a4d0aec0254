"""This machine seen from inside a network namespace: every command runs under
`nsenter --net=/run/netns/NAME` (files are the machine's own, under --root as usual).
Used by the real interface tests, and to reconcile a namespace without touching the host's
own links: `open_host("netns:NAME")`."""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..errors import HostError
from .base import Result, validate_argv
from .local import LocalHost

NETNS = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")


class NetnsHost(LocalHost):
    def __init__(self, netns: str, root: str | None = None) -> None:
        if not NETNS.fullmatch(netns):
            raise HostError(f"{netns!r} is not a network namespace name (letters, digits, '_', '.', '-')")
        super().__init__(root=root)
        self.netns = netns
        self.name = f"netns:{netns}" + (f" (root {self.root})" if self.root else "")

    def run(self, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
        argv = validate_argv(argv)
        return super().run(["nsenter", f"--net=/run/netns/{self.netns}", *argv], input=input, check=check)

    def local_command(self, argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        return ["nsenter", f"--net=/run/netns/{self.netns}", *validate_argv(argv)], self._env
