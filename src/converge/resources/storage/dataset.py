"""Kind `dataset`: a ZFS filesystem, or a btrfs subvolume (with qgroup and properties)."""

from __future__ import annotations

import difflib
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ...errors import PlanError
from ...model import Change, FieldDiff, Observed, Ref, Step
from ...types import OnOff, Size, Stamp
from ..base import Context, Kind, KindAction, Spec, allow_destroy_field, record_managed
from .common import pool_driver, specs_of

USER_PROPERTY = re.compile(r"[a-z0-9_.+-]+:[a-z0-9_.:+-]+")
ZFS_COMPRESSION = ["off", "on", "lzjb", "zle", "lz4", "gzip", *[f"gzip-{i}" for i in range(1, 10)],
                   "zstd", "zstd-fast", *[f"zstd-{i}" for i in range(1, 20)]]
BTRFS_COMPRESSION = ["off", "zlib", "lzo", "zstd"]
RESERVED_PREFIX = "converge:"  # converge keeps its own marks there (managed, protect): not for manifests


def reserved_property(key: str) -> str:
    return (f"property {key!r} is reserved: converge records its own marks in {RESERVED_PREFIX}* properties "
            "(use protect: for converge:protect); allowed: other user properties module:name, e.g. backup:tier")


class DatasetProperties(BaseModel):
    """Native properties (validated) plus free-form user properties (`module:name`)."""

    model_config = ConfigDict(defer_build=True, extra="allow")
    compression: Literal[tuple(sorted(set(ZFS_COMPRESSION + BTRFS_COMPRESSION)))] | None = None  # type: ignore[valid-type]
    quota: Size | None = None
    refquota: Size | None = None
    reservation: Size | None = None
    refreservation: Size | None = None
    recordsize: Size | None = None
    atime: OnOff | None = None
    relatime: OnOff | None = None
    readonly: OnOff | None = None
    exec: OnOff | None = None
    mountpoint: str | None = Field(None, pattern=r"^(/[A-Za-z0-9_./:+@ -]*|none|legacy)$")
    canmount: Literal["on", "off", "noauto"] | None = None
    acltype: Literal["off", "posix", "nfsv4"] | None = None
    xattr: Literal["on", "off", "sa", "dir"] | None = None
    sync: Literal["standard", "always", "disabled"] | None = None
    snapdir: Literal["hidden", "visible"] | None = None
    dedup: Literal["on", "off", "verify", "sha256", "sha512", "skein", "blake3"] | None = None
    # create-only: changing them means destroying and re-creating the dataset
    encryption: Literal["off", "on", "aes-128-ccm", "aes-192-ccm", "aes-256-ccm",
                        "aes-128-gcm", "aes-192-gcm", "aes-256-gcm"] | None = None
    keyformat: Literal["raw", "hex", "passphrase"] | None = None
    casesensitivity: Literal["sensitive", "insensitive", "mixed"] | None = None
    normalization: Literal["none", "formC", "formD", "formKC", "formKD"] | None = None
    utf8only: OnOff | None = None

    @field_validator("acltype", mode="before")
    @classmethod
    def _acl_alias(cls, v: Any) -> Any:
        return {"posixacl": "posix", "noacl": "off", "disabled": "off"}.get(v, v) if isinstance(v, str) else v

    @field_validator("compression", mode="before")
    @classmethod
    def _compression_spelling(cls, v: Any) -> Any:
        if isinstance(v, bool):
            return "on" if v else "off"
        return v.lower() if isinstance(v, str) else v

    @field_validator("recordsize")
    @classmethod
    def _power_of_two(cls, v: int | None) -> int | None:
        if v is not None and (v < 512 or v > 16 * 1024 * 1024 or v & (v - 1)):
            raise ValueError("recordsize must be a power of two from 512 to 16M (e.g. 128K, 1M)")
        return v

    @field_validator("atime", "relatime", "readonly", "exec", "utf8only", mode="before")
    @classmethod
    def _onoff(cls, v: Any) -> Any:
        return v

    @model_validator(mode="before")
    @classmethod
    def _user_properties(cls, data: Any) -> Any:
        # Checked before the fields so a misspelt native property is named even beside other errors.
        if not isinstance(data, dict):
            return data
        fields = cls.__pydantic_fields__  # the dict itself: `model_fields` is a computed property
        for key, value in data.items():
            if key in fields:
                continue
            if not isinstance(key, str) or not USER_PROPERTY.fullmatch(key):
                close = difflib.get_close_matches(str(key), list(cls.model_fields), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown property {key!r}{hint}; user properties are module:name "
                                 "(lowercase, e.g. backup:tier)")
            if key.startswith(RESERVED_PREFIX):
                raise ValueError(reserved_property(key))
            if not isinstance(value, (str, int)) or isinstance(value, bool) or "\n" in str(value):
                raise ValueError(f"user property {key!r} must be a one-line string")
        return data


