"""Snapshot policies: scheduled snapshots with retention, run by systemd timers (`converge run`)."""

from __future__ import annotations

from .kind import SnapshotPolicyKind
from .replication import ReplicationKind

__all__ = ["ReplicationKind", "SnapshotPolicyKind"]
