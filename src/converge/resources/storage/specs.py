"""The specs of the storage kinds (pool, dataset, snapshot) and their name patterns: what the
kinds and both drivers (zfs, btrfs) build on, so the drivers never import the kinds."""

from __future__ import annotations

import difflib
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, field_validator, model_validator

from ...formats import zfs
from ...types import OnOff, Size, SortedStrs, Stamp
from ..base import Spec, allow_destroy_field
from ..policies.spec import check_schedule

DATASET_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)+")
SNAPSHOT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*(/[A-Za-z0-9_.:-]+)*@[A-Za-z0-9_.:-]+")


def normal_mode(value: Any) -> str:
    """0750, 750 and 2775 as one spelling: four octal digits (stat %a drops leading zeros)."""
    text = str(value).strip()
    if isinstance(value, int) and not isinstance(value, bool):
        text = str(value)  # YAML reads 0750 as octal 488: ask for the quoted form instead
        raise ValueError(f"mode {text}: write it as a quoted octal string, e.g. \"0750\"")
    if not text.isdigit() or any(c in "89" for c in text) or len(text) > 4 or not text:
        raise ValueError(f"mode {value!r} is not an octal mode like \"0750\" or \"2775\"")
    return text.zfill(4)


USER_PROPERTY = re.compile(r"[a-z0-9_.+-]+:[a-z0-9_.:+-]+")
ZFS_COMPRESSION = list(zfs.COMPRESSION)  # the values zfs itself accepts
BTRFS_COMPRESSION = ["off", "zlib", "lzo", "zstd"]
COMPRESSION = tuple(sorted(set(ZFS_COMPRESSION + BTRFS_COMPRESSION)))
RESERVED_PREFIX = "converge:"  # converge keeps its own marks there (managed, protect): not for manifests


def reserved_property(key: str) -> str:
    return (f"property {key!r} is reserved: converge records its own marks in {RESERVED_PREFIX}* properties "
            "(use protect: for converge:protect); allowed: other user properties module:name, e.g. backup:tier")


class DatasetProperties(BaseModel):
    """Native properties (validated) plus free-form user properties (`module:name`)."""

    model_config = ConfigDict(defer_build=True, extra="allow")
    compression: Annotated[Literal[COMPRESSION], WithJsonSchema(  # type: ignore[valid-type]
        {"anyOf": [{"enum": list(COMPRESSION)}, {"type": "boolean", "description": "on/off"}]})] | None = None
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
        return ("on" if v else "off") if isinstance(v, bool) else v

    @field_validator("recordsize")
    @classmethod
    def _power_of_two(cls, v: int | None) -> int | None:
        if v is not None and (v < 512 or v > 16 * 1024 * 1024 or v & (v - 1)):
            raise ValueError("recordsize must be a power of two from 512 to 16M (e.g. 128K, 1M)")
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
        return None if v is None else normal_mode(v)

    @model_validator(mode="after")
    def _rollback_pair(self) -> "DatasetSpec":
        if self.rollback_requested and not self.rollback_to:
            raise ValueError("rollback_requested needs rollback_to: the snapshot to roll back to")
        return self


DISK_RE = re.compile(r"^/[A-Za-z0-9_./:+@-]+$")



def check_disks(disks: list[str]) -> list[str]:
    for d in disks:
        if not DISK_RE.fullmatch(d) or ".." in d:
            raise ValueError(f"disk {d!r} is not an absolute device or file path (e.g. /dev/disk/by-id/ata-X)")
    return disks

