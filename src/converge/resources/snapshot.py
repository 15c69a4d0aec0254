"""Kind `snapshot`: `dataset@name`, a ZFS snapshot or a read-only btrfs snapshot."""

from __future__ import annotations

import re

from pydantic import Field

from ..model import Ref
from .base import Kind, Spec, allow_destroy_field


class SnapshotSpec(Spec):
    properties: dict[str, str] = Field(default_factory=dict, description="user properties (module:name)")
    allow_destroy: bool = allow_destroy_field()


class SnapshotKind(Kind[SnapshotSpec]):
    kind = "snapshot"
    section = ("snapshots",)
    spec = SnapshotSpec
    name_pattern = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*@[A-Za-z0-9_.:-]+")
    name_allowed = "pool/dataset@name (letters, digits, '_', '.', ':', '-')"
    holds_data = True
    tools = ("zfs",)

    def depends(self, name: str, spec: SnapshotSpec) -> list[Ref]:
        dataset = name.split("@", 1)[0]
        return [Ref(kind="dataset" if "/" in dataset else "pool", name=dataset)]
