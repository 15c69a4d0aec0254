"""ZFS user properties inherit: a snapshot or child dataset of a converge-managed dataset reads
`converge:managed on` with source `inherited from ...` (seen on zfs-fuse). Only a local mark
makes it converge's; otherwise every hand-made snapshot would be planned for deletion.
`converge:protect` is honoured inherited too: it only ever refuses destroys."""

from __future__ import annotations

from converge.hosts.base import Result
from converge.model import Facts
from converge.resources import BY_KIND
from converge.resources.base import Context

ZFS_GET = """tank\ttype\tfilesystem\t-
tank\tconverge:managed\ton\tlocal
tank/data\ttype\tfilesystem\t-
tank/data\tconverge:managed\ton\tinherited from tank
tank/data@hand\ttype\tsnapshot\t-
tank/data@hand\tcreatetxg\t12\t-
tank/data@hand\tconverge:managed\ton\tinherited from tank
tank/data@mine\ttype\tsnapshot\t-
tank/data@mine\tconverge:managed\ton\tlocal
tank/data@mine\tconverge:protect\ton\tinherited from tank/data
"""


class ZfsGetHost:
    name = "recorded"
    commands: list[list[str]] = []

    def run(self, argv, *, input=None, check=True):  # noqa: ANN001
        return Result(0, ZFS_GET if argv[:2] == ["zfs", "get"] else "", "")

    def has(self, tool: str) -> bool:
        return tool == "zfs"


def test_only_a_local_mark_counts():
    ctx = Context(host=ZfsGetHost(), facts=Facts())  # type: ignore[arg-type]
    datasets = BY_KIND["dataset"].read(ctx)
    snapshots = BY_KIND["snapshot"].read(ctx)
    assert not datasets["tank/data"].managed
    assert not snapshots["tank/data@hand"].managed
    assert snapshots["tank/data@mine"].managed
    assert snapshots["tank/data@mine"].protected, "an inherited protect still refuses destroys (the safe side)"
