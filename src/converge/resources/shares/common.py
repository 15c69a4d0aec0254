"""What SMB shares and NFS exports share: a path that names a dataset or an absolute directory,
and one config file per kind (its shared file) that all of the kind's changes are written to at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import AfterValidator

from ...errors import PlanError
from ...model import Action, Change, Observed, Ref
from ..holders import dataset_mountpoint

ABS_PATH = re.compile(r"/[A-Za-z0-9_./:+@ -]*")
DATASET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*")


def check_share_path(value: str) -> str:
    if "\n" in value or ".." in value.split("/"):
        raise ValueError(f"path {value!r} may not contain newlines or '..'")
    if value.startswith("/"):
        if not ABS_PATH.fullmatch(value):
            raise ValueError(f"path {value!r}: allowed are letters, digits, space and _ . / : + @ -")
        if value != "/" and value.rstrip("/") != value.rstrip("/").rstrip():
            raise ValueError(f"path {value!r} may not end with a space")
        return value.rstrip("/") or "/"
    if not DATASET_NAME.fullmatch(value):
        raise ValueError(f"path {value!r} is neither an absolute path nor a dataset name (pool/path)")
    return value


SharePath = Annotated[str, AfterValidator(check_share_path)]


def path_dependency(path: str) -> list[Ref]:
    if path.startswith("/"):
        return []
    return [Ref.of("dataset" if "/" in path else "pool", path)]


def resolve_share_path(path: str, ctx: Any) -> str:
    """A dataset name becomes its mountpoint; an absolute path stays."""
    if path.startswith("/"):
        return path
    return dataset_mountpoint(path, ctx)


def read_back_path(source: str | None, directory: str, ctx: Any) -> str:
    """The path a share read from the host declares: the dataset its marker names (`source`)
    while the share's directory is still that dataset's mountpoint, else the directory itself."""
    return source if source and resolve_share_path(source, ctx) == directory else directory


def share_host_paths(observed: Observed) -> list[str]:
    """The directory a share serves, as read from the host (what a dataset destroy waits for)."""
    path = str(observed.spec.get("path") or "")
    return [path] if path.startswith("/") else []


def desired_specs(ctx: Any, kind: str) -> dict[str, Any]:
    """The declared resources of one kind (none when planning without manifests)."""
    return ctx.specs(kind)  # type: ignore[no-any-return]


def source_known(path: str, ctx: Any) -> bool:
    """A dataset/pool path is fine when it is on the host or declared."""
    ref = path_dependency(path)[0]
    return path in ctx.facts.of(ref.kind) or path in desired_specs(ctx, ref.kind)


def known_mountpoints(ctx: Any) -> set[str]:
    """Mountpoints of every dataset and pool on the host or declared: they exist after the apply."""
    names = set(ctx.facts.of("dataset")) | set(desired_specs(ctx, "dataset"))
    names |= set(ctx.facts.of("pool")) | set(desired_specs(ctx, "pool"))
    return {dataset_mountpoint(n, ctx) for n in names}


def check_paths(label: str, wanted: dict[str, str], ctx: Any) -> dict[str, str]:
    """Resolve each share's path ({name: path}) to a directory and make sure it exists or will:
    a dataset must be on the host or declared; an absolute path must be a directory on the host
    (one `stat` for all of them) or a dataset's mountpoint. Raises before anything runs."""
    resolved: dict[str, str] = {}
    problems: list[str] = []
    for name, path in sorted(wanted.items()):
        if not path.startswith("/") and not source_known(path, ctx):
            problems.append(f"{label} {name}: path {path!r} names a dataset that is neither declared nor on the host")
            continue
        resolved[name] = resolve_share_path(path, ctx)
    to_stat = sorted({p for n, p in resolved.items() if wanted[n].startswith("/")} - known_mountpoints(ctx))
    if to_stat:
        host = ctx.host
        on_host = {host.path(p): p for p in to_stat}
        result = host.run(["stat", "-c", "%F\t%n", "--", *on_host], check=False)
        if result.returncode not in (0, 1):  # 1: some path is missing (reported below); else no answer
            host.run(["stat", "-c", "%F\t%n", "--", *on_host])  # raises with the command and its message
        dirs = {on_host.get(line.split("\t", 1)[1]) for line in result.stdout.splitlines()
                if line.startswith("directory\t")}
        for name, path in sorted(resolved.items()):
            if path in to_stat and path not in dirs:
                problems.append(f"{label} {name}: path {path} is not a directory on the host")
    if problems:
        raise PlanError("; ".join(problems))
    return resolved


def final_specs(kind: Any, changes: list[Change], ctx: Any) -> tuple[dict[str, Any], set[str]]:
    """What the kind's file holds after the apply: the managed resources read from the host,
    with every planned change applied (so a --target plan leaves the others as they are).
    Returns ({name: Spec}, names created or updated)."""
    specs = {name: kind.spec.model_validate(obs.spec)
             for name, obs in ctx.facts.of(kind.kind).items() if obs.managed}
    declared = desired_specs(ctx, kind.kind)
    touched: set[str] = set()
    for change in changes:
        name = change.ref.name
        if change.action == Action.DELETE:
            specs.pop(name, None)
        else:
            specs[name] = declared[name] if name in declared else kind.spec.model_validate(change.after or {})
            touched.add(name)
    return specs, touched


def final_shares(kind: Any, label: str, changes: list[Change], ctx: Any,
                 order: Callable[[str], Any] = str) -> list[tuple[str, Any, str]]:
    """(name, spec, resolved path) of every share the kind's file will hold once `changes` are
    applied, the paths the changes touch checked first (`check_paths`), sorted by `order` of the name."""
    specs, touched = final_specs(kind, changes, ctx)
    resolved = check_paths(label, {n: specs[n].path for n in touched}, ctx)
    return [(name, specs[name], resolved.get(name) or resolve_share_path(specs[name].path, ctx))
            for name in sorted(specs, key=order)]
