"""Kind `pool`: a ZFS pool (zpool) or a btrfs filesystem over one or more devices."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..types import OnOff, SortedStrs, Stamp
from .base import Kind, Spec, allow_destroy_field

DISK_RE = re.compile(r"^/[A-Za-z0-9_./:+@-]+$")


class Vdev(BaseModel):
    model_config = ConfigDict(extra="forbid")
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
        for d in disks:
            if not DISK_RE.fullmatch(d) or ".." in d:
                raise ValueError(f"disk {d!r} is not an absolute device or file path (e.g. /dev/disk/by-id/ata-X)")
        return disks

    @model_validator(mode="after")
    def _width(self) -> "Vdev":
        need = {"mirror": 2, "raidz1": 2, "raidz2": 3, "raidz3": 4}.get(self.type, 1)
        if len(self.disks) < need:
            raise ValueError(f"a {self.type} vdev needs at least {need} disks, got {len(self.disks)}")
        return self


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
    force: bool = Field(False, description="use disks that hold a filesystem or pool label",
                        json_schema_extra={"x-converge-meta": True})
    allow_destroy: bool = allow_destroy_field()

    @field_validator("data_profile", "metadata_profile", mode="before")
    @classmethod
    def _no_raid56(cls, v: Any) -> Any:
        if isinstance(v, str) and v.lower() in ("raid5", "raid6"):
            raise ValueError(f"btrfs {v} is refused: its parity RAID is not safe against power loss "
                             "(write hole); use raid1, raid1c3 or raid10")
        return v

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


class PoolKind(Kind[PoolSpec]):
    kind = "pool"
    section = ("pools",)
    spec = PoolSpec
    name_pattern = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]{0,254}")
    name_allowed = "a letter, then letters, digits, '_', '.', ':', '-'"
    holds_data = True
    tools = ("zpool",)

    def check_name(self, name: str) -> str:
        name = super().check_name(name)
        if name in ("mirror", "raidz", "raidz1", "raidz2", "raidz3", "spare", "log", "cache", "draid") or \
                re.fullmatch(r"c[0-9].*", name):
            raise ValueError(f"pool name {name!r} is reserved by ZFS")
        return name
