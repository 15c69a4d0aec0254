"""The REST API (Starlette): every mutating call is an edit of the manifests (docs/design.md §7)."""

from .app import create_app

__all__ = ["create_app"]