class Vdev(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")
    type: Literal["stripe", "mirror", "raidz1", "raidz2", "raidz3"] = "stripe"
    role: Literal["data", "log", "cache", "spare", "special"] = "data"
    disks: SortedStrs = Field(min_length=1)

    @field_validator("type", mode="before")
    @classmethod
    def _raidz(cls, v: Any) -> Any:
        return {"raidz": "raidz1", "disk": "stripe", "single": "stripe"}.get(v, v) if isinstance(v, str) else v

    @field_validator("disks")
    @classmethod
    def _disk_paths(cls, disks: list[str]) -> list[str]:
        return check_disks(disks)

    @model_validator(mode="after")
    def _width(self) -> "Vdev":
        if self.role in ("cache", "spare") and self.type != "stripe":
            raise ValueError(f"{self.role} devices are single disks: leave out type (got {self.type})")
        need = {"mirror": 2, "raidz1": 2, "raidz2": 3, "raidz3": 4}.get(self.type, 1)
        if len(self.disks) < need:
            raise ValueError(f"a {self.type} vdev needs at least {need} disks, got {len(self.disks)}")
        return self


ROLES = ("data", "special", "log", "cache", "spare")


def _property_value(value: Any) -> Any:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


BtrfsProfile = Literal["single", "dup", "raid0", "raid1", "raid1c3", "raid1c4", "raid10"]


class PoolSpec(Spec):
    driver: Literal["zfs", "btrfs"] = "zfs"
    vdevs: list[Vdev] = Field(default_factory=list, description="zfs: vdev topology")
    disks: SortedStrs = Field(default_factory=list, description="btrfs: devices of the filesystem")
    data_profile: BtrfsProfile | None = Field(None, description="btrfs: data profile")
    metadata_profile: BtrfsProfile | None = Field(None, description="btrfs: metadata profile")
    mountpoint: str | None = Field(None, pattern=r"^/[A-Za-z0-9_./:+@-]*$")
    properties: dict[str, str | int | bool] = Field(default_factory=dict,
                                                     description="pool properties (zfs: ashift, autotrim, ...)")
    filesystem_properties: dict[str, str | int | bool] = Field(default_factory=dict,
                                                                description="zfs: root dataset properties")
    autotrim: OnOff | None = None
    scrub_requested: Stamp | None = None
    persist: bool = Field(True, description="btrfs: a systemd .mount unit (named after its escaped mountpoint) "
                                            "mounts it at boot; zfs pools are mounted by zfs-mount.service",
                          json_schema_extra={"x-converge-always": True})
    scrub_schedule: str | None = Field(None, description="scrub on this systemd calendar event (monthly, "
                                       "'Sun *-*-1..7 03:00'): a timer runs `converge run pool/NAME`",
                                       json_schema_extra={"x-converge-always": True})
    force: bool = Field(False, description="use disks that hold a filesystem or pool label",
                        json_schema_extra={"x-converge-meta": True})
    allow_destroy: bool = allow_destroy_field()

    @field_validator("scrub_schedule")
    @classmethod
    def _scrub_schedule(cls, v: str | None) -> str | None:
        if v is None or "(" in v:  # "(...)": a drifted timer as read from the host, shown in plans
            return v
        return check_schedule(v)

    @field_validator("disks")
    @classmethod
    def _btrfs_disk_paths(cls, disks: list[str]) -> list[str]:
        return check_disks(disks)  # a NUL or a newline here reached `stat` (found by schemathesis)

    @field_validator("data_profile", "metadata_profile", mode="before")
    @classmethod
    def _no_raid56(cls, v: Any) -> Any:
        if isinstance(v, str) and v.lower() in ("raid5", "raid6"):
            raise ValueError(f"btrfs {v} is refused: its parity RAID is not safe against power loss "
                             "(write hole); use raid1, raid1c3 or raid10")
        return v

    @field_validator("properties", mode="before")
    @classmethod
    def _pool_property_spelling(cls, v: Any) -> Any:
        # `ashift: 12` and zpool's "12", `autotrim: on` and YAML's true are one value
        if not isinstance(v, dict):
            return v
        for key in v:
            if isinstance(key, str) and key.startswith(RESERVED_PREFIX):
                raise ValueError(reserved_property(key))
        return {k: _property_value(x) for k, x in v.items()}

    @field_validator("filesystem_properties", mode="before")
    @classmethod
    def _root_properties(cls, v: Any) -> Any:
        # the root dataset takes dataset properties: same validation and normal form (2T == bytes)
        if not isinstance(v, dict):
            return v
        return DatasetProperties.model_validate(v).model_dump(mode="json", exclude_none=True)

    @field_validator("vdevs", mode="after")
    @classmethod
    def _vdev_normal_form(cls, vdevs: list[Vdev]) -> list[Vdev]:
        # Single-disk vdevs of one role are one stripe; cache and spare devices are never grouped;
        # vdev order carries no meaning, so both sides sort the same way.
        merged: dict[str, set[str]] = {}
        out: list[Vdev] = []
        for v in vdevs:
            if v.type == "stripe" or v.role in ("cache", "spare"):
                merged.setdefault(v.role, set()).update(v.disks)
            else:  # rebuilt with every field set: the planner compares the whole list as declared
                out.append(Vdev(type=v.type, role=v.role, disks=list(v.disks)))
        out += [Vdev(type="stripe", role=role, disks=sorted(d)) for role, d in merged.items()]
        return sorted(out, key=lambda v: (ROLES.index(v.role), v.type, v.disks))

    @model_validator(mode="after")
    def _driver_fields(self) -> "PoolSpec":
        if self.driver == "zfs" and not self.vdevs:
            raise ValueError("a zfs pool needs vdevs: [{type: mirror, disks: [...]}]")
        if self.driver == "btrfs":
            if self.vdevs:
                raise ValueError("a btrfs pool takes disks: [...] and data_profile/metadata_profile, not vdevs")
            if not self.disks:
                raise ValueError("a btrfs pool needs disks: [...]")
        return self


class SnapshotSpec(Spec):
    properties: dict[str, str] = Field(default_factory=dict, description="user properties (module:name)")

    @field_validator("properties")
    @classmethod
    def _user_properties(cls, v: dict[str, str]) -> dict[str, str]:
        for key, value in v.items():
            if not USER_PROPERTY.fullmatch(key) or key.startswith("converge:") or "\n" in value:
                raise ValueError(f"snapshot property {key!r}: snapshots take user properties module:name "
                                 "(lowercase, one-line values; converge:* is reserved)")
        return v
    allow_destroy: bool = allow_destroy_field()
