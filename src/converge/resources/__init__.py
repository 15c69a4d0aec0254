"""The registry of kinds: one line per kind. Order is the order facts are read in."""

from __future__ import annotations

from .base import Context, Kind, Spec
from .container import ContainerKind
from .dataset import DatasetKind
from .interface import InterfaceKind
from .nfs import NfsKind
from .policies import ReplicationKind, SnapshotPolicyKind
from .pool import PoolKind
from .smb import SmbKind
from .snapshot import SnapshotKind

KINDS: list[Kind] = [
    PoolKind(),
    DatasetKind(),
    SnapshotKind(),
    SmbKind(),
    NfsKind(),
    InterfaceKind(),
    ContainerKind(),
    SnapshotPolicyKind(),
    ReplicationKind(),
]
BY_KIND: dict[str, Kind] = {k.kind: k for k in KINDS}

__all__ = ["KINDS", "BY_KIND", "Context", "Kind", "Spec"]
