"""What SMB shares and NFS exports share: a path that names a dataset or an absolute directory."""

from __future__ import annotations

import re
from typing import Any

from ..model import Ref

ABS_PATH = re.compile(r"/[A-Za-z0-9_./:+@ -]*")
DATASET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*")


def check_share_path(value: str) -> str:
    if "\n" in value or ".." in value.split("/"):
        raise ValueError(f"path {value!r} may not contain newlines or '..'")
    if value.startswith("/"):
        if not ABS_PATH.fullmatch(value):
            raise ValueError(f"path {value!r}: allowed are letters, digits, space and _ . / : + @ -")
        return value.rstrip("/") or "/"
    if not DATASET_NAME.fullmatch(value):
        raise ValueError(f"path {value!r} is neither an absolute path nor a dataset name (pool/path)")
    return value


def path_dependency(path: str) -> list[Ref]:
    if path.startswith("/"):
        return []
    return [Ref(kind="dataset" if "/" in path else "pool", name=path)]


def resolve_share_path(path: str, ctx: Any) -> str:
    """A dataset name becomes its mountpoint; an absolute path stays."""
    if path.startswith("/"):
        return path
    from .dataset import dataset_mountpoint

    return dataset_mountpoint(path, ctx)
