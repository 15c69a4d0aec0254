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


def register(kind: Kind) -> None:
    """Add a kind at run time (a plug-in, or a test's throwaway kind): everything that lists kinds
    (manifest sections, JSON Schema, CLI counts, REST collections and actions, OpenAPI, import)
    reads KINDS when it runs."""
    if kind.kind in BY_KIND or any(k.section == kind.section for k in KINDS):
        raise ValueError(f"kind {kind.kind!r} or its section {'.'.join(kind.section)} is already registered")
    KINDS.append(kind)
    BY_KIND[kind.kind] = kind


def unregister(kind: Kind) -> None:
    KINDS.remove(kind)
    del BY_KIND[kind.kind]

__all__ = ["KINDS", "BY_KIND", "Context", "Kind", "Spec", "register", "unregister"]
