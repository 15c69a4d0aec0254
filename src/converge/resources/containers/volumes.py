"""The volume grammar of podman/docker containers and LXC binds: `SOURCE:/target[:options]`,
SOURCE a dataset (pool/path) or an absolute host path."""

from __future__ import annotations

from ..shares.common import DATASET_NAME

VOLUME_OPTIONS = ("ro", "rw", "z", "Z", "shared", "slave", "private", "rshared", "rslave", "rprivate")
# What the runtimes add or imply on their own (podman shows `ro,rprivate,rbind`): never compared.
DEFAULT_VOLUME_OPTIONS = frozenset({"rw", "rprivate", "rbind", "bind"})


def normalize_volume(spec: str) -> str:
    """`SOURCE:/target[:opts]` with the options the runtime implies dropped and the rest sorted."""
    source, target, opts = parse_volume(spec)
    kept = sorted({o for o in opts.split(",") if o and o not in DEFAULT_VOLUME_OPTIONS})
    return f"{source.rstrip('/') or '/'}:{target.rstrip('/') or '/'}" + (":" + ",".join(kept) if kept else "")


def parse_volume(spec: str) -> tuple[str, str, str]:
    """`tank/media:/media:ro` or `/srv/x:/x` -> (source, target, options)."""
    parts = spec.split(":")
    if len(parts) not in (2, 3) or not parts[1].startswith("/"):
        raise ValueError(f"{spec!r} is not a volume: SOURCE:/path/in/container[:ro|rw], "
                         "SOURCE a dataset (pool/path) or an absolute path")
    source, target, opts = parts[0], parts[1], parts[2] if len(parts) == 3 else ""
    if not (source.startswith("/") or DATASET_NAME.fullmatch(source)) or ".." in spec.split("/"):
        raise ValueError(f"volume source {source!r} is neither a dataset (pool/path) nor an absolute path")
    for opt in filter(None, opts.split(",")):
        if opt not in VOLUME_OPTIONS and opt not in DEFAULT_VOLUME_OPTIONS:
            raise ValueError(f"volume option {opt!r} is not one of ro, rw, z, Z, [r]shared, [r]slave, [r]private")
    return source, target, opts
