"""Kinds of the host itself: `system` (settings, a singleton) and `service` (systemd services),
and the unit-file helper other kinds use to persist what they create (units.py)."""

from .services import ServiceKind
from .settings import SystemKind

__all__ = ["ServiceKind", "SystemKind"]
