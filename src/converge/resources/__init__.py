"""The registry of kinds: one line per kind. Order is the order facts are read in."""

from __future__ import annotations

from .accounts import ACCOUNT_KINDS
from .base import Context, Kind, Spec
from .container import ContainerKind
from .container_network import ContainerNetworkKind
from .dataset import DatasetKind
from .interface import InterfaceKind
from .nfs import NfsKind
from .policies import ReplicationKind, SnapshotPolicyKind
from .pool import PoolKind
from .smb import SmbKind
from .snapshot import SnapshotKind
from .system import ServiceKind, SystemKind

KINDS: list[Kind] = [
    PoolKind(),
    DatasetKind(),
    SnapshotKind(),
    *ACCOUNT_KINDS,
    SmbKind(),
    NfsKind(),
    InterfaceKind(),
    ContainerNetworkKind(),
    ContainerKind(),
    SystemKind(),
    ServiceKind(),
    SnapshotPolicyKind(),
    ReplicationKind(),
]
BY_KIND: dict[str, Kind] = {k.kind: k for k in KINDS}

__all__ = ["KINDS", "BY_KIND", "Context", "Kind", "Spec"]
