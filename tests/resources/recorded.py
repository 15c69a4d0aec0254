"""A host that answers read commands with recorded real tool output (tests/fixtures/<tool>/)."""

from __future__ import annotations

import os

from converge.hosts.base import Result

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "fixtures")


def fixture(name: str) -> str:
    """The recorded output, without its header (the leading `#` lines saying where it came from)."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        lines = f.read().splitlines(keepends=True)
    while lines and lines[0].startswith("# "):
        lines.pop(0)
    return "".join(lines)


class RecordedHost:
    name = "recorded"

    def __init__(self, answers: dict[tuple[str, ...], str]) -> None:
        self.answers = answers
        self.commands: list[list[str]] = []

    def run(self, argv, *, input=None, check=True):  # noqa: ANN001
        self.commands.append(list(argv))
        for prefix, text in self.answers.items():
            if tuple(argv[:len(prefix)]) == prefix:
                return Result(0, text, "")
        return Result(1, "", f"not recorded: {argv}")

    def has(self, tool: str) -> bool:
        return tool in ("zfs", "zpool")

    def path(self, p: str) -> str:
        return p


def openzfs_host() -> RecordedHost:
    return RecordedHost({("zpool", "list"): fixture("zfs/zpool-list-Hp.txt"),
                         ("zpool", "status"): fixture("zfs/zpool-status-P.txt"),
                         ("zpool", "get"): fixture("zfs/zpool-get-Hp.txt"),
                         # `zfs get -s local,received all`, then `zfs get PROP,...` (the reader's NAMED list)
                         ("zfs", "get", "-Hp", "-o", "name,property,value,source", "-s"):
                             fixture("zfs/zfs-get-Hp-s-local.txt"),
                         ("zfs", "get"): fixture("zfs/zfs-get-Hp-named.txt")})