ACCOUNT = r"^[a-z_][a-z0-9_-]{0,30}\$?$"
CREATE_ONLY_PROPERTIES = ("encryption", "keyformat", "casesensitivity", "normalization", "utf8only")


class DatasetSpec(Spec):
    properties: DatasetProperties = Field(default_factory=DatasetProperties)
    origin: str | None = Field(None, description="create as a clone of this snapshot (pool/ds@snap)")
    protect: OnOff | None = Field(None, description="host-side protect flag: refuse destroys even without YAML")
    rollback_to: str | None = Field(None, description="snapshot name to roll back to, with rollback_requested")
    rollback_requested: Stamp | None = None
    owner: str | None = Field(None, pattern=ACCOUNT, description="the directory's owner: a user (declared or on the host)")
    group: str | None = Field(None, pattern=ACCOUNT, description="the directory's group: a group (declared or on the host)")
    mode: str | None = Field(None, description="the directory's permissions, octal: \"0750\"")
    allow_destroy: bool = allow_destroy_field()

    @field_validator("mode", mode="before")
    @classmethod
    def _mode(cls, v: Any) -> Any:
        return None if v is None else dataset_owner.normal_mode(v)

    @model_validator(mode="after")
    def _rollback_pair(self) -> "DatasetSpec":
        if self.rollback_requested and not self.rollback_to:
            raise ValueError("rollback_requested needs rollback_to: the snapshot to roll back to")
        return self


