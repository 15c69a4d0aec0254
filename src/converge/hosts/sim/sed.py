"""Simulated `sed -i -e s/PATTERN/REPLACEMENT/ FILE`: the one form converge runs (to put a
container's hostname over the LXC template's `lxc.uts.name`). PATTERN is read as a Python regular
expression, which agrees with GNU sed's basic syntax for the `^key\\.name *=.*$` form converge uses."""

from __future__ import annotations

import re
from typing import Any

from ..base import Result
from . import fail, tool


@tool("sed")
def sed(host: Any, argv: list[str], input: str | None) -> Result:
    """`sed -i -e s/^PATTERN$/REPLACEMENT/ FILE`: the one form converge runs (on an LXC config)."""
    if len(argv) != 5 or argv[1:3] != ["-i", "-e"] or not argv[3].startswith("s/") or argv[3].count("/") != 3:
        return fail("sed: only `sed -i -e s/PATTERN/REPLACEMENT/ FILE` is emulated")
    _, pattern, replacement, _ = argv[3].split("/")
    text = host.facts.files.get(argv[4])
    if text is None:
        return fail(f"sed: can't read {argv[4]}: No such file or directory", 2)
    host.facts.files[argv[4]] = re.sub(pattern, lambda _m: replacement, text, flags=re.M)
    host.changed()
    return Result(0)
