"""The registry of kinds: one line per kind. Order is the order facts are read in."""

from __future__ import annotations

from .accounts import ACCOUNT_KINDS
from .base import Context, Kind, Spec
from .containers.container import ContainerKind
from .containers.network import ContainerNetworkKind
from .containers.stack import StackKind
from .network.interface import InterfaceKind
from .policies import ReplicationKind, SnapshotPolicyKind
from .shares.nfs import NfsKind
from .shares.smb import SmbKind
from .storage.dataset import DatasetKind
from .storage.pool import PoolKind
from .storage.snapshot import SnapshotKind
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
    StackKind(),
    SystemKind(),
    ServiceKind(),
    SnapshotPolicyKind(),
    ReplicationKind(),
]
BY_KIND: dict[str, Kind] = {k.kind: k for k in KINDS}

__all__ = ["KINDS", "BY_KIND", "Context", "Kind", "Spec"]