class DatasetKind(Kind[DatasetSpec]):
    kind = "dataset"
    section = ("datasets",)
    spec = DatasetSpec
    actions = {"snapshots": KindAction("declare a snapshot of the dataset (body: its name and fields)", handler="snapshot")}
    name_pattern = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)+")
    name_allowed = "pool/path: components of letters, digits, '_', '.', ':', '-' separated by '/'"
    create_only = frozenset({f"properties.{p}" for p in CREATE_ONLY_PROPERTIES} | {"origin"})
    holds_data = True
    tools = ()  # zfs or btrfs: read() asks the host for each driver's tool itself

    def read(self, ctx: Context) -> dict[str, Observed]:
        out: dict[str, Observed] = {}
        if ctx.host.has("btrfs"):
            out.update(btrfs_driver.read_subvolumes(ctx, "dataset"))
        if ctx.host.has("zfs"):
            out.update(zfs_driver.read_datasets(ctx))
        dataset_owner.read(out, ctx)
        return out

    def create(self, name: str, spec: DatasetSpec, ctx: Context) -> list[Step]:
        if pool_driver(ctx, name) == "btrfs":
            steps = btrfs_driver.create_dataset(name, spec, ctx)
        else:
            steps = zfs_driver.dataset_create(name, spec)
        steps += dataset_owner.steps(name, spec, set(dataset_owner.FIELDS), ctx)
        return steps + zfs_driver.stamps(self.ref(name), spec, ("rollback_to", "rollback_requested"))

    def update(self, name: str, spec: DatasetSpec, observed: Observed, diffs: list[FieldDiff],
               ctx: Context) -> list[Step]:
        paths = {d.path for d in diffs}
        tops = {p.split(".", 1)[0] for p in paths}
        declared = spec.properties.model_dump(mode="json", exclude_none=True)
        have = observed.spec.get("properties", {})
        changed = {k: v for k, v in declared.items() if have.get(k) != v} if "properties" in tops else {}
        steps: list[Step] = []
        if "rollback_requested" in tops and spec.rollback_requested and spec.rollback_to:
            if pool_driver(ctx, name) == "btrfs":
                raise PlanError(f"dataset {name}: btrfs has no in-place rollback; restore from "
                                f"{name}@{spec.rollback_to} by hand (or snapshot it back) and drop rollback_requested")
            steps += zfs_driver.rollback(name, spec.rollback_to, ctx, spec.allow_destroy)
        if pool_driver(ctx, name) == "btrfs":
            btrfs_driver.check_properties(name, spec)
            path = str(observed.info.get("path") or btrfs_driver.subvolume_path(ctx, name))
            steps += btrfs_driver.property_steps(ctx, name, path, changed, bool(have.get("readonly")))
            if not observed.managed:
                steps.append(record_managed(self.ref(name), True))
        else:
            if "protect" in tops and spec.protect is not None:
                changed[zfs_driver.PROTECT] = "on" if spec.protect else "off"
            if not observed.managed:
                changed[zfs_driver.MANAGED] = "on"
            steps += zfs_driver.set_steps(ctx, name, changed, "dataset properties")
        steps += dataset_owner.steps(name, spec, tops, ctx)
        fields = tuple(f for f in ("rollback_to", "rollback_requested") if f in tops)
        return steps + zfs_driver.stamps(self.ref(name), spec, fields)

    def delete(self, name: str, observed: Observed, ctx: Context) -> list[Step]:
        if observed.info.get("driver") == "btrfs":
            return btrfs_driver.destroy_subvolume(name, ctx, "dataset")
        return zfs_driver.destroy(name, ctx, "dataset")

    def destroys(self, name: str, observed: Observed, ctx: Context) -> list[str]:
        if observed.info.get("driver") == "btrfs":
            return btrfs_driver.dependents(name, ctx)
        return zfs_driver.dependents(name, ctx)

    def validate_set(self, specs: dict[str, DatasetSpec], desired: Any) -> list[tuple[str, str, str]]:
        """Properties the pool's driver lacks, when the pool is declared (else at plan time)."""
        pools = specs_of(desired, "pool")
        problems: list[tuple[str, str, str]] = []
        for name, spec in specs.items():
            pool = pools.get(name.split("/", 1)[0])
            if pool is None or pool.driver != "btrfs":
                continue
            try:
                btrfs_driver.check_properties(name, spec)
            except PlanError as e:
                problems.append((name, "properties", str(e)))
        return problems

    def depends(self, name: str, spec: DatasetSpec) -> list[Ref]:
        pool, _, rest = name.partition("/")
        parent = name.rsplit("/", 1)[0]
        refs = [Ref.of("pool", pool)]
        if "/" in rest:
            refs.append(Ref.of("dataset", parent))
        if spec.origin:
            refs.append(Ref(kind="snapshot", name=spec.origin))
        if spec.owner:  # the accounts it is owned by exist first
            refs.append(Ref(kind="user", name=spec.owner))
        if spec.group:
            refs.append(Ref(kind="group", name=spec.group))
        return refs

    def finalize(self, changes: list[Change], ctx: Context) -> None:
        btrfs_driver.one_quota_enable(changes)


def dataset_mountpoint(name: str, ctx: Any) -> str:
    """Where a dataset is (or will be) mounted: the host's answer when it exists, else what
    the manifests make it (its mountpoint property, its parent's, or the pool's). Kept per facts
    pass (ctx.reads): every share, export and volume asks, each walking up to its pool."""
    reads = getattr(ctx, "reads", None)
    if reads is None:
        return _mountpoint(name, ctx)
    known = reads.setdefault("dataset mountpoints", {})
    if name not in known:
        known[name] = _mountpoint(name, ctx)
    return known[name]  # type: ignore[no-any-return]


def _mountpoint(name: str, ctx: Any) -> str:
    observed = ctx.facts.of("dataset").get(name)
    if observed and observed.info.get("mountpoint"):
        return str(observed.info["mountpoint"])
    desired = ctx.desired.specs("dataset").get(name) if ctx.desired else None
    if desired is not None and desired.properties.mountpoint and desired.properties.mountpoint.startswith("/"):
        return desired.properties.mountpoint
    if "/" in name:
        parent, leaf = name.rsplit("/", 1)
        return dataset_mountpoint(parent, ctx).rstrip("/") + "/" + leaf
    pool = ctx.facts.of("pool").get(name)
    if pool and pool.info.get("mountpoint"):
        return str(pool.info["mountpoint"])
    spec = ctx.desired.specs("pool").get(name) if ctx.desired else None
    if spec is not None and spec.mountpoint:
        return spec.mountpoint
    return "/" + name


# The drivers build on the specs above, so they are imported once those exist.
from . import btrfs_driver, dataset_owner, zfs_driver  # noqa: E402
